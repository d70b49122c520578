import Foundation

/// The task's final record and the job's next step, as the rules of CONTRACT §4 decide them.
public struct TaskResolution: Sendable, Hashable {
    public var taskStatus: TaskStatus
    public var taskResult: String?
    public var taskError: String?
    public var decision: JobDecision
    public var progress: JobProgress
}

/// What happens to the job after a task ends.
public enum JobDecision: Sendable, Hashable {
    case complete(result: String)
    case fail(result: String)
    /// Start a task of `kind` at `at`; the job stays `RUNNING` meanwhile.
    case runNext(kind: TaskKind, at: Date)
}

/// What recording an event leads to.
public enum EventDecision: Sendable, Hashable {
    /// Record it and apply the transition (the undelivered count, and a follow-up made due at
    /// `wakeAt`).
    case record(JobTransition, wakeAt: Date?)
    /// The job belongs to another org.
    case forbidden
    case alreadyTerminal(JobStatus)
}

/// What a cancel request leads to.
public enum CancelDecision: Sendable, Hashable {
    case cancel(JobTransition)
    /// The job belongs to another org.
    case forbidden
    case alreadyTerminal(JobStatus)
}

/// Every change a job goes through, as pure functions of its stored state and the time: the
/// stores read rows, ask here, and apply the `JobTransition` they get in their own
/// transaction. Nothing here touches a database or a clock.
public enum JobStateMachine {
    public static let maxFollowUpsExceeded = "max_follow_ups exceeded"
    public static let maxTimeExceeded = "max_time_to_complete exceeded"
    public static let workerLost = "worker lost"
    public static let handedBack = "worker shut down before the task finished; handed back"
    public static let jobCanceled = "job canceled"
    /// The longest wait an executor's `after_minutes` can ask for (366 days).
    public static let maxWaitMinutes = 527_040.0

    // MARK: Transitions

    /// A claim: starts the job's next task, leased to `worker` until `leaseUntil`. The first
    /// task's start fixes the deadline; a job already past it is failed instead (the returned
    /// transition then has no `startedTask`).
    public static func start(
        _ job: JobRunState, taskID: String, worker: String, leaseUntil: Date, now: Date,
        progressTokenHash: String? = nil
    ) -> JobTransition {
        var change = JobChange(job, now: now)
        let deadline = job.deadlineAt ?? Timestamp.adding(minutes: job.config.maxTimeToComplete, to: now)
        guard deadline > now else {
            change.end(.failed, result: maxTimeExceeded, at: now)
            return JobTransition(jobID: job.id, countKey: job.countKey, job: change)
        }
        let task = JobTask(
            id: taskID, jobID: job.id, kind: job.nextKind, attempt: job.progress.attempts + 1, status: .running,
            createdAt: now, startedAt: now)
        change.status = .running
        change.startedAt = job.startedAt ?? now
        change.deadlineAt = deadline
        change.progress.attempts += 1
        change.next = nil
        change.pendingEvents = 0
        return JobTransition(
            jobID: job.id, countKey: job.countKey, job: change,
            startedTask: TaskStart(
                task: task, leaseOwner: worker, leaseUntil: leaseUntil, progressTokenHash: progressTokenHash,
                deliversEvents: job.pendingEvents > 0, dueAt: min(job.nextRunAt ?? now, now)))
    }

    /// Ends the job's in-flight `task` with `outcome`, if the fence allows: the task must still
    /// be `RUNNING` and, when `worker` is given, leased to it. `nil`: the outcome is discarded
    /// (the task was canceled, rescued or expired first).
    public static func finish(
        _ job: JobRunState, task: TaskLeaseState, reportedBy worker: String?, outcome: TaskOutcome, now: Date
    ) -> JobTransition? {
        guard task.status == .running, !job.status.isTerminal else { return nil }
        if let worker, task.leaseOwner != worker { return nil }
        let resolution = resolve(outcome, config: job.config, progress: job.progress, now: now)
        var change = JobChange(job, now: now)
        change.progress = resolution.progress
        var announcements: [Announcement] = []
        switch resolution.decision {
        case .complete(let result):
            change.end(.completed, result: result, at: now)
        case .fail(let result):
            change.end(.failed, result: result, at: now)
        case .runNext(let kind, var at):
            // An event recorded while the task ran is the reply a follow-up waits for.
            if kind == .followUp, job.pendingEvents > 0 { at = min(at, now) }
            change.status = .running
            change.next = NextTask(kind: kind, at: at)
            announcements.append(.due(at))
        }
        let ended = TaskEnd(
            taskID: task.id, status: resolution.taskStatus, result: resolution.taskResult,
            error: resolution.taskError, finishedAt: now)
        return JobTransition(
            jobID: job.id, countKey: job.countKey, job: change, endedTask: ended, announcements: announcements)
    }

