import AgentJobsCore
import Foundation
import Logging
import PostgresNIO

/// The engine's side of the PostgreSQL store. Claims lock rows with `FOR UPDATE SKIP LOCKED`,
/// so nodes claiming at the same time never take the same job and never wait on each other.
extension PostgresJobStore: TaskQueue {
    public func claimDueTasks(
        limit: Int, now: Date, worker: String, leaseUntil: Date, orgTurns: [String: UInt64]
    ) async throws -> [ClaimedTask] {
        guard limit > 0 else { return [] }
        let nowMillis = Timestamp.millis(now)
        let logger = self.logger
        return try await transaction { connection in
            let orgs = try await Self.dueOrgs(connection, now: nowMillis, orgTurns: orgTurns, limit: limit, logger: logger)
            guard !orgs.isEmpty else { return [] }
            // An even share per org in turn order, then what is left in the same order.
            let share = max(1, limit / orgs.count)
            var rows: [[PostgresRandomAccessRow]] = []
            for org in orgs {
                rows.append(try await Self.claimRows(connection, org: org, count: share, now: nowMillis, logger: logger))
            }
            var claimedCount = rows.reduce(0) { $0 + $1.count }
            for (index, org) in orgs.enumerated() where claimedCount < limit && rows[index].count == share {
                let more = try await Self.claimRows(
                    connection, org: org, count: limit - claimedCount, now: nowMillis, logger: logger)
                rows[index] += more
                claimedCount += more.count
            }
            // Interleave so that the orgs' jobs alternate in the order they start.
            var ordered: [PostgresRandomAccessRow] = []
            for round in 0..<(rows.map(\.count).max() ?? 0) {
                for org in rows where round < org.count { ordered.append(org[round]) }
            }
            let jobIDs = try ordered.map { try $0.string("id") }
            var earlierTasks: [String: [JobTask]] = [:]
            for row in try await PostgresRows.all(
                connection.query("SELECT * FROM tasks WHERE job_id = ANY(\(jobIDs)) ORDER BY job_id, attempt", logger: logger))
            {
                let task = try PostgresRows.task(row)
                earlierTasks[task.jobID, default: []].append(task)
            }
            var jobTypes: [String: JobType?] = [:]
            var claimed: [ClaimedTask] = []
            for row in ordered {
                let jobID = try row.string("id")
                let jobTypeID = try row.string("job_type_id")
                if jobTypes[jobTypeID] == nil {
                    jobTypes[jobTypeID] = try await PostgresRows.all(
                        connection.query("SELECT * FROM job_types WHERE id = \(jobTypeID)", logger: logger)
                    ).first.map(PostgresRows.jobType)
                }
                guard let jobType = jobTypes[jobTypeID] ?? nil else {
                    try await Self.endJob(
                        connection, id: jobID, status: .failed, result: "job type '\(jobTypeID)' not found",
                        now: nowMillis, logger: logger)
                    continue
                }
                let job = try PostgresRows.job(row, tasks: earlierTasks[jobID] ?? [])
                let task = JobTask(
                    id: Identifier.make(prefix: "task", at: now), jobID: jobID,
                    kind: TaskKind(rawValue: try row.optionalString("next_kind") ?? "initial") ?? .initial,
                    attempt: try row.int("attempts"), status: .running, createdAt: Timestamp.date(millis: nowMillis),
                    startedAt: Timestamp.date(millis: nowMillis))
                try await connection.query(
                    """
                    INSERT INTO tasks(id, job_id, kind, attempt, status, created_at, started_at, lease_owner, lease_expires_at)
                    VALUES (\(task.id), \(jobID), \(task.kind.rawValue), \(task.attempt), 'RUNNING', \(nowMillis),
                            \(nowMillis), \(worker), \(Timestamp.millis(leaseUntil)))
                    """, logger: logger)
                claimed.append(
                    ClaimedTask(
                        job: job, task: task, executor: jobType.executor,
                        deadline: try row.date("deadline_at"), dueAt: try row.date("due_at")))
            }
            return claimed
        }
    }

    /// Orgs with due work, in turn order (fewest recent turns first), at most `limit`.
    /// A loose index scan: one index probe per org with pending work.
    static func dueOrgs(
        _ connection: PostgresConnection, now: Int64, orgTurns: [String: UInt64], limit: Int, logger: Logger
    ) async throws -> [String] {
        var orgs: [(org: String, firstDue: Int64)] = []
        for row in try await PostgresRows.all(
            connection.query(
                """
                WITH RECURSIVE orgs(org_id) AS (
                    (SELECT org_id FROM jobs WHERE next_run_at IS NOT NULL ORDER BY org_id LIMIT 1)
                    UNION ALL
                    SELECT (SELECT j.org_id FROM jobs j
                            WHERE j.next_run_at IS NOT NULL AND j.org_id > orgs.org_id ORDER BY j.org_id LIMIT 1)
                    FROM orgs WHERE orgs.org_id IS NOT NULL
                )
                SELECT orgs.org_id, first.next_run_at FROM orgs
                CROSS JOIN LATERAL (
                    SELECT next_run_at FROM jobs
                    WHERE jobs.org_id = orgs.org_id AND next_run_at IS NOT NULL
                    ORDER BY next_run_at LIMIT 1
                ) AS first
                WHERE orgs.org_id IS NOT NULL AND first.next_run_at <= \(now)
                """, logger: logger))
        {
            orgs.append((try row.string("org_id"), try row.int64("next_run_at")))
        }
        orgs.sort { left, right in
            let l = orgTurns[left.org] ?? 0, r = orgTurns[right.org] ?? 0
            return l != r ? l < r : left.firstDue < right.firstDue
        }
        return orgs.prefix(limit).map(\.org)
    }

