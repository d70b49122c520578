import AgentJobsCore
import Foundation
import Logging
import Synchronization

/// The maintenance sweeps, on one node at a time (`TaskQueue.leadMaintenance`): the lease
/// rescue (tasks of dead workers fail with `worker lost`, retry rules apply) and the deadline
/// sweep (jobs past `max_time_to_complete` fail). A timer on the earliest lease expiry or
/// deadline; told of new deadlines by the scheduler.
final class MaintenanceSweeps: Sendable {
    private let queue: any TaskQueue
    private let clock: any WallClock
    private let configuration: EngineConfiguration
    private let logger: Logger
    /// Called with what a sweep ended and why.
    private let onEnded: @Sendable ([FinishedTask], String) -> Void
    private let wakeSignal = AsyncSignal()
    private let plannedWake = Mutex<Date?>(nil)

    init(
        queue: any TaskQueue, clock: any WallClock, configuration: EngineConfiguration, logger: Logger,
        onEnded: @escaping @Sendable ([FinishedTask], String) -> Void
    ) {
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
