import Foundation

/// A task the engine has claimed: it holds the lease until `leaseUntil` (renewable).
public struct ClaimedTask: Sendable, Hashable {
    /// The job with its earlier tasks (not including `task`).
    public var job: Job
    public var task: JobTask
    public var executor: ExecutorSpec
    /// When the job runs out of `max_time_to_complete`.
    public var deadline: Date
    /// The time the task was due (for the due-to-start lag).
    public var dueAt: Date

    public init(job: Job, task: JobTask, executor: ExecutorSpec, deadline: Date, dueAt: Date) {
        self.job = job
        self.task = task
        self.executor = executor
        self.deadline = deadline
        self.dueAt = dueAt
    }

    /// The document handed to the executor.
    public var document: TaskDocument { TaskDocument(job: job, task: task) }
}

/// What recording an outcome did.
public struct FinishedTask: Sendable, Hashable {
    public var jobID: String
    public var taskID: String
    public var taskStatus: TaskStatus
    public var jobStatus: JobStatus
    /// When the job's next task is due, if one was scheduled.
    public var nextRunAt: Date?

    public init(jobID: String, taskID: String, taskStatus: TaskStatus, jobStatus: JobStatus, nextRunAt: Date?) {
        self.jobID = jobID
        self.taskID = taskID
        self.taskStatus = taskStatus
        self.jobStatus = jobStatus
        self.nextRunAt = nextRunAt
    }
}

/// The store's side of running jobs: claiming due work under a lease, recording outcomes with
/// fencing, and the maintenance that recovers from dead workers and expired deadlines.
public protocol TaskQueue: Sendable {
    /// Claims up to `limit` due jobs and starts a `RUNNING` task for each, leased to `worker`.
    /// Orgs take turns: orgs with a lower `orgTurns` value are served first, one job each per round;
    /// within an org, jobs are taken by due time, then `job_id`.
    func claimDueTasks(
        limit: Int, now: Date, worker: String, leaseUntil: Date, orgTurns: [String: UInt64]
    ) async throws -> [ClaimedTask]

    /// Records `outcome` if `worker` still holds the task's lease (fencing); `nil` means the
    /// outcome was discarded because the task was already ended (canceled, rescued, expired).
    func finishTask(taskID: String, worker: String, outcome: TaskOutcome, now: Date) async throws -> FinishedTask?

    /// Extends the leases `worker` holds; returns the ids among `taskIDs` it no longer holds.
    func renewLeases(taskIDs: [String], worker: String, until: Date) async throws -> Set<String>

    /// Ends tasks whose lease expired (`FAILED`, error `worker lost`) and applies the retry rules.
    func rescueExpiredLeases(now: Date) async throws -> [FinishedTask]

    /// Fails `RUNNING` jobs whose deadline has passed (in-flight task `FAILED` too).
    func failJobsPastDeadline(now: Date) async throws -> [FinishedTask]

    /// The earliest instants at which something becomes due.
    func wakeTimes() async throws -> WakeTimes

    /// Counts jobs by status across all orgs (for metrics).
    func jobCountsByStatus() async throws -> [JobStatus: Int]
}

/// When the engine next has something to do.
public struct WakeTimes: Sendable, Hashable {
    /// The earliest `next_run_at` of a job waiting for its next task.
    public var nextDue: Date?
    /// The earliest deadline of a `RUNNING` job.
    public var nextDeadline: Date?
    /// The earliest lease expiry of a `RUNNING` task.
    public var nextLeaseExpiry: Date?

    public init(nextDue: Date?, nextDeadline: Date?, nextLeaseExpiry: Date?) {
        self.nextDue = nextDue
        self.nextDeadline = nextDeadline
        self.nextLeaseExpiry = nextLeaseExpiry
    }

    /// The earliest of the three.
    public var earliest: Date? { [nextDue, nextDeadline, nextLeaseExpiry].compactMap { $0 }.min() }
}

/// A queue shared by several processes that can tell a worker at once when work becomes due
/// or a job is canceled elsewhere (PostgreSQL LISTEN/NOTIFY).
public protocol TaskQueueNotifications: Sendable {
    /// Runs until cancelled or the connection fails, calling `onDue` when work becomes due
    /// and `onCancel` with the id of a job canceled by any process.
    func listen(onDue: @escaping @Sendable () -> Void, onCancel: @escaping @Sendable (String) -> Void) async throws
}
