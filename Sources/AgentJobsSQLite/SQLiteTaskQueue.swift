import AgentJobsCore
import Foundation
import GRDB

/// The engine's side of the SQLite store. SQLite has one writer, so a claim's select and
/// update run in one write transaction and no row can be claimed twice.
extension SQLiteJobStore: TaskQueue {
    public func claimDueTasks(
        limit: Int, now: Date, worker: String, leaseUntil: Date, orgTurns: [String: UInt64]
    ) async throws -> [ClaimedTask] {
        guard limit > 0 else { return [] }
        return try await pool.write { db in
            let nowMillis = Timestamp.millis(now)
            let picked = try Self.pickDueJobs(db, limit: limit, now: nowMillis, orgTurns: orgTurns)
            var jobTypes: [String: JobType] = [:]
            var claimed: [ClaimedTask] = []
            for jobID in picked {
                guard let row = try Row.fetchOne(db, sql: "SELECT * FROM jobs WHERE id = ?", arguments: [jobID]),
                    let dueMillis = row["next_run_at"] as Int64?, dueMillis <= nowMillis
                else { continue }
                let jobTypeID: String = row["job_type_id"]
                if jobTypes[jobTypeID] == nil {
                    jobTypes[jobTypeID] = try Row.fetchOne(
                        db, sql: "SELECT * FROM job_types WHERE id = ?", arguments: [jobTypeID]
                    ).map(Self.jobType(from:))
                }
                var job = try Self.job(
                    from: row,
                    tasks: try Row.fetchAll(
                        db, sql: "SELECT * FROM tasks WHERE job_id = ? ORDER BY attempt", arguments: [jobID]
                    ).map(Self.task(from:)))
                let deadlineMillis = (row["deadline_at"] as Int64?)
                    ?? nowMillis + Int64((job.config.maxTimeToComplete * 60_000).rounded())
                guard deadlineMillis > nowMillis else { continue }
                guard let jobType = jobTypes[jobTypeID] else {
                    // The job type vanished: the job cannot run.
                    try Self.endJob(db, id: jobID, status: .failed, result: "job type '\(jobTypeID)' not found", now: nowMillis)
                    continue
                }
                let attempts: Int = row["attempts"]
                let task = JobTask(
                    id: Identifier.make(prefix: "task", at: now), jobID: jobID,
                    kind: TaskKind(rawValue: row["next_kind"] ?? "initial") ?? .initial, attempt: attempts + 1,
                    status: .running, createdAt: Timestamp.date(millis: nowMillis),
                    startedAt: Timestamp.date(millis: nowMillis))
                try db.execute(
                    sql: """
                        INSERT INTO tasks(id, job_id, kind, attempt, status, created_at, started_at,
                                          lease_owner, lease_expires_at)
                        VALUES (?, ?, ?, ?, 'RUNNING', ?, ?, ?, ?)
                        """,
                    arguments: [
                        task.id, jobID, task.kind.rawValue, task.attempt, nowMillis, nowMillis, worker,
                        Timestamp.millis(leaseUntil),
                    ])
                try db.execute(
                    sql: """
                        UPDATE jobs SET status = 'RUNNING', started_at = COALESCE(started_at, ?), deadline_at = ?,
                                        attempts = attempts + 1, next_run_at = NULL, updated_at = ?
                        WHERE id = ?
                        """,
                    arguments: [nowMillis, deadlineMillis, nowMillis, jobID])
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

    /// Orgs with due work, served in turn order (fewest turns first), one job each per round.
    static func pickDueJobs(_ db: Database, limit: Int, now: Int64, orgTurns: [String: UInt64]) throws -> [String] {
        // Skip-scan over the partial index: one seek per org with pending work.
        var dueOrgs: [(org: String, firstDue: Int64)] = []
        var lastOrg: String? = nil
        while true {
            let next: String?
            if let lastOrg {
                next = try String.fetchOne(
                    db, sql: "SELECT MIN(org_id) FROM jobs WHERE next_run_at IS NOT NULL AND org_id > ?",
                    arguments: [lastOrg])
            } else {
                next = try String.fetchOne(db, sql: "SELECT MIN(org_id) FROM jobs WHERE next_run_at IS NOT NULL")
            }
            guard let org = next else { break }
            lastOrg = org
            if let firstDue = try Int64.fetchOne(
                db, sql: "SELECT MIN(next_run_at) FROM jobs WHERE org_id = ? AND next_run_at IS NOT NULL",
                arguments: [org]), firstDue <= now
            {
                dueOrgs.append((org, firstDue))
            }
        }
        dueOrgs.sort { left, right in
            let l = orgTurns[left.org] ?? 0, r = orgTurns[right.org] ?? 0
            return l != r ? l < r : left.firstDue < right.firstDue
        }
        var queues: [[String]] = []
        for (org, _) in dueOrgs.prefix(limit) {
            queues.append(
                try String.fetchAll(
                    db,
                    sql: """
                        SELECT id FROM jobs WHERE org_id = ? AND next_run_at IS NOT NULL AND next_run_at <= ?
                        ORDER BY next_run_at, id LIMIT ?
                        """,
                    arguments: [org, now, limit]))
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
        return picked
    }

    public func finishTask(taskID: String, worker: String, outcome: TaskOutcome, now: Date) async throws -> FinishedTask? {
        try await pool.write { db in
            try Self.resolveTask(db, taskID: taskID, requireOwner: worker, outcome: outcome, now: now)
        }
    }

    public func renewLeases(taskIDs: [String], worker: String, until: Date) async throws -> Set<String> {
        guard !taskIDs.isEmpty else { return [] }
        return try await pool.write { db in
            let placeholders = Array(repeating: "?", count: taskIDs.count).joined(separator: ",")
            var arguments: [any DatabaseValueConvertible] = [Timestamp.millis(until), worker]
            arguments += taskIDs
            try db.execute(
                sql: """
                    UPDATE tasks SET lease_expires_at = ?
                    WHERE status = 'RUNNING' AND lease_owner = ? AND id IN (\(placeholders))
                    """,
                arguments: StatementArguments(arguments))
            let held = try String.fetchAll(
                db,
                sql: "SELECT id FROM tasks WHERE status = 'RUNNING' AND lease_owner = ? AND id IN (\(placeholders))",
                arguments: StatementArguments([worker] + taskIDs))
            return Set(taskIDs).subtracting(held)
        }
    }

    public func rescueExpiredLeases(now: Date) async throws -> [FinishedTask] {
        try await pool.write { db in
            let expired = try String.fetchAll(
                db, sql: "SELECT id FROM tasks WHERE status = 'RUNNING' AND lease_expires_at < ?",
                arguments: [Timestamp.millis(now)])
            return try expired.compactMap { taskID in
                try Self.resolveTask(
                    db, taskID: taskID, requireOwner: nil,
                    outcome: .failed(error: JobStateMachine.workerLost, retryable: true), now: now)
            }
        }
    }

    public func failJobsPastDeadline(now: Date) async throws -> [FinishedTask] {
        try await pool.write { db in
            let nowMillis = Timestamp.millis(now)
            let jobs = try String.fetchAll(
                db, sql: "SELECT id FROM jobs WHERE status = 'RUNNING' AND deadline_at <= ?", arguments: [nowMillis])
            var finished: [FinishedTask] = []
            for jobID in jobs {
                let running = try String.fetchAll(
                    db, sql: "SELECT id FROM tasks WHERE job_id = ? AND status = 'RUNNING'", arguments: [jobID])
                if running.isEmpty {
                    try Self.endJob(db, id: jobID, status: .failed, result: JobStateMachine.maxTimeExceeded, now: nowMillis)
                    finished.append(FinishedTask(jobID: jobID, taskID: "", taskStatus: .failed, jobStatus: .failed, nextRunAt: nil))
                }
                for taskID in running {
                    if let done = try Self.resolveTask(
                        db, taskID: taskID, requireOwner: nil, outcome: .deadlineExceeded, now: now)
                    {
                        finished.append(done)
                    }
                }
            }
            return finished
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
                nextLeaseExpiry: try time("SELECT MIN(lease_expires_at) FROM tasks WHERE status = 'RUNNING'"))
        }
    }

    public func jobCountsByStatus() async throws -> [JobStatus: Int] {
        try await pool.read { db in
            var counts: [JobStatus: Int] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT status, SUM(count) AS n FROM job_counts GROUP BY status") {
                if let status = JobStatus(rawValue: row["status"]) { counts[status] = row["n"] }
            }
            return counts
        }
    }

    /// Ends a running task with `outcome` and moves its job on, if the task is still `RUNNING`
    /// (and, with `requireOwner`, still leased to that worker). This is the fence: whoever ends
    /// the task first wins, and every later outcome for it is discarded.
    static func resolveTask(
        _ db: Database, taskID: String, requireOwner: String?, outcome: TaskOutcome, now: Date
    ) throws -> FinishedTask? {
        guard let task = try Row.fetchOne(
            db, sql: "SELECT job_id, status, lease_owner FROM tasks WHERE id = ?", arguments: [taskID]),
            task["status"] as String == TaskStatus.running.rawValue
        else { return nil }
        if let requireOwner, task["lease_owner"] as String? != requireOwner { return nil }
        let jobID: String = task["job_id"]
        guard let job = try Row.fetchOne(db, sql: "SELECT * FROM jobs WHERE id = ?", arguments: [jobID]) else {
            return nil
        }
        let config = try JSONDecoder().decode(JobConfig.self, from: Data((job["config"] as String).utf8))
        let progress = JobProgress(attempts: job["attempts"], followUps: job["follow_ups"], retries: job["retries"])
        let resolution = JobStateMachine.resolve(outcome, config: config, progress: progress, now: now)
        let nowMillis = Timestamp.millis(now)
        try db.execute(
            sql: """
                UPDATE tasks SET status = ?, result = ?, error = ?, finished_at = ?,
                                 lease_owner = NULL, lease_expires_at = NULL
                WHERE id = ?
                """,
            arguments: [resolution.taskStatus.rawValue, resolution.taskResult, resolution.taskError, nowMillis, taskID])
        let jobStatus: JobStatus
        var nextRunAt: Date?
        switch resolution.decision {
        case .complete(let result):
            jobStatus = .completed
            try endJob(db, id: jobID, status: .completed, result: result, now: nowMillis)
        case .fail(let result):
            jobStatus = .failed
            try endJob(db, id: jobID, status: .failed, result: result, now: nowMillis)
        case .runNext(let kind, let at):
            jobStatus = .running
            nextRunAt = at
            try db.execute(
                sql: """
                    UPDATE jobs SET next_run_at = ?, next_kind = ?, follow_ups = ?, retries = ?, updated_at = ?
                    WHERE id = ?
                    """,
                arguments: [
                    Timestamp.millis(at), kind.rawValue, resolution.progress.followUps, resolution.progress.retries,
                    nowMillis, jobID,
                ])
        }
        return FinishedTask(
            jobID: jobID, taskID: taskID, taskStatus: resolution.taskStatus, jobStatus: jobStatus, nextRunAt: nextRunAt)
    }

    static func endJob(_ db: Database, id: String, status: JobStatus, result: String, now: Int64) throws {
        try db.execute(
            sql: """
                UPDATE jobs SET status = ?, result = ?, finished_at = ?, updated_at = ?, next_run_at = NULL
                WHERE id = ?
                """,
            arguments: [status.rawValue, result, now, now, id])
    }
}
