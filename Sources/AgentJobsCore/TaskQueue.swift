import Foundation

/// A task the engine has claimed: it holds the lease until `leaseUntil` (renewable).
public struct ClaimedTask: Sendable, Hashable {
    /// The job with its earlier tasks (not including `task`).
    public var job: Job
    public var task: JobTask
    /// The job's type: its executor, environment and task timeout.
    public var jobType: JobType
    /// When the job runs out of `max_time_to_complete`.
    public var deadline: Date
    /// The time the task was due (for the due-to-start lag).
    public var dueAt: Date
    /// The events delivered to this task (linked to it in the claim's transaction), oldest first.
    public var events: [JobEvent] = []
    /// The bearer token the task reports progress with (only its hash is stored).
    public var progressToken: String?
    /// The service's public base URL, for the document's `progress_url` (set by the engine).
    public var publicURL: String?

    public init(job: Job, task: JobTask, jobType: JobType, deadline: Date, dueAt: Date) {
        self.job = job
        self.task = task
        self.jobType = jobType
        self.deadline = deadline
        self.dueAt = dueAt
    }

    /// When the claim started the task, in the store's clock (the database's on PostgreSQL).
    public var startedAt: Date { task.startedAt ?? task.createdAt }
    /// How the task runs.
    public var executor: ExecutorSpec { jobType.executor }
    /// The variables its program gets beyond the base ones.
    public var environment: [EnvironmentVariable] { jobType.environment }
    /// When the task runs out of its job type's timeout, counted from its start.
    public var timeoutAt: Date {
        Timestamp.adding(minutes: jobType.taskTimeoutMinutes, to: startedAt)
    }

    /// The document handed to the executor.
    public var document: TaskDocument {
        var document = TaskDocument(job: job, task: task)
        document.events = events
        document.progressToken = progressToken
        if progressToken != nil {
            let base = (publicURL ?? "http://127.0.0.1:8080").trimmingSuffix("/")
            document.progressURL = "\(base)/services/agent-jobs/\(job.id)/tasks/\(task.id)/progress"
        }
        return document
    }
}

/// An outcome a worker reports for a task it holds (an item of a store's batched finishes).
public struct FinishRequest: Sendable, Hashable {
    public var taskID: String
    public var worker: String
    public var outcome: TaskOutcome
    public var now: Date

    public init(taskID: String, worker: String, outcome: TaskOutcome, now: Date) {
        self.taskID = taskID
        self.worker = worker
        self.outcome = outcome
        self.now = now
    }
}

/// What a transition that ended a task (or a job) did, as the engine reports it.
public struct FinishedTask: Sendable, Hashable {
    public var jobID: String
    /// The ended task; empty when the job ended with no task in flight.
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
///
/// Implementations read rows, ask `JobStateMachine` for the transition and apply it in one
/// transaction; the claim order comes from `ClaimOrder`. They own their SQL and nothing more.
public protocol TaskQueue: Sendable {
    /// Claims up to `request.limit` due jobs in `ClaimOrder` and starts a `RUNNING` task for
    /// each, leased to `request.worker`. A due job past its deadline is failed instead.
    func claimDueTasks(_ request: ClaimRequest) async throws -> [ClaimedTask]

    /// Records `outcome` if `worker` still holds the task's lease (fencing); `nil` means the
    /// outcome was discarded because the task was already ended (canceled, rescued, expired).
    func finishTask(taskID: String, worker: String, outcome: TaskOutcome, now: Date) async throws -> FinishedTask?

    /// Extends the leases `worker` holds to `leaseDuration` seconds from now (the store's
    /// clock: `now` on SQLite, the database's on PostgreSQL); returns the ids among `taskIDs`
    /// it no longer holds.
    func renewLeases(
        taskIDs: [String], worker: String, now: Date, leaseDuration: TimeInterval
    ) async throws
        -> Set<String>

    /// Ends tasks whose lease expired (`FAILED`, error `worker lost`) and applies the retry rules.
    func rescueExpiredLeases(now: Date) async throws -> [FinishedTask]