    /// A task whose lease expired: its worker is gone, so it fails with `worker lost` and the
    /// retry rules apply. `nil` when the lease has not expired (it was renewed meanwhile).
    public static func rescue(_ job: JobRunState, task: TaskLeaseState, now: Date) -> JobTransition? {
        guard let expiry = task.leaseExpiresAt, expiry < now else { return nil }
        return finish(job, task: task, reportedBy: nil, outcome: .failed(error: workerLost, retryable: true), now: now)
    }

    /// The deadline sweep: a `RUNNING` job past its deadline fails, with its in-flight task if
    /// it has one. `nil` when the job is not past its deadline.
    public static func expire(_ job: JobRunState, runningTask: TaskLeaseState?, now: Date) -> JobTransition? {
        guard job.status == .running, let deadline = job.deadlineAt, deadline <= now else { return nil }
        if let runningTask {
            return finish(job, task: runningTask, reportedBy: nil, outcome: .deadlineExceeded, now: now)
        }
        return fail(job, result: maxTimeExceeded, now: now)
    }

    /// Fails a job that cannot go on (for example, its job type no longer exists).
    public static func fail(_ job: JobRunState, result: String, now: Date) -> JobTransition {
        var change = JobChange(job, now: now)
        change.end(.failed, result: result, at: now)
        return JobTransition(jobID: job.id, countKey: job.countKey, job: change)
    }

    /// A cancel by `org`: the job becomes `CANCELED` and its in-flight task, if any, too.
    public static func cancel(
        _ job: JobRunState, runningTaskID: String?, byOrg org: String, reason: String?, now: Date
    ) -> CancelDecision {
        guard job.orgID == org else { return .forbidden }
        guard !job.status.isTerminal else { return .alreadyTerminal(job.status) }
        var change = JobChange(job, now: now)
        change.end(.canceled, result: nil, at: now)
        change.cancelReason = reason
        let ended = runningTaskID.map {
            TaskEnd(taskID: $0, status: .canceled, result: nil, error: jobCanceled, finishedAt: now)
        }
        return .cancel(
            JobTransition(
                jobID: job.id, countKey: job.countKey, job: change, endedTask: ended, announcements: [.canceled]))
    }

    /// An event recorded for `job` by `org`: it waits for the job's next task, and a follow-up
    /// waiting for its time becomes due at once (a retry keeps its wait).
    public static func recordEvent(_ job: JobRunState, byOrg org: String, now: Date) -> EventDecision {
        guard job.orgID == org else { return .forbidden }
        guard !job.status.isTerminal else { return .alreadyTerminal(job.status) }
        var change = JobChange(job, now: now)
        change.pendingEvents += 1
        var announcements: [Announcement] = []
        var wakeAt: Date?
        if var next = change.next, next.kind == .followUp, next.at > now {
            next.at = now
            change.next = next
            wakeAt = now
            announcements.append(.due(now))
        }
        return .record(
            JobTransition(jobID: job.id, countKey: job.countKey, job: change, announcements: announcements),
            wakeAt: wakeAt)
    }

    // MARK: The outcome rules

    /// Resolves `outcome` of the job's current task at `now` (CONTRACT §4).
    public static func resolve(
        _ outcome: TaskOutcome, config: JobConfig, progress: JobProgress, now: Date
    ) -> TaskResolution {
        var progress = progress
        switch outcome {
        case .completed(let result):
            return TaskResolution(
                taskStatus: .completed, taskResult: result, taskError: nil,
                decision: .complete(result: result), progress: progress)
        case .followUp(let result, let afterMinutes, let waitForEvent):
            guard progress.followUps < config.maxFollowUps else {
                return TaskResolution(
                    taskStatus: .completed, taskResult: result, taskError: nil,
                    decision: .fail(result: maxFollowUpsExceeded), progress: progress)
            }
            progress.followUps += 1
            progress.retries = 0
            let requested = afterMinutes ?? (waitForEvent ? maxWaitMinutes : config.taskRetryInterval)
            let wait = requested.isFinite ? min(max(0, requested), maxWaitMinutes) : config.taskRetryInterval
            return TaskResolution(
                taskStatus: .completed, taskResult: result, taskError: nil,
                decision: .runNext(kind: .followUp, at: Timestamp.adding(minutes: wait, to: now)),
                progress: progress)
        case .failed(let error, let retryable):
            guard retryable, progress.retries < config.maxTaskRetries else {
                return TaskResolution(
                    taskStatus: .failed, taskResult: nil, taskError: error, decision: .fail(result: error),
                    progress: progress)
            }
            progress.retries += 1
            return TaskResolution(
                taskStatus: .failed, taskResult: nil, taskError: error,
                decision: .runNext(kind: .retry, at: Timestamp.adding(minutes: config.taskRetryInterval, to: now)),
                progress: progress)
        case .deadlineExceeded:
            return TaskResolution(
                taskStatus: .failed, taskResult: nil, taskError: maxTimeExceeded,
                decision: .fail(result: maxTimeExceeded), progress: progress)
        case .handedBack:
            return TaskResolution(
                taskStatus: .failed, taskResult: nil, taskError: handedBack,
                decision: .runNext(kind: .retry, at: now), progress: progress)
        }
    }
}
