/// The lifecycle state of a job.
public enum JobStatus: String, Sendable, Codable, CaseIterable, Hashable {
    /// Due now (or overdue) and waiting for a worker.
    case waiting = "WAITING"
    /// Due at a future `scheduled_at`.
    case scheduled = "SCHEDULED"
    /// Its first task has started; it stays `RUNNING` between tasks.
    case running = "RUNNING"
    case completed = "COMPLETED"
    case failed = "FAILED"
    case canceled = "CANCELED"

    /// `COMPLETED`, `FAILED` and `CANCELED` never change again.
    public var isTerminal: Bool {
        switch self {
        case .completed, .failed, .canceled: true
        case .waiting, .scheduled, .running: false
        }
    }
}

/// The state of one task (one agent invocation) of a job.
public enum TaskStatus: String, Sendable, Codable, CaseIterable, Hashable {
    case running = "RUNNING"
    case completed = "COMPLETED"
    case failed = "FAILED"
    case canceled = "CANCELED"
}

/// Why a task was started.
public enum TaskKind: String, Sendable, Codable, CaseIterable, Hashable {
    case initial
    case retry
    case followUp = "follow_up"
}
