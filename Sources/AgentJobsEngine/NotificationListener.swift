import AgentJobsCore
import Foundation
import Logging

/// Follows other nodes' due work and cancels (`TaskQueue.listen`), reconnecting with backoff.
struct NotificationListener: Sendable {
    let queue: any TaskQueue
    let logger: Logger
    let onDue: @Sendable (Date?) -> Void
    let onCancel: @Sendable (String) -> Void

    func run() async {
        var backoff = Duration.milliseconds(100)
        while !Task.isCancelled {
            do {
                try await queue.listen(onDue: onDue, onCancel: onCancel)
            } catch {
                if Task.isCancelled { return }
                logger.warning("notification listener failed; reconnecting", metadata: ["error": "\(error)"])
            }
            // A missed notification costs at most the fallback poll; look now anyway.
            onDue(nil)
            try? await Task.sleep(for: backoff)
            backoff = min(backoff * 2, .seconds(5))
        }
    }
}
