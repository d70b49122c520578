import AgentJobsCore
import Foundation
import Logging
import PostgresNIO

/// The dashboard's figures (`JobStatistics`) in the PostgreSQL store: counts from `job_counts`
/// and its unfolded deltas, per-minute figures from the org's index on `created_at` and the
/// finished-jobs index, task times from the org's most recently updated jobs.
extension PostgresJobStore {
    public func statistics(orgID: String, now: Date) async throws -> JobStatistics {
        let since = JobStatistics.firstMinute(now: now) * 60_000
        let sampleJobs = JobStatistics.taskSampleJobs
        var counts: [JobStatus: Int] = [:]
        for try await (status, count) in try await client.query(
            """
            SELECT status, COALESCE(SUM(n), 0)::bigint FROM (
                SELECT status, count AS n FROM job_counts WHERE org_id = \(orgID)
                UNION ALL SELECT status, delta AS n FROM job_count_deltas WHERE org_id = \(orgID)
            ) AS counted GROUP BY status
            """, logger: logger
        ).decode((String, Int64).self) {
            counts[try JobStatus.stored(status, column: "job_counts.status")] = Int(count)
        }
        var created: [Int64: Int] = [:]
        for try await (minute, count) in try await client.query(
            """
            SELECT created_at / 60000, COUNT(*) FROM jobs
            WHERE org_id = \(orgID) AND created_at >= \(since) GROUP BY 1
            """, logger: logger
        ).decode((Int64, Int64).self) {
            created[minute] = Int(count)
        }
        var finished: [Int64: Int] = [:]
        for try await (minute, count) in try await client.query(
            """
            SELECT finished_at / 60000, COUNT(*) FROM jobs
            WHERE status IN ('COMPLETED', 'FAILED', 'CANCELED') AND finished_at >= \(since) AND org_id = \(orgID)
            GROUP BY 1
            """, logger: logger
        ).decode((Int64, Int64).self) {
            finished[minute] = Int(count)
        }
        var tasks: [TaskTimes] = []
        for try await (due, started, ended) in try await client.query(
            """
            SELECT due_at, started_at, finished_at FROM tasks
            WHERE job_id IN (
                SELECT id FROM jobs WHERE org_id = \(orgID) AND updated_at >= \(since)
                ORDER BY updated_at DESC LIMIT \(sampleJobs))
              AND started_at IS NOT NULL AND (started_at >= \(since) OR finished_at >= \(since))
            """, logger: logger
        ).decode((Int64?, Int64, Int64?).self) {
            tasks.append(
                TaskTimes(
                    dueAt: due.map(Timestamp.date(millis:)), startedAt: Timestamp.date(millis: started),
                    finishedAt: ended.map(Timestamp.date(millis:))))
        }
        return JobStatistics.assemble(
            now: now, counts: counts, createdPerMinute: created, finishedPerMinute: finished, tasks: tasks)
    }
}
