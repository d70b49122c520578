import AgentJobsCore
import Foundation
import GRDB

/// The retention purge of the SQLite store: a batch of finished jobs and everything that
/// hangs off them, deleted in one write transaction.
extension SQLiteJobStore {
    public func purgeFinishedJobs(
        finishedBefore cutoffs: [JobStatus: Date], limit: Int
    ) async throws -> [JobStatus: Int] {
        guard !cutoffs.isEmpty, limit > 0 else { return [:] }
        return try await countedWrite { write in
            let db = write.db
            var ids: [String] = []
            var deleted: [JobStatus: Int] = [:]
            for (status, cutoff) in cutoffs.sorted(by: { $0.key.rawValue < $1.key.rawValue }) where ids.count < limit {
                let found = try String.fetchAll(
                    db,
                    sql: """
                        SELECT id FROM jobs WHERE status = ? AND finished_at IS NOT NULL AND finished_at < ?
                        ORDER BY finished_at LIMIT ?
                        """,
                    arguments: [status.rawValue, Timestamp.millis(cutoff), limit - ids.count])
                if !found.isEmpty { deleted[status] = found.count }
                ids += found
            }
            guard !ids.isEmpty else { return [:] }
            let list = Array(repeating: "?", count: ids.count).joined(separator: ",")
            let arguments = StatementArguments(ids)
            // Children first; an event's idempotency record names the event.
            for sql in [
                "DELETE FROM idempotency_keys WHERE job_id IN (SELECT id FROM job_events WHERE job_id IN (\(list)))",
                "DELETE FROM idempotency_keys WHERE job_id IN (\(list))",
                "DELETE FROM job_entries WHERE job_id IN (\(list))",
                "DELETE FROM task_progress WHERE job_id IN (\(list))",
                "DELETE FROM job_events WHERE job_id IN (\(list))",
                "DELETE FROM tasks WHERE job_id IN (\(list))",
            ] {
                try db.execute(sql: sql, arguments: arguments)
            }
            let gone = try Row.fetchCursor(
                db,
                sql: "DELETE FROM jobs WHERE id IN (\(list)) RETURNING org_id, status, job_type_id, channel_code",
                arguments: arguments)
            while let row = try gone.next() {
                write.counts.add(JobCountKey(orgID: row[0], jobTypeID: row[2], channelCode: row[3]), status: row[1], -1)
            }
            return deleted
        }
    }

    public func countPurgeable(finishedBefore cutoffs: [JobStatus: Date]) async throws -> [JobStatus: Int] {
        try await pool.read { db in
            var counts: [JobStatus: Int] = [:]
            for (status, cutoff) in cutoffs {
                counts[status] =
                    try Int.fetchOne(
                        db,
                        sql:
                            "SELECT COUNT(*) FROM jobs WHERE status = ? AND finished_at IS NOT NULL AND finished_at < ?",
                        arguments: [status.rawValue, Timestamp.millis(cutoff)]) ?? 0
            }
            return counts
        }
    }
}
