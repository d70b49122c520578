import AgentJobsCore
import Foundation
import GRDB

/// The engine's side of the SQLite store. SQLite has one writer, so a claim's reads and
/// writes run in one write transaction and no row can be claimed twice. Every change of a job
/// is a `JobTransition` from `JobStateMachine`, applied by `SQLiteTransitions.apply`.
extension SQLiteJobStore: TaskQueue {
    public func claimDueTasks(_ request: ClaimRequest) async throws -> [ClaimedTask] {
        guard request.limit > 0 else { return [] }
        // The writer only claims; the claimed jobs are built from their rows afterwards, off
        // SQLite's one writer (decoding a job's params is a tenth of a drained job's writes).
        let started = try await countedWrite { write in try self.startDueTasks(request, write) }
        return try started.compactMap { claim in
            claim.start.claimedTask(
                job: try Self.job(
                    atPositionsOf: claim.row, from: Self.runStateColumns.count, tasks: claim.earlierTasks),
                jobType: claim.jobType,
                dueAt: claim.dueAt, events: claim.events)
        }
    }

    /// A task started by a claim, with what building its `ClaimedTask` needs.
    struct StartedClaim: @unchecked Sendable {
        // @unchecked: `row` is a copied row (`Row.fetchAll`), read only after the write.
        var row: Row
        var earlierTasks: [JobTask]
        var start: ClaimStart
        var jobType: JobType
        var dueAt: Date
        var events: [JobEvent]
    }

    /// Starts up to `request.limit` due tasks in the write transaction `write`.
    private func startDueTasks(_ request: ClaimRequest, _ write: SQLiteWrite) throws -> [StartedClaim] {
        let db = write.db
        let now = Timestamp.millis(request.now)
        let order = ClaimOrder(due: try Self.dueOrgs(db, now: now), request: request)
        var rows: [String: [Row]] = [:]
        for (org, count) in order.firstRound() {
            rows[org] = try Self.dueJobs(db, org: org, now: now, count: count, after: nil)
        }
        for (org, count) in order.secondRound(taken: rows.mapValues(\.count)) {
            rows[org, default: []] += try Self.dueJobs(db, org: org, now: now, count: count, after: rows[org]?.last)
        }
        let ordered = order.interleave(rows)
        let states = try ordered.map(Self.runState(atPositionsOf:))
        let earlierTasks = try Self.tasks(ofJobs: states.filter { $0.progress.attempts > 0 }.map(\.id), db)
        let eventTimes = try Self.latestPendingEvents(ofJobs: states.filter { $0.pendingEvents > 0 }.map(\.id), db)
        var claimed: [StartedClaim] = []
        for (row, state) in zip(ordered, states) {
            guard let jobType = try self.jobType(state.jobTypeID, db) else {
                try SQLiteTransitions.apply(
                    JobStateMachine.fail(state, result: "job type '\(state.jobTypeID)' not found", now: request.now),
                    write)
                continue
            }
            let start = ClaimStart(state, for: request, eventsAt: eventTimes[state.id])
            let events = try SQLiteTransitions.apply(start.transition, write)
            claimed.append(
                StartedClaim(
                    row: row, earlierTasks: earlierTasks[state.id] ?? [], start: start, jobType: jobType,
                    dueAt: state.nextRunAt ?? request.now, events: events))
        }
        return claimed
    }

    /// The tasks of `jobIDs` (jobs that ran before), by job, in attempt order.
    static func tasks(ofJobs jobIDs: [String], _ db: Database) throws -> [String: [JobTask]] {
        guard !jobIDs.isEmpty else { return [:] }
        let placeholders = Array(repeating: "?", count: jobIDs.count).joined(separator: ",")
        var tasks: [String: [JobTask]] = [:]
        for row in try Row.fetchAll(
            db, sql: "SELECT * FROM tasks WHERE job_id IN (\(placeholders)) ORDER BY job_id, attempt",
            arguments: StatementArguments(jobIDs))
        {
            let task = try Self.task(from: row)
            tasks[task.jobID, default: []].append(task)
        }
        return tasks
    }

    /// The newest undelivered event of each of `jobIDs` (jobs with pending events).
    static func latestPendingEvents(ofJobs jobIDs: [String], _ db: Database) throws -> [String: Date] {
        guard !jobIDs.isEmpty else { return [:] }
        let placeholders = Array(repeating: "?", count: jobIDs.count).joined(separator: ",")
        var times: [String: Date] = [:]
        for row in try Row.fetchAll(
            db,
            sql: """
                SELECT job_id, MAX(created_at) AS at FROM job_events
                WHERE job_id IN (\(placeholders)) AND delivered_to_task_id IS NULL GROUP BY job_id
                """,
            arguments: StatementArguments(jobIDs))
        {
            times[row["job_id"]] = Timestamp.date(millis: row["at"])
        }
        return times
    }

