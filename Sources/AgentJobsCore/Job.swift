import Foundation

/// A job: one scheduled piece of agent work, run as one or more tasks.
public struct Job: Sendable, Hashable {
    public var id: String
    public var orgID: String
    public var jobTypeID: String
    public var targetChannel: TargetChannel
    public var status: JobStatus
    public var config: JobConfig
    public var params: JSONObject
    public var createdAt: Date
    public var updatedAt: Date
    public var scheduledAt: Date
    public var startedAt: Date?
    public var finishedAt: Date?
    public var result: String?
    public var cancelReason: String?
    /// The job's tasks, oldest first.
    public var tasks: [JobTask]
    /// When the job's next task is due; `nil` when none is planned.
    public var nextRunAt: Date?
    /// The schedule that created the job; nil for a job created directly.
    public var scheduleID: String?
    /// The job's latest events (at most `JobEvent.shownPerJob`), oldest first; loaded with
    /// one job only (`JobStore.job(id:)`), empty in lists.
    public var events: [JobEvent] = []

    /// The target channel's code.
    public var channelCode: String { targetChannel.code }

    public init(
        id: String, orgID: String, jobTypeID: String, targetChannel: TargetChannel,
        status: JobStatus, config: JobConfig, params: JSONObject,
        createdAt: Date, updatedAt: Date, scheduledAt: Date,
        startedAt: Date? = nil, finishedAt: Date? = nil, result: String? = nil,
        cancelReason: String? = nil, tasks: [JobTask] = [], nextRunAt: Date? = nil, scheduleID: String? = nil
    ) {
        self.nextRunAt = nextRunAt
        self.scheduleID = scheduleID
        self.id = id
        self.orgID = orgID
        self.jobTypeID = jobTypeID
        self.targetChannel = targetChannel
        self.status = status
        self.config = config
        self.params = params
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.scheduledAt = scheduledAt
        self.startedAt = startedAt
        self.finishedAt = finishedAt
        self.result = result
        self.cancelReason = cancelReason
        self.tasks = tasks
    }
}

/// One agent invocation of a job.
public struct JobTask: Sendable, Hashable {
    public var id: String
    public var jobID: String
    public var kind: TaskKind
    /// Counts the tasks of the job from 1.
    public var attempt: Int
    public var status: TaskStatus
    public var createdAt: Date
    public var startedAt: Date?
    public var finishedAt: Date?
    public var result: String?
    public var error: String?
    /// The events delivered to this task; loaded with one job only.
    public var eventIDs: [String] = []
    /// The task's latest progress reports (at most `ProgressEntry.shownPerTask`), oldest
    /// first; loaded with one job only.
    public var progress: [ProgressEntry] = []

    public init(
        id: String, jobID: String, kind: TaskKind, attempt: Int, status: TaskStatus,
        createdAt: Date, startedAt: Date? = nil, finishedAt: Date? = nil,
        result: String? = nil, error: String? = nil
    ) {
        self.id = id
        self.jobID = jobID
        self.kind = kind
        self.attempt = attempt
        self.status = status
        self.createdAt = createdAt
        self.startedAt = startedAt
        self.finishedAt = finishedAt
        self.result = result
        self.error = error
    }
}
