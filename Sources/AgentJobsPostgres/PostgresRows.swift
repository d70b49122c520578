import AgentJobsCore
import Foundation
import PostgresNIO

extension PostgresRandomAccessRow {
    func string(_ column: String) throws -> String { try self[column].decode(String.self) }
    func optionalString(_ column: String) throws -> String? { try self[column].decode(String?.self) }
    func int64(_ column: String) throws -> Int64 { try self[column].decode(Int64.self) }
    func optionalInt64(_ column: String) throws -> Int64? { try self[column].decode(Int64?.self) }
    func int(_ column: String) throws -> Int { try self[column].decode(Int.self) }
    func date(_ column: String) throws -> Date { Timestamp.date(millis: try int64(column)) }
    func optionalDate(_ column: String) throws -> Date? { try optionalInt64(column).map { Timestamp.date(millis: $0) } }
}

/// Conversions between PostgreSQL rows and domain values.
enum PostgresRows {
    static let decoder = JSONDecoder()

    /// Every column of `jobs`, for the prepared statements that read whole jobs (`Statements`):
    /// a named list keeps their result the same when a migration adds a column.
    static let jobColumns = """
        id, org_id, job_type_id, channel_code, status, target_channel, config, params, created_at, updated_at,
        scheduled_at, started_at, finished_at, result, cancel_reason, next_run_at, next_kind, deadline_at,
        attempts, follow_ups, retries, schedule_id, schedule_occurrence, pending_events
        """

    /// Every column of `app_tokens`.
    static let tokenColumns = "id, org_id, access, name, secret_hash, created_at, revoked_at"

    static func organization(_ row: PostgresRandomAccessRow) throws -> Organization {
        Organization(
            id: try row.string("id"), name: try row.optionalString("name"), createdAt: try row.date("created_at"))
    }

    static func token(_ row: PostgresRandomAccessRow) throws -> AppToken {
        AppToken(
            id: try row.string("id"), orgID: try row.string("org_id"),
            access: AppToken.accessSet(try row.string("access")),
            name: try row.optionalString("name"), secretHash: try row.string("secret_hash"),
            createdAt: try row.date("created_at"), revokedAt: try row.optionalDate("revoked_at"))
    }

    static func jobType(_ row: PostgresRandomAccessRow) throws -> JobType {
        JobType(
            id: try row.string("id"), orgID: try row.optionalString("org_id"),
            executor: try decoder.decode(ExecutorSpec.self, from: Data(try row.string("executor").utf8)),
            defaultConfig: try decoder.decode(
                JobConfigOverrides.self, from: Data(try row.string("default_config").utf8)),
            environment: try decoder.decode([EnvironmentVariable].self, from: Data(try row.string("environment").utf8)),
            taskTimeoutMinutes: try row["task_timeout_minutes"].decode(Double.self),
            createdAt: try row.date("created_at"))
    }

    static func job(_ row: PostgresRandomAccessRow, tasks: [JobTask]) throws -> Job {
        Job(
            id: try row.string("id"), orgID: try row.string("org_id"), jobTypeID: try row.string("job_type_id"),
            targetChannel: try StoredJobJSON.channels.decode(try row.string("target_channel")),
            status: try JobStatus.stored(try row.string("status"), column: "jobs.status"),
            config: try StoredJobJSON.configs.decode(try row.string("config")),
            params: try JSONObject.parse(try row.string("params")),
            createdAt: try row.date("created_at"), updatedAt: try row.date("updated_at"),
            scheduledAt: try row.date("scheduled_at"), startedAt: try row.optionalDate("started_at"),
            finishedAt: try row.optionalDate("finished_at"), result: try row.optionalString("result"),
            cancelReason: try row.optionalString("cancel_reason"), tasks: tasks,
            nextRunAt: try row.optionalDate("next_run_at"), scheduleID: try row.optionalString("schedule_id"))
    }

