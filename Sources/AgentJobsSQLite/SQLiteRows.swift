import AgentJobsCore
import Foundation
import GRDB

/// Conversions between SQLite rows and domain values.
extension SQLiteJobStore {
    static func organization(from row: Row) -> Organization {
        Organization(id: row["id"], name: row["name"], createdAt: Timestamp.date(millis: row["created_at"]))
    }

    static func token(from row: Row) -> AppToken {
        AppToken(
            id: row["id"], orgID: row["org_id"], access: AppToken.accessSet(row["access"]), name: row["name"],
            secretHash: row["secret_hash"], createdAt: Timestamp.date(millis: row["created_at"]),
            revokedAt: (row["revoked_at"] as Int64?).map { Timestamp.date(millis: $0) })
    }

    static func jobType(from row: Row) throws -> JobType {
        let decoder = JSONDecoder()
        return JobType(
            id: row["id"], orgID: row["org_id"],
            executor: try decoder.decode(ExecutorSpec.self, from: Data((row["executor"] as String).utf8)),
            defaultConfig: try decoder.decode(
                JobConfigOverrides.self, from: Data((row["default_config"] as String).utf8)),
            environment: try decoder.decode(
                [EnvironmentVariable].self, from: Data((row["environment"] as String).utf8)),
            taskTimeoutMinutes: row["task_timeout_minutes"],
            createdAt: Timestamp.date(millis: row["created_at"]))
    }

    /// The columns `job(atPositionsOf:from:tasks:)` reads, in its order.
    static let jobColumns = [
        "id", "org_id", "job_type_id", "target_channel", "status", "config", "params", "created_at", "updated_at",
        "scheduled_at", "started_at", "finished_at", "result", "cancel_reason", "next_run_at", "schedule_id",
    ]
    static let jobSelect = jobColumns.joined(separator: ", ")

    /// A job from a row that holds `jobColumns` from position `offset` on (`SELECT
    /// \(jobSelect) FROM jobs`), read by position: a fetched row's lookup by name compares
    /// lowercased copies of every column name before the one it finds.
    static func job(atPositionsOf row: Row, from offset: Int = 0, tasks: [JobTask]) throws -> Job {
        let o = offset
        return Job(
            id: row.text(at: o), orgID: row.text(at: o + 1), jobTypeID: row.text(at: o + 2),
            targetChannel: try StoredJobJSON.channels.decode(row.text(at: o + 3)),
            status: try JobStatus.stored(row.text(at: o + 4), column: "jobs.status"),
            config: try StoredJobJSON.configs.decode(row.text(at: o + 5)),
            params: try JSONObject.parse(row.text(at: o + 6)),
            createdAt: row.date(at: o + 7), updatedAt: row.date(at: o + 8), scheduledAt: row.date(at: o + 9),
            startedAt: row.optionalDate(at: o + 10), finishedAt: row.optionalDate(at: o + 11),
            result: row.optionalText(at: o + 12), cancelReason: row.optionalText(at: o + 13), tasks: tasks,
            nextRunAt: row.optionalDate(at: o + 14), scheduleID: row.optionalText(at: o + 15))
    }

    static func schedule(from row: Row) throws -> Schedule {
        Schedule(
            id: row["id"], orgID: row["org_id"], name: row["name"], cron: row["cron"], timezone: row["timezone"],
            job: try decodeJob(row["job"]),
            delayMinutes: row["delay_minutes"],
            overlap: try ScheduleOverlap.stored(row["overlap"], column: "schedules.overlap"),
            paused: row["paused"],
            nextRunAt: (row["next_run_at"] as Int64?).map { Timestamp.date(millis: $0) },
            lastRunAt: (row["last_run_at"] as Int64?).map { Timestamp.date(millis: $0) },
            lastJobID: row["last_job_id"], runs: row["runs"], skipped: row["skipped"],
            createdAt: Timestamp.date(millis: row["created_at"]), updatedAt: Timestamp.date(millis: row["updated_at"]))
    }

