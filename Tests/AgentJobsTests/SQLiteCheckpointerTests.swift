import AgentJobsCore
import Foundation
import GRDB
import Testing

@testable import AgentJobsSQLite

/// The WAL is checkpointed in the background, on a connection of its own; the writer only
/// past `writerCheckpointPages`.
@Suite("SQLite background checkpoints")
struct SQLiteCheckpointerTests {
    static func store() async throws -> SQLiteJobStore {
        let path = FileManager.default.temporaryDirectory
            .appendingPathComponent("checkpoint-\(UUID().uuidString).sqlite").path
        let store = try SQLiteJobStore(path: path)
        try await store.migrate()
        return store
    }

    @Test("the writer leaves checkpoints to the checkpointer until the WAL holds 10,000 pages")
    func writerThreshold() async throws {
        let store = try await Self.store()
        let threshold = try await store.pool.write { db in try Int.fetchOne(db, sql: "PRAGMA wal_autocheckpoint") }
        #expect(threshold == 10_000)
    }

    @Test("a checkpoint copies every page of the WAL into the database file")
    func copiesTheWAL() async throws {
        let store = try await Self.store()
        let now = Date()
        for index in 0..<50 {
            _ = try await store.createOrganizationIfAbsent("org-\(index)", at: now)
        }
        let connection = try store.checkpointer.connect()
        let first = try await SQLiteCheckpointer.checkpoint(connection)
        #expect(first.walPages > 0)
        #expect(first.copied == first.walPages)
        // Nothing new: the same WAL, all of it copied already.
        let second = try await SQLiteCheckpointer.checkpoint(connection)
        #expect(second.copied == second.walPages)
    }

    @Test("the checkpointer stops when cancelled")
    func stopsWhenCancelled() async throws {
        let store = try await Self.store()
        let running = Task { try await store.checkpointer.run() }
        running.cancel()
        await #expect(throws: CancellationError.self) { try await running.value }
    }
}

extension SQLiteJobStore {
    /// Writes an organization row (a small write that grows the WAL).
    fileprivate func createOrganizationIfAbsent(_ id: String, at date: Date) async throws {
        try await createOrganization(Organization(id: id, name: nil, createdAt: date))
    }
}
