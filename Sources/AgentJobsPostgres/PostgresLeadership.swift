import AgentJobsCore
import Foundation
import Logging
import PostgresNIO

/// One node at a time runs the maintenance sweeps, as River's elected maintainer: the leader
/// holds a row of `leaders` whose lease it renews every `leaderRenewal`; when it stops
/// renewing (it crashed or lost the database), another node takes the row once the lease ran
/// out. Lease times come from the database's clock, so nodes' clocks do not matter.
extension PostgresJobStore {
    static let maintenanceRole = "maintenance"
    /// How long leadership lasts without renewal.
    static let leaderLease: Duration = .seconds(5)
    /// How often the leader renews, and how often other nodes try to take over.
    static let leaderRenewal: Duration = .seconds(1)

    /// Takes the role for this node if it is free, expired or already ours; returns whether
    /// this node leads.
    func claimLeadership(_ role: String) async throws -> Bool {
        let leaseMillis = Int64(Self.leaderLease.components.seconds * 1000)
        let rows = try await client.query(
            """
            INSERT INTO leaders(role, node, expires_at)
            VALUES (\(role), \(nodeID), \(unescaped: Self.databaseNowMillis) + \(leaseMillis))
            ON CONFLICT (role) DO UPDATE SET node = EXCLUDED.node, expires_at = EXCLUDED.expires_at
            WHERE leaders.node = EXCLUDED.node OR leaders.expires_at < \(unescaped: Self.databaseNowMillis)
            RETURNING node
            """, logger: logger
        ).collect()
        return !rows.isEmpty
    }

    /// Gives the role up at once (a graceful stop), so another node need not wait for the lease.
    func releaseLeadership(_ role: String) async throws {
        try await client.query("DELETE FROM leaders WHERE role = \(role) AND node = \(nodeID)", logger: logger)
    }

    /// Releases the role when this node stops, from a task the stop's cancellation does not
    /// reach (the pool refuses work from a cancelled task); awaited, so it does not outlive us.
    private func releaseOnStop(_ role: String) async {
        await Task { try? await self.releaseLeadership(role) }.value
    }

    /// Runs `body` while this node leads maintenance: waits for the role, renews it while
    /// `body` runs, cancels `body` when the role is lost, and tries again.
    public func leadMaintenance(_ body: @escaping @Sendable () async throws -> Void) async throws {
        let role = Self.maintenanceRole
        while true {
            try Task.checkCancellation()
            if (try? await claimLeadership(role)) == true {
                logger.debug("leading maintenance", metadata: ["node": "\(nodeID)"])
                defer { logger.debug("no longer leading maintenance", metadata: ["node": "\(nodeID)"]) }
                do {
                    try await withThrowingTaskGroup(of: Void.self) { group in
                        group.addTask { try await body() }
                        group.addTask {
                            // Renew until the role is lost; then the body is cancelled.
                            while true {
                                try await Task.sleep(for: Self.leaderRenewal)
                                guard (try? await self.claimLeadership(role)) == true else { return }
                            }
                        }
                        try await group.next()
                        group.cancelAll()
                    }
                } catch  where Task.isCancelled {
                    await releaseOnStop(role)
                    throw error
                }
                if Task.isCancelled {
                    await releaseOnStop(role)
                    throw CancellationError()
                }
                continue
            }
            try await Task.sleep(for: Self.leaderRenewal)
        }
    }

    /// The database's time in milliseconds since the epoch, as SQL.
    static let databaseNowMillis = "(EXTRACT(EPOCH FROM clock_timestamp()) * 1000)::bigint"
}
