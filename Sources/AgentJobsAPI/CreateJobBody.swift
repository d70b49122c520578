import AgentJobsCore
import Foundation
import NIOCore

/// A create's body read by `JSONParser` straight into the core's `JobSubmission`, for
/// `CreateJobRoute`: the same submission that the generated `CreateJobRequest` (through
/// `JSONDecoder`) and `APIModelConversion.submission` make, at a fraction of their cost. It
/// answers `nil` for anything it is not sure the generated type takes the same way (a wrong
/// type, a missing field, an integer written with a fraction, a bad time), and the request
/// then goes the generated way, which gives the error. `CreateJobBodyTests` compares the two.
enum CreateJobBody {
    static func submission(_ body: ByteBuffer, delay: Int64?) -> JobSubmission? {
        guard case .object(let fields)? = body.withUnsafeReadableBytes({ JSONParser.parse($0) }),
            case .object(let channel)? = fields["target_channel"],
            case .string(let jobTypeID)? = fields["job_type_id"],
            let targetChannel = targetChannel(channel),
            let config = overrides(fields["config"]),
            let params = object(fields["params"]),
            let scheduledAt = time(fields["scheduled_at"])
        else { return nil }
        return JobSubmission(
            targetChannel: targetChannel, jobTypeID: jobTypeID, config: config, params: params,
            scheduledAt: scheduledAt, delayMinutes: delay.map { Int(clamping: $0) })
    }

    private static func targetChannel(_ fields: [String: JSONParser.Value]) -> TargetChannel? {
        guard case .string(let orgID)? = fields["org_id"], case .string(let platform)? = fields["platform"],
            case .string(let type)? = fields["type"], case .string(let code)? = fields["code"],
            let data = object(fields["data"])
        else { return nil }
        return TargetChannel(orgID: orgID, platform: platform, type: type, code: code, data: data)
    }

    /// An optional object: absent or `null` is empty; `nil` for another type.
    private static func object(_ value: JSONParser.Value?) -> JSONObject? {
        switch value {
        case nil, .null?: [:]
        case .object(let members)?: members.mapValues(\.jsonValue)
        default: nil
        }
    }

    /// An optional time: `.some(nil)` when absent or `null`; `nil` when not a valid time.
    private static func time(_ value: JSONParser.Value?) -> Date?? {
        switch value {
        case nil, .null?: .some(nil)
        case .string(let text)?: Timestamp.parse(text).map { .some($0) }
        default: nil
        }
    }

    private static func overrides(_ value: JSONParser.Value?) -> JobConfigOverrides? {
        let fields: [String: JSONParser.Value]
        switch value {
        case nil, .null?: return JobConfigOverrides()
        case .object(let members)?: fields = members
        default: return nil
        }
        guard let maxFollowUps = integer(fields["max_follow_ups"]),
            let maxTaskRetries = integer(fields["max_task_retries"]),
            let taskRetryInterval = number(fields["task_retry_interval"]),
            let startPrompt = string(fields["start_prompt"]),
            let maxTimeToComplete = number(fields["max_time_to_complete"]),
            let profileID = string(fields["profile_id"])
        else { return nil }
        return JobConfigOverrides(
            maxFollowUps: maxFollowUps, maxTaskRetries: maxTaskRetries, taskRetryInterval: taskRetryInterval,
            startPrompt: startPrompt, maxTimeToComplete: maxTimeToComplete, profileID: profileID)
    }

    /// An optional integer written as one: `.some(nil)` when absent or `null`.
    private static func integer(_ value: JSONParser.Value?) -> Int?? {
        switch value {
        case nil, .null?: .some(nil)
        case .integer(let integer)?: .some(Int(clamping: integer))
        default: nil
        }
    }

    /// An optional number: `.some(nil)` when absent or `null`.
    private static func number(_ value: JSONParser.Value?) -> Double?? {
        switch value {
        case nil, .null?: .some(nil)
        case .integer(let integer)?: .some(Double(integer))
        case .number(let number)?: .some(number)
        default: nil
        }
    }

    /// An optional string: `.some(nil)` when absent or `null`.
    private static func string(_ value: JSONParser.Value?) -> String?? {
        switch value {
        case nil, .null?: .some(nil)
        case .string(let text)?: .some(text)
        default: nil
        }
    }
}
