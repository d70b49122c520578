import AgentJobsCore
import Foundation
import GRDB

/// The dashboard's figures (`JobStatistics`) in the SQLite store: counts from `job_counts`,
/// per-minute figures from the org's index on `created_at` and the finished-jobs index, task
/// times from the org's most recently updated jobs.
extension SQLiteJobStore {
    public func statistics(orgID: String, now: Date) async throws -> JobStatistics {
        let first = JobStatistics.firstMinute(now: now)
        let since = first * 60_000
        return try await pool.read { db in
            var counts: [JobStatus: Int] = [:]
            for row in try Row.fetchAll(
                db.cachedStatement(
                    sql: "SELECT status, SUM(count) AS n FROM job_counts WHERE org_id = ? GROUP BY status"),
                arguments: [orgID])
            {
                counts[try JobStatus.stored(row["status"], column: "job_counts.status")] = row["n"]
            }
            let created = try Self.perMinute(
                db,
                sql: """
                    SELECT created_at / 60000 AS minute, COUNT(*) AS n FROM jobs
                    WHERE org_id = ? AND created_at >= ? GROUP BY minute
                    """, orgID: orgID, since: since)
            let finished = try Self.perMinute(
                db,
                sql: """
                    SELECT finished_at / 60000 AS minute, COUNT(*) AS n FROM jobs
                    WHERE status IN ('COMPLETED', 'FAILED', 'CANCELED') AND finished_at >= ? AND org_id = ?
                    GROUP BY minute
                    """, orgID: orgID, since: since, sinceFirst: true)
            let tasks = try Row.fetchAll(
                db.cachedStatement(
                    sql: """
                        SELECT due_at, started_at, finished_at FROM tasks
                        WHERE job_id IN (
                            SELECT id FROM jobs WHERE org_id = ? AND updated_at >= ?
                            ORDER BY updated_at DESC LIMIT ?)
                          AND started_at IS NOT NULL AND (started_at >= ? OR finished_at >= ?)
                        """),
                arguments: [orgID, since, JobStatistics.taskSampleJobs, since, since]
            ).map { row in
                TaskTimes(
                    dueAt: (row["due_at"] as Int64?).map(Timestamp.date(millis:)),
                    startedAt: Timestamp.date(millis: row["started_at"]),
                    finishedAt: (row["finished_at"] as Int64?).map(Timestamp.date(millis:)))
            }
            return JobStatistics.assemble(
                now: now, counts: counts, createdPerMinute: created, finishedPerMinute: finished, tasks: tasks)
        }
    }

    private static func perMinute(
        _ db: Database, sql: String, orgID: String, since: Int64, sinceFirst: Bool = false
    ) throws -> [Int64: Int] {
        var counts: [Int64: Int] = [:]
        let arguments: StatementArguments = sinceFirst ? [since, orgID] : [orgID, since]
        for row in try Row.fetchAll(db.cachedStatement(sql: sql), arguments: arguments) {
            counts[row["minute"]] = row["n"]
        }
        return counts
    }
}
