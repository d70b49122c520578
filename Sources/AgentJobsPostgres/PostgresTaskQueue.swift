import AgentJobsCore
import Foundation
import Logging
import PostgresNIO

/// The engine's side of the PostgreSQL store. Claims lock rows with `FOR UPDATE SKIP LOCKED`,
/// so nodes claiming at the same time never take the same job and never wait on each other.
/// Every change of a job is a `JobTransition` from `JobStateMachine`, applied by
/// `PostgresTransitions.apply`; rows are locked job first, then task, everywhere.
extension PostgresJobStore: TaskQueue {
    public func claimDueTasks(_ request: ClaimRequest) async throws -> [ClaimedTask] {
        guard request.limit > 0 else { return [] }
        let logger = self.logger
        return try await transaction { connection in
            // The database's clock decides what is due; the lease keeps its requested length.
            let databaseNow = try await self.databaseNow(connection)
            var request = request
            request.leaseUntil = databaseNow.addingTimeInterval(request.leaseUntil.timeIntervalSince(request.now))
            request.now = databaseNow
            let now = Timestamp.millis(databaseNow)
            let order = ClaimOrder(due: try await Self.dueOrgs(connection, now: now, logger: logger), request: request)
            var rows: [String: [PostgresRandomAccessRow]] = [:]
            for (org, count) in order.firstRound() {
                rows[org] = try await Self.lockDueJobs(
                    connection, org: org, now: now, count: count, after: nil, logger: logger)
            }
            for (org, count) in order.secondRound(taken: rows.mapValues(\.count)) {
                rows[org, default: []] += try await Self.lockDueJobs(
                    connection, org: org, now: now, count: count, after: rows[org]?.last, logger: logger)
            }
            let ordered = order.interleave(rows)
            guard !ordered.isEmpty else { return [] }
            let jobIDs = try ordered.map { try $0.string("id") }
            var earlierTasks: [String: [JobTask]] = [:]
            for row in try await PostgresRows.all(
                connection.query(
                    "SELECT * FROM tasks WHERE job_id = ANY(\(jobIDs)) ORDER BY job_id, attempt", logger: logger))
            {
                let task = try PostgresRows.task(row)
                earlierTasks[task.jobID, default: []].append(task)
            }
            var claimed: [ClaimedTask] = []
            for row in ordered {
                let state = try PostgresRows.runState(row)
                let jobType = try await self.jobTypes.jobType(id: state.jobTypeID) {
                    try await PostgresRows.all(
                        connection.query("SELECT * FROM job_types WHERE id = \(state.jobTypeID)", logger: logger)
                    ).first.map(PostgresRows.jobType)
                }
                guard let jobType else {
                    let failed = JobStateMachine.fail(
                        state, result: "job type '\(state.jobTypeID)' not found", now: request.now)
                    try await PostgresTransitions.apply(failed, connection, logger: logger)
                    continue
                }
                let transition = JobStateMachine.start(
                    state, taskID: Identifier.make(prefix: "task", at: request.now), worker: request.worker,
                    leaseUntil: request.leaseUntil, now: request.now)
                try await PostgresTransitions.apply(transition, connection, logger: logger)
                guard let started = transition.startedTask, let deadline = transition.job.deadlineAt else { continue }
                var job = try PostgresRows.job(row, tasks: earlierTasks[state.id] ?? [])
                job.status = transition.job.status
                job.startedAt = transition.job.startedAt
                job.updatedAt = transition.job.updatedAt
                job.nextRunAt = nil
                claimed.append(
                    ClaimedTask(
                        job: job, task: started.task, jobType: jobType, deadline: deadline,
                        dueAt: state.nextRunAt ?? request.now))
            }
            return claimed
        }
    }

