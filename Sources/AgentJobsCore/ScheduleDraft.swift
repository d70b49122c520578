import Crypto
import Foundation

/// The fields a client gives a schedule (create, or the result of applying a change), with
/// their rules.
public struct ScheduleDraft: Sendable, Hashable, Codable {
    public var name: String?
    public var cron: String
    public var timezone: String
    public var job: JobSubmission
    public var delayMinutes: Int
    public var overlap: ScheduleOverlap
    public var paused: Bool

    public init(
        name: String?, cron: String, timezone: String = "UTC", job: JobSubmission, delayMinutes: Int = 0,
        overlap: ScheduleOverlap = .allow, paused: Bool = false
    ) {
        self.name = name
        self.cron = cron
        self.timezone = timezone
        self.job = job
        self.delayMinutes = delayMinutes
        self.overlap = overlap
        self.paused = paused
    }

    /// The draft of an existing schedule (what a change starts from).
    public init(_ schedule: Schedule) {
        self.init(
            name: schedule.name, cron: schedule.cron, timezone: schedule.timezone, job: schedule.job,
            delayMinutes: schedule.delayMinutes, overlap: schedule.overlap, paused: schedule.paused)
    }

    /// A stable hash of the draft, to recognise a replay under the same `Idempotency-Key`.
    public var fingerprint: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        encoder.dateEncodingStrategy = .millisecondsSince1970
        let data = (try? encoder.encode(self)) ?? Data()
        return TokenSecret.hex(Array(SHA256.hash(data: data)))
    }

    /// The longest `name`, in characters.
    public static let maxNameLength = 200

    /// Checks every rule (400 naming the field; 403 for another org's channel) and returns
    /// the compiled rule.
    public func validate(forOrg orgID: String, now: Date) throws(AgentJobsError) -> ScheduleRule {
        if let name {
            guard (1...Self.maxNameLength).contains(name.unicodeScalars.count) else {
                throw .badRequest("name must be 1 to \(Self.maxNameLength) characters")
            }
            try TextRules.rejectNUL(name, field: "name")
        }
        let rule = try ScheduleRule.parse(cron: cron, timezone: timezone, now: now)
        guard job.scheduledAt == nil else {
            throw .badRequest("job.scheduled_at is not allowed: each occurrence sets it")
        }
        do {
            try job.validate(forOrg: orgID)
        } catch {
            throw AgentJobsError(error.code, "job." + error.message)
        }
        guard (0...JobSubmission.maxDelayMinutes).contains(delayMinutes) else {
            throw .badRequest("delay must be an integer of minutes between 0 and \(JobSubmission.maxDelayMinutes)")
        }
        return rule
    }

    /// The schedule this draft makes, its next occurrence counted from `now`.
    public func schedule(id: String, orgID: String, rule: ScheduleRule, now: Date) -> Schedule {
        Schedule(
            id: id, orgID: orgID, name: name, cron: cron, timezone: timezone, job: job,
            delayMinutes: delayMinutes, overlap: overlap, paused: paused,
            nextRunAt: paused ? nil : rule.next(after: now), createdAt: now, updatedAt: now)
    }
}
