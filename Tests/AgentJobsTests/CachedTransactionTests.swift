import Foundation
import GRDB
import Testing

@testable import AgentJobsSQLite

/// The write transactions of cached `BEGIN` and `COMMIT` (`inCachedTransaction`): committed when
/// the body returns, rolled back when it throws, and the writer ready for the next one.
@Suite("Cached transactions")
struct CachedTransactionTests {
    struct Failure: Error {}

    static func pool() throws -> DatabasePool {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(UUID().uuidString)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let pool = try DatabasePool(path: directory.appendingPathComponent("t.sqlite").path)
        try pool.write { db in try db.execute(sql: "CREATE TABLE t(x INTEGER PRIMARY KEY)") }
        return pool
    }

    static func rows(_ pool: DatabasePool) throws -> [Int] {
        try pool.read { db in try Int.fetchAll(db, sql: "SELECT x FROM t ORDER BY x") }
    }

    @Test("a body that throws leaves nothing, and the next transaction commits")
    func rollsBack() async throws {
        let pool = try Self.pool()
        await #expect(throws: Failure.self) {
            try await pool.transaction { db in
                try db.execute(sql: "INSERT INTO t VALUES (1)")
                throw Failure()
            }
        }
        #expect(throws: Failure.self) {
            try pool.transactionNow { db in
                try db.execute(sql: "INSERT INTO t VALUES (2)")
                throw Failure()
            }
        }
        #expect(try Self.rows(pool) == [])
        try await pool.transaction { db in try db.execute(sql: "INSERT INTO t VALUES (3)") }
        try pool.transactionNow { db in try db.execute(sql: "INSERT INTO t VALUES (4)") }
        #expect(try Self.rows(pool) == [3, 4])
        #expect(try await pool.writeWithoutTransaction { db in db.isInsideTransaction } == false)
    }

    @Test("a failing statement rolls back what the body wrote before it")
    func failingStatement() throws {
        let pool = try Self.pool()
        #expect(throws: DatabaseError.self) {
            try pool.transactionNow { db in
                try db.execute(sql: "INSERT INTO t VALUES (5)")
                try db.execute(sql: "INSERT INTO t VALUES (5)")  // the primary key again
            }
        }
        #expect(try Self.rows(pool) == [])
        try pool.transactionNow { db in try db.execute(sql: "INSERT INTO t VALUES (6)") }
        #expect(try Self.rows(pool) == [6])
    }
}
