import AgentJobsCore
import AgentJobsEngine
import Foundation
import PostgresNIO
import Testing

@testable import AgentJobsPostgres

/// On PostgreSQL the maintenance sweeps run on one node at a time: the leader holds a leased
/// row it renews; another node takes over when it stops or stops renewing.
@Suite("Maintenance leader (PostgreSQL)", .enabled(if: StoreKind.postgresURL != nil))
struct MaintenanceLeaderTests {
    func leader(_ store: PostgresJobStore) async throws -> String? {
        try await store.client.query("SELECT node FROM leaders WHERE role = 'maintenance'").collect()
            .first?.decode(String.self)
    }

    @Test("one leader at a time; a stopped leader hands over; a leader that loses its row stops its sweeps")
    func oneLeader() async throws {
        let env = try await TestEnvironment.make(.postgres)
        let nodeA = try openStore(env.databaseURL)
        let nodeB = try openStore(env.databaseURL)
        let a = try #require(nodeA.store as? PostgresJobStore)
        let b = try #require(nodeB.store as? PostgresJobStore)
        let aLeads = AsyncSignal()
        let aStopped = AsyncSignal()
        let bLeads = AsyncSignal()
        let someoneLeads = AsyncSignal()
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                try await a.leadMaintenance {
                    aLeads.signal()
                    someoneLeads.signal()
                    await AsyncSignal().waitUntilFired()  // Sweeps until cancelled.
                    aStopped.signal()
                }
            }
            #expect(await aLeads.waitUntilFired(timeout: .seconds(30)))
            #expect(try await leader(a) == a.nodeID)
            #expect(
                try await b.claimLeadership(PostgresJobStore.maintenanceRole) == false, "B cannot take a live lease")

            // Another node takes the row (as after a lease ran out): A's sweeps are cancelled.
            _ = try await a.client.query("UPDATE leaders SET node = 'node_elsewhere', expires_at = 9000000000000")
                .collect()
            #expect(await aStopped.waitUntilFired(timeout: .seconds(30)), "A stopped sweeping when it lost the role")

            // That node dies: its lease runs out, and the waiting nodes take over.
            let before = someoneLeads.generation
            group.addTask {
                try await b.leadMaintenance {
                    bLeads.signal()
                    someoneLeads.signal()
                    await AsyncSignal().waitUntilFired()
                }
            }
            _ = try await a.client.query("UPDATE leaders SET expires_at = 0").collect()
            #expect(await someoneLeads.wait(after: before, timeout: .seconds(30)), "a node took over")
            let leaderNow = try await leader(a)
            #expect(leaderNow == a.nodeID || leaderNow == b.nodeID)
            group.cancelAll()
            while (try? await group.next()) != nil {}
        }
        #expect(try await leader(a) == nil, "the leader gave the role up when it stopped")
        withExtendedLifetime((nodeA, nodeB)) {}
    }
}
