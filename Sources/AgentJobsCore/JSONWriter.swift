import Foundation

/// A JSON writer that writes what the server's `JSONEncoder` (sorted keys, slashes unescaped)
/// writes for the same values: strings escaped the same way, numbers in the same form, times
/// as the API's UTC milliseconds. The caller writes an object's keys in sorted (UTF-8) order.
/// The API's documents (`JobJSON`) and the stores' JSON columns (`StoredJSONText`) are written
/// with it; `JobJSONTests` and `StoredJSONTextTests` compare it with `JSONEncoder` byte for byte.
public struct JSONWriter: Sendable {
    /// The text written so far, UTF-8.
    public private(set) var bytes: [UInt8]

    public init(capacity: Int = 1024) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    /// The text written so far.
    public var text: String { String(decoding: bytes, as: UTF8.self) }

    /// `{`, then `body` writes the members with `key`, then `}`.
    public mutating func object(_ body: (inout JSONWriter) -> Void) {
        bytes.append(UInt8(ascii: "{"))
        body(&self)
        bytes.append(UInt8(ascii: "}"))
    }

    /// `[`, the elements written by `element` with commas between them, `]`.
    public mutating func array<Elements: Sequence>(
        _ elements: Elements, _ element: (inout JSONWriter, Elements.Element) -> Void
    ) {
        bytes.append(UInt8(ascii: "["))
        var first = true
        for value in elements {
            if !first { bytes.append(UInt8(ascii: ",")) }
            first = false
            element(&self, value)
        }
        bytes.append(UInt8(ascii: "]"))
    }

    /// A member's key (with the comma before it unless it is the object's first) and colon.
    public mutating func key(_ name: StaticString, first: Bool = false) {
        if !first { bytes.append(UInt8(ascii: ",")) }
        bytes.append(UInt8(ascii: "\""))
        write(name)
        bytes.append(UInt8(ascii: "\""))
        bytes.append(UInt8(ascii: ":"))
    }

    /// A member: its key (see `key`) and a string, `null` when absent.
    public mutating func member(_ name: StaticString, _ text: String?, first: Bool = false) {
        key(name, first: first)
        string(text)
    }

    /// A member: its key and a time, `null` when absent.
    public mutating func member(_ name: StaticString, time date: Date?, first: Bool = false) {
        key(name, first: first)
        time(date)
    }

    /// A member: its key and an integer.
    public mutating func member(_ name: StaticString, _ value: Int, first: Bool = false) {
        key(name, first: first)
        integer(value)
    }

    /// A member: its key and a number as `JSONEncoder` writes a `Double`.
    public mutating func member(_ name: StaticString, _ value: Double) {
        key(name)
        number(value)
    }

    /// A member: its key and an object of free-form values.
    public mutating func member(_ name: StaticString, _ members: JSONObject) {
        key(name)
        object(members)
    }

    private mutating func write(_ text: StaticString) {
        bytes.append(contentsOf: UnsafeBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
    }

    public mutating func null() { write("null") }

    public mutating func bool(_ value: Bool) { write(value ? "true" : "false") }

    /// The decimal digits of `value`, written in place (`String(value)` went through `Int`'s
    /// `description` and a new string for each: a PostgreSQL task's record sets write dozens).
    public mutating func integer(_ value: Int) {
        if value < 0 { bytes.append(UInt8(ascii: "-")) }
        var rest = value.magnitude
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 20) { digits in
            var start = digits.count
            repeat {
                start -= 1
                digits[start] = UInt8(ascii: "0") + UInt8(rest % 10)
                rest /= 10
            } while rest > 0
            bytes.append(contentsOf: UnsafeBufferPointer(rebasing: digits[start...]))
        }
    }

    /// As `JSONEncoder` writes a `Double`: its description, without a trailing `.0`.
    public mutating func number(_ value: Double) {
        var text = value.description
        if text.hasSuffix(".0") { text.removeLast(2) }
        bytes.append(contentsOf: text.utf8)
    }

    public mutating func time(_ date: Date) { string(Timestamp.format(date)) }

    public mutating func string(_ text: String) {
        bytes.append(UInt8(ascii: "\""))
        var text = text
        text.withUTF8 { utf8 in
            func copy(_ range: Range<Int>) {
                guard !range.isEmpty, let base = utf8.baseAddress else { return }
                bytes.append(contentsOf: UnsafeBufferPointer(start: base + range.lowerBound, count: range.count))
            }
            var mark = 0
            for index in utf8.indices {
                let byte = utf8[index]
                guard byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") else { continue }
                copy(mark..<index)
                mark = index + 1
                switch byte {
                case UInt8(ascii: "\""): write("\\\"")
                case UInt8(ascii: "\\"): write("\\\\")
                case 0x08: write("\\b")
                case 0x0C: write("\\f")
                case 0x0A: write("\\n")
                case 0x0D: write("\\r")
                case 0x09: write("\\t")
                default:
                    write("\\u00")
                    bytes.append(Self.hexDigit(byte >> 4))
                    bytes.append(Self.hexDigit(byte & 0x0F))
                }
            }
            copy(mark..<utf8.count)
        }
        bytes.append(UInt8(ascii: "\""))
    }

    private static func hexDigit(_ value: UInt8) -> UInt8 {
        value < 10 ? UInt8(ascii: "0") + value : UInt8(ascii: "a") + value - 10
    }

    public mutating func string(_ text: String?) {
        if let text { string(text) } else { null() }
    }

    public mutating func time(_ date: Date?) {
        if let date { time(date) } else { null() }
    }

    /// A free-form value as the generated types write it: whole numbers as integers
    /// (`JSONValue.wholeNumber`), object members in sorted order.
    public mutating func value(_ value: JSONValue) {
        switch value {
        case .null: null()
        case .bool(let flag): bool(flag)
        case .number(let number):
            if let whole = JSONValue.wholeNumber(number) { integer(whole) } else { self.number(number) }
        case .string(let text): string(text)
        case .array(let elements): array(elements) { $0.value($1) }
        case .object(let members): object(members)
        }
    }

    /// An object of free-form values, members in sorted (UTF-8) order.
    public mutating func object(_ members: JSONObject) {
        bytes.append(UInt8(ascii: "{"))
        var first = true
        for (name, member) in members.sorted(by: { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }) {
            if !first { bytes.append(UInt8(ascii: ",")) }
            first = false
            string(name)
            bytes.append(UInt8(ascii: ":"))
            value(member)
        }
        bytes.append(UInt8(ascii: "}"))
    }

    /// A job's config, as the API shows it and `jobs.config` stores it.
    public mutating func config(_ config: JobConfig) {
        object { json in
            json.member("max_follow_ups", config.maxFollowUps, first: true)
            json.member("max_task_retries", config.maxTaskRetries)
            json.member("max_time_to_complete", config.maxTimeToComplete)
            if let profileID = config.profileID {
                json.member("profile_id", profileID)
            }
            if let startPrompt = config.startPrompt {
                json.member("start_prompt", startPrompt)
            }
            json.member("task_retry_interval", config.taskRetryInterval)
        }
    }

    /// A target channel, as the API shows it and `jobs.target_channel` stores it.
    public mutating func channel(_ channel: TargetChannel) {
        object { json in
            json.member("code", channel.code, first: true)
            json.member("data", channel.data)
            json.member("org_id", channel.orgID)
            json.member("platform", channel.platform)
            json.member("type", channel.type)
        }
    }
}
