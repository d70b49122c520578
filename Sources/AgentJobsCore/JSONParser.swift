/// A strict JSON parser (RFC 8259) for the hot paths, where `JSONDecoder` and `Codable` cost
/// more than the work itself. It takes only what it is sure of and answers `nil` for anything
/// else: malformed text, text that is not UTF-8, a duplicate key, a number that is not finite,
/// nesting deeper than `maxDepth`, a byte-order mark. A caller falls back to `JSONDecoder` on
/// `nil`, so every error message stays the one `JSONDecoder` gives.
public enum JSONParser {
    /// A parsed value. Integers written without a fraction or exponent that fit an `Int64`
    /// are kept apart from other numbers, so a caller can take them where `JSONDecoder` takes
    /// an integer.
    public enum Value: Sendable, Equatable {
        case null
        case bool(Bool)
        case integer(Int64)
        case number(Double)
        case string(String)
        case array([Value])
        case object([String: Value])

        /// The value as `JSONValue` (an integer as the `Double` that `JSONDecoder` gives).
        public var jsonValue: JSONValue {
            switch self {
            case .null: .null
            case .bool(let flag): .bool(flag)
            case .integer(let integer): .number(Double(integer))
            case .number(let number): .number(number)
            case .string(let text): .string(text)
            case .array(let elements): .array(elements.map(\.jsonValue))
            case .object(let members): .object(members.mapValues(\.jsonValue))
            }
        }
    }

    /// Deeper nesting is left to `JSONDecoder` (and its limits).
    public static let maxDepth = 64

    /// The value that `bytes` hold in full (whitespace around it allowed), or `nil`.
    public static func parse(_ bytes: UnsafeRawBufferPointer) -> Value? {
        var cursor = Cursor(bytes: bytes.assumingMemoryBound(to: UInt8.self))
        return cursor.document()
    }

    /// The value that `bytes` hold in full (whitespace around it allowed), or `nil`.
    public static func parse(_ bytes: some Collection<UInt8>) -> Value? {
        let parsed = bytes.withContiguousStorageIfAvailable { buffer in
            var cursor = Cursor(bytes: buffer)
            return cursor.document()
        }
        if let parsed { return parsed }
        let copy = Array(bytes)
        return copy.withUnsafeBufferPointer { buffer in
            var cursor = Cursor(bytes: buffer)
            return cursor.document()
        }
    }

    private struct Cursor {
        let bytes: UnsafeBufferPointer<UInt8>
        var index = 0

        init(bytes: UnsafeBufferPointer<UInt8>) { self.bytes = bytes }

        mutating func document() -> Value? {
            guard let value = value(depth: 0) else { return nil }
            skipWhitespace()
            return index == bytes.count ? value : nil
        }

        mutating func skipWhitespace() {
            while index < bytes.count {
                switch bytes[index] {
                case 0x20, 0x09, 0x0A, 0x0D: index += 1
                default: return
                }
            }
        }

        mutating func value(depth: Int) -> Value? {
            skipWhitespace()
            guard index < bytes.count, depth <= JSONParser.maxDepth else { return nil }
            switch bytes[index] {
            case UInt8(ascii: "{"): return object(depth: depth)
            case UInt8(ascii: "["): return array(depth: depth)
            case UInt8(ascii: "\""): return string().map(Value.string)
            case UInt8(ascii: "t"): return literal("true", .bool(true))
            case UInt8(ascii: "f"): return literal("false", .bool(false))
            case UInt8(ascii: "n"): return literal("null", .null)
            default: return number()
            }
        }

        mutating func literal(_ text: StaticString, _ value: Value) -> Value? {
            let count = text.utf8CodeUnitCount
            guard bytes.count - index >= count else { return nil }
            for offset in 0..<count where bytes[index + offset] != text.utf8Start[offset] { return nil }
            index += count
            return value
        }

        /// Skips whitespace, then takes `byte` if it comes next.
        mutating func take(_ byte: UInt8) -> Bool {
            skipWhitespace()
            guard index < bytes.count, bytes[index] == byte else { return false }
            index += 1
            return true
        }

        /// After a member or an element: `false` after a comma (another follows), `true` after
        /// `closing`, `nil` for anything else.
        mutating func endOfElement(closing: UInt8) -> Bool? {
            if take(UInt8(ascii: ",")) { return false }
            return take(closing) ? true : nil
        }

        mutating func object(depth: Int) -> Value? {
            index += 1
            var members: [String: Value] = [:]
            if take(UInt8(ascii: "}")) { return .object(members) }
            while true {
                skipWhitespace()
                guard index < bytes.count, bytes[index] == UInt8(ascii: "\""), let key = string(),
                    take(UInt8(ascii: ":")), let member = value(depth: depth + 1),
                    members.updateValue(member, forKey: key) == nil,
                    let closed = endOfElement(closing: UInt8(ascii: "}"))
                else { return nil }
                if closed { return .object(members) }
            }
        }

