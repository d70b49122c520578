import Crypto
import Foundation

/// A create request as the client sent it, before it becomes a job.
public struct JobSubmission: Sendable, Hashable, Codable {
    public var targetChannel: TargetChannel
    public var jobTypeID: String
    public var config: JobConfigOverrides
    public var params: JSONObject
    public var scheduledAt: Date?
    /// The `delay` query parameter: at most this many minutes of random delay.
    public var delayMinutes: Int?

    public init(
        targetChannel: TargetChannel, jobTypeID: String, config: JobConfigOverrides = .init(),
        params: JSONObject = [:], scheduledAt: Date? = nil, delayMinutes: Int? = nil
    ) {
        self.targetChannel = targetChannel
        self.jobTypeID = jobTypeID
        self.config = config
        self.params = params
        self.scheduledAt = scheduledAt.map(Timestamp.truncated)
        self.delayMinutes = delayMinutes
    }

    /// The largest `delay`: one year of minutes.
    public static let maxDelayMinutes = 525_600

    /// Checks the fields' rules (400) and that the channel belongs to `orgID` (403).
    public func validate(forOrg orgID: String) throws(AgentJobsError) {
        let channelFields = [
            ("org_id", targetChannel.orgID), ("platform", targetChannel.platform),
            ("type", targetChannel.type), ("code", targetChannel.code),
        ]
        for (name, value) in channelFields where TextRules.isBlank(value) {
            throw .badRequest("target_channel.\(name) must be a non-empty string")
        }
        if TextRules.isBlank(jobTypeID) {
            throw .badRequest("job_type_id must be a non-empty string")
        }
        for (name, value) in channelFields { try TextRules.rejectNUL(value, field: "target_channel.\(name)") }
        try TextRules.rejectNUL(jobTypeID, field: "job_type_id")
        try TextRules.rejectNUL(config.startPrompt, field: "config.start_prompt")
        try TextRules.rejectNUL(config.profileID, field: "config.profile_id")
        try config.validate()
        if let delayMinutes, !(0...Self.maxDelayMinutes).contains(delayMinutes) {
            throw .badRequest("delay must be an integer of minutes between 0 and \(Self.maxDelayMinutes)")
        }
        if targetChannel.orgID != orgID {
            throw .forbidden("target_channel.org_id '\(targetChannel.orgID)' is not the token's organization")
        }
    }

    /// A stable hash of the submission, to recognise a replay under the same `Idempotency-Key`.
    public var fingerprint: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        encoder.dateEncodingStrategy = .millisecondsSince1970
        let data = (try? encoder.encode(self)) ?? Data()
        return TokenSecret.hex(Array(SHA256.hash(data: data)))
    }

    /// The job to store: effective config, scheduled time with jitter, and initial status.
    /// - Parameter jitter: a value in 0...1 that picks the random delay (injected for tests).
    public func makeJob(id: String, jobType: JobType, now: Date, jitter: Double) -> NewJob {
        let now = Timestamp.truncated(now)
        var scheduled = scheduledAt ?? now
        if let delayMinutes, delayMinutes > 0 {
            scheduled += Double(delayMinutes) * 60 * min(max(jitter, 0), 1)
        }
        scheduled = Timestamp.truncated(scheduled)
        return NewJob(
            id: id, orgID: targetChannel.orgID, jobTypeID: jobTypeID, targetChannel: targetChannel,
            status: scheduled > now ? .scheduled : .waiting,
            config: config.resolved(over: jobType.defaultConfig), params: params,
            createdAt: now, scheduledAt: scheduled)
    }
}

/// A job ready to be inserted.
public struct NewJob: Sendable, Hashable {
    public var id: String
    public var orgID: String
    public var jobTypeID: String
    public var targetChannel: TargetChannel
    public var status: JobStatus
    public var config: JobConfig
    public var params: JSONObject
    public var createdAt: Date
    public var scheduledAt: Date
    /// The schedule that created the job, and the occurrence it stands for (unique together).
    public var scheduleID: String?
    public var scheduleOccurrence: Date?

    public init(
        id: String, orgID: String, jobTypeID: String, targetChannel: TargetChannel,
        status: JobStatus, config: JobConfig, params: JSONObject, createdAt: Date, scheduledAt: Date,
        scheduleID: String? = nil, scheduleOccurrence: Date? = nil
    ) {
        self.scheduleID = scheduleID
        self.scheduleOccurrence = scheduleOccurrence
        self.id = id
        self.orgID = orgID
        self.jobTypeID = jobTypeID
        self.targetChannel = targetChannel
        self.status = status
        self.config = config
        self.params = params
        self.createdAt = createdAt
        self.scheduledAt = scheduledAt
    }

    /// The job as it reads right after insertion.
    public var asJob: Job {
        Job(
            id: id, orgID: orgID, jobTypeID: jobTypeID, targetChannel: targetChannel, status: status,
            config: config, params: params, createdAt: createdAt, updatedAt: createdAt,
            scheduledAt: scheduledAt, nextRunAt: scheduledAt, scheduleID: scheduleID)
    }
}

/// What a create did.
public enum CreateJobOutcome: Sendable {
    /// A new job was stored.
    case created(Job)
    /// The same key and body were seen before: the first job.
    case replayed(Job)
}

/// What a cancel did.
public enum CancelOutcome: Sendable {
    case canceled(Job)
    case notFound
    /// The job belongs to another org.
    case forbidden
    case alreadyTerminal(JobStatus)
}