    /// Orgs with due work: a skip-scan over the partial index, one seek per org with pending work.
    static func dueOrgs(_ db: Database, now: Int64) throws -> [DueOrg] {
        var due: [DueOrg] = []
        var lastOrg: String? = nil
        while true {
            let next = try String.fetchOne(
                db.cachedStatement(sql: "SELECT MIN(org_id) FROM jobs WHERE next_run_at IS NOT NULL AND org_id > ?"),
                arguments: [lastOrg ?? ""])
            guard let org = next else { break }
            lastOrg = org
            if let firstDue = try Int64.fetchOne(
                db.cachedStatement(
                    sql: "SELECT MIN(next_run_at) FROM jobs WHERE org_id = ? AND next_run_at IS NOT NULL"),
                arguments: [org]), firstDue <= now
            {
                due.append(DueOrg(orgID: org, firstDue: Timestamp.date(millis: firstDue)))
            }
        }
        return due
    }

    /// Up to `count` of `org`'s due jobs in due order, after the row `after` (a second round).
    static func dueJobs(_ db: Database, org: String, now: Int64, count: Int, after: Row?) throws -> [Row] {
        guard let after else {
            return try Row.fetchAll(
                db.cachedStatement(
                    sql: """
                        SELECT \(runStateSelect), \(jobSelect) FROM jobs WHERE org_id = ? AND next_run_at IS NOT NULL AND next_run_at <= ?
                        ORDER BY next_run_at, id LIMIT ?
                        """),
                arguments: [org, now, count])
        }
        // By position: `runStateColumns` start the row (next_run_at is its ninth).
        let afterDue: Int64 = after[8]
        let afterID: String = after[0]
        return try Row.fetchAll(
            db.cachedStatement(
                sql: """
                    SELECT \(runStateSelect), \(jobSelect) FROM jobs WHERE org_id = ? AND next_run_at IS NOT NULL AND next_run_at <= ?
                      AND (next_run_at > ? OR (next_run_at = ? AND id > ?))
                    ORDER BY next_run_at, id LIMIT ?
                    """),
            arguments: [org, now, afterDue, afterDue, afterID, count])
    }

    public func finishTask(
        taskID: String, worker: String, outcome: TaskOutcome, now: Date
    ) async throws -> FinishedTask? {
        try await finishes.submit(FinishRequest(taskID: taskID, worker: worker, outcome: outcome, now: now))
    }

    /// Records one outcome (an item of the outcomes' group commit), fenced by the lease.
    static func finish(_ request: FinishRequest, _ write: SQLiteWrite) throws -> FinishedTask? {
        guard let (state, task) = try write.runningTasks.entry(request.taskID) ?? runningTask(request.taskID, write.db),
            let transition = JobStateMachine.finish(
                state, task: task, reportedBy: request.worker, outcome: request.outcome, now: request.now)
        else { return nil }
        try SQLiteTransitions.apply(transition, write)
        return transition.finished
    }

    public func renewLeases(
        taskIDs: [String], worker: String, now: Date, leaseDuration: TimeInterval
    ) async throws
        -> Set<String>
    {
        guard !taskIDs.isEmpty else { return [] }
        let until = now.addingTimeInterval(leaseDuration)
        return try await pool.write { db in
            var held = Set<String>()
            // One UPDATE per 10,000 tasks: SQLite takes at most 32,766 parameters per statement.
            for start in stride(from: 0, to: taskIDs.count, by: 10_000) {
                let chunk = Array(taskIDs[start..<min(start + 10_000, taskIDs.count)])
                let placeholders = Array(repeating: "?", count: chunk.count).joined(separator: ",")
                held.formUnion(
                    try String.fetchAll(
                        db,
                        sql: """
                            UPDATE tasks SET lease_expires_at = ?
                            WHERE status = 'RUNNING' AND lease_owner = ? AND id IN (\(placeholders))
                            RETURNING id
                            """,
                        arguments: StatementArguments(
                            [Timestamp.millis(until), worker] as [any DatabaseValueConvertible] + chunk)))
            }
            return Set(taskIDs).subtracting(held)
        }
    }