        mutating func array(depth: Int) -> Value? {
            index += 1
            var elements: [Value] = []
            if take(UInt8(ascii: "]")) { return .array(elements) }
            while true {
                guard let element = value(depth: depth + 1), let closed = endOfElement(closing: UInt8(ascii: "]"))
                else { return nil }
                elements.append(element)
                if closed { return .array(elements) }
            }
        }

        /// A string from its opening quote: unescaped runs are copied as they are (and must be
        /// UTF-8), escapes decoded, a lone surrogate refused.
        mutating func string() -> String? {
            index += 1
            let start = index
            // The common case: no escape.
            var allBits: UInt8 = 0
            while index < bytes.count {
                let byte = bytes[index]
                if byte == UInt8(ascii: "\"") {
                    defer { index += 1 }
                    return Self.text(UnsafeBufferPointer(rebasing: bytes[start..<index]), ascii: allBits < 0x80)
                }
                if byte == UInt8(ascii: "\\") || byte < 0x20 { break }
                allBits |= byte
                index += 1
            }
            var utf8 = Array(UnsafeBufferPointer(rebasing: bytes[start..<index]))
            while index < bytes.count {
                let byte = bytes[index]
                switch byte {
                case UInt8(ascii: "\""):
                    index += 1
                    return utf8.withUnsafeBufferPointer { Self.text($0, ascii: false) }
                case 0..<0x20:
                    return nil
                case UInt8(ascii: "\\"):
                    index += 1
                    guard index < bytes.count else { return nil }
                    let escaped = bytes[index]
                    index += 1
                    switch escaped {
                    case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): utf8.append(escaped)
                    case UInt8(ascii: "b"): utf8.append(0x08)
                    case UInt8(ascii: "f"): utf8.append(0x0C)
                    case UInt8(ascii: "n"): utf8.append(0x0A)
                    case UInt8(ascii: "r"): utf8.append(0x0D)
                    case UInt8(ascii: "t"): utf8.append(0x09)
                    case UInt8(ascii: "u"):
                        guard let scalar = unicodeEscape() else { return nil }
                        utf8.append(contentsOf: String(Character(scalar)).utf8)
                    default: return nil
                    }
                default:
                    utf8.append(byte)
                    index += 1
                }
            }
            return nil
        }

        /// `utf8` as a string, nil when it is not UTF-8. ASCII, the common case, takes the
        /// standard library's non-generic way; `String(validating:as:)` is generic and, not
        /// specialized here, cost a create 28,000 instructions (`bench/callgrind.py`).
        static func text(_ utf8: UnsafeBufferPointer<UInt8>, ascii: Bool) -> String? {
            ascii ? String(decoding: utf8, as: UTF8.self) : String(validating: utf8, as: UTF8.self)
        }

        /// The scalar of `\uXXXX` (the cursor after the `u`), a surrogate pair taken whole.
        mutating func unicodeEscape() -> Unicode.Scalar? {
            guard let first = hex4() else { return nil }
            switch first {
            case 0xD800...0xDBFF:
                guard bytes.count - index >= 6, bytes[index] == UInt8(ascii: "\\"),
                    bytes[index + 1] == UInt8(ascii: "u")
                else { return nil }
                index += 2
                guard let second = hex4(), (0xDC00...0xDFFF).contains(second) else { return nil }
                return Unicode.Scalar(0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00))
            case 0xDC00...0xDFFF:
                return nil
            default:
                return Unicode.Scalar(first)
            }
        }

        mutating func hex4() -> UInt32? {
            guard bytes.count - index >= 4 else { return nil }
            var value: UInt32 = 0
            for _ in 0..<4 {
                let byte = bytes[index]
                let digit: UInt8
                switch byte {
                case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
                case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
                case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
                default: return nil
                }
                value = value << 4 | UInt32(digit)
                index += 1
            }
            return value
        }

        /// `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`
        mutating func number() -> Value? {
            let start = index
            if index < bytes.count, bytes[index] == UInt8(ascii: "-") { index += 1 }
            guard index < bytes.count else { return nil }
            if bytes[index] == UInt8(ascii: "0") {
                index += 1
            } else {
                guard skipDigits() else { return nil }
            }
            var integral = true
            if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
                index += 1
                integral = false
                guard skipDigits() else { return nil }
            }
            if index < bytes.count, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
                index += 1
                integral = false
                if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") {
                    index += 1
                }
                guard skipDigits() else { return nil }
            }
            let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self)
            if integral, let integer = Int64(text) { return .integer(integer) }
            guard let number = Double(text), number.isFinite else { return nil }
            return .number(number)
        }

        /// One or more digits.
        mutating func skipDigits() -> Bool {
            let start = index
            while index < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[index]) { index += 1 }
            return index > start
        }
    }
}
