import AgentJobsCore
import Foundation
import Metrics

/// The engine's metrics (CONTRACT §5), through swift-metrics.
struct EngineMetrics: Sendable {
    let tasksStarted = Counter(label: "agent_jobs_tasks_started_total")
    let taskDuration = Timer(label: "agent_jobs_task_duration_seconds")
    let dueToStartLag = Timer(label: "agent_jobs_due_to_start_lag_seconds")
    let jobsPurged = Counter(label: "agent_jobs_jobs_purged_total")

    /// Counts a task end that was recorded: an outcome's label, or `canceled`.
    func taskFinished(label: String) {
        Counter(label: "agent_jobs_tasks_finished_total", dimensions: [("outcome", label)]).increment()
    }

    /// Records `interval` seconds, clamped to 0…1e9 s (a job scheduled centuries ago must
    /// not overflow the nanosecond count).
    func record(_ interval: TimeInterval, in timer: Timer) {
        let seconds = interval.isFinite ? min(max(0, interval), 1e9) : 0
        timer.recordNanoseconds(Int64(seconds * 1e9))
    }
}
