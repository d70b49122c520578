import AgentJobsCore
import PostgresNIO

/// How nodes sharing one database hear of each other: LISTEN/NOTIFY for due work and
/// cancels, and a session advisory lock that makes one node at a time the maintenance leader.
extension PostgresJobStore {
    /// The advisory lock key held by the node that runs the maintenance sweeps.
    static let maintenanceLockKey: Int64 = 727_275
    /// How often a node that is not the leader tries to become it.
    static let leadershipPoll: Duration = .seconds(1)

    public func listen(onDue: @escaping @Sendable () -> Void, onCancel: @escaping @Sendable (String) -> Void) async throws {
        try await client.withConnection { connection in
            try await connection.listen(on: Self.dueChannel) { dueNotifications in
                try await connection.listen(on: Self.cancelChannel) { cancelNotifications in
                    try await withThrowingTaskGroup(of: Void.self) { group in
                        group.addTask {
                            for try await _ in dueNotifications { onDue() }
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

    /// Holds a session advisory lock on a connection of its own while `body` runs: one node
    /// leads at a time, and when its connection dies (the node crashed) the server releases
    /// the lock and another node takes over within `leadershipPoll`.
    public func leadMaintenance(_ body: @Sendable () async throws -> Void) async throws {
        try await client.withConnection { connection in
            while true {
                try Task.checkCancellation()
                let acquired = try await connection.query(
                    "SELECT pg_try_advisory_lock(\(Self.maintenanceLockKey))", logger: logger
                ).collect().first?.decode(Bool.self) ?? false
                if acquired { break }
                try await Task.sleep(for: Self.leadershipPoll)
            }
            logger.debug("leading maintenance")
            do {
                try await body()
            } catch {
                _ = try? await connection.query("SELECT pg_advisory_unlock(\(Self.maintenanceLockKey))", logger: logger)
                throw error
            }
            _ = try? await connection.query("SELECT pg_advisory_unlock(\(Self.maintenanceLockKey))", logger: logger)
        }
    }
}