    static func task(from row: Row) throws -> JobTask {
        JobTask(
            id: row["id"], jobID: row["job_id"], kind: try TaskKind.stored(row["kind"], column: "tasks.kind"),
            attempt: row["attempt"], status: try TaskStatus.stored(row["status"], column: "tasks.status"),
            createdAt: Timestamp.date(millis: row["created_at"]),
            startedAt: (row["started_at"] as Int64?).map { Timestamp.date(millis: $0) },
            finishedAt: (row["finished_at"] as Int64?).map { Timestamp.date(millis: $0) },
            result: row["result"], error: row["error"])
    }

    /// The columns `runState(atPositionsOf:)` reads, in its order.
    static let runStateColumns = [
        "id", "org_id", "job_type_id", "status", "config", "attempts", "follow_ups", "retries", "next_run_at",
        "next_kind", "started_at", "deadline_at", "pending_events", "channel_code",
    ]
    static let runStateSelect = runStateColumns.joined(separator: ", ")

    /// The scheduling state of a row that starts with `runStateColumns` (`SELECT
    /// \(runStateSelect), \(jobSelect) FROM jobs` where the whole job is needed too), read by position: a
    /// fetched row's lookup by name compares lowercased copies of every column name before it.
    static func runState(atPositionsOf row: Row) throws -> JobRunState {
        JobRunState(
            id: row.text(at: 0), orgID: row.text(at: 1), jobTypeID: row.text(at: 2), channelCode: row.text(at: 13),
            status: try JobStatus.stored(row.text(at: 3), column: "jobs.status"),
            config: try StoredJobJSON.configs.decode(row.text(at: 4)),
            progress: JobProgress(
                attempts: Int(row.integer(at: 5)), followUps: Int(row.integer(at: 6)), retries: Int(row.integer(at: 7))),
            nextRunAt: row.optionalDate(at: 8),
            nextKind: try TaskKind.stored(
                row.optionalText(at: 9) ?? TaskKind.initial.rawValue, column: "jobs.next_kind"),
            startedAt: row.optionalDate(at: 10), deadlineAt: row.optionalDate(at: 11),
            pendingEvents: Int(row.optionalInteger(at: 12) ?? 0))
    }

    /// The fencing view of a task row (`id, status, lease_owner, lease_expires_at`).
    static func leaseState(from row: Row) throws -> TaskLeaseState {
        TaskLeaseState(
            id: row["id"], status: try TaskStatus.stored(row["status"], column: "tasks.status"),
            leaseOwner: row["lease_owner"],
            leaseExpiresAt: (row["lease_expires_at"] as Int64?).map { Timestamp.date(millis: $0) })
    }

    /// Loads one job with its tasks.
    static func loadJob(id: String, _ db: Database) throws -> Job? {
        guard
            let row = try Row.fetchOne(
                db.cachedStatement(sql: "SELECT \(jobSelect) FROM jobs WHERE id = ?"), arguments: [id])
        else {
            return nil
        }
        let tasks = try Row.fetchAll(
            db.cachedStatement(sql: "SELECT * FROM tasks WHERE job_id = ? ORDER BY attempt"), arguments: [id]
        ).map(task(from:))
        var loaded = try job(atPositionsOf: row, tasks: tasks)
        try addEventsAndProgress(to: &loaded, db)
        return loaded
    }

    /// Loads the jobs of `rows` (`SELECT \(jobSelect) FROM jobs …`) with their tasks, in one
    /// query for all tasks.
    static func loadJobs(rows: [Row], _ db: Database) throws -> [Job] {
        guard !rows.isEmpty else { return [] }
        let ids: [String] = rows.map { $0[0] }
        let placeholders = Array(repeating: "?", count: ids.count).joined(separator: ",")
        let taskRows = try Row.fetchAll(
            db, sql: "SELECT * FROM tasks WHERE job_id IN (\(placeholders)) ORDER BY job_id, attempt",
            arguments: StatementArguments(ids))
        let tasksByJob = Dictionary(grouping: try taskRows.map(task(from:)), by: \.jobID)
        return try rows.map { row in try job(atPositionsOf: row, tasks: tasksByJob[row[0]] ?? []) }
    }
}
