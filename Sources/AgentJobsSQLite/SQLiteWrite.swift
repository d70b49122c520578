import AgentJobsCore
import GRDB

/// One write transaction of the SQLite store: its connection, and the changes to
/// `job_counts` its statements owe, written once just before it commits.
///
/// The counts used to be kept by row triggers: two upserts for every job whose status
/// changed, which was a sixth of SQLite's work in a drain. A transaction now gathers the
/// changes in memory (`JobCountLedger`) and writes one upsert per (org, status, job type,
/// channel) it touched, so a claim or a batch of outcomes of many jobs of one kind costs two.
struct SQLiteWrite {
    let db: Database
    let counts: JobCountLedger

    /// Runs `body` in the write transaction `db` and then writes the counts it changed.
    static func run<T>(_ db: Database, _ body: (SQLiteWrite) throws -> T) throws -> T {
        let write = SQLiteWrite(db: db, counts: JobCountLedger())
        let output = try body(write)
        try write.counts.write(db)
        return output
    }
}
