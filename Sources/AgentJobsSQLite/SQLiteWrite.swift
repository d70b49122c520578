import AgentJobsCore
import GRDB

/// One write transaction of the SQLite store: its connection, and what its statements owe the
/// job counts and the journal, written together just before it commits.
///
/// Row triggers used to count every job whose status changed (two upserts each) and write a
/// created job's first journal entry, and every transition wrote its journal entries with a
/// statement of its own: together about a third of SQLite's work in a drain. A transaction now
/// gathers both in memory and writes one upsert per (org, job type, channel, status) it
/// touched (`JobCountLedger`) and its journal entries in INSERTs of up to 64 rows
/// (`PendingJournal`), in the order they were added.
struct SQLiteWrite {
    let db: Database
    let counts: JobCountLedger
    let journal: PendingJournal
    /// Tasks read ahead for a batch of outcomes (empty for other writes).
    let runningTasks: RunningTaskPrefetch

    init(db: Database) {
        self.db = db
        counts = JobCountLedger()
        journal = PendingJournal()
        runningTasks = RunningTaskPrefetch()
    }

    /// Runs `body` in the write transaction `db`, then writes the journal entries and count
    /// changes it gathered.
    static func run<T>(_ db: Database, _ body: (SQLiteWrite) throws -> T) throws -> T {
        let write = SQLiteWrite(db: db)
        let output = try body(write)
        try write.journal.write(db)
        try write.counts.write(db)
        return output
    }

    /// What has been gathered so far, to go back to when the work after it is rolled back.
    struct Mark {
        var counts: [JobCountLedger.Key: Int]
        var journalEntries: Int
    }

    func mark() -> Mark {
        Mark(counts: counts.deltas, journalEntries: journal.records.count)
    }

    /// Forgets what was gathered after `mark` (its statements were rolled back).
    func restore(_ mark: Mark) {
        counts.restore(mark.counts)
        journal.truncate(to: mark.journalEntries)
    }
}
