/// What an executor reports for one task (CONTRACT §4), or what the engine concludes for it.
public enum TaskOutcome: Sendable, Hashable {
    /// The job is done; `result` becomes the job's result.
    case completed(result: String)
    /// Run a follow-up task after `afterMinutes` (default: the job's `task_retry_interval`, or
    /// the longest wait when `waitForEvent`), or as soon as an event for the job is recorded.
    case followUp(result: String?, afterMinutes: Double?, waitForEvent: Bool = false)
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