    public func rescueExpiredLeases(now: Date) async throws -> [FinishedTask] {
        try await countedWrite { write in
            let db = write.db
            let expired = try String.fetchAll(
                db.cachedStatement(sql: "SELECT id FROM tasks WHERE status = 'RUNNING' AND lease_expires_at < ?"),
                arguments: [Timestamp.millis(now)])
            return try expired.compactMap { taskID in
                guard let (state, task) = try Self.runningTask(taskID, db),
                    let transition = JobStateMachine.rescue(state, task: task, now: now)
                else { return nil }
                try SQLiteTransitions.apply(transition, write)
                return transition.finished
            }
        }
    }

    public func failJobsPastDeadline(now: Date) async throws -> [FinishedTask] {
        try await countedWrite { write in
            let db = write.db
            let rows = try Row.fetchAll(
                db.cachedStatement(
                    sql: "SELECT \(Self.runStateSelect) FROM jobs WHERE status = 'RUNNING' AND deadline_at <= ?"),
                arguments: [Timestamp.millis(now)])
            return try rows.compactMap { row in
                let state = try Self.runState(atPositionsOf: row)
                let running = try Row.fetchOne(
                    db.cachedStatement(
                        sql:
                            "SELECT id, status, lease_owner, lease_expires_at FROM tasks WHERE job_id = ? AND status = 'RUNNING'"
                    ),
                    arguments: [state.id]
                ).map(Self.leaseState(from:))
                guard let transition = JobStateMachine.expire(state, runningTask: running, now: now) else { return nil }
                try SQLiteTransitions.apply(transition, write)
                return transition.finished
            }
        }
    }

    public func wakeTimes() async throws -> WakeTimes {
        try await pool.read { db in
            func time(_ sql: String) throws -> Date? {
                try Int64.fetchOne(db, sql: sql).map { Timestamp.date(millis: $0) }
            }
            return WakeTimes(
                nextDue: try time("SELECT MIN(next_run_at) FROM jobs WHERE next_run_at IS NOT NULL"),
                nextDeadline: try time("SELECT MIN(deadline_at) FROM jobs WHERE status = 'RUNNING'"),
                nextLeaseExpiry: try time("SELECT MIN(lease_expires_at) FROM tasks WHERE status = 'RUNNING'"),
                nextSchedule: try time("SELECT MIN(next_run_at) FROM schedules WHERE next_run_at IS NOT NULL"))
        }
    }

    public func jobCountsByStatus() async throws -> [JobStatus: Int] {
        try await pool.read { db in
            var counts: [JobStatus: Int] = [:]
            for row in try Row.fetchAll(
                db.cachedStatement(sql: "SELECT status, SUM(count) AS n FROM job_counts GROUP BY status"))
            {
                counts[try JobStatus.stored(row["status"], column: "job_counts.status")] = row["n"]
            }
            return counts
        }
    }

    /// A task with its job's state, without its condition (`runningTask`, `RunningTaskPrefetch`).
    static let runningTaskSelect = """
        SELECT \(runStateColumns.map { "j." + $0 }.joined(separator: ", ")),
               t.id, t.status, t.lease_owner, t.lease_expires_at
        FROM tasks t JOIN jobs j ON j.id = t.job_id
        """

    /// `runningTask`'s statement, written once (the cached statement is found by its text).
    private static let runningTaskSQL = runningTaskSelect + " WHERE t.id = ?"

    /// A task with its job's state, for the fence and the transition: one statement, read by
    /// position (`SQLiteJobStore.runStateColumns`, then the task's lease columns).
    /// The row is read where SQLite holds it (a cursor's), not copied first as `fetchOne` does.
    static func runningTask(_ taskID: String, _ db: Database) throws -> (JobRunState, TaskLeaseState)? {
        let cursor = try Row.fetchCursor(db.cachedStatement(sql: runningTaskSQL), arguments: [taskID])
        guard let row = try cursor.next() else { return nil }
        return try runningTask(atPositionsOf: row)
    }

    /// A row of `runningTaskSelect`: the job's state, then the task's lease columns.
    static func runningTask(atPositionsOf row: Row) throws -> (JobRunState, TaskLeaseState) {
        let lease = runStateColumns.count
        return (
            try runState(atPositionsOf: row),
            TaskLeaseState(
                id: row.text(at: lease), status: try TaskStatus.stored(row.text(at: lease + 1), column: "tasks.status"),
                leaseOwner: row.optionalText(at: lease + 2), leaseExpiresAt: row.optionalDate(at: lease + 3))
        )
    }

