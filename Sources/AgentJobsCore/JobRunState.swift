import Foundation

/// The counters that decide whether another task may run.
public struct JobProgress: Sendable, Hashable {
    /// Tasks started so far (the next task's `attempt` is this plus one).
    public var attempts: Int
    /// Follow-up tasks scheduled so far.
    public var followUps: Int
    /// Retries scheduled for the current step (reset by a follow-up).
    public var retries: Int

    public init(attempts: Int = 0, followUps: Int = 0, retries: Int = 0) {
        self.attempts = attempts
        self.followUps = followUps
        self.retries = retries
    }
}

/// The part of a stored job that its transitions read: what a store loads (and, on
/// PostgreSQL, locks) before asking `JobStateMachine` what happens next.
public struct JobRunState: Sendable, Hashable {
    public var id: String
    public var orgID: String
    public var jobTypeID: String
    /// The code of the job's target channel.
    public var channelCode: String
    public var status: JobStatus
    public var config: JobConfig
    public var progress: JobProgress
    /// When the next task is due; `nil` when none is planned.
    public var nextRunAt: Date?
    /// The kind of the next task.
    public var nextKind: TaskKind
    public var startedAt: Date?
    /// When the job runs out of `max_time_to_complete` (set by its first task's start).
    public var deadlineAt: Date?
    /// Events recorded and not yet delivered to a task.
    public var pendingEvents: Int

    public init(
        id: String, orgID: String, jobTypeID: String, channelCode: String, status: JobStatus, config: JobConfig,
        progress: JobProgress, nextRunAt: Date?, nextKind: TaskKind, startedAt: Date?, deadlineAt: Date?,
        pendingEvents: Int = 0
    ) {
        self.pendingEvents = pendingEvents
        self.id = id
        self.orgID = orgID
        self.jobTypeID = jobTypeID
        self.channelCode = channelCode
        self.status = status
        self.config = config
        self.progress = progress
        self.nextRunAt = nextRunAt
        self.nextKind = nextKind
        self.startedAt = startedAt
        self.deadlineAt = deadlineAt
    }

    /// What the job is counted by.
    public var countKey: JobCountKey {
        JobCountKey(orgID: orgID, jobTypeID: jobTypeID, channelCode: channelCode)
    }
}

/// The fencing view of a task: enough to decide whether an outcome may still be recorded.
public struct TaskLeaseState: Sendable, Hashable {
    public var id: String
    public var status: TaskStatus
    /// The worker holding the task's lease (`nil` once it ended).
    public var leaseOwner: String?
    /// When the lease runs out unless renewed.
    public var leaseExpiresAt: Date?

    public init(id: String, status: TaskStatus, leaseOwner: String?, leaseExpiresAt: Date? = nil) {
        self.id = id
        self.status = status
        self.leaseOwner = leaseOwner
        self.leaseExpiresAt = leaseExpiresAt
    }
}
