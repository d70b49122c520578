import AgentJobsCore
import Foundation
import Logging
import ServiceLifecycle
import Synchronization

/// What the engine reports to an observer (tests, instrumentation).
public enum EngineEvent: Sendable {
    /// A task was claimed and its executor is starting.
    case started(ClaimedTask)
    /// A task's end was recorded (by this worker, the lease rescue or the deadline sweep).
    case finished(FinishedTask)
    /// A task left this worker (after its outcome was recorded or discarded).
    case left(taskID: String, jobID: String)
}

/// The scheduler and workers: a `Service` that starts due tasks within milliseconds of their
/// due time (a timer on the earliest due instant, woken by creates, cancels and finished
/// tasks), runs them in `concurrency` slots with orgs taking turns, holds a renewed lease on
/// each, and on shutdown drains in-flight tasks and hands back the rest.
public final class JobEngine: Service, Sendable {
    /// Why an in-flight task was interrupted.
    enum Interruption: Sendable {
        /// The job was canceled; its task is already `CANCELED`.
        case canceled
        /// Another party ended the task (lease lost, deadline sweep); its outcome is recorded.
        case taskEnded
        /// The process is shutting down; the task is handed back.
        case shutdown
    }

    struct InFlight: Sendable {
        var jobID: String
        var handle: Task<Void, Never>?
        var interruption: Interruption?
    }

    struct State: Sendable {
        var inFlight: [String: InFlight] = [:]
        var orgTurns: [String: UInt64] = [:]
        var turn: UInt64 = 0
        var stopping = false
        /// When the sleeping scheduler will look again; `nil` while it is awake.
        var plannedWake: Date?
        var drained: CheckedContinuation<Void, Never>?
    }

    let queue: any TaskQueue
    let executors: ExecutorRegistry
    let clock: any WallClock
    let configuration: EngineConfiguration
    let logger: Logger
    let observer: @Sendable (EngineEvent) -> Void
    let metrics = EngineMetrics()
    private let state = Mutex(State())
    private let wakeup = Wakeup()

    public init(
        queue: any TaskQueue,
        executors: ExecutorRegistry,
        clock: any WallClock = SystemWallClock(),
        configuration: EngineConfiguration = .init(),
        logger: Logger,
        observer: @escaping @Sendable (EngineEvent) -> Void = { _ in }
    ) {
        self.queue = queue
        self.executors = executors
        self.clock = clock
        self.configuration = configuration
        self.logger = logger
        self.observer = observer
    }

    /// Something changed: look again now.
    public func wake() {
        wakeup.signal()
    }

    /// A job was created or rescheduled to run at `dueAt`: wake the scheduler only if that is
    /// earlier than the instant it already plans to wake at.
    public func wake(dueAt: Date) {
        let planned = state.withLock { $0.plannedWake }
        if let planned, dueAt >= planned { return }
        wakeup.signal()
    }

    /// A job was canceled: interrupt its task if it runs here.
    public func jobCanceled(_ jobID: String) {
        let handles = state.withLock { state -> [Task<Void, Never>] in
            var handles: [Task<Void, Never>] = []
            for (taskID, entry) in state.inFlight where entry.jobID == jobID {
                state.inFlight[taskID]?.interruption = .canceled
                if let handle = entry.handle { handles.append(handle) }
            }
            return handles
        }
        handles.forEach { $0.cancel() }
        wakeup.signal()
    }

    /// Tasks running in this process.
    public var inFlightCount: Int { state.withLock { $0.inFlight.count } }

    public func run() async throws {
        logger.info(
            "engine started",
            metadata: ["worker": "\(configuration.workerID)", "concurrency": "\(configuration.concurrency)"])
        let heartbeat = Task { await heartbeatLoop() }
        let listener = Task { await listenLoop() }
        defer { listener.cancel() }
        await withGracefulShutdownHandler {
            await schedulerLoop()
        } onGracefulShutdown: {
            self.state.withLock { $0.stopping = true }
            self.wakeup.signal()
        }
        state.withLock { $0.stopping = true }
        await drain()
        heartbeat.cancel()
        logger.info("engine stopped", metadata: ["worker": "\(configuration.workerID)"])
    }

    // MARK: Scheduling

    private var isStopping: Bool { state.withLock { $0.stopping } || Task.isCancelled }

