import AgentJobsCore
import GRDB

/// The count changes of one write transaction, by (org, job type, channel) and status.
final class JobCountLedger {
    struct Key: Hashable {
        var job: JobCountKey
        var status: String
    }

    /// The net change of each key so far.
    private(set) var deltas: [Key: Int] = [:]

    /// A job counted by `key` appeared (`delta` 1) or went (`delta` −1) in `status`.
    func add(_ key: JobCountKey, status: String, _ delta: Int) {
        deltas[Key(job: key, status: status), default: 0] += delta
    }

    /// A job counted by `key` moved from `previous` to `status`.
    func move(_ key: JobCountKey, from previous: JobStatus, to status: JobStatus) {
        guard previous != status else { return }
        add(key, status: previous.rawValue, -1)
        add(key, status: status.rawValue, 1)
    }

    /// Sets the ledger back to `deltas`, taken before work that was then rolled back.
    func restore(_ deltas: [Key: Int]) {
        self.deltas = deltas
    }

    private static let upsertSQL = """
        INSERT INTO job_counts(org_id, status, job_type_id, channel_code, count) VALUES (?, ?, ?, ?, ?)
        ON CONFLICT(org_id, status, job_type_id, channel_code) DO UPDATE SET count = count + excluded.count
        """

    /// Writes every non-zero change and empties the ledger.
    func write(_ db: Database) throws {
        guard !deltas.isEmpty else { return }
        for (key, delta) in deltas where delta != 0 {
            var upsert = try BoundStatement(db, sql: Self.upsertSQL)
            upsert.bind(key.job.orgID)
            upsert.bind(key.status)
            upsert.bind(key.job.jobTypeID)
            upsert.bind(key.job.channelCode)
            upsert.bind(delta)
            try upsert.execute()
        }
        deltas.removeAll(keepingCapacity: true)
    }
}
