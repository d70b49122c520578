import Foundation

/// One change of a job, computed once by `JobStateMachine` and applied by a store in its own
/// transaction: the job's new columns, the task it ends and the task it starts, if any, and
/// what other nodes must hear about.
public struct JobTransition: Sendable, Hashable {
    public var jobID: String
    /// What the job is counted by (stores that count in code move it from the previous status
    /// to the new one).
    public var countKey: JobCountKey
    /// The job's scheduling columns after the transition.
    public var job: JobChange
    /// The in-flight task this transition ends.
    public var endedTask: TaskEnd?
    /// The task this transition starts (a claim).
    public var startedTask: TaskStart?
    /// What to tell other processes after commit.
    public var announcements: [Announcement]

    public init(
        jobID: String, countKey: JobCountKey, job: JobChange, endedTask: TaskEnd? = nil,
        startedTask: TaskStart? = nil, announcements: [Announcement] = []
    ) {
        self.jobID = jobID
        self.countKey = countKey
        self.job = job
        self.endedTask = endedTask
        self.startedTask = startedTask
        self.announcements = announcements
    }

    /// Whether the job's status changes (its journal then gets a `job` entry).
    public var statusChanged: Bool { job.status != job.previousStatus }

    /// What the engine reports of a transition that ended a task or a job.
    public var finished: FinishedTask {
        FinishedTask(
            jobID: jobID, taskID: endedTask?.taskID ?? "", taskStatus: endedTask?.status ?? .failed,
            jobStatus: job.status, nextRunAt: job.next?.at)
    }
}

/// The next task a job plans: its kind and when it is due.
public struct NextTask: Sendable, Hashable {
    public var kind: TaskKind
    public var at: Date

    public init(kind: TaskKind, at: Date) {
        self.kind = kind
        self.at = at
    }
}

/// Every column of a job that a transition may change, as it reads afterwards.
public struct JobChange: Sendable, Hashable {
    /// The status before the transition.
    public var previousStatus: JobStatus
    public var status: JobStatus
    public var result: String?
    public var cancelReason: String?
    /// The next task to create when it is due (`next_run_at`, `next_kind`); `nil`: none.
    public var next: NextTask?
    public var progress: JobProgress
    public var startedAt: Date?
    public var deadlineAt: Date?
    public var finishedAt: Date?
    public var updatedAt: Date
    /// Events recorded and not yet delivered to a task.
    public var pendingEvents: Int

    /// The job as it stands, touched at `now`.
    public init(_ state: JobRunState, now: Date) {
        previousStatus = state.status
        pendingEvents = state.pendingEvents
        status = state.status
        result = nil
        cancelReason = nil
        next = state.nextRunAt.map { NextTask(kind: state.nextKind, at: $0) }
        progress = state.progress
        startedAt = state.startedAt
        deadlineAt = state.deadlineAt
        finishedAt = nil
        updatedAt = now
    }

    /// Ends the job in `status` with `result`: nothing more is planned.
    mutating func end(_ status: JobStatus, result: String?, at now: Date) {
        self.status = status
        self.result = result
        next = nil
        finishedAt = now
    }
}

/// How a transition ends an in-flight task.
public struct TaskEnd: Sendable, Hashable {
    public var taskID: String
    public var status: TaskStatus
    public var result: String?
    public var error: String?
    public var finishedAt: Date

    public init(taskID: String, status: TaskStatus, result: String?, error: String?, finishedAt: Date) {
        self.taskID = taskID
        self.status = status
        self.result = result
        self.error = error
        self.finishedAt = finishedAt
    }
}

/// A task a claim starts, leased to one worker.
public struct TaskStart: Sendable, Hashable {
    public var task: JobTask
    public var leaseOwner: String
    public var leaseUntil: Date
    /// The hash of the task's progress token (`ProgressToken`).
    public var progressTokenHash: String?
    /// Whether the job's undelivered events go to this task (in the claim's transaction).
    public var deliversEvents: Bool
    /// When the task was due (the job's `next_run_at` at the claim).
    public var dueAt: Date?

    public init(
        task: JobTask, leaseOwner: String, leaseUntil: Date, progressTokenHash: String? = nil,
        deliversEvents: Bool = false, dueAt: Date? = nil
    ) {
        self.task = task
        self.dueAt = dueAt
        self.leaseOwner = leaseOwner
        self.leaseUntil = leaseUntil
        self.progressTokenHash = progressTokenHash
        self.deliversEvents = deliversEvents
    }
}

/// What other processes must learn after a transition commits.
public enum Announcement: Sendable, Hashable {
    /// Work becomes due at this instant (wake schedulers).
    case due(Date)
    /// The job was canceled (interrupt its task wherever it runs).
    case canceled
}