    static func schedule(_ row: PostgresRandomAccessRow) throws -> Schedule {
        let jobDecoder = JSONDecoder()
        jobDecoder.dateDecodingStrategy = .millisecondsSince1970
        return Schedule(
            id: try row.string("id"), orgID: try row.string("org_id"), name: try row.optionalString("name"),
            cron: try row.string("cron"), timezone: try row.string("timezone"),
            job: try jobDecoder.decode(JobSubmission.self, from: Data(try row.string("job").utf8)),
            delayMinutes: try row.int("delay_minutes"),
            overlap: try ScheduleOverlap.stored(try row.string("overlap"), column: "schedules.overlap"),
            paused: try row["paused"].decode(Bool.self), nextRunAt: try row.optionalDate("next_run_at"),
            lastRunAt: try row.optionalDate("last_run_at"), lastJobID: try row.optionalString("last_job_id"),
            runs: Int(try row.int64("runs")), skipped: Int(try row.int64("skipped")),
            createdAt: try row.date("created_at"), updatedAt: try row.date("updated_at"))
    }

    static func task(_ row: PostgresRandomAccessRow) throws -> JobTask {
        JobTask(
            id: try row.string("id"), jobID: try row.string("job_id"),
            kind: try TaskKind.stored(try row.string("kind"), column: "tasks.kind"), attempt: try row.int("attempt"),
            status: try TaskStatus.stored(try row.string("status"), column: "tasks.status"),
            createdAt: try row.date("created_at"),
            startedAt: try row.optionalDate("started_at"), finishedAt: try row.optionalDate("finished_at"),
            result: try row.optionalString("result"), error: try row.optionalString("error"))
    }

    /// The scheduling state of a job row (`SELECT *`).
    static func runState(_ row: PostgresRandomAccessRow) throws -> JobRunState {
        JobRunState(
            id: try row.string("id"), orgID: try row.string("org_id"), jobTypeID: try row.string("job_type_id"),
            channelCode: try row.string("channel_code"),
            status: try JobStatus.stored(try row.string("status"), column: "jobs.status"),
            config: try StoredJobJSON.configs.decode(try row.string("config")),
            progress: JobProgress(
                attempts: try row.int("attempts"), followUps: try row.int("follow_ups"), retries: try row.int("retries")
            ),
            nextRunAt: try row.optionalDate("next_run_at"),
            nextKind: try TaskKind.stored(try row.optionalString("next_kind") ?? "initial", column: "jobs.next_kind"),
            startedAt: try row.optionalDate("started_at"), deadlineAt: try row.optionalDate("deadline_at"),
            pendingEvents: try row.int("pending_events"))
    }

    /// The fencing view of a task row (`id, status, lease_owner, lease_expires_at`).
    static func leaseState(_ row: PostgresRandomAccessRow) throws -> TaskLeaseState {
        TaskLeaseState(
            id: try row.string("id"), status: try TaskStatus.stored(try row.string("status"), column: "tasks.status"),
            leaseOwner: try row.optionalString("lease_owner"), leaseExpiresAt: try row.optionalDate("lease_expires_at"))
    }

    static func all(_ rows: PostgresRowSequence) async throws -> [PostgresRandomAccessRow] {
        try await rows.collect().map { $0.makeRandomAccess() }
    }
}

/// The SQL state of a server error, if `error` is one.
func sqlState(of error: any Error) -> String? {
    (error as? PSQLError)?.serverInfo?[.sqlState]
}

/// Runs `body`, turning PostgreSQL constraint violations (SQL states 23505, 23503) into client errors.
@discardableResult
func translatingConstraints<T>(
    duplicate: String, missingReference: String = "a referenced record does not exist",
    _ body: () async throws -> T
) async throws -> T {
    try await ConstraintViolation.translating(
        duplicate: duplicate, missingReference: missingReference,
        classify: { error in
            switch sqlState(of: error) {
            case "23505": .duplicate
            case "23503": .missingReference
            default: nil
            }
        }, body)
}
