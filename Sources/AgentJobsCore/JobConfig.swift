/// The effective configuration of a job, after defaults have been applied.
public struct JobConfig: Sendable, Hashable, Codable {
    /// How many follow-up tasks may run after the initial one.
    public var maxFollowUps: Int
    /// How many retries may run for each step.
    public var maxTaskRetries: Int
    /// Minutes between a failed task and its retry (also the default follow-up wait).
    public var taskRetryInterval: Double
    /// Prompt handed to the agent.
    public var startPrompt: String?
    /// Minutes the whole job may take from its first task's start.
    public var maxTimeToComplete: Double
    /// Agent profile to use.
    public var profileID: String?

    /// The global defaults: 0 follow-ups, 0 retries, interval 1 minute, 60 minutes to complete.
    public static let defaults = JobConfig(
        maxFollowUps: 0, maxTaskRetries: 0, taskRetryInterval: 1,
        startPrompt: nil, maxTimeToComplete: 60, profileID: nil)

    public init(
        maxFollowUps: Int, maxTaskRetries: Int, taskRetryInterval: Double,
        startPrompt: String?, maxTimeToComplete: Double, profileID: String?
    ) {
        self.maxFollowUps = maxFollowUps
        self.maxTaskRetries = maxTaskRetries
        self.taskRetryInterval = taskRetryInterval
        self.startPrompt = startPrompt
        self.maxTimeToComplete = maxTimeToComplete
        self.profileID = profileID
    }

    typealias CodingKeys = JobConfigCodingKeys
}

/// A partial configuration: what a request or a job type's default config sets.
public struct JobConfigOverrides: Sendable, Hashable, Codable {
    public var maxFollowUps: Int?
    public var maxTaskRetries: Int?
    public var taskRetryInterval: Double?
    public var startPrompt: String?
    public var maxTimeToComplete: Double?
    public var profileID: String?

    public init(
        maxFollowUps: Int? = nil, maxTaskRetries: Int? = nil, taskRetryInterval: Double? = nil,
        startPrompt: String? = nil, maxTimeToComplete: Double? = nil, profileID: String? = nil
    ) {
        self.maxFollowUps = maxFollowUps
        self.maxTaskRetries = maxTaskRetries
        self.taskRetryInterval = taskRetryInterval
        self.startPrompt = startPrompt
        self.maxTimeToComplete = maxTimeToComplete
        self.profileID = profileID
    }

    typealias CodingKeys = JobConfigCodingKeys

    /// The JSON names of the config fields.
    public static let fieldNames = JobConfigCodingKeys.allCases.map(\.rawValue)

    /// Checks every set field against the contract's rules and `Bounds`, whatever the entry
    /// point (a create's `config`, `--default-config`).
    /// - Parameter prefix: the name of the enclosing field, used in error messages.
    public func validate(prefix: String = "config") throws(AgentJobsError) {
        if let value = maxFollowUps { try Bounds.checkCount(value, field: "\(prefix).max_follow_ups") }
        if let value = maxTaskRetries { try Bounds.checkCount(value, field: "\(prefix).max_task_retries") }
        if let value = taskRetryInterval {
            try Bounds.checkMinutes(value, field: "\(prefix).task_retry_interval", positive: false)
        }
        if let value = maxTimeToComplete {
            try Bounds.checkMinutes(value, field: "\(prefix).max_time_to_complete", positive: true)
        }
        try TextRules.rejectNUL(startPrompt, field: "\(prefix).start_prompt")
        try TextRules.rejectNUL(profileID, field: "\(prefix).profile_id")
    }

    /// Fills unset fields from `fallback` (the job type's defaults), then from `JobConfig.defaults`.
    public func resolved(over fallback: JobConfigOverrides?) -> JobConfig {
        let base = JobConfig.defaults
        return JobConfig(
            maxFollowUps: maxFollowUps ?? fallback?.maxFollowUps ?? base.maxFollowUps,
            maxTaskRetries: maxTaskRetries ?? fallback?.maxTaskRetries ?? base.maxTaskRetries,
            taskRetryInterval: taskRetryInterval ?? fallback?.taskRetryInterval ?? base.taskRetryInterval,
            startPrompt: startPrompt ?? fallback?.startPrompt ?? base.startPrompt,
            maxTimeToComplete: maxTimeToComplete ?? fallback?.maxTimeToComplete ?? base.maxTimeToComplete,
            profileID: profileID ?? fallback?.profileID ?? base.profileID)
    }
}

/// The JSON names of the config fields, shared by `JobConfig` and `JobConfigOverrides`.
enum JobConfigCodingKeys: String, CodingKey, CaseIterable {
    case maxFollowUps = "max_follow_ups"
    case maxTaskRetries = "max_task_retries"
    case taskRetryInterval = "task_retry_interval"
    case startPrompt = "start_prompt"
    case maxTimeToComplete = "max_time_to_complete"
    case profileID = "profile_id"
}
