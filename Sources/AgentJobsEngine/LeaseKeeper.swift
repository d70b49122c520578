import AgentJobsCore
import Foundation
import Logging

/// Renews the leases of the tasks in flight every `heartbeatInterval`; a task whose lease was
/// lost (rescued or ended elsewhere) is interrupted. A watchdog stops, here, every task whose
/// lease could not be renewed in time (the database is unreachable), `leaseMargin` before the
/// lease runs out: its program is gone before another node may rescue and retry the step, and
/// the fence discards whatever it would have reported. The same watchdog stops every task
/// whose job's deadline or task timeout passes (`RunLimit`): one timer for all the tasks in
/// flight, not one per task.
struct LeaseKeeper: Sendable {
    let queue: any TaskQueue
    let clock: any WallClock
    let configuration: EngineConfiguration
    let logger: Logger
    let inFlight: InFlightTasks

    func run() async {
        await withDiscardingTaskGroup { group in
            group.addTask { await renewals() }
            group.addTask { await watchdog() }
        }
    }

    /// On a fixed cadence (every `heartbeatInterval` from the start, not that long after the
    /// previous renewal ended), so slow round trips do not push renewals later and later
    /// until the watchdog stops tasks whose node is alive; a renewal that overran its turn is
    /// followed by the next one at once.
    private func renewals() async {
        var next = ContinuousClock.now + configuration.heartbeatInterval
        while !Task.isCancelled {
            try? await Task.sleep(until: next, clock: .continuous)
            if Task.isCancelled { return }
            next = max(next + configuration.heartbeatInterval, ContinuousClock.now)
            let ids = inFlight.taskIDs
            guard !ids.isEmpty else { continue }
            let started = ContinuousClock.now
            do {
                let lost = try await queue.renewLeases(
                    taskIDs: ids, worker: configuration.workerID, now: clock.now(),
                    leaseDuration: configuration.leaseDuration.seconds)
                inFlight.renewed(Set(ids).subtracting(lost), until: started + configuration.trustedLease)
                for taskID in lost {
                    logger.warning("lease lost; interrupting task", metadata: ["task_id": "\(taskID)"])
                    inFlight.interrupt(taskID: taskID, because: .taskEnded)
                }
            } catch {
                logger.error("renewing leases failed", metadata: ["error": "\(error)"])
            }
        }
    }

    private func watchdog() async {
        while !Task.isCancelled {
            let seen = inFlight.leasesChanged.generation
            inFlight.watchdogWillWake(at: nil)
            let now = ContinuousClock.now
            let (overdue, earliest) = inFlight.overdue(at: now)
            for (taskID, reason) in overdue {
                if reason == .taskEnded {
                    logger.warning(
                        "lease could not be renewed in time; stopping the task before another node may rescue it",
                        metadata: ["task_id": "\(taskID)"])
                }
                inFlight.interrupt(taskID: taskID, because: reason)
            }
            let timeout =
                min(earliest.map { max(.zero, $0 - now) } ?? .seconds(3600), .seconds(3600)) + .milliseconds(1)
            inFlight.watchdogWillWake(at: now + timeout)
            await inFlight.leasesChanged.wait(after: seen, timeout: timeout)
        }
    }
}
