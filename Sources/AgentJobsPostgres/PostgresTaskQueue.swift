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
            let picked = try await Self.pickDueJobs(connection, limit: limit, now: nowMillis, orgTurns: orgTurns, logger: logger)
            guard !picked.isEmpty else { return [] }
            var claimed: [ClaimedTask] = []
            var jobTypes: [String: JobType?] = [:]
            for row in try await PostgresRows.all(
                connection.query("SELECT * FROM jobs WHERE id = ANY(\(picked))", logger: logger))
            {
                let jobID = try row.string("id")
                guard let dueMillis = try row.optionalInt64("next_run_at"), dueMillis <= nowMillis else { continue }
                let jobTypeID = try row.string("job_type_id")
                if jobTypes[jobTypeID] == nil {
                    jobTypes[jobTypeID] = try await PostgresRows.all(
                        connection.query("SELECT * FROM job_types WHERE id = \(jobTypeID)", logger: logger)
                    ).first.map(PostgresRows.jobType)
                }
                let tasks = try await PostgresRows.all(
                    connection.query("SELECT * FROM tasks WHERE job_id = \(jobID) ORDER BY attempt", logger: logger)
                ).map(PostgresRows.task)
                var job = try PostgresRows.job(row, tasks: tasks)
                let deadlineMillis = try row.optionalInt64("deadline_at")
                    ?? nowMillis + Int64((job.config.maxTimeToComplete * 60_000).rounded())
                guard deadlineMillis > nowMillis else { continue }
                guard let jobType = jobTypes[jobTypeID] ?? nil else {
                    try await Self.endJob(
                        connection, id: jobID, status: .failed, result: "job type '\(jobTypeID)' not found",
                        now: nowMillis, logger: logger)
                    continue
                }
                let attempts = try row.int("attempts")
                let task = JobTask(
                    id: Identifier.make(prefix: "task", at: now), jobID: jobID,
                    kind: TaskKind(rawValue: try row.optionalString("next_kind") ?? "initial") ?? .initial,
                    attempt: attempts + 1, status: .running, createdAt: Timestamp.date(millis: nowMillis),
                    startedAt: Timestamp.date(millis: nowMillis))
                try await connection.query(
                    """
                    INSERT INTO tasks(id, job_id, kind, attempt, status, created_at, started_at, lease_owner, lease_expires_at)
                    VALUES (\(task.id), \(jobID), \(task.kind.rawValue), \(task.attempt), 'RUNNING', \(nowMillis),
                            \(nowMillis), \(worker), \(Timestamp.millis(leaseUntil)))
                    """, logger: logger)
                try await connection.query(
                    """
                    UPDATE jobs SET status = 'RUNNING', started_at = COALESCE(started_at, \(nowMillis)),
                                    deadline_at = \(deadlineMillis), attempts = attempts + 1, next_run_at = NULL,
                                    updated_at = \(nowMillis)
                    WHERE id = \(jobID)
                    """, logger: logger)
                job.status = .running
                job.startedAt = job.startedAt ?? Timestamp.date(millis: nowMillis)
                claimed.append(
                    ClaimedTask(
                        job: job, task: task, executor: jobType.executor,
                        deadline: Timestamp.date(millis: deadlineMillis), dueAt: Timestamp.date(millis: dueMillis)))
            }
            return claimed
        }
    }

    /// Orgs with due work in turn order, one job each per round; rows are locked with
    /// `FOR UPDATE SKIP LOCKED`, so a job another node is claiming is simply passed over.
    static func pickDueJobs(
        _ connection: PostgresConnection, limit: Int, now: Int64, orgTurns: [String: UInt64], logger: Logger
    ) async throws -> [String] {
        // Loose index scan: one index probe per org with pending work.
        var dueOrgs: [(org: String, firstDue: Int64)] = []
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
            dueOrgs.append((try row.string("org_id"), try row.int64("next_run_at")))
        }
        dueOrgs.sort { left, right in
            let l = orgTurns[left.org] ?? 0, r = orgTurns[right.org] ?? 0
            return l != r ? l < r : left.firstDue < right.firstDue
        }
        let orgs = Array(dueOrgs.prefix(limit))
        guard !orgs.isEmpty else { return [] }
        // Lock an even share per org first, then fill any remaining slots in turn order.
        let share = max(1, limit / orgs.count)
        var queues: [[String]] = []
        for (org, _) in orgs {
            queues.append(
                try await connection.query(
                    """
                    SELECT id FROM jobs WHERE org_id = \(org) AND next_run_at IS NOT NULL AND next_run_at <= \(now)
                    ORDER BY next_run_at, id LIMIT \(share) FOR UPDATE SKIP LOCKED
                    """, logger: logger
                ).collect().map { try $0.decode(String.self) })
        }
        var picked: [String] = []
        var round = 0
        while picked.count < limit {
            var tookAny = false
            for queue in queues where round < queue.count && picked.count < limit {
                picked.append(queue[round])
                tookAny = true
            }
            if !tookAny { break }
            round += 1
        }
        if picked.count < limit {
            for (index, (org, _)) in orgs.enumerated() where queues[index].count == share && picked.count < limit {
                let more = try await connection.query(
                    """
                    SELECT id FROM jobs WHERE org_id = \(org) AND next_run_at IS NOT NULL AND next_run_at <= \(now)
                      AND id <> ALL(\(picked))
                    ORDER BY next_run_at, id LIMIT \(limit - picked.count) FOR UPDATE SKIP LOCKED
                    """, logger: logger
                ).collect().map { try $0.decode(String.self) }
                picked += more
            }
        }
        return picked
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