    private func schedulerLoop() async {
        // When due work exists and slots are free but nothing could be claimed (another node
        // holds those rows for a moment), look again soon rather than at the fallback poll.
        var contendedRetry = Duration.milliseconds(2)
        while !isStopping {
            let now = clock.now()
            var waitUntil: Date?
            do {
                let wake = try await queue.wakeTimes()
                var acted = false
                if let expiry = wake.nextLeaseExpiry, expiry < now {
                    let rescued = try await queue.rescueExpiredLeases(now: now)
                    endedElsewhere(rescued, "task lease expired; worker lost")
                    acted = acted || !rescued.isEmpty
                }
                if let deadline = wake.nextDeadline, deadline <= now {
                    let failed = try await queue.failJobsPastDeadline(now: now)
                    endedElsewhere(failed, "job ran out of max_time_to_complete")
                    acted = acted || !failed.isEmpty
                }
                if let due = wake.nextDue, due <= now {
                    let free = freeSlots()
                    if free > 0 {
                        let claimed = try await queue.claimDueTasks(
                            limit: free, now: now, worker: configuration.workerID,
                            leaseUntil: now.addingTimeInterval(configuration.leaseDuration.seconds),
                            orgTurns: state.withLock { $0.orgTurns })
                        claimed.forEach(start)
                        acted = acted || !claimed.isEmpty
                        if claimed.isEmpty {
                            waitUntil = now.addingTimeInterval(contendedRetry.seconds)
                            contendedRetry = min(contendedRetry * 2, configuration.fallbackPoll)
                        }
                    }
                }
                if acted {
                    contendedRetry = .milliseconds(2)
                    continue
                }
                let next = [wake.nextDue, wake.nextDeadline, wake.nextLeaseExpiry.map { $0.addingTimeInterval(0.001) }]
                    .compactMap { $0 }.filter { $0 > now }.min()
                waitUntil = [waitUntil, next].compactMap { $0 }.min()
            } catch {
                if isStopping { break }
                logger.error("scheduler step failed", metadata: ["error": "\(error)"])
                waitUntil = now.addingTimeInterval(0.5)
            }
            var timeout = configuration.fallbackPoll
            if let waitUntil {
                let seconds = min(max(0, waitUntil.timeIntervalSince(clock.now())), configuration.fallbackPoll.seconds)
                timeout = min(timeout, .microseconds(Int64((seconds * 1e6).rounded(.up))))
            }
            let planned = clock.now().addingTimeInterval(timeout.seconds)
            state.withLock { $0.plannedWake = planned }
            await wakeup.wait(timeout: timeout)
            state.withLock { $0.plannedWake = nil }
        }
    }

    /// Tasks the maintenance sweeps ended: stop them if they run here, and report them.
    private func endedElsewhere(_ tasks: [FinishedTask], _ message: String) {
        for finished in tasks {
            interrupt(taskID: finished.taskID, because: .taskEnded)
            log(message, finished)
            observer(.finished(finished))
        }
    }

    private func freeSlots() -> Int {
        state.withLock { state in state.stopping ? 0 : configuration.concurrency - state.inFlight.count }
    }

    // MARK: Running tasks

    private func start(_ claimed: ClaimedTask) {
        let taskID = claimed.task.id
        state.withLock { state in
            state.turn &+= 1
            state.orgTurns[claimed.job.orgID] = state.turn
            state.inFlight[taskID] = InFlight(jobID: claimed.job.id)
        }
        observer(.started(claimed))
        metrics.tasksStarted.increment()
        metrics.record(clock.now().timeIntervalSince(claimed.dueAt), in: metrics.dueToStartLag)
        logger.info(
            "task started",
            metadata: [
                "job_id": "\(claimed.job.id)", "task_id": "\(taskID)", "kind": "\(claimed.task.kind.rawValue)",
                "attempt": "\(claimed.task.attempt)", "job_status": "RUNNING",
            ])
        let handle = Task {
            let started = clock.now()
            var outcome = await execute(claimed)
            let interruption = state.withLock { $0.inFlight[taskID]?.interruption }
            var finished: FinishedTask?
            switch interruption {
            case .canceled, .taskEnded:
                break  // The task was already ended elsewhere; any outcome would be discarded.
            case .shutdown:
                outcome = .handedBack
                finished = await record(outcome, of: taskID)
            case nil:
                finished = await record(outcome, of: taskID)
            }
            metrics.taskFinished(outcome: outcome)
            metrics.record(clock.now().timeIntervalSince(started), in: metrics.taskDuration)
            if let finished {
                log("task finished (\(outcome.label))", finished)
                observer(.finished(finished))
            }
            let drained = state.withLock { state -> CheckedContinuation<Void, Never>? in
                state.inFlight[taskID] = nil
                guard state.inFlight.isEmpty, let drained = state.drained else { return nil }
                state.drained = nil
                return drained
            }
            drained?.resume()
            observer(.left(taskID: taskID, jobID: claimed.job.id))
            wakeup.signal()
        }
        let interruptNow = state.withLock { state -> Bool in
            state.inFlight[taskID]?.handle = handle
            return state.inFlight[taskID]?.interruption != nil
        }
        if interruptNow { handle.cancel() }
    }

