import Foundation

/// Any JSON value; used for the free-form `params` and `target_channel.data`.
public enum JSONValue: Sendable, Hashable, Codable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Double.self) {
            self = .number(value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode([JSONValue].self) {
            self = .array(value)
        } else {
            self = .object(try container.decode([String: JSONValue].self))
        }
    }

    /// A number written as an integer: a whole one below 9e15 (where every integer is still
    /// exact as a `Double`); `nil` for the others, written as a `Double`.
    public static func wholeNumber(_ value: Double) -> Int? {
        value.rounded() == value && abs(value) < 9.0e15 ? Int(value) : nil
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .null: try container.encodeNil()
        case .bool(let value): try container.encode(value)
        case .number(let value):
            if let whole = Self.wholeNumber(value) {
                try container.encode(Int64(whole))
            } else {
                try container.encode(value)
            }
        case .string(let value): try container.encode(value)
        case .array(let value): try container.encode(value)
        case .object(let value): try container.encode(value)
        }
    }
}

/// A JSON object, the shape of `params` and `target_channel.data`.
public typealias JSONObject = [String: JSONValue]

extension JSONObject {
    /// Compact JSON text with sorted keys (stable, so it can be hashed and compared).
    /// What `JSONEncoder` with sorted keys and unescaped slashes writes, written by `JSONWriter`.
    public func canonicalJSON() -> String {
        var json = JSONWriter(capacity: 64)
        json.object(self)
        return json.text
    }

    /// Parses JSON text that must hold an object.
    public static func parse(_ text: String) throws -> JSONObject {
        // `JSONParser` reads what `JSONDecoder` reads, at a fraction of the cost; what it
        // leaves (malformed text) gets `JSONDecoder`'s error.
        if case .object(let members)? = JSONParser.parse(text.utf8) { return members.mapValues(\.jsonValue) }
        return try JSONDecoder().decode(JSONObject.self, from: Data(text.utf8))
    }
}

extension JSONValue {
    /// Whether a string or key anywhere inside holds a NUL character (which PostgreSQL cannot
    /// store; both stores refuse it alike).
    public var containsNUL: Bool {
        switch self {
        case .null, .bool, .number: false
        case .string(let text): text.utf8.contains(0)
        case .array(let values): values.contains(where: \.containsNUL)
        case .object(let object): object.contains { $0.key.utf8.contains(0) || $0.value.containsNUL }
        }
    }

    /// Compact JSON text with sorted keys.
    public func compactJSON() -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? encoder.encode(self)).map { String(decoding: $0, as: UTF8.self) } ?? "null"
    }

    /// Parses any JSON text.
    public static func parse(any text: String) throws -> JSONValue {
        try JSONDecoder().decode(JSONValue.self, from: Data(text.utf8))
    }
}
