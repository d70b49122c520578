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
            let (due, databaseNow) = try await Self.dueOrgs(
                connection, nowSQL: nowSQL, statements: statements, logger: logger)
            guard let databaseNow else { return [] }
            var request = request
            request.leaseUntil = databaseNow.addingTimeInterval(request.leaseUntil.timeIntervalSince(request.now))
            request.now = databaseNow
            let now = Timestamp.millis(databaseNow)
            let order = ClaimOrder(due: due, request: request)
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
            let states = try ordered.map(PostgresRows.runState)
            // Earlier tasks exist only for jobs that ran before (a retry or a follow-up).
            let rerun = states.filter { $0.progress.attempts > 0 }.map(\.id)
            var earlierTasks: [String: [JobTask]] = [:]
            if !rerun.isEmpty {
                for row in try await PostgresRows.all(
                    connection.query(
                        "SELECT * FROM tasks WHERE job_id = ANY(\(rerun)) ORDER BY job_id, attempt", logger: logger))
                {
                    let task = try PostgresRows.task(row)
                    earlierTasks[task.jobID, default: []].append(task)
                }
            }
            // A task that gets events starts after them, also when the claim's clock was read
            // before they were recorded.
            var eventTimes: [String: Date] = [:]
            let withEvents = states.filter { $0.pendingEvents > 0 }.map(\.id)
            if !withEvents.isEmpty {
                for try await (jobID, at) in try await connection.query(
                    """
                    SELECT job_id, MAX(created_at) FROM job_events
                    WHERE job_id = ANY(\(withEvents)) AND delivered_to_task_id IS NULL GROUP BY job_id
                    """, logger: logger
                ).decode((String, Int64).self) {
                    eventTimes[jobID] = Timestamp.date(millis: at)
                }
            }
            var transitions: [JobTransition] = []
            var claimed: [ClaimedTask] = []
            for (row, state) in zip(ordered, states) {
                let jobType = try await self.jobTypes.jobType(id: state.jobTypeID) {
                    try await PostgresRows.all(
                        connection.query("SELECT * FROM job_types WHERE id = \(state.jobTypeID)", logger: logger)
                    ).first.map(PostgresRows.jobType)
                }
                guard let jobType else {
                    transitions.append(
                        JobStateMachine.fail(
                            state, result: "job type '\(state.jobTypeID)' not found", now: request.now))
                    continue
                }
                let start = ClaimStart(state, for: request, eventsAt: eventTimes[state.id])
                transitions.append(start.transition)
                if let task = start.claimedTask(
                    job: try PostgresRows.job(row, tasks: earlierTasks[state.id] ?? []), jobType: jobType,
                    dueAt: state.nextRunAt ?? request.now, events: [])
                {
                    claimed.append(task)
                }
            }
            let delivered = try await PostgresTransitions.apply(transitions, connection, logger: logger)
            for index in claimed.indices { claimed[index].events = delivered[claimed[index].task.id] ?? [] }
            return claimed
        }
    }

    /// Orgs with due work, and the database's clock (`nil` when no org has due work). A loose
    /// index scan: one index probe per org with pending work.
    ///
    /// It also turns bitmap scans off for the rest of the claim's transaction: on a table
    /// filled faster than autovacuum analyzes it (no statistics) the planner would read every
    /// due job of an org through a bitmap and sort them (12 ms at 10,000 due jobs) instead of
    /// walking `jobs_due_by_org` in order (0.2 ms).
    static func dueOrgs(
        _ connection: PostgresConnection, nowSQL: String, statements: Statements, logger: Logger
    ) async throws -> ([DueOrg], Date?) {
        let rows = try await statements.rows(
            """
            WITH RECURSIVE orgs(org_id) AS (
                (SELECT org_id FROM jobs WHERE next_run_at IS NOT NULL ORDER BY org_id LIMIT 1)
                UNION ALL
                SELECT (SELECT j.org_id FROM jobs j
                        WHERE j.next_run_at IS NOT NULL AND j.org_id > orgs.org_id ORDER BY j.org_id LIMIT 1)
                FROM orgs WHERE orgs.org_id IS NOT NULL
            ), now AS (
                SELECT \(unescaped: nowSQL) AS millis, set_config('enable_bitmapscan', 'off', true) AS planned
            )
            SELECT orgs.org_id, first.next_run_at, now.millis AS database_now FROM orgs
            CROSS JOIN now
            CROSS JOIN LATERAL (
                SELECT next_run_at FROM jobs
                WHERE jobs.org_id = orgs.org_id AND next_run_at IS NOT NULL
                ORDER BY next_run_at LIMIT 1
            ) AS first
            WHERE orgs.org_id IS NOT NULL AND first.next_run_at <= now.millis
            """, on: connection, logger: logger)
        let due = try rows.map { DueOrg(orgID: try $0.string("org_id"), firstDue: try $0.date("next_run_at")) }
        return (due, try rows.first?.date("database_now"))
    }

    /// Locks up to `count` of `org`'s due jobs in due order, River-style: rows another node is
    /// claiming are passed over (`SKIP LOCKED`). `after`: the last row of an earlier round.
    static func lockDueJobs(
        _ connection: PostgresConnection, org: String, now: Int64, count: Int, after: PostgresRandomAccessRow?,
        logger: Logger
    ) async throws -> [PostgresRandomAccessRow] {
        // Unnamed, planned for their values each time (`Statements` says why).
        guard let after else {
            return try await PostgresRows.all(
                connection.query(
                    """
                    SELECT \(unescaped: PostgresRows.jobColumns) FROM jobs
                    WHERE org_id = \(org) AND next_run_at IS NOT NULL AND next_run_at <= \(now)
                    ORDER BY next_run_at, id
                    LIMIT \(count)
                    FOR UPDATE SKIP LOCKED
                    """, logger: logger))
        }
        let afterDue = try after.int64("next_run_at")
        let afterID = try after.string("id")
        return try await PostgresRows.all(
            connection.query(
                """
                SELECT \(unescaped: PostgresRows.jobColumns) FROM jobs
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
        try await finishes.submit(FinishRequest(taskID: taskID, worker: worker, outcome: outcome, now: now))
    }

    /// Records a batch of outcomes in one transaction (the finishes' group commit): the jobs,
    /// then the tasks, locked in id order; each outcome fenced by its task's lease. An outcome
    /// for a job that another outcome of the batch already changed goes in a following batch.
    static func finish(
        _ requests: [FinishRequest], client: PostgresClient, nowSQL: @escaping @Sendable () -> String, logger: Logger
    ) async throws -> [Result<FinishedTask?, any Error>] {
        var deferred: [Int] = []
        var results = [Result<FinishedTask?, any Error>](repeating: .success(nil), count: requests.count)
        try await PostgresJobStore.transaction(client, logger: logger) { connection in
            let locked = try await lockRunningTasks(
                requests.map(\.taskID), connection, nowSQL: nowSQL(), logger: logger)
            var touched = Set<String>()
            var transitions: [JobTransition] = []
            for (index, request) in requests.enumerated() {
                guard let (state, task) = locked.tasks[request.taskID] else { continue }
                guard touched.insert(state.id).inserted else {
                    deferred.append(index)
                    continue
                }
                guard
                    let transition = JobStateMachine.finish(
                        state, task: task, reportedBy: request.worker, outcome: request.outcome,
                        now: locked.databaseNow)
                else { continue }
                transitions.append(transition)
                results[index] = .success(transition.finished)
            }
            try await PostgresTransitions.apply(transitions, connection, logger: logger)
        }
        if !deferred.isEmpty {
            let later = try await finish(
                deferred.map { requests[$0] }, client: client, nowSQL: nowSQL, logger: logger)
            for (index, result) in zip(deferred, later) { results[index] = result }
        }
        return results
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
            guard !expired.isEmpty else { return [] }
            // Re-read under the locks: a lease may have been renewed since the select.
            let locked = try await Self.lockRunningTasks(
                expired, connection, nowSQL: nowSQL, logger: logger)
            let transitions = expired.compactMap { taskID in
                locked.tasks[taskID].flatMap { state, task in
                    JobStateMachine.rescue(state, task: task, now: locked.databaseNow)
                }
            }
            try await PostgresTransitions.apply(transitions, connection, logger: logger)
            return transitions.map(\.finished)
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
            guard !rows.isEmpty else { return [] }
            let states = try rows.map(PostgresRows.runState)
            var running: [String: TaskLeaseState] = [:]
            for row in try await PostgresRows.all(
                connection.query(
                    """
                    SELECT id, job_id, status, lease_owner, lease_expires_at FROM tasks
                    WHERE job_id = ANY(\(states.map(\.id))) AND status = 'RUNNING' ORDER BY id FOR UPDATE
                    """, logger: logger))
            {
                running[try row.string("job_id")] = try PostgresRows.leaseState(row)
            }
            let transitions = states.compactMap { state in
                JobStateMachine.expire(state, runningTask: running[state.id], now: now)
            }
            try await PostgresTransitions.apply(transitions, connection, logger: logger)
            return transitions.map(\.finished)
        }
    }

    public func wakeTimes() async throws -> WakeTimes {
        let row = try await statements.rows(
            """
            SELECT (SELECT MIN(next_run_at) FROM jobs WHERE next_run_at IS NOT NULL) AS next_due,
                   (SELECT MIN(deadline_at) FROM jobs WHERE status = 'RUNNING') AS next_deadline,
                   (SELECT MIN(lease_expires_at) FROM tasks WHERE status = 'RUNNING') AS next_lease,
                   (SELECT MIN(next_run_at) FROM schedules WHERE next_run_at IS NOT NULL) AS next_schedule,
                   \(unescaped: nowSQL) AS database_now
            """, on: client, logger: logger
        ).first
        return WakeTimes(
            nextDue: try row?.optionalDate("next_due"), nextDeadline: try row?.optionalDate("next_deadline"),
            nextLeaseExpiry: try row?.optionalDate("next_lease"), nextSchedule: try row?.optionalDate("next_schedule"),
            observedAt: try row?.optionalDate("database_now"))
    }

    public func foldCountDeltas() async throws {
        // One statement: the deltas it moves leave the table as their sums reach the counts,
        // so a reader (which sums both in one snapshot) never sees them twice or not at all.
        let moved =
            try await client.query(
                """
                WITH moved AS (
                    DELETE FROM job_count_deltas RETURNING org_id, status, job_type_id, channel_code, delta
                ), folded AS (
                    INSERT INTO job_counts(org_id, status, job_type_id, channel_code, count)
                    SELECT org_id, status, job_type_id, channel_code, SUM(delta) FROM moved
                    GROUP BY org_id, status, job_type_id, channel_code
                    ON CONFLICT (org_id, status, job_type_id, channel_code)
                    DO UPDATE SET count = job_counts.count + EXCLUDED.count
                )
                SELECT COUNT(*) FROM moved
                """, logger: logger
            ).collect().first?.decode(Int64.self) ?? 0
        // The deleted deltas stay in the table's pages and index until a vacuum, and every
        // total reads past them: clear them now rather than at autovacuum's next minute.
        if moved > 0 { try await client.query("VACUUM job_count_deltas", logger: logger) }
    }

    public func jobCountsByStatus() async throws -> [JobStatus: Int] {
        var counts: [JobStatus: Int] = [:]
        for row in try await PostgresRows.all(
            client.query(
                """
                SELECT status, SUM(n)::bigint AS n FROM (
                    SELECT status, count AS n FROM job_counts UNION ALL SELECT status, delta AS n FROM job_count_deltas
                ) AS counted GROUP BY status
                """, logger: logger))
        {
            counts[try JobStatus.stored(try row.string("status"), column: "jobs.status")] = Int(try row.int64("n"))
        }
        return counts
    }

    /// Tasks with their jobs' states, all rows locked: the jobs first, then the tasks, each in
    /// id order (the one lock order, so that finishing, rescue, the deadline sweep and cancel
    /// serialize without deadlocks). Tasks that do not exist are left out.
    static func lockRunningTasks(
        _ taskIDs: [String], _ connection: PostgresConnection, nowSQL: String, logger: Logger
    ) async throws -> (tasks: [String: (JobRunState, TaskLeaseState)], databaseNow: Date) {
        // Unnamed, planned for their values each time (`Statements` says why).
        let jobRows = try await PostgresRows.all(
            connection.query(
                """
                SELECT \(unescaped: PostgresRows.jobColumns), \(unescaped: nowSQL) AS database_now FROM jobs
                WHERE id IN (SELECT job_id FROM tasks WHERE id = ANY(\(taskIDs)))
                ORDER BY id FOR UPDATE
                """, logger: logger))
        guard let databaseNow = try jobRows.first?.date("database_now") else { return ([:], Date()) }
        var jobs: [String: JobRunState] = [:]
        for row in jobRows {
            let state = try PostgresRows.runState(row)
            jobs[state.id] = state
        }
        var tasks: [String: (JobRunState, TaskLeaseState)] = [:]
        for row in try await PostgresRows.all(
            connection.query(
                """
                SELECT id, job_id, status, lease_owner, lease_expires_at FROM tasks
                WHERE id = ANY(\(taskIDs)) ORDER BY id FOR UPDATE
                """, logger: logger))
        {
            guard let job = jobs[try row.string("job_id")] else { continue }
            let task = try PostgresRows.leaseState(row)
            tasks[task.id] = (job, task)
        }
        return (tasks, databaseNow)
    }

    /// The database's clock: every due, lease and deadline comparison on PostgreSQL uses it,
    /// so a node whose clock is off neither starts jobs early nor rescues healthy tasks.
    func databaseNow(_ connection: PostgresConnection) async throws -> Date {
        let millis = try await connection.query("SELECT \(unescaped: nowSQL)", logger: logger)
            .collect().first?.decode(Int64.self)
        return millis.map { Timestamp.date(millis: $0) } ?? Date()
    }
}
