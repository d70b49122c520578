import AgentJobsCore
import Foundation
import GRDB
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

    @Test("a lookup reads every column by position, NULLs as nil; no row is nil; a bad statement throws SQLite's error")
    func columnsMissingRowsAndErrors() async throws {
        let env = try await TestEnvironment.make(.sqlite)
        let store = try #require(env.store as? SQLiteJobStore)
        let named = TokenSecret.generate()
        let created = AppToken(
            id: named.id, orgID: TestEnvironment.orgA, access: [.servicesRead, .servicesWrite], name: "ci – ünïcode",
            secretHash: named.secretHash, createdAt: Date(timeIntervalSince1970: 1_700_000_000.5))
        try await store.createToken(created)
        let read = try #require(try await store.token(id: named.id))
        #expect(read == created)
        #expect(read.revokedAt == nil)
        let unnamed = TokenSecret.generate()
        try await store.createToken(
            AppToken(
                id: unnamed.id, orgID: TestEnvironment.orgA, access: [], name: nil, secretHash: unnamed.secretHash,
                createdAt: env.clock.now()))
        let readUnnamed = try #require(try await store.token(id: unnamed.id))
        #expect(readUnnamed.name == nil)
        #expect(readUnnamed.access.isEmpty)
        #expect(try await store.token(id: "tok_absent") == nil)

        let path = String(env.databaseURL.dropFirst("sqlite://".count))
        let readers = try PointReaders(path: path, count: 2, busyTimeout: 1)
        #expect(
            try readers.firstRow("SELECT org_id FROM app_tokens WHERE id = ?", key: named.id) { $0.text(0) }
                == TestEnvironment.orgA)
        let error = try #require(
            throws: DatabaseError.self,
            performing: {
                try readers.firstRow("SELECT no_such_column FROM app_tokens WHERE id = ?", key: "x") { $0.text(0) }
            })
        #expect(error.resultCode == .SQLITE_ERROR)
        #expect(error.message?.contains("no_such_column") == true)
        // The connections are read-only: a write through one is refused, not done.
        let refused = try #require(
            throws: DatabaseError.self,
            performing: {
                try readers.firstRow("DELETE FROM app_tokens WHERE id = ? RETURNING id", key: named.id) { $0.text(0) }
            })
        #expect(refused.resultCode == .SQLITE_READONLY)
        #expect(try await store.token(id: named.id) != nil)
        // Still usable after the failures.
        #expect(
            try readers.firstRow("SELECT id FROM app_tokens WHERE id = ?", key: unnamed.id) { $0.text(0) } == unnamed.id
        )
    }
}
