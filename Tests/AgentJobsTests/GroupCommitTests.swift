import GRDB
import Testing

@testable import AgentJobsSQLite

/// How the group commit writes a batch (`GroupCommit.writeBatch`): all of it in one savepoint,
/// and, when an item fails, each item again on its own, so that a failure leaves nothing of
/// its item and takes nothing of the others.
@Suite("GroupCommit")
struct GroupCommitTests {
    struct Failure: Error, Equatable { let item: Int }

    /// A table of two rows per item (`x` and `x + 1000`); item `failing` fails between them.
    static func database() throws -> DatabaseQueue {
        let queue = try DatabaseQueue()
        try queue.write { db in try db.execute(sql: "CREATE TABLE t(x INTEGER PRIMARY KEY)") }
        return queue
    }

    static func apply(failing: Set<Int>) -> GroupCommit<Int, Int>.Apply {
        { db, item in
            try db.execute(sql: "INSERT INTO t(x) VALUES (?)", arguments: [item])
            if failing.contains(item) { throw Failure(item: item) }
            try db.execute(sql: "INSERT INTO t(x) VALUES (?)", arguments: [item + 1000])
            return item * 10
        }
    }

    static func rows(_ queue: DatabaseQueue) throws -> [Int] {
        try queue.read { db in try Int.fetchAll(db, sql: "SELECT x FROM t ORDER BY x") }
    }

    @Test("a batch with no failure writes every item and answers each with its output")
    func batchWithoutFailure() throws {
        let queue = try Self.database()
        let outputs = try queue.write { db in
            GroupCommit<Int, Int>.writeBatch(
                [1, 2, 3], db, needsSavepoint: { _ in true }, apply: Self.apply(failing: []))
        }
        #expect(outputs.map { try? $0.get() } == [10, 20, 30])
        #expect(try Self.rows(queue) == [1, 2, 3, 1001, 1002, 1003])
    }

    @Test("a failed item leaves nothing of itself and the others are written", arguments: [1, 2, 3])
    func failedItem(failing: Int) throws {
        let queue = try Self.database()
        let outputs = try queue.write { db in
            GroupCommit<Int, Int>.writeBatch(
                [1, 2, 3], db, needsSavepoint: { _ in true }, apply: Self.apply(failing: [failing]))
        }
        for (item, output) in zip([1, 2, 3], outputs) {
            if item == failing {
                #expect(throws: Failure(item: item)) { try output.get() }
            } else {
                #expect(try output.get() == item * 10)
            }
        }
        let written = [1, 2, 3].filter { $0 != failing }
        #expect(try Self.rows(queue) == written + written.map { $0 + 1000 })
    }

    @Test("items that fail together each fail alone; a lone item fails without a trace")
    func severalFailures() throws {
        let queue = try Self.database()
        let outputs = try queue.write { db in
            GroupCommit<Int, Int>.writeBatch(
                [1, 2, 3, 4], db, needsSavepoint: { _ in true }, apply: Self.apply(failing: [2, 4]))
        }
        #expect(outputs.map { try? $0.get() } == [10, nil, 30, nil])
        #expect(try Self.rows(queue) == [1, 3, 1001, 1003])
        let lone = try queue.write { db in
            GroupCommit<Int, Int>.writeBatch([7], db, needsSavepoint: { _ in true }, apply: Self.apply(failing: [7]))
        }
        #expect(throws: Failure(item: 7)) { try lone[0].get() }
        #expect(try Self.rows(queue) == [1, 3, 1001, 1003])
    }
}
