import AgentJobsCore
import Foundation
import Logging
import Synchronization

/// The maintenance sweeps, on one node at a time (`TaskQueue.leadMaintenance`): the lease
/// rescue (tasks of dead workers fail with `worker lost`, retry rules apply), the deadline
/// sweep (jobs past `max_time_to_complete` fail), the fold of the job counts and, with a
/// retention policy, the purge of old finished jobs. A timer on the earliest lease expiry or
/// deadline; told of new deadlines by the scheduler.
final class MaintenanceSweeps: Sendable {
    private let queue: any TaskQueue
    private let clock: any WallClock
    private let configuration: EngineConfiguration
    private let logger: Logger
    /// Called with what a sweep ended and why.
    private let onEnded: @Sendable ([FinishedTask], String) -> Void
    /// Called with the number of jobs a purge batch deleted.
    private let onPurged: @Sendable (Int) -> Void
    private let wakeSignal = AsyncSignal()
    private let plannedWake = Mutex<Date?>(nil)

    init(
        queue: any TaskQueue, clock: any WallClock, configuration: EngineConfiguration, logger: Logger,
        onEnded: @escaping @Sendable ([FinishedTask], String) -> Void,
        onPurged: @escaping @Sendable (Int) -> Void = { _ in }
    ) {
        self.onPurged = onPurged
        self.queue = queue
        self.clock = clock
        self.configuration = configuration
        self.logger = logger
        self.onEnded = onEnded
    }

    /// A job got a deadline: look again then, if that is before the planned wake-up.
    func noteDeadline(_ deadline: Date) {
        if let planned = plannedWake.withLock({ $0 }), deadline >= planned { return }
        wakeSignal.signal()
    }

    func run() async {
        while !Task.isCancelled {
            do {
                try await queue.leadMaintenance {
                    await withDiscardingTaskGroup { group in
                        group.addTask { await self.sweepUntilCancelled() }
                        group.addTask { await self.foldCountsUntilCancelled() }
                        if !self.configuration.retention.keepsEverything {
                            group.addTask { await self.purgeUntilCancelled() }
                        }
                    }
                }
            } catch {
                if Task.isCancelled { return }
                logger.warning("maintenance leadership lost; retrying", metadata: ["error": "\(error)"])
                try? await Task.sleep(for: .seconds(1))
            }
        }
    }

    /// Every second, the job counts' pending deltas are folded in (`TaskQueue.foldCountDeltas`).
    private func foldCountsUntilCancelled() async {
        while !Task.isCancelled {
            do {
                try await queue.foldCountDeltas()
            } catch {
                if Task.isCancelled { return }
                logger.warning("folding the job counts failed", metadata: ["error": "\(error)"])
            }
            try? await Task.sleep(for: configuration.countFoldInterval)
        }
    }

    /// The retention purge (`serve --retention`): batches of at most
    /// `RetentionPolicy.batchSize` jobs, each in its own transaction, paced so that a large
    /// backlog never holds the database for long; once caught up, a look every
    /// `retentionInterval`.
    private func purgeUntilCancelled() async {
        while !Task.isCancelled {
            let started = ContinuousClock.now
            var pause = configuration.retentionInterval
            do {
                let deleted = try await queue.purgeFinishedJobs(
                    finishedBefore: configuration.retention.cutoffs(now: clock.now()), limit: RetentionPolicy.batchSize)
                let count = deleted.values.reduce(0, +)
                if count > 0 {
                    onPurged(count)
                    logger.info(
                        "purged finished jobs",
                        metadata: [
                            "deleted": "\(count)",
                            "by_status":
                                "\(deleted.map { "\($0.key.rawValue)=\($0.value)" }.sorted().joined(separator: ","))",
                        ])
                }
                if count >= RetentionPolicy.batchSize {
                    pause = max(configuration.purgePause, (ContinuousClock.now - started) * 4)
                }
            } catch {
                if Task.isCancelled { return }
                logger.warning("the retention purge failed", metadata: ["error": "\(error)"])
                pause = .seconds(1)
            }
            try? await Task.sleep(for: pause)
        }
    }

    private func sweepUntilCancelled() async {
        while !Task.isCancelled {
            let seen = wakeSignal.generation
            let now = clock.now()
            var waitUntil: Date?
            do {
                let wake = try await queue.wakeTimes()
                // Compared with the store's clock (the database's on PostgreSQL).
                let storeNow = wake.observedAt ?? now
                if let expiry = wake.nextLeaseExpiry, expiry < storeNow {
                    onEnded(try await queue.rescueExpiredLeases(now: storeNow), "task lease expired; worker lost")
                }
                if let deadline = wake.nextDeadline, deadline <= storeNow {
                    onEnded(
                        try await queue.failJobsPastDeadline(now: storeNow), "job ran out of max_time_to_complete")
                }
                waitUntil = [wake.nextDeadline, wake.nextLeaseExpiry.map { $0.addingTimeInterval(0.001) }]
                    .compactMap { $0 }.filter { $0 > storeNow }.min()
                    .map { now.addingTimeInterval($0.timeIntervalSince(storeNow)) }
            } catch {
                if Task.isCancelled { return }
                logger.error("maintenance sweep failed", metadata: ["error": "\(error)"])
                waitUntil = now.addingTimeInterval(0.5)
            }
            let timeout = configuration.fallbackPoll.limited(toUntil: waitUntil, now: clock.now())
            plannedWake.withLock { $0 = clock.now().addingTimeInterval(timeout.seconds) }
            await wakeSignal.wait(after: seen, timeout: timeout)
            plannedWake.withLock { $0 = nil }
        }
    }
}