    private func jobType(_ id: String, _ db: Database) throws -> JobType? {
        try jobTypes.jobType(id: id) {
            try Row.fetchOne(db.cachedStatement(sql: "SELECT * FROM job_types WHERE id = ?"), arguments: [id]).map(
                Self.jobType(from:))
        }
    }
}

/// Writes `JobTransition`s: the only code that changes a job's scheduling columns or a task's
/// status in the SQLite store. Its statements are cached (compiled once per connection).
enum SQLiteTransitions {
    /// Applies `transition` and adds its journal entries to the transaction's; returns the
    /// events it delivered to the task it started, oldest first.
    @discardableResult
    static func apply(_ transition: JobTransition, _ write: SQLiteWrite) throws -> [JobEvent] {
        let db = write.db
        if let ended = transition.endedTask {
            var update = try BoundStatement(db, sql: endTaskSQL)
            update.bind(ended.status.rawValue)
            update.bind(ended.result)
            update.bind(ended.error)
            update.bind(Timestamp.millis(ended.finishedAt))
            update.bind(ended.taskID)
            try update.execute()
        }
        if let started = transition.startedTask {
            let task = started.task
            var insert = try BoundStatement(db, sql: startTaskSQL)
            insert.bind(task.id)
            insert.bind(task.jobID)
            insert.bind(task.kind.rawValue)
            insert.bind(task.attempt)
            insert.bind(task.status.rawValue)
            insert.bind(Timestamp.millis(task.createdAt))
            insert.bind(task.startedAt.map(Timestamp.millis))
            insert.bind(started.leaseOwner)
            insert.bind(Timestamp.millis(started.leaseUntil))
            insert.bind(started.progressTokenHash)
            insert.bind(started.dueAt.map(Timestamp.millis))
            try insert.execute()
        }
        var delivered: [JobEvent] = []
        if let started = transition.startedTask, started.deliversEvents {
            delivered = try Row.fetchAll(
                db.cachedStatement(
                    sql: """
                        UPDATE job_events SET delivered_to_task_id = ?
                        WHERE job_id = ? AND delivered_to_task_id IS NULL
                        RETURNING *
                        """),
                arguments: [started.task.id, transition.jobID]
            ).map(SQLiteJobStore.event(from:)).sorted { ($0.createdAt, $0.id) < ($1.createdAt, $1.id) }
        }
        let job = transition.job
        var update = try BoundStatement(db, sql: updateJobSQL)
        update.bind(job.status.rawValue)
        update.bind(job.result)
        update.bind(job.cancelReason)
        update.bind(job.next.map { Timestamp.millis($0.at) })
        update.bind(job.next?.kind.rawValue)
        update.bind(job.progress.attempts)
        update.bind(job.progress.followUps)
        update.bind(job.progress.retries)
        update.bind(job.startedAt.map(Timestamp.millis))
        update.bind(job.deadlineAt.map(Timestamp.millis))
        update.bind(job.finishedAt.map(Timestamp.millis))
        update.bind(Timestamp.millis(job.updatedAt))
        update.bind(job.pendingEvents)
        update.bind(transition.jobID)
        try update.execute()
        // Counted with the transaction's other changes (`JobCountLedger`). Not by the UPDATE's
        // RETURNING: SQLite runs that as a trigger program, about as costly as the count trigger.
        write.counts.move(transition.countKey, from: job.previousStatus, to: job.status)
        write.journal.append(contentsOf: transition.journal)
        return delivered
    }

    /// The UPDATE of a task that ended.
    private static let endTaskSQL = """
        UPDATE tasks SET status = ?, result = ?, error = ?, finished_at = ?,
                         lease_owner = NULL, lease_expires_at = NULL
        WHERE id = ?
        """

    /// The INSERT of a task that started.
    private static let startTaskSQL = """
        INSERT INTO tasks(id, job_id, kind, attempt, status, created_at, started_at,
                          lease_owner, lease_expires_at, progress_token_hash, due_at)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
        """

    /// A transition's UPDATE of its job's columns.
    private static let updateJobSQL = """
        UPDATE jobs SET status = ?, result = ?, cancel_reason = ?, next_run_at = ?, next_kind = ?,
                        attempts = ?, follow_ups = ?, retries = ?, started_at = ?, deadline_at = ?,
                        finished_at = ?, updated_at = ?, pending_events = ?
        WHERE id = ?
        """
}
