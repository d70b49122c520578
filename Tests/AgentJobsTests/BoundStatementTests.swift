import Foundation
import GRDB
import Testing

@testable import AgentJobsSQLite

/// The writer's hot statements bind their values with SQLite's own functions
/// (`BoundStatement`): what they write, and how they fail, must be what GRDB's `execute` gives.
@Suite("SQLite: statements bound by position")
struct BoundStatementTests {
    static let insert = "INSERT INTO t(id, n, note) VALUES (?, ?, ?)"

    static func database() throws -> DatabaseQueue {
        let queue = try DatabaseQueue()
        try queue.write { db in
            try db.execute(sql: "CREATE TABLE t(id TEXT PRIMARY KEY, n INTEGER NOT NULL, note TEXT)")
        }
        return queue
    }

    @Test("values land as bound: text (UTF-8, by its byte count), 64-bit integers, NULL")
    func values() throws {
        let queue = try Self.database()
        try queue.write { db in
            for (id, n, note) in [("a", Int64.max, "x" as String?), ("b\u{e9}", -1, nil), ("c", 0, "long " + "y")] {
                var statement = try BoundStatement(db, sql: Self.insert)
                statement.bind(id)
                statement.bind(n)
                statement.bind(note)
                try statement.execute()
            }
        }
        let rows = try queue.read { db in try Row.fetchAll(db, sql: "SELECT id, n, note FROM t ORDER BY id") }
        #expect(rows.map { $0["id"] as String } == ["a", "b\u{e9}", "c"])
        #expect(rows.map { $0["n"] as Int64 } == [Int64.max, -1, 0])
        #expect(rows.map { $0["note"] as String? } == ["x", nil, "long y"])
    }

    @Test("a constraint violation throws GRDB's error with its extended code; the statement runs again after it")
    func constraintViolation() throws {
        let queue = try Self.database()
        try queue.write { db in
            func insert(_ id: String, _ n: Int64?) throws {
                var statement = try BoundStatement(db, sql: Self.insert)
                statement.bind(id)
                statement.bind(n)
                statement.bindNull()
                try statement.execute()
            }
            try insert("a", 1)
            #expect {
                try insert("a", 2)
            } throws: { error in
                (error as? DatabaseError)?.extendedResultCode == .SQLITE_CONSTRAINT_PRIMARYKEY
            }
            #expect {
                try insert("b", nil)
            } throws: { error in
                (error as? DatabaseError)?.extendedResultCode == .SQLITE_CONSTRAINT_NOTNULL
            }
            try insert("c", 3)
        }
        #expect(try queue.read { db in try String.fetchAll(db, sql: "SELECT id FROM t ORDER BY id") } == ["a", "c"])
    }

    @Test("a run with a parameter left unbound, or outside a transaction, is refused and writes nothing")
    func refusals() throws {
        let queue = try Self.database()
        try queue.write { db in
            var statement = try BoundStatement(db, sql: Self.insert)
            statement.bind("a")
            statement.bind(1)
            #expect(throws: DatabaseError.self) { try statement.execute() }
        }
        try queue.writeWithoutTransaction { db in
            var statement = try BoundStatement(db, sql: Self.insert)
            statement.bind("b")
            statement.bind(1)
            statement.bindNull()
            #expect(throws: DatabaseError.self) { try statement.execute() }
        }
        #expect(try queue.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM t") } == 0)
    }
}
