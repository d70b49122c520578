import AgentJobsCore
import Foundation
import GRDB

/// Conversions between SQLite rows and domain values.
extension SQLiteJobStore {
    static func organization(from row: Row) -> Organization {
        Organization(id: row["id"], name: row["name"], createdAt: Timestamp.date(millis: row["created_at"]))
    }

    static func token(from row: Row) -> AppToken {
        let access = (row["access"] as String).split(separator: ",").compactMap { Access(rawValue: String($0)) }
        return AppToken(
            id: row["id"], orgID: row["org_id"], access: Set(access), name: row["name"],
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
            createdAt: Timestamp.date(millis: row["created_at"]))
    }

    static func job(from row: Row, tasks: [JobTask]) throws -> Job {
        let decoder = JSONDecoder()
        return Job(
            id: row["id"], orgID: row["org_id"], jobTypeID: row["job_type_id"],
            targetChannel: try decoder.decode(TargetChannel.self, from: Data((row["target_channel"] as String).utf8)),
            status: JobStatus(rawValue: row["status"]) ?? .failed,
            config: try decoder.decode(JobConfig.self, from: Data((row["config"] as String).utf8)),
            params: try decoder.decode(JSONObject.self, from: Data((row["params"] as String).utf8)),
            createdAt: Timestamp.date(millis: row["created_at"]),
            updatedAt: Timestamp.date(millis: row["updated_at"]),
            scheduledAt: Timestamp.date(millis: row["scheduled_at"]),
            startedAt: (row["started_at"] as Int64?).map { Timestamp.date(millis: $0) },
            finishedAt: (row["finished_at"] as Int64?).map { Timestamp.date(millis: $0) },
            result: row["result"], cancelReason: row["cancel_reason"], tasks: tasks)
    }

    static func task(from row: Row) -> JobTask {
        JobTask(
            id: row["id"], jobID: row["job_id"], kind: TaskKind(rawValue: row["kind"]) ?? .initial,
            attempt: row["attempt"], status: TaskStatus(rawValue: row["status"]) ?? .failed,
            createdAt: Timestamp.date(millis: row["created_at"]),
            startedAt: (row["started_at"] as Int64?).map { Timestamp.date(millis: $0) },
            finishedAt: (row["finished_at"] as Int64?).map { Timestamp.date(millis: $0) },
            result: row["result"], error: row["error"])
    }

    /// Loads one job with its tasks.
    static func loadJob(id: String, _ db: Database) throws -> Job? {
        guard let row = try Row.fetchOne(db, sql: "SELECT * FROM jobs WHERE id = ?", arguments: [id]) else {
            return nil
        }
        let tasks = try Row.fetchAll(
            db, sql: "SELECT * FROM tasks WHERE job_id = ? ORDER BY attempt", arguments: [id]
        ).map(task(from:))
        return try job(from: row, tasks: tasks)
    }

    /// Loads the jobs of `rows` with their tasks, in one query for all tasks.
    static func loadJobs(rows: [Row], _ db: Database) throws -> [Job] {
        guard !rows.isEmpty else { return [] }
        let ids: [String] = rows.map { $0["id"] }
        let placeholders = Array(repeating: "?", count: ids.count).joined(separator: ",")
        let taskRows = try Row.fetchAll(
            db, sql: "SELECT * FROM tasks WHERE job_id IN (\(placeholders)) ORDER BY job_id, attempt",
            arguments: StatementArguments(ids))
        let tasksByJob = Dictionary(grouping: taskRows.map(task(from:)), by: \.jobID)
        return try rows.map { row in try job(from: row, tasks: tasksByJob[row["id"]] ?? []) }
    }

    /// Inserts a new job (one item of a group commit), honouring an idempotency claim.
    static func insert(_ request: CreateRequest, _ db: Database) throws -> CreateJobOutcome {
        let job = request.job
        if let claim = request.idempotency {
            let now = Timestamp.millis(request.date)
            if let row = try Row.fetchOne(
                db, sql: "SELECT fingerprint, job_id, created_at FROM idempotency_keys WHERE org_id = ? AND key = ?",
                arguments: [job.orgID, claim.key])
            {
                let createdAt: Int64 = row["created_at"]
                if Double(now - createdAt) < claim.window * 1000 {
                    guard row["fingerprint"] as String == claim.fingerprint else {
                        throw AgentJobsError.conflict(
                            "Idempotency-Key '\(claim.key)' was already used with a different request")
                    }
                    if let first = try loadJob(id: row["job_id"], db) { return .replayed(first) }
                }
                try db.execute(
                    sql: "DELETE FROM idempotency_keys WHERE org_id = ? AND key = ?",
                    arguments: [job.orgID, claim.key])
            }
            try db.execute(
                sql: "INSERT INTO idempotency_keys(org_id, key, fingerprint, job_id, created_at) VALUES (?, ?, ?, ?, ?)",
                arguments: [job.orgID, claim.key, claim.fingerprint, job.id, now])
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let created = Timestamp.millis(job.createdAt)
        try db.execute(
            sql: """
                INSERT INTO jobs(id, org_id, job_type_id, channel_code, status, target_channel, config, params,
                                 created_at, updated_at, scheduled_at, next_run_at, next_kind)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'initial')
                """,
            arguments: [
                job.id, job.orgID, job.jobTypeID, job.targetChannel.code, job.status.rawValue,
                String(decoding: try encoder.encode(job.targetChannel), as: UTF8.self),
                String(decoding: try encoder.encode(job.config), as: UTF8.self),
                job.params.canonicalJSON(), created, created, Timestamp.millis(job.scheduledAt),
                Timestamp.millis(job.scheduledAt),
            ])
        return .created(job.asJob)
    }
}
