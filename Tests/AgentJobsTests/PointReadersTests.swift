import AgentJobsCore
import Foundation
import Testing

@testable import AgentJobsSQLite

/// One-row lookups (a token on every request) run on read-only connections of their own
/// (`PointReaders`): they must see every commit at once, another process's included.
@Suite("SQLite: point lookups on connections of their own")
struct PointReadersTests {
    @Test(
        "a token revoked through another connection to the file fails the next lookup; many lookups at once all answer")
    func revocationIsSeenAtOnce() async throws {
        let env = try await TestEnvironment.make(.sqlite)
        let store = try #require(env.store as? SQLiteJobStore)
        let id = try #require(TokenSecret.parse(env.writeA)).id
        #expect(try await store.token(id: id)?.revokedAt == nil)
        // Another store on the same file stands for the CLI in another process.
        let other = try SQLiteJobStore(path: String(env.databaseURL.dropFirst("sqlite://".count)))
        #expect(try await other.revokeToken(id: id, at: env.clock.now()))
        #expect(try await store.token(id: id)?.revokedAt == env.clock.now())
        let generated = TokenSecret.generate()
        try await other.createToken(
            AppToken(
                id: generated.id, orgID: TestEnvironment.orgA, access: [.servicesRead], name: nil,
                secretHash: generated.secretHash, createdAt: env.clock.now()))
        let found = try await withThrowingTaskGroup(of: Bool.self) { group in
            for _ in 0..<64 { group.addTask { try await store.token(id: generated.id) != nil } }
            return try await group.reduce(into: 0) { $0 += $1 ? 1 : 0 }
        }
        #expect(found == 64)
    }
}
