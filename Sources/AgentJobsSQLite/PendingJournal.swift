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

    /// The INSERTs, one per size of `ListChunks` (a multi-row INSERT assigns its ids in the
    /// order of its rows).
    private static let inserts = ListChunks.statements { rows in
        "INSERT INTO job_entries(job_id, kind, ref_id, status, created_at) VALUES "
            + Array(repeating: "(?, ?, ?, ?, ?)", count: rows).joined(separator: ", ")
    }

    /// Writes every entry and empties the journal.
    func write(_ db: Database) throws {
        for piece in ListChunks.pieces(of: records.count) {
            var insert = try BoundStatement(db, sql: Self.inserts[piece.count]!)
            for record in records[piece] {
                insert.bind(record.jobID)
                insert.bind(record.kind.rawValue)
                insert.bind(record.refID)
                insert.bind(record.status)
                insert.bind(Timestamp.millis(record.at))
            }
            try insert.execute()
        }
        records.removeAll(keepingCapacity: true)
    }
}
