import AgentJobsCore
import GRDB

/// The journal entries of one write transaction (`SQLiteWrite`), written at its end in the
/// order they were added: entry ids grow in that order, so each job's entries keep theirs.
final class PendingJournal {
    private(set) var records: [JournalRecord] = []

    func append(_ record: JournalRecord) {
        records.append(record)
    }

    func append(contentsOf added: [JournalRecord]) {
        records.append(contentsOf: added)
    }

    /// Drops the entries after the first `count` (their transitions were rolled back).
    func truncate(to count: Int) {
        records.removeSubrange(count...)
    }

    /// Rows per INSERT, largest first: every statement is one of these four, compiled once per
    /// connection (a multi-row INSERT assigns its ids in the order of its rows).
    private static let chunkSizes = [64, 16, 4, 1]
    private static let inserts = Dictionary(
        uniqueKeysWithValues: chunkSizes.map { rows in
            (
                rows,
                "INSERT INTO job_entries(job_id, kind, ref_id, status, created_at) VALUES "
                    + Array(repeating: "(?, ?, ?, ?, ?)", count: rows).joined(separator: ", ")
            )
        })

    /// Writes every entry and empties the journal.
    func write(_ db: Database) throws {
        var start = 0
        while start < records.count {
            let rows = Self.chunkSizes.first { $0 <= records.count - start }!
            var insert = try BoundStatement(db, sql: Self.inserts[rows]!)
            for record in records[start..<start + rows] {
                insert.bind(record.jobID)
                insert.bind(record.kind.rawValue)
                insert.bind(record.refID)
                insert.bind(record.status)
                insert.bind(Timestamp.millis(record.at))
            }
            try insert.execute()
            start += rows
        }
        records.removeAll(keepingCapacity: true)
    }
}
