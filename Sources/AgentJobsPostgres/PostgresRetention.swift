import AgentJobsCore
import Foundation
import Logging
import PostgresNIO

/// The retention purge of the PostgreSQL store: a batch of finished jobs, locked (`SKIP
/// LOCKED`: rows another transaction holds wait for the next batch) and deleted with
/// everything that hangs off them in one transaction. The maintenance leader runs it, so one
/// node at a time purges.
extension PostgresJobStore {
    public func purgeFinishedJobs(
        finishedBefore cutoffs: [JobStatus: Date], limit: Int
    ) async throws -> [JobStatus: Int] {
        guard !cutoffs.isEmpty, limit > 0 else { return [:] }
        let logger = self.logger
        return try await transaction { connection in
            var ids: [String] = []
            var deleted: [JobStatus: Int] = [:]
            for (status, cutoff) in cutoffs.sorted(by: { $0.key.rawValue < $1.key.rawValue }) where ids.count < limit {
                let found = try await connection.query(
                    """
                    SELECT id FROM jobs
                    WHERE status = \(status.rawValue) AND finished_at IS NOT NULL
                      AND finished_at < \(Timestamp.millis(cutoff))
                    ORDER BY finished_at LIMIT \(limit - ids.count)
                    FOR UPDATE SKIP LOCKED
                    """, logger: logger
                ).collect().map { try $0.decode(String.self) }
                if !found.isEmpty { deleted[status] = found.count }
                ids += found
            }
            guard !ids.isEmpty else { return [:] }
            // Children first; an event's idempotency record names the event.
            try await connection.query(
                """
                DELETE FROM idempotency_keys
                WHERE job_id = ANY(\(ids)) OR job_id IN (SELECT id FROM job_events WHERE job_id = ANY(\(ids)))
                """, logger: logger)
            try await connection.query("DELETE FROM job_entries WHERE job_id = ANY(\(ids))", logger: logger)
            try await connection.query("DELETE FROM task_progress WHERE job_id = ANY(\(ids))", logger: logger)
            try await connection.query("DELETE FROM job_events WHERE job_id = ANY(\(ids))", logger: logger)
            try await connection.query("DELETE FROM tasks WHERE job_id = ANY(\(ids))", logger: logger)
            try await connection.query("DELETE FROM jobs WHERE id = ANY(\(ids))", logger: logger)
            return deleted
        }
    }

    public func countPurgeable(finishedBefore cutoffs: [JobStatus: Date]) async throws -> [JobStatus: Int] {
        var counts: [JobStatus: Int] = [:]
        for (status, cutoff) in cutoffs {
            let rows = try await client.query(
                """
                SELECT COUNT(*) FROM jobs
                WHERE status = \(status.rawValue) AND finished_at IS NOT NULL AND finished_at < \(Timestamp.millis(cutoff))
                """, logger: logger
            ).collect()
            counts[status] = try rows.first?.decode(Int.self) ?? 0
        }
        return counts
    }
}
