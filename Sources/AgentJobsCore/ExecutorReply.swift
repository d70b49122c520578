import Foundation

/// How an executor's answer reads (CONTRACT §4): a JSON object
/// `{"status": "completed"|"follow_up"|"failed", "result": …, "error": …, "after_minutes": …,
/// "wait_for_event": …, "retryable": …}` is that reply, checked field by field; any other output is a plain result.
public enum ExecutorReply {
    /// The statuses a reply may have.
    public static let statuses: Set<String> = ["completed", "follow_up", "failed"]

    /// The outcome `output` stands for: a checked reply, or `completed` with the trimmed text.
    /// A reply whose fields have the wrong type or range fails the task with an error that
    /// starts `invalid executor reply:` and names the field.
    public static func outcome(of output: Data) -> TaskOutcome {
        switch parse(output) {
        case .reply(let outcome):
            return outcome
        case .invalid(let problem):
            return .failed(error: "invalid executor reply: \(problem)", retryable: true)
        case .notAReply:
            return .completed(
                result: String(decoding: output, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))
        }
    }

    /// What a body reads as.
    public enum Parsed: Sendable, Hashable {
        case reply(TaskOutcome)
        case invalid(String)
        case notAReply
    }

    public static func parse(_ output: Data) -> Parsed {
        guard case .object(let object)? = try? JSONDecoder().decode(JSONValue.self, from: output),
            case .string(let status)? = object["status"], statuses.contains(status)
        else { return .notAReply }
        var afterMinutes: Double?
        switch object["after_minutes"] {
        case nil, .null?: break
        case .number(let minutes)? where minutes.isFinite && minutes >= 0 && minutes <= Bounds.maxMinutes:
            afterMinutes = minutes
        default:
            return .invalid("after_minutes must be a number of minutes between 0 and \(Int(Bounds.maxMinutes))")
        }
        var waitForEvent = false
        switch object["wait_for_event"] {
        case nil, .null?: break
        case .bool(let value)?: waitForEvent = value
        default: return .invalid("wait_for_event must be true or false")
        }
        var retryable = true
        switch object["retryable"] {
        case nil, .null?: break
        case .bool(let value)?: retryable = value
        default: return .invalid("retryable must be true or false")
        }
        switch status {
        case "completed":
            return .reply(.completed(result: text(object["result"]) ?? ""))
        case "follow_up":
            return .reply(
                .followUp(result: text(object["result"]), afterMinutes: afterMinutes, waitForEvent: waitForEvent))
        default:
            return .reply(
                .failed(error: text(object["error"]) ?? text(object["result"]) ?? "task failed", retryable: retryable))
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