    /// Claims up to `count` of `org`'s due jobs, River-style: a CTE selects them in due order
    /// with `FOR UPDATE SKIP LOCKED` (rows another node is claiming are passed over), and the
    /// same statement moves them to `RUNNING` and returns them with their due time.
    static func claimRows(
        _ connection: PostgresConnection, org: String, count: Int, now: Int64, logger: Logger
    ) async throws -> [PostgresRandomAccessRow] {
        try await PostgresRows.all(
            connection.query(
                """
                WITH due AS (
                    SELECT id, next_run_at FROM jobs
                    WHERE org_id = \(org) AND next_run_at IS NOT NULL AND next_run_at <= \(now)
                      AND (deadline_at IS NULL OR deadline_at > \(now))
                    ORDER BY next_run_at, id
                    LIMIT \(count)
                    FOR UPDATE SKIP LOCKED
                )
                UPDATE jobs SET status = 'RUNNING',
                                started_at = COALESCE(jobs.started_at, \(now)),
                                deadline_at = COALESCE(jobs.deadline_at,
                                    \(now) + ROUND((jobs.config::json ->> 'max_time_to_complete')::float8 * 60000)::bigint),
                                attempts = jobs.attempts + 1,
                                next_run_at = NULL,
                                updated_at = \(now)
                FROM due WHERE jobs.id = due.id
                RETURNING jobs.*, due.next_run_at AS due_at
                """, logger: logger))
    }

    public func finishTask(taskID: String, worker: String, outcome: TaskOutcome, now: Date) async throws -> FinishedTask? {
        let logger = self.logger
        return try await transaction { connection in
            try await Self.resolveTask(
                connection, taskID: taskID, requireOwner: worker, outcome: outcome, now: now, logger: logger)
        }
    }

    public func renewLeases(taskIDs: [String], worker: String, until: Date) async throws -> Set<String> {
        guard !taskIDs.isEmpty else { return [] }
        let held = try await client.query(
            """
            UPDATE tasks SET lease_expires_at = \(Timestamp.millis(until))
            WHERE status = 'RUNNING' AND lease_owner = \(worker) AND id = ANY(\(taskIDs))
            RETURNING id
            """, logger: logger
        ).collect().map { try $0.decode(String.self) }
        return Set(taskIDs).subtracting(held)
    }

    public func rescueExpiredLeases(now: Date) async throws -> [FinishedTask] {
        let logger = self.logger
        return try await transaction { connection in
            // No lock here: `resolveTask` locks the job, then the task (the one lock order), and
            // re-checks that the task is still running.
            let expired = try await connection.query(
                """
                SELECT id FROM tasks WHERE status = 'RUNNING' AND lease_expires_at < \(Timestamp.millis(now))
                """, logger: logger
            ).collect().map { try $0.decode(String.self) }
            var finished: [FinishedTask] = []
            for taskID in expired {
                if let done = try await Self.resolveTask(
                    connection, taskID: taskID, requireOwner: nil,
                    outcome: .failed(error: JobStateMachine.workerLost, retryable: true), now: now, logger: logger)
                {
                    finished.append(done)
                }
            }
            return finished
        }
    }

    public func failJobsPastDeadline(now: Date) async throws -> [FinishedTask] {
        let logger = self.logger
        let nowMillis = Timestamp.millis(now)
        return try await transaction { connection in
            let jobs = try await connection.query(
                "SELECT id FROM jobs WHERE status = 'RUNNING' AND deadline_at <= \(nowMillis) FOR UPDATE SKIP LOCKED",
                logger: logger
            ).collect().map { try $0.decode(String.self) }
            var finished: [FinishedTask] = []
            for jobID in jobs {
                let running = try await connection.query(
                    "SELECT id FROM tasks WHERE job_id = \(jobID) AND status = 'RUNNING'", logger: logger
                ).collect().map { try $0.decode(String.self) }
                if running.isEmpty {
                    try await Self.endJob(
                        connection, id: jobID, status: .failed, result: JobStateMachine.maxTimeExceeded, now: nowMillis,
                        logger: logger)
                    finished.append(FinishedTask(jobID: jobID, taskID: "", taskStatus: .failed, jobStatus: .failed, nextRunAt: nil))
                }
                for taskID in running {
                    if let done = try await Self.resolveTask(
                        connection, taskID: taskID, requireOwner: nil, outcome: .deadlineExceeded, now: now, logger: logger)
                    {
                        finished.append(done)
                    }
                }
            }
            return finished
        }
    }