    /// Orgs with due work. A loose index scan: one index probe per org with pending work.
    static func dueOrgs(_ connection: PostgresConnection, now: Int64, logger: Logger) async throws -> [DueOrg] {
        try await PostgresRows.all(
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
                """, logger: logger)
        ).map { DueOrg(orgID: try $0.string("org_id"), firstDue: try $0.date("next_run_at")) }
    }

    /// Locks up to `count` of `org`'s due jobs in due order, River-style: rows another node is
    /// claiming are passed over (`SKIP LOCKED`). `after`: the last row of an earlier round.
    static func lockDueJobs(
        _ connection: PostgresConnection, org: String, now: Int64, count: Int, after: PostgresRandomAccessRow?,
        logger: Logger
    ) async throws -> [PostgresRandomAccessRow] {
        let afterDue = try after?.int64("next_run_at") ?? Int64.min
        let afterID = try after?.string("id") ?? ""
        return try await PostgresRows.all(
            connection.query(
                """
                SELECT * FROM jobs
                WHERE org_id = \(org) AND next_run_at IS NOT NULL AND next_run_at <= \(now)
                  AND (next_run_at, id) > (\(afterDue), \(afterID))
                ORDER BY next_run_at, id
                LIMIT \(count)
                FOR UPDATE SKIP LOCKED
                """, logger: logger))
    }

    public func finishTask(
        taskID: String, worker: String, outcome: TaskOutcome, now: Date
    ) async throws -> FinishedTask? {
        let logger = self.logger
        return try await transaction { connection in
            guard
                let (state, task, databaseNow) = try await Self.lockRunningTask(
                    taskID, connection, nowSQL: nowSQL, logger: logger),
                let transition = JobStateMachine.finish(
                    state, task: task, reportedBy: worker, outcome: outcome, now: databaseNow)
            else { return nil }
            try await PostgresTransitions.apply(transition, connection, logger: logger)
            return transition.finished
        }
    }

    public func renewLeases(
        taskIDs: [String], worker: String, now: Date, leaseDuration: TimeInterval
    ) async throws
        -> Set<String>
    {
        guard !taskIDs.isEmpty else { return [] }
        let leaseMillis = Int64((leaseDuration * 1000).rounded())
        let held = try await client.query(
            """
            UPDATE tasks SET lease_expires_at = \(unescaped: nowSQL) + \(leaseMillis)
            WHERE status = 'RUNNING' AND lease_owner = \(worker) AND id = ANY(\(taskIDs))
            RETURNING id
            """, logger: logger
        ).collect().map { try $0.decode(String.self) }
        return Set(taskIDs).subtracting(held)
    }

    public func rescueExpiredLeases(now: Date) async throws -> [FinishedTask] {
        let logger = self.logger
        return try await transaction { connection in
            let expired = try await connection.query(
                """
                SELECT id FROM tasks
                WHERE status = 'RUNNING' AND lease_expires_at < \(unescaped: nowSQL)
                """, logger: logger
            ).collect().map { try $0.decode(String.self) }
            var finished: [FinishedTask] = []
            for taskID in expired {
                // Re-read under the locks: the lease may have been renewed since the select.
                guard
                    let (state, task, databaseNow) = try await Self.lockRunningTask(
                        taskID, connection, nowSQL: nowSQL, logger: logger),
                    let transition = JobStateMachine.rescue(state, task: task, now: databaseNow)
                else { continue }
                try await PostgresTransitions.apply(transition, connection, logger: logger)
                finished.append(transition.finished)
            }
            return finished
        }
    }

    public func failJobsPastDeadline(now: Date) async throws -> [FinishedTask] {
        let logger = self.logger
        return try await transaction { connection in
            let now = try await self.databaseNow(connection)
            let rows = try await PostgresRows.all(
                connection.query(
                    """
                    SELECT * FROM jobs WHERE status = 'RUNNING' AND deadline_at <= \(Timestamp.millis(now))
                    FOR UPDATE SKIP LOCKED
                    """, logger: logger))
            var finished: [FinishedTask] = []
            for row in rows {
                let state = try PostgresRows.runState(row)
                let running = try await PostgresRows.all(
                    connection.query(
                        """
                        SELECT id, status, lease_owner, lease_expires_at FROM tasks
                        WHERE job_id = \(state.id) AND status = 'RUNNING' FOR UPDATE
                        """, logger: logger)
                ).first.map(PostgresRows.leaseState)
                guard let transition = JobStateMachine.expire(state, runningTask: running, now: now) else { continue }
                try await PostgresTransitions.apply(transition, connection, logger: logger)
                finished.append(transition.finished)
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
                       (SELECT MIN(lease_expires_at) FROM tasks WHERE status = 'RUNNING') AS next_lease,
                       (SELECT MIN(next_run_at) FROM schedules WHERE next_run_at IS NOT NULL) AS next_schedule,
                       \(unescaped: nowSQL) AS database_now
                """, logger: logger)
        ).first
        return WakeTimes(
            nextDue: try row?.optionalDate("next_due"), nextDeadline: try row?.optionalDate("next_deadline"),
            nextLeaseExpiry: try row?.optionalDate("next_lease"), nextSchedule: try row?.optionalDate("next_schedule"),
            observedAt: try row?.optionalDate("database_now"))
    }

    public func jobCountsByStatus() async throws -> [JobStatus: Int] {
        var counts: [JobStatus: Int] = [:]
        for row in try await PostgresRows.all(
            client.query("SELECT status, COUNT(*) AS n FROM jobs GROUP BY status", logger: logger))
        {
            counts[try JobStatus.stored(try row.string("status"), column: "jobs.status")] = Int(try row.int64("n"))
        }
        return counts
    }

    /// A task with its job's state, both rows locked (job first, then task: the one lock order,
    /// so that finishing, rescue, the deadline sweep and cancel serialize without deadlocks).
    static func lockRunningTask(
        _ taskID: String, _ connection: PostgresConnection, nowSQL: String, logger: Logger
    ) async throws -> (JobRunState, TaskLeaseState, Date)? {
        guard
            let (jobID, databaseNow) = try await connection.query(
                "SELECT job_id, \(unescaped: nowSQL) FROM tasks WHERE id = \(taskID)", logger: logger
            ).collect().first?.decode((String, Int64).self),
            let jobRow = try await PostgresRows.all(
                connection.query("SELECT * FROM jobs WHERE id = \(jobID) FOR UPDATE", logger: logger)
            ).first,
            let taskRow = try await PostgresRows.all(
                connection.query(
                    "SELECT id, status, lease_owner, lease_expires_at FROM tasks WHERE id = \(taskID) FOR UPDATE",
                    logger: logger)
            ).first
        else { return nil }
        return (
            try PostgresRows.runState(jobRow), try PostgresRows.leaseState(taskRow), Timestamp.date(millis: databaseNow)
        )
    }

    /// The database's clock: every due, lease and deadline comparison on PostgreSQL uses it,
    /// so a node whose clock is off neither starts jobs early nor rescues healthy tasks.
    func databaseNow(_ connection: PostgresConnection) async throws -> Date {
        let millis = try await connection.query("SELECT \(unescaped: nowSQL)", logger: logger)
            .collect().first?.decode(Int64.self)
        return millis.map { Timestamp.date(millis: $0) } ?? Date()
    }
}

