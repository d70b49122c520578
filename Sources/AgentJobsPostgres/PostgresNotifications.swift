import AgentJobsCore
import Foundation
import PostgresNIO

/// How nodes sharing one database hear of each other: LISTEN/NOTIFY for due work and cancels.
extension PostgresJobStore {
    public func listen(
        onDue: @escaping @Sendable (Date?) -> Void, onCancel: @escaping @Sendable (String) -> Void
    ) async throws {
        try await client.withConnection { connection in
            try await connection.listen(on: Self.dueChannel) { dueNotifications in
                try await connection.listen(on: Self.cancelChannel) { cancelNotifications in
                    try await withThrowingTaskGroup(of: Void.self) { group in
                        group.addTask {
                            for try await notification in dueNotifications {
                                onDue(Int64(notification.payload).map { Timestamp.date(millis: $0) })
                            }
                        }
                        group.addTask {
                            for try await notification in cancelNotifications { onCancel(notification.payload) }
                        }
                        try await group.next()
                        group.cancelAll()
                    }
                }
            }
        }
    }
}
