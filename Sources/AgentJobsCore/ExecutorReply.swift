import Foundation

/// How an executor's JSON answer reads: `{"status": "completed"|"follow_up"|"failed", ...}`.
public struct ExecutorReply: Sendable, Decodable {
    public var status: String
    public var result: JSONValue?
    public var error: JSONValue?
    public var afterMinutes: Double?
    public var retryable: Bool?

    enum CodingKeys: String, CodingKey {
        case status, result, error
        case afterMinutes = "after_minutes"
        case retryable
    }

    /// Parses `data` as a reply object; `nil` when it is not one.
    public static func parse(_ data: Data) -> ExecutorReply? {
        guard let reply = try? JSONDecoder().decode(ExecutorReply.self, from: data),
            ["completed", "follow_up", "failed"].contains(reply.status)
        else { return nil }
        return reply
    }

    /// The outcome the reply stands for.
    public var outcome: TaskOutcome {
        switch status {
        case "completed":
            return .completed(result: Self.text(result) ?? "")
        case "follow_up":
            return .followUp(
                result: Self.text(result), afterMinutes: afterMinutes.flatMap { $0.isFinite && $0 >= 0 ? $0 : nil })
        default:
            return .failed(error: Self.text(error) ?? Self.text(result) ?? "task failed", retryable: retryable ?? true)
        }
    }

    /// Strings stay as they are; other JSON values are kept as compact JSON text.
    static func text(_ value: JSONValue?) -> String? {
        switch value {
        case nil, .null?: return nil
        case .string(let text)?: return text
        case let value?:
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            return (try? encoder.encode(value)).map { String(decoding: $0, as: UTF8.self) }
        }
    }
}
