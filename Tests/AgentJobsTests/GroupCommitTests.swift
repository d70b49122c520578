import AgentJobsCore
import Foundation
import GRDB
import Testing

@testable import AgentJobsSQLite

/// How the group commit writes a batch (`GroupCommit.writeBatch`): all of it in one savepoint,
/// and, when an item fails, each item again on its own, so that a failure leaves nothing of
/// its item (rows or count changes) and takes nothing of the others.
@Suite("GroupCommit")
struct GroupCommitTests {
    struct Failure: Error, Equatable { let item: Int }

    /// A table of two rows per item (`x` and `x + 1000`); item `failing` fails between them,
    /// after counting itself (`JobCountLedger`) under status `S<item>`.
    static func database() throws -> DatabaseQueue {
        let queue = try DatabaseQueue()
        try queue.write { db in try db.execute(sql: "CREATE TABLE t(x INTEGER PRIMARY KEY)") }
        return queue
    }

    static func apply(failing: Set<Int>) -> GroupCommit<Int, Int>.Apply {
        { write, item in
            try write.db.execute(sql: "INSERT INTO t(x) VALUES (?)", arguments: [item])
            write.counts.add(JobCountKey(orgID: "o", jobTypeID: "t", channelCode: "c"), status: "S\(item)", 1)
            write.journal.append(JournalRecord(jobID: "S\(item)", kind: .job, refID: nil, status: nil, at: .now))
            if failing.contains(item) { throw Failure(item: item) }
            try write.db.execute(sql: "INSERT INTO t(x) VALUES (?)", arguments: [item + 1000])
            return item * 10
        }
    }

    /// `items` written as one batch with `failing` failing: each item's output, and the count
    /// changes left for the commit, as the statuses counted (checked to match the journal
    /// entries left, by job id).
    static func batch(
        _ items: [Int], failing: Set<Int>, needsSavepoint: Bool = true, into queue: DatabaseQueue
    ) throws -> (outputs: [Result<Int, any Error>], counted: Set<String>) {
        try queue.write { db in
            let write = SQLiteWrite(db: db)
            let outputs = GroupCommit<Int, Int>.writeBatch(
                items, write, needsSavepoint: { _ in needsSavepoint }, apply: Self.apply(failing: failing))
            let counted = Set(write.counts.deltas.filter { $0.value != 0 }.map(\.key.status))
            #expect(write.journal.records.map(\.jobID) == counted.sorted())
            return (outputs, counted)
        }
    }

    static func rows(_ queue: DatabaseQueue) throws -> [Int] {
        try queue.read { db in try Int.fetchAll(db, sql: "SELECT x FROM t ORDER BY x") }
    }

    @Test("a batch with no failure writes every item and answers each with its output")
    func batchWithoutFailure() throws {
        let queue = try Self.database()
        let (outputs, counted) = try Self.batch([1, 2, 3], failing: [], into: queue)
        #expect(outputs.map { try? $0.get() } == [10, 20, 30])
        #expect(counted == ["S1", "S2", "S3"])
        #expect(try Self.rows(queue) == [1, 2, 3, 1001, 1002, 1003])
    }

    @Test(
        "a failed item leaves nothing of itself and the others are written",
        arguments: [1, 2, 3], [true, false])
    func failedItem(failing: Int, needsSavepoint: Bool) throws {
        let queue = try Self.database()
        let (outputs, counted) = try Self.batch(
            [1, 2, 3], failing: [failing], needsSavepoint: needsSavepoint, into: queue)
        for (item, output) in zip([1, 2, 3], outputs) {
            if item == failing {
                #expect(throws: Failure(item: item)) { try output.get() }
            } else {
                #expect(try output.get() == item * 10)
            }
        }
        let written = [1, 2, 3].filter { $0 != failing }
        #expect(counted == Set(written.map { "S\($0)" }))
        // Without a savepoint of its own, the failed item's first row stays (in the store, an
        // item without one writes a single statement); its count change goes either way.
        let kept = needsSavepoint ? [] : [failing]
        #expect(try Self.rows(queue) == (written + kept).sorted() + written.map { $0 + 1000 })
    }

    @Test("items that fail together each fail alone; a lone item fails without a trace")
    func severalFailures() throws {
        let queue = try Self.database()
        let (outputs, counted) = try Self.batch([1, 2, 3, 4], failing: [2, 4], into: queue)
        #expect(outputs.map { try? $0.get() } == [10, nil, 30, nil])
        #expect(counted == ["S1", "S3"])
        #expect(try Self.rows(queue) == [1, 3, 1001, 1003])
        let (lone, loneCounted) = try Self.batch([7], failing: [7], into: queue)
        #expect(throws: Failure(item: 7)) { try lone[0].get() }
        #expect(loneCounted.isEmpty)
        #expect(try Self.rows(queue) == [1, 3, 1001, 1003])
    }

    @Test("a transaction's journal entries are written in the order added, in INSERTs of 64, 16, 4 and 1 rows")
    func journalInOrder() throws {
        let queue = try DatabaseQueue()
        let at = Date(timeIntervalSince1970: 1_800_000_000)
        let written = try queue.write { db in
            try db.execute(
                sql: """
                    CREATE TABLE job_entries (id INTEGER PRIMARY KEY AUTOINCREMENT, job_id TEXT NOT NULL,
                        kind TEXT NOT NULL, ref_id TEXT, status TEXT, created_at INTEGER NOT NULL)
                    """)
            let journal = PendingJournal()
            // 64 + 16 + 4 + 4 + 1 rows, then a second batch of one.
            for index in 0..<89 {
                journal.append(
                    JournalRecord(
                        jobID: "job_\(index)", kind: index % 2 == 0 ? .job : .task, refID: "r\(index)",
                        status: "S\(index)", at: at.addingTimeInterval(Double(index))))
            }
            try journal.write(db)
            #expect(journal.records.isEmpty)
            journal.append(JournalRecord(jobID: "job_89", kind: .event, refID: nil, status: nil, at: at))
            try journal.write(db)
            return try Row.fetchAll(db, sql: "SELECT * FROM job_entries ORDER BY id")
        }
        #expect(written.count == 90)
        #expect(written.map { $0["id"] as Int64 } == Array(1...90))
        #expect(written.map { $0["job_id"] as String } == (0..<90).map { "job_\($0)" })
        #expect(written.prefix(89).map { $0["status"] as String? } == (0..<89).map { "S\($0)" })
        #expect(written[3]["kind"] as String == "task")
        #expect(written[88]["created_at"] as Int64 == Timestamp.millis(at.addingTimeInterval(88)))
        #expect(written[89]["kind"] as String == "event")
    }
}
