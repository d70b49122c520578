import AgentJobsCore
import Foundation
import Logging
import Synchronization

/// Starts due tasks within milliseconds of their due time: a timer on the earliest due
/// instant (of a job or a schedule), woken early by creates, cancels, finished tasks and other
/// nodes' notifications; fires due schedules, then claims as many due jobs as there are free
/// slots and hands them to the runner.
final class Scheduler: Sendable {
    private let queue: any TaskQueue
    private let clock: any WallClock
    private let configuration: EngineConfiguration
    private let logger: Logger
    private let inFlight: InFlightTasks
    private let runner: TaskRunner
    /// Told the earliest deadline of each batch of claimed tasks.
    private let onClaimed: @Sendable (_ earliestDeadline: Date) -> Void
    /// Told the jobs each firing of due schedules created.
    private let onScheduled: @Sendable ([Job]) -> Void
    private let wakeSignal: AsyncSignal
    /// The wake times last read, kept while nothing invalidates them.
    private let known: KnownWakeTimes
    private struct State {
        var stopping = false
        /// When the sleeping loop will look again; `nil` while it is awake.
        var plannedWake: Date?
    }
    private let state = Mutex(State())

    init(
        queue: any TaskQueue, clock: any WallClock, configuration: EngineConfiguration, logger: Logger,
        inFlight: InFlightTasks, runner: TaskRunner, wakeSignal: AsyncSignal, known: KnownWakeTimes,
        onClaimed: @escaping @Sendable (Date) -> Void, onScheduled: @escaping @Sendable ([Job]) -> Void = { _ in }
    ) {
        self.onScheduled = onScheduled
        self.wakeSignal = wakeSignal
        self.known = known
        self.queue = queue
        self.clock = clock
        self.configuration = configuration
        self.logger = logger
        self.inFlight = inFlight
        self.runner = runner
        self.onClaimed = onClaimed
    }

    /// Something changed that only the store knows: read its wake times and look again now.
    func wake() {
        known.drop()
        wakeSignal.signal()
    }

    /// A schedule fires next at `at`: wake only if that is earlier than the planned wake-up.
    func wake(scheduleDueAt at: Date) {
        known.noteSchedule(at)
        wakeIfEarlier(at)
    }

    /// Work became due at `dueAt`: wake only if that is earlier than the planned wake-up.
    func wake(dueAt: Date) {
        known.noteDue(dueAt)
        wakeIfEarlier(dueAt)
    }

    private func wakeIfEarlier(_ dueAt: Date) {
        let planned = state.withLock { $0.plannedWake }
        if let planned, dueAt >= planned { return }
        wakeSignal.signal()
    }

    /// Stop claiming (graceful shutdown); `run()` returns.
    func stop() {
        state.withLock { $0.stopping = true }
        wakeSignal.signal()
    }

    private var isStopping: Bool { state.withLock { $0.stopping } || Task.isCancelled }

    func run() async {
        // When due work exists and slots are free but nothing could be claimed (another node
        // holds those rows for a moment), look again soon rather than at the fallback poll.
        var contendedRetry = Duration.milliseconds(2)
        while !isStopping {
            let seen = wakeSignal.generation
            let now = clock.now()
            // The lease a claim grants counts from `now`; so does this worker's trust in it.
            let leaseStart = ContinuousClock.now
            var waitUntil: Date?
            do {
                let wake: WakeTimes
                // When the store's clock was read, on this node's clock: for a fresh read, when
                // its answer arrived. The database read its clock somewhere between the
                // request and the answer; counting from the answer makes this node wake at or
                // a moment after a due instant, never before the database finds it due (a
                // claim sent early finds nothing and backs off).
                var readAt = now
                if let current = known.current(now: now) {
                    wake = current
                } else {
                    let token = known.token
                    wake = try await queue.wakeTimes()
                    readAt = clock.now()
                    known.store(wake, readAt: readAt, token: token)
                }
                // Due times are compared with the store's clock (the database's on PostgreSQL).
                let storeNow = wake.observedAt ?? now
                let localMinusStore = wake.observedAt.map { readAt.timeIntervalSince($0) } ?? 0
                if let schedule = wake.nextSchedule, schedule <= storeNow {
                    // Due schedules create their jobs first; the next turn claims them.
                    let created = try await queue.fireDueSchedules(
                        now: now, limit: configuration.schedulesPerTurn, jitter: { Double.random(in: 0...1) })
                    known.drop()
                    if !created.isEmpty { onScheduled(created) }
                    for job in created {
                        logger.info(
                            "job created by schedule",
                            metadata: [
                                "job_id": "\(job.id)", "schedule_id": "\(job.scheduleID ?? "-")",
                                "job_status": "\(job.status.rawValue)",
                            ])
                    }
                    continue
                }
                // The next schedule is a wake-up whatever the jobs do (even with every slot taken).
                func local(_ date: Date) -> Date { date.addingTimeInterval(localMinusStore) }
                waitUntil = wake.nextSchedule.map(local)
                if let jobDue = wake.nextDue, jobDue <= storeNow {
                    let free = min(runner.freeSlots, configuration.claimBatch)
                    if free > 0 {
                        let claimed = try await queue.claimDueTasks(
                            ClaimRequest(
                                limit: free, now: now, worker: configuration.workerID,
                                leaseUntil: now.addingTimeInterval(configuration.leaseDuration.seconds),
                                orgTurns: inFlight.orgTurns, runningPerOrg: inFlight.runningPerOrg,
                                maxRunningPerOrg: configuration.maxRunningPerOrg))
                        // Fewer than asked: no more jobs are due now; the next read finds the next one.
                        if claimed.count < free { known.drop() }
                        if let earliest = claimed.map({ now + $0.deadline.timeIntervalSince($0.startedAt) }).min() {
                            let trustedUntil = leaseStart + configuration.trustedLease
                            for var task in claimed {
                                task.publicURL = configuration.publicURL
                                runner.submit(task, trustedUntil: trustedUntil)
                            }
                            onClaimed(earliest)
                            contendedRetry = .milliseconds(2)
                            continue
                        }
                        waitUntil = min(waitUntil ?? .distantFuture, now.addingTimeInterval(contendedRetry.seconds))
                        contendedRetry = min(contendedRetry * 2, configuration.fallbackPoll)
                    }
                    // No free slot: a task leaving wakes the loop.
                } else if let jobDue = wake.nextDue {
                    waitUntil = min(waitUntil ?? .distantFuture, local(jobDue))
                }
            } catch {
                if isStopping { break }
                known.drop()
                logger.error("scheduler step failed", metadata: ["error": "\(error)"])
                waitUntil = now.addingTimeInterval(0.5)
            }
            let timeout = configuration.fallbackPoll.limited(toUntil: waitUntil, now: clock.now())
            state.withLock { $0.plannedWake = clock.now().addingTimeInterval(timeout.seconds) }
            let signalled = await wakeSignal.wait(after: seen, timeout: timeout)
            state.withLock { $0.plannedWake = nil }
            // The fallback poll reads the store again: the safety net for a missed notification.
            if !signalled && timeout >= configuration.fallbackPoll { known.drop() }
        }
    }
}

extension Duration {
    /// The duration in seconds.
    var seconds: Double {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }

    /// This duration, or less when `date` comes sooner (never negative).
    func limited(toUntil date: Date?, now: Date) -> Duration {
        guard let date else { return self }
        let seconds = min(max(0, date.timeIntervalSince(now)), self.seconds)
        return .microseconds(Int64((seconds * 1e6).rounded(.up)))
    }
}
