import AgentJobsCore
import Foundation
import Logging

/// Runs claimed tasks, each a child of one task group: executes it, enforces the job's
/// deadline, records its outcome (fenced by the store), and on shutdown drains the tasks in
/// flight for a while and hands back the rest.
final class TaskRunner: Sendable {
    private let queue: any TaskQueue
    private let executors: ExecutorRegistry
    private let clock: any WallClock
    private let configuration: EngineConfiguration
    private let logger: Logger
    private let metrics: EngineMetrics
    private let inFlight: InFlightTasks
    private let observer: @Sendable (EngineEvent) -> Void
    private let intake: AsyncStream<ClaimedTask>
    private let intakeContinuation: AsyncStream<ClaimedTask>.Continuation

    init(
        queue: any TaskQueue, executors: ExecutorRegistry, clock: any WallClock, configuration: EngineConfiguration,
        logger: Logger, metrics: EngineMetrics, inFlight: InFlightTasks,
        observer: @escaping @Sendable (EngineEvent) -> Void
    ) {
        self.queue = queue
        self.executors = executors
        self.clock = clock
        self.configuration = configuration
        self.logger = logger
        self.metrics = metrics
        self.inFlight = inFlight
        self.observer = observer
        (intake, intakeContinuation) = AsyncStream.makeStream(of: ClaimedTask.self)
    }

    /// Free task slots.
    var freeSlots: Int { max(0, configuration.concurrency - inFlight.count) }

    /// Starts a claimed task (registered at once, so the slot counts as taken).
    func submit(_ claimed: ClaimedTask, trustedUntil: ContinuousClock.Instant) {
        _ = inFlight.add(claimed, trustedUntil: trustedUntil)
        intakeContinuation.yield(claimed)
    }

    /// No more tasks will be submitted: `run()` drains and returns.
    func stopIntake() {
        intakeContinuation.finish()
    }

    /// Runs submitted tasks until `stopIntake()`, then gives them `drainTimeout` to finish and
    /// hands back the rest; returns when none is left.
    func run() async {
        await withDiscardingTaskGroup { group in
            for await claimed in intake {
                group.addTask { await self.runTask(claimed) }
            }
            let count = inFlight.count
            guard count > 0 else { return }
            logger.info(
                "draining in-flight tasks", metadata: ["tasks": "\(count)", "timeout": "\(configuration.drainTimeout)"])
            await inFlight.waitUntilEmpty(timeout: configuration.drainTimeout)
            inFlight.interruptAll(because: .shutdown)
        }
    }

    /// What to record when a task's run ended: `nil` when its end was already recorded
    /// elsewhere (canceled, rescued, swept). A real outcome counts even when it arrives during
    /// the shutdown drain; only a task the drain interrupted, or that a cancelled engine
    /// stopped, is handed back.
    static func outcomeToRecord(
        _ finisher: Finisher, interruption: Interruption?, engineCancelled: Bool
    )
        -> TaskOutcome?
    {
        switch (finisher, interruption) {
        case (_, .canceled?), (_, .taskEnded?):
            return nil
        case (.executor(let reported), _) where !engineCancelled:
            return reported
        case (.deadline, _):
            return .deadlineExceeded
        case (.timeout, _):
            return .failed(error: taskTimeoutExceeded, retryable: true)
        default:
            return .handedBack
        }
    }

    enum Finisher: Sendable {
        case executor(TaskOutcome)
        case interrupted
        case deadline
        case timeout
    }

    private func runTask(_ claimed: ClaimedTask) async {
        let taskID = claimed.task.id
        observer(.started(claimed))
        metrics.tasksStarted.increment()
        metrics.record(claimed.startedAt.timeIntervalSince(claimed.dueAt), in: metrics.dueToStartLag)
        logger.info(
            "task started",
            metadata: [
                "job_id": "\(claimed.job.id)", "task_id": "\(taskID)", "kind": "\(claimed.task.kind.rawValue)",
                "attempt": "\(claimed.task.attempt)", "job_status": "RUNNING",
            ])
        let started = clock.now()
        let finisher = await execute(claimed)
        let interruption = inFlight.interruption(of: taskID)
        let outcome = Self.outcomeToRecord(finisher, interruption: interruption, engineCancelled: Task.isCancelled)
        if let outcome, let finished = await record(outcome, of: taskID) {
            metrics.taskFinished(label: outcome.label)
            log("task finished (\(outcome.label))", finished)
            observer(.finished(finished))
        } else if interruption == .canceled {
            metrics.taskFinished(label: "canceled")
            logger.info(
                "task finished (canceled)",
                metadata: [
                    "job_id": "\(claimed.job.id)", "task_id": "\(taskID)", "task_status": "CANCELED",
                    "job_status": "CANCELED",
                ])
        }
        metrics.record(clock.now().timeIntervalSince(started), in: metrics.taskDuration)
        inFlight.remove(taskID)
        observer(.left(taskID: taskID, jobID: claimed.job.id))
    }

    static let taskTimeoutExceeded = "task timeout exceeded"

    /// Runs the executor until it reports, the task is interrupted, the job's deadline or the
    /// task's timeout (its job type's `--timeout`), whichever comes first.
    private func execute(_ claimed: ClaimedTask) async -> Finisher {
        guard let executor = executors.executor(for: claimed.executor) else {
            return .executor(.failed(error: "no executor named '\(claimed.executor.name)'", retryable: false))
        }
        guard let interrupted = inFlight.signal(of: claimed.task.id) else { return .interrupted }
        // The lease watchdog interrupts the task at its run limit (`RunLimit`, set when it
        // was submitted), so the race here needs no timer of its own.
        if let stoppable = executor as? any StoppableExecutor {
            let outcome = await stoppable.run(claimed, stoppingAt: interrupted)
            if !interrupted.hasFired { return .executor(outcome) }
        } else if let outcome = await untilSignalled(interrupted, { await executor.run(claimed) }) {
            return .executor(outcome)
        }
        switch inFlight.interruption(of: claimed.task.id) {
        case .deadline?: return .deadline
        case .timeout?: return .timeout
        default: return .interrupted
        }
    }

    /// Records an outcome, retrying transient database errors; fenced by the store.
    ///
    /// The write runs in a detached task that this one awaits: the task that ran the executor
    /// may have been cancelled (engine cancellation), and cancellation must not lose the outcome.
    private func record(_ outcome: TaskOutcome, of taskID: String) async -> FinishedTask? {
        let queue = self.queue
        let clock = self.clock
        let logger = self.logger
        let worker = configuration.workerID
        return await Task.detached {
            for attempt in 1...5 {
                do {
                    return try await queue.finishTask(
                        taskID: taskID, worker: worker, outcome: outcome, now: clock.now())
                } catch {
                    logger.warning(
                        "recording a task outcome failed; retrying",
                        metadata: ["task_id": "\(taskID)", "attempt": "\(attempt)", "error": "\(error)"])
                    try? await Task.sleep(for: .milliseconds(100 * attempt))
                }
            }
            logger.error("could not record a task outcome; its lease will expire", metadata: ["task_id": "\(taskID)"])
            return nil
        }.value
    }

    private func log(_ message: String, _ finished: FinishedTask) {
        logger.info("\(message)", metadata: finished.logMetadata)
    }
}

extension FinishedTask {
    /// The ids and statuses a log line about this transition carries.
    var logMetadata: Logger.Metadata {
        [
            "job_id": "\(jobID)", "task_id": "\(taskID)", "task_status": "\(taskStatus.rawValue)",
            "job_status": "\(jobStatus.rawValue)",
        ]
    }
}
