import AgentJobsCore
import Foundation
import Logging

/// Renews the leases of the tasks in flight every `heartbeatInterval`; a task whose lease was
/// lost (rescued or ended elsewhere) is interrupted.
struct LeaseKeeper: Sendable {
    let queue: any TaskQueue
    let clock: any WallClock
    let configuration: EngineConfiguration
    let logger: Logger
    let inFlight: InFlightTasks

    func run() async {
        while !Task.isCancelled {
            try? await Task.sleep(for: configuration.heartbeatInterval)
            if Task.isCancelled { return }
            let ids = inFlight.taskIDs
            guard !ids.isEmpty else { continue }
            do {
                let lost = try await queue.renewLeases(
                    taskIDs: ids, worker: configuration.workerID, now: clock.now(),
                    leaseDuration: configuration.leaseDuration.seconds)
                for taskID in lost {
                    logger.warning("lease lost; interrupting task", metadata: ["task_id": "\(taskID)"])
                    inFlight.interrupt(taskID: taskID, because: .taskEnded)
                }
            } catch {
                logger.error("renewing leases failed", metadata: ["error": "\(error)"])
            }
        }
    }
}
