/// What an executor reports for one task (CONTRACT §4), or what the engine concludes for it.
public enum TaskOutcome: Sendable, Hashable {
    /// The job is done; `result` becomes the job's result.
    case completed(result: String)
    /// Run a follow-up task after `afterMinutes` (default: the job's `task_retry_interval`).
    case followUp(result: String?, afterMinutes: Double?)
    /// The task failed; retried when `retryable` and retries remain.
    case failed(error: String, retryable: Bool)
    /// The job ran out of `max_time_to_complete` while the task was in flight.
    case deadlineExceeded
    /// The worker stopped (graceful shutdown) before the task finished; the step runs again
    /// without using up a retry.
    case handedBack

    /// A label for metrics and logs.
    public var label: String {
        switch self {
        case .completed: "completed"
        case .followUp: "follow_up"
        case .failed: "failed"
        case .deadlineExceeded: "deadline_exceeded"
        case .handedBack: "handed_back"
        }
    }
}

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

/// What happens to the job after a task ends.
public enum JobDecision: Sendable, Hashable {
    case complete(result: String)
    case fail(result: String)
    /// Start a task of `kind` at `at`; the job stays `RUNNING` meanwhile.
    case runNext(kind: TaskKind, at: Date)
}

import Foundation

/// The task's final record and the job's next step.
public struct TaskResolution: Sendable, Hashable {
    public var taskStatus: TaskStatus
    public var taskResult: String?
    public var taskError: String?
    public var decision: JobDecision
    public var progress: JobProgress
}

/// The rules of CONTRACT §4 as a pure function, shared by every store and testable with any clock.
public enum JobStateMachine {
    public static let maxFollowUpsExceeded = "max_follow_ups exceeded"
    public static let maxTimeExceeded = "max_time_to_complete exceeded"
    public static let workerLost = "worker lost"
    public static let handedBack = "worker shut down before the task finished; handed back"
    /// The longest wait an executor's `after_minutes` can ask for (366 days).
    public static let maxWaitMinutes = 527_040.0

    /// Resolves `outcome` of the job's current task at `now`.
    public static func resolve(
        _ outcome: TaskOutcome, config: JobConfig, progress: JobProgress, now: Date
    ) -> TaskResolution {
        var progress = progress
        switch outcome {
        case .completed(let result):
            return TaskResolution(
                taskStatus: .completed, taskResult: result, taskError: nil,
                decision: .complete(result: result), progress: progress)
        case .followUp(let result, let afterMinutes):
            guard progress.followUps < config.maxFollowUps else {
                return TaskResolution(
                    taskStatus: .completed, taskResult: result, taskError: nil,
                    decision: .fail(result: maxFollowUpsExceeded), progress: progress)
            }
            progress.followUps += 1
            progress.retries = 0
            let requested = afterMinutes ?? config.taskRetryInterval
            let wait = requested.isFinite ? min(max(0, requested), maxWaitMinutes) : config.taskRetryInterval
            return TaskResolution(
                taskStatus: .completed, taskResult: result, taskError: nil,
                decision: .runNext(kind: .followUp, at: now.addingTimeInterval(wait * 60)), progress: progress)
        case .failed(let error, let retryable):
            guard retryable, progress.retries < config.maxTaskRetries else {
                return TaskResolution(
                    taskStatus: .failed, taskResult: nil, taskError: error, decision: .fail(result: error),
                    progress: progress)
            }
            progress.retries += 1
            return TaskResolution(
                taskStatus: .failed, taskResult: nil, taskError: error,
                decision: .runNext(kind: .retry, at: now.addingTimeInterval(config.taskRetryInterval * 60)),
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