/// Writes `JobTransition`s: the only code that changes a job's scheduling columns or a task's
/// status in the PostgreSQL store, and sends the transition's announcements.
enum PostgresTransitions {
    static func apply(_ transition: JobTransition, _ connection: PostgresConnection, logger: Logger) async throws {
        if let ended = transition.endedTask {
            try await connection.query(
                """
                UPDATE tasks SET status = \(ended.status.rawValue), result = \(ended.result), error = \(ended.error),
                                 finished_at = \(Timestamp.millis(ended.finishedAt)),
                                 lease_owner = NULL, lease_expires_at = NULL
                WHERE id = \(ended.taskID)
                """, logger: logger)
        }
        if let started = transition.startedTask {
            let task = started.task
            try await connection.query(
                """
                INSERT INTO tasks(id, job_id, kind, attempt, status, created_at, started_at, lease_owner, lease_expires_at)
                VALUES (\(task.id), \(task.jobID), \(task.kind.rawValue), \(task.attempt), \(task.status.rawValue),
                        \(Timestamp.millis(task.createdAt)), \(task.startedAt.map(Timestamp.millis)),
                        \(started.leaseOwner), \(Timestamp.millis(started.leaseUntil)))
                """, logger: logger)
        }
        let job = transition.job
        try await connection.query(
            """
            UPDATE jobs SET status = \(job.status.rawValue), result = \(job.result), cancel_reason = \(job.cancelReason),
                            next_run_at = \(job.next.map { Timestamp.millis($0.at) }), next_kind = \(job.next?.kind.rawValue),
                            attempts = \(job.progress.attempts), follow_ups = \(job.progress.followUps),
                            retries = \(job.progress.retries), started_at = \(job.startedAt.map(Timestamp.millis)),
                            deadline_at = \(job.deadlineAt.map(Timestamp.millis)),
                            finished_at = \(job.finishedAt.map(Timestamp.millis)),
                            updated_at = \(Timestamp.millis(job.updatedAt))
            WHERE id = \(transition.jobID)
            """, logger: logger)
        for announcement in transition.announcements {
            switch announcement {
            case .due(let at):
                try await connection.query(
                    "SELECT pg_notify(\(PostgresJobStore.dueChannel), \(String(Timestamp.millis(at))))", logger: logger)
            case .canceled:
                try await connection.query(
                    "SELECT pg_notify(\(PostgresJobStore.cancelChannel), \(transition.jobID))", logger: logger)
            }
        }
    }
}