    /// Fails `RUNNING` jobs whose deadline has passed (in-flight task `FAILED` too).
    func failJobsPastDeadline(now: Date) async throws -> [FinishedTask]

    /// Fires up to `limit` schedules due at `now` (the database's clock on PostgreSQL), each in
    /// one transaction with the job it creates (`ScheduleFiring`); a unique key on (schedule,
    /// occurrence) makes each occurrence create at most one job, on any number of nodes.
    /// Returns the jobs created.
    func fireDueSchedules(now: Date, limit: Int, jitter: @escaping @Sendable () -> Double) async throws -> [Job]

    /// The earliest instants at which something becomes due.
    func wakeTimes() async throws -> WakeTimes

    /// Counts jobs by status across all orgs (for metrics).
    func jobCountsByStatus() async throws -> [JobStatus: Int]

    /// Runs until cancelled or the connection fails, calling `onDue` (with the due instant when
    /// the message carries one) when another process makes work due and `onCancel` with the id of a job canceled by any process. A queue used by one
    /// process only has nothing to hear and just waits for cancellation.
    func listen(onDue: @escaping @Sendable (Date?) -> Void, onCancel: @escaping @Sendable (String) -> Void) async throws

    /// Runs `body` while this process is the one that runs the maintenance sweeps, waiting for
    /// that role first when another process holds it. A queue used by one process runs `body`
    /// at once.
    func leadMaintenance(_ body: @escaping @Sendable () async throws -> Void) async throws

    /// Folds the job counts' pending deltas into the counts (a maintenance sweep, run every
    /// second by the maintenance leader); a store that keeps exact counts directly has none.
    func foldCountDeltas() async throws

    /// Deletes, in one transaction, up to `limit` finished jobs whose `finished_at` is before
    /// their status's cutoff (`RetentionPolicy.cutoffs`), oldest first, with their tasks,
    /// events, progress, journal and idempotency records. Returns how many of each status went.
    func purgeFinishedJobs(finishedBefore cutoffs: [JobStatus: Date], limit: Int) async throws -> [JobStatus: Int]

    /// How many jobs of each status `purgeFinishedJobs` would delete in all.
    func countPurgeable(finishedBefore cutoffs: [JobStatus: Date]) async throws -> [JobStatus: Int]
}

extension TaskQueue {
    public func listen(
        onDue: @escaping @Sendable (Date?) -> Void, onCancel: @escaping @Sendable (String) -> Void
    )
        async throws
    {
        try await Task.sleep(for: .seconds(Int64.max / 2))
    }

    public func leadMaintenance(_ body: @escaping @Sendable () async throws -> Void) async throws {
        try await body()
    }

    public func foldCountDeltas() async throws {}
}

/// When the engine next has something to do.
public struct WakeTimes: Sendable, Hashable {
    /// The earliest `next_run_at` of a job waiting for its next task.
    public var nextDue: Date?
    /// The earliest deadline of a `RUNNING` job.
    public var nextDeadline: Date?
    /// The earliest lease expiry of a `RUNNING` task.
    public var nextLeaseExpiry: Date?
    /// The earliest `next_run_at` of an unpaused schedule.
    public var nextSchedule: Date?
    /// The store's clock when these were read, when it keeps its own (the database's clock on
    /// PostgreSQL): the engine compares the times above with it, not with its own clock, so a
    /// node whose clock is off neither starts work early nor late.
    public var observedAt: Date?

    public init(
        nextDue: Date?, nextDeadline: Date?, nextLeaseExpiry: Date?, nextSchedule: Date? = nil, observedAt: Date? = nil
    ) {
        self.nextSchedule = nextSchedule
        self.nextDue = nextDue
        self.nextDeadline = nextDeadline
        self.nextLeaseExpiry = nextLeaseExpiry
        self.observedAt = observedAt
    }
}

/// A store that can run jobs as well as keep them: what `serve` needs.
public typealias JobQueueStore = JobStore & TaskQueue