    /// Runs the executor, interrupting it at the job's deadline.
    private func execute(_ claimed: ClaimedTask) async -> TaskOutcome {
        guard let executor = executors.executor(for: claimed.executor) else {
            return .failed(error: "no executor named '\(claimed.executor.name)'", retryable: false)
        }
        let remaining = claimed.deadline.timeIntervalSince(clock.now())
        return await withTaskGroup(of: TaskOutcome?.self) { group in
            group.addTask { await executor.run(claimed) }
            group.addTask {
                do {
                    try await Task.sleep(for: .microseconds(Int64(max(0, remaining) * 1e6)))
                    return .deadlineExceeded
                } catch {
                    return nil
                }
            }
            var outcome: TaskOutcome?
            while let next = await group.next() {
                if outcome == nil, let next {
                    outcome = next
                    group.cancelAll()
                }
            }
            return outcome ?? .failed(error: "interrupted", retryable: true)
        }
    }

    /// Records an outcome, retrying transient database errors; fenced by the store.
    ///
    /// The write runs in a detached task: the task that ran the executor may have been
    /// cancelled (cancel, deadline, shutdown), and cancellation must not lose the outcome.
    private func record(_ outcome: TaskOutcome, of taskID: String) async -> FinishedTask? {
        let queue = self.queue, clock = self.clock, logger = self.logger, worker = configuration.workerID
        return await Task.detached {
            for attempt in 1...5 {
                do {
                    return try await queue.finishTask(taskID: taskID, worker: worker, outcome: outcome, now: clock.now())
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

    private func interrupt(taskID: String, because reason: Interruption) {
        let handle = state.withLock { state -> Task<Void, Never>? in
            guard state.inFlight[taskID] != nil else { return nil }
            state.inFlight[taskID]?.interruption = reason
            return state.inFlight[taskID]?.handle
        }
        handle?.cancel()
    }

    // MARK: Leases and shutdown

    private func heartbeatLoop() async {
        while !Task.isCancelled {
            try? await Task.sleep(for: configuration.heartbeatInterval)
            if Task.isCancelled { return }
            let ids = state.withLock { Array($0.inFlight.keys) }
            guard !ids.isEmpty else { continue }
            do {
                let lost = try await queue.renewLeases(
                    taskIDs: ids, worker: configuration.workerID,
                    until: clock.now().addingTimeInterval(configuration.leaseDuration.seconds))
                for taskID in lost {
                    logger.warning("lease lost; interrupting task", metadata: ["task_id": "\(taskID)"])
                    interrupt(taskID: taskID, because: .taskEnded)
                }
            } catch {
                logger.error("renewing leases failed", metadata: ["error": "\(error)"])
            }
        }
    }

    /// Follows other nodes' creates, retries and cancels when the queue can announce them.
    private func listenLoop() async {
        guard let notifications = queue as? any TaskQueueNotifications else { return }
        var backoff = Duration.milliseconds(100)
        while !Task.isCancelled {
            do {
                try await notifications.listen(
                    onDue: { [weak self] in self?.wake() },
                    onCancel: { [weak self] jobID in self?.jobCanceled(jobID) })
            } catch {
                if Task.isCancelled { return }
                logger.warning("notification listener failed; reconnecting", metadata: ["error": "\(error)"])
            }
            // A missed notification costs at most the fallback poll; look now anyway.
            wake()
            try? await Task.sleep(for: backoff)
            backoff = min(backoff * 2, .seconds(5))
        }
    }

    private func drain() async {
        let count = inFlightCount
        guard count > 0 else { return }
        logger.info("draining in-flight tasks", metadata: ["tasks": "\(count)", "timeout": "\(configuration.drainTimeout)"])
        let timer = Task {
            try? await Task.sleep(for: configuration.drainTimeout)
            let handles = state.withLock { state -> [Task<Void, Never>] in
                for taskID in state.inFlight.keys where state.inFlight[taskID]?.interruption == nil {
                    state.inFlight[taskID]?.interruption = .shutdown
                }
                return state.inFlight.values.compactMap(\.handle)
            }
            handles.forEach { $0.cancel() }
        }
        await withCheckedContinuation { continuation in
            let done = state.withLock { state -> Bool in
                if state.inFlight.isEmpty { return true }
                state.drained = continuation
                return false
            }
            if done { continuation.resume() }
        }
        timer.cancel()
    }

    private func log(_ message: String, _ finished: FinishedTask) {
        logger.info(
            "\(message)",
            metadata: [
                "job_id": "\(finished.jobID)", "task_id": "\(finished.taskID)",
                "task_status": "\(finished.taskStatus.rawValue)", "job_status": "\(finished.jobStatus.rawValue)",
            ])
    }
}
