import AgentJobsCore

/// An executor that stops when a signal fires, not only when the calling task is cancelled.
///
/// The runner must stop a task at its interruption (a cancel, the job's deadline, a lost
/// lease, shutdown). For other executors it races the executor against the interruption in a
/// task group: two tasks more per running task. One that stops at a signal runs on the
/// task's own Swift task instead; with 10,000 agents in flight that is 20,000 tasks fewer
/// created at their common due time.
protocol StoppableExecutor: TaskExecutor {
    /// `run(_:)`, stopping promptly when `stop` fires (its outcome then does not count).
    func run(_ task: ClaimedTask, stoppingAt stop: AsyncSignal) async -> TaskOutcome
}

/// Runs `body` until `stop` fires: its result, or `nil` when `stop` fired first (the body's
/// task is then cancelled and awaited).
func untilSignalled<T: Sendable>(_ stop: AsyncSignal, _ body: @escaping @Sendable () async -> T) async -> T? {
    await withTaskGroup(of: T?.self) { group in
        group.addTask { await body() }
        group.addTask {
            await stop.waitUntilFired()
            return nil
        }
        let first = await group.next() ?? nil
        group.cancelAll()
        return first
    }
}