    public func wakeTimes() async throws -> WakeTimes {
        let row = try await PostgresRows.all(
            client.query(
                """
                SELECT (SELECT MIN(next_run_at) FROM jobs WHERE next_run_at IS NOT NULL) AS next_due,
                       (SELECT MIN(deadline_at) FROM jobs WHERE status = 'RUNNING') AS next_deadline,
                       (SELECT MIN(lease_expires_at) FROM tasks WHERE status = 'RUNNING') AS next_lease
                """, logger: logger)
        ).first
        return WakeTimes(
            nextDue: try row?.optionalDate("next_due"), nextDeadline: try row?.optionalDate("next_deadline"),
            nextLeaseExpiry: try row?.optionalDate("next_lease"))
    }

    public func jobCountsByStatus() async throws -> [JobStatus: Int] {
        var counts: [JobStatus: Int] = [:]
        for row in try await PostgresRows.all(
            client.query("SELECT status, COUNT(*) AS n FROM jobs GROUP BY status", logger: logger))
        {
            if let status = JobStatus(rawValue: try row.string("status")) { counts[status] = Int(try row.int64("n")) }
        }
        return counts
    }

    /// Ends a running task with `outcome` and moves its job on, if the task is still `RUNNING`
    /// (and, with `requireOwner`, still leased to that worker): the fence. Rows are locked so
    /// that a concurrent cancel, rescue or sweep serializes with it.
    static func resolveTask(
        _ connection: PostgresConnection, taskID: String, requireOwner: String?, outcome: TaskOutcome, now: Date,
        logger: Logger
    ) async throws -> FinishedTask? {
        guard let task = try await PostgresRows.all(
            connection.query("SELECT job_id, status, lease_owner FROM tasks WHERE id = \(taskID)", logger: logger)).first
        else { return nil }
        let jobID = try task.string("job_id")
        // Lock order everywhere: the job row, then its tasks.
        guard let job = try await PostgresRows.all(
            connection.query("SELECT * FROM jobs WHERE id = \(jobID) FOR UPDATE", logger: logger)).first
        else { return nil }
        guard let current = try await PostgresRows.all(
            connection.query("SELECT status, lease_owner FROM tasks WHERE id = \(taskID) FOR UPDATE", logger: logger)).first,
            try current.string("status") == TaskStatus.running.rawValue
        else { return nil }
        if let requireOwner, try current.optionalString("lease_owner") != requireOwner { return nil }
        let config = try PostgresRows.decoder.decode(JobConfig.self, from: Data(try job.string("config").utf8))
        let progress = JobProgress(
            attempts: try job.int("attempts"), followUps: try job.int("follow_ups"), retries: try job.int("retries"))
        let resolution = JobStateMachine.resolve(outcome, config: config, progress: progress, now: now)
        let nowMillis = Timestamp.millis(now)
        try await connection.query(
            """
            UPDATE tasks SET status = \(resolution.taskStatus.rawValue), result = \(resolution.taskResult),
                             error = \(resolution.taskError), finished_at = \(nowMillis),
                             lease_owner = NULL, lease_expires_at = NULL
            WHERE id = \(taskID)
            """, logger: logger)
        let jobStatus: JobStatus
        var nextRunAt: Date?
        switch resolution.decision {
        case .complete(let result):
            jobStatus = .completed
            try await endJob(connection, id: jobID, status: .completed, result: result, now: nowMillis, logger: logger)
        case .fail(let result):
            jobStatus = .failed
            try await endJob(connection, id: jobID, status: .failed, result: result, now: nowMillis, logger: logger)
        case .runNext(let kind, let at):
            jobStatus = .running
            nextRunAt = at
            let atMillis = Timestamp.millis(at)
            try await connection.query(
                """
                UPDATE jobs SET next_run_at = \(atMillis), next_kind = \(kind.rawValue),
                                follow_ups = \(resolution.progress.followUps), retries = \(resolution.progress.retries),
                                updated_at = \(nowMillis)
                WHERE id = \(jobID)
                """, logger: logger)
            try await connection.query("SELECT pg_notify(\(dueChannel), \(String(atMillis)))", logger: logger)
        }
        return FinishedTask(
            jobID: jobID, taskID: taskID, taskStatus: resolution.taskStatus, jobStatus: jobStatus, nextRunAt: nextRunAt)
    }

    static func endJob(
        _ connection: PostgresConnection, id: String, status: JobStatus, result: String, now: Int64, logger: Logger
    ) async throws {
        try await connection.query(
            """
            UPDATE jobs SET status = \(status.rawValue), result = \(result), finished_at = \(now), updated_at = \(now),
                            next_run_at = NULL
            WHERE id = \(id)
            """, logger: logger)
    }
}
