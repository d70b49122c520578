import AgentJobsCore
import Foundation
import NIOCore

/// A JSON writer into a `ByteBuffer` that writes what the server's `JSONEncoder` (sorted keys,
/// slashes unescaped) writes for the same values: strings escaped the same way, numbers in
/// the same form, times as the API's UTC milliseconds. The caller writes an object's keys in
/// sorted (UTF-8) order; `JobJSONTests` compares the two byte for byte.
struct JSONBytes {
    private(set) var buffer: ByteBuffer

    init(capacity: Int = 1024) {
        buffer = ByteBufferAllocator().buffer(capacity: capacity)
    }

    /// `{`, then `body` writes the members with `key`, then `}`.
    mutating func object(_ body: (inout JSONBytes) -> Void) {
        buffer.writeInteger(UInt8(ascii: "{"))
        body(&self)
        buffer.writeInteger(UInt8(ascii: "}"))
    }

    /// `[`, the elements written by `element` with commas between them, `]`.
    mutating func array<Elements: Sequence>(
        _ elements: Elements, _ element: (inout JSONBytes, Elements.Element) -> Void
    ) {
        buffer.writeInteger(UInt8(ascii: "["))
        var first = true
        for value in elements {
            if !first { buffer.writeInteger(UInt8(ascii: ",")) }
            first = false
            element(&self, value)
        }
        buffer.writeInteger(UInt8(ascii: "]"))
    }

    /// A member's key (with the comma before it unless it is the object's first) and colon.
    mutating func key(_ name: StaticString, first: Bool = false) {
        if !first { buffer.writeInteger(UInt8(ascii: ",")) }
        buffer.writeInteger(UInt8(ascii: "\""))
        buffer.writeStaticString(name)
        buffer.writeInteger(UInt8(ascii: "\""))
        buffer.writeInteger(UInt8(ascii: ":"))
    }

    /// A member: its key (see `key`) and a string, `null` when absent.
    mutating func member(_ name: StaticString, _ text: String?, first: Bool = false) {
        key(name, first: first)
        string(text)
    }

    /// A member: its key and a time, `null` when absent.
    mutating func member(_ name: StaticString, time date: Date?) {
        key(name)
        time(date)
    }

    /// A member: its key and an integer.
    mutating func member(_ name: StaticString, _ value: Int, first: Bool = false) {
        key(name, first: first)
        integer(value)
    }

    /// A member: its key and a number as `JSONEncoder` writes a `Double`.
    mutating func member(_ name: StaticString, _ value: Double) {
        key(name)
        number(value)
    }

    /// A member: its key and an object of free-form values.
    mutating func member(_ name: StaticString, _ members: JSONObject) {
        key(name)
        object(members)
    }

    mutating func null() { buffer.writeStaticString("null") }

    mutating func bool(_ value: Bool) { buffer.writeStaticString(value ? "true" : "false") }

    mutating func integer(_ value: Int) { buffer.writeString(String(value)) }

    /// As `JSONEncoder` writes a `Double`: its description, without a trailing `.0`.
    mutating func number(_ value: Double) {
        var text = value.description
        if text.hasSuffix(".0") { text.removeLast(2) }
        buffer.writeString(text)
    }

    mutating func time(_ date: Date) { string(Timestamp.format(date)) }

    mutating func string(_ text: String) {
        buffer.writeInteger(UInt8(ascii: "\""))
        var text = text
        text.withUTF8 { bytes in
            func copy(_ range: Range<Int>) {
                guard !range.isEmpty, let base = bytes.baseAddress else { return }
                buffer.writeBytes(UnsafeRawBufferPointer(start: base + range.lowerBound, count: range.count))
            }
            var mark = 0
            for index in bytes.indices {
                let byte = bytes[index]
                guard byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") else { continue }
                copy(mark..<index)
                mark = index + 1
                switch byte {
                case UInt8(ascii: "\""): buffer.writeStaticString("\\\"")
                case UInt8(ascii: "\\"): buffer.writeStaticString("\\\\")
                case 0x08: buffer.writeStaticString("\\b")
                case 0x0C: buffer.writeStaticString("\\f")
                case 0x0A: buffer.writeStaticString("\\n")
                case 0x0D: buffer.writeStaticString("\\r")
                case 0x09: buffer.writeStaticString("\\t")
                default:
                    buffer.writeStaticString("\\u00")
                    buffer.writeInteger(Self.hexDigit(byte >> 4))
                    buffer.writeInteger(Self.hexDigit(byte & 0x0F))
                }
            }
            copy(mark..<bytes.count)
        }
        buffer.writeInteger(UInt8(ascii: "\""))
    }

    private static func hexDigit(_ value: UInt8) -> UInt8 {
        value < 10 ? UInt8(ascii: "0") + value : UInt8(ascii: "a") + value - 10
    }

    mutating func string(_ text: String?) {
        if let text { string(text) } else { null() }
    }

    mutating func time(_ date: Date?) {
        if let date { time(date) } else { null() }
    }

    /// A free-form value as the generated types write it: whole numbers as integers
    /// (`APIModelConversion.wholeNumber`), object members in sorted order.
    mutating func value(_ value: JSONValue) {
        switch value {
        case .null: null()
        case .bool(let flag): bool(flag)
        case .number(let number):
            if let whole = APIModelConversion.wholeNumber(number) { integer(whole) } else { self.number(number) }
        case .string(let text): string(text)
        case .array(let elements): array(elements) { $0.value($1) }
        case .object(let members): object(members)
        }
    }

    /// An object of free-form values, members in sorted (UTF-8) order.
    mutating func object(_ members: JSONObject) {
        buffer.writeInteger(UInt8(ascii: "{"))
        var first = true
        for (name, member) in members.sorted(by: { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }) {
            if !first { buffer.writeInteger(UInt8(ascii: ",")) }
            first = false
            string(name)
            buffer.writeInteger(UInt8(ascii: ":"))
            value(member)
        }
        buffer.writeInteger(UInt8(ascii: "}"))
    }
}
