import AgentJobsCore
import Foundation
import GRDB

/// Schedules on SQLite: their rows, and firing due ones with the jobs they create.
extension SQLiteJobStore {
    public func createSchedule(
        _ schedule: Schedule, idempotency: IdempotencyClaim?
    ) async throws -> CreateScheduleOutcome {
        try await translatingConstraints(
            duplicate: "schedule '\(schedule.id)' already exists",
            missingReference: "organization '\(schedule.orgID)' not found"
        ) {
            try await pool.write { db in
                if let idempotency,
                    let firstID = try Self.recordClaim(
                        idempotency, orgID: schedule.orgID, recordID: schedule.id, date: schedule.createdAt, db,
                        exists: {
                            try Bool.fetchOne(db, sql: "SELECT 1 FROM schedules WHERE id = ?", arguments: [$0]) ?? false
                        }),
                    let first = try Row.fetchOne(db, sql: "SELECT * FROM schedules WHERE id = ?", arguments: [firstID])
                {
                    return .replayed(try Self.schedule(from: first))
                }
                try db.execute(
                    sql: """
                        INSERT INTO schedules(id, org_id, name, cron, timezone, job, job_type_id, delay_minutes,
                                              overlap, paused, next_run_at, last_run_at, last_job_id, runs, skipped,
                                              created_at, updated_at)
                        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                        """,
                    arguments: [
                        schedule.id, schedule.orgID, schedule.name, schedule.cron, schedule.timezone,
                        try Self.encodeJob(schedule.job), schedule.job.jobTypeID, schedule.delayMinutes,
                        schedule.overlap.rawValue, schedule.paused, schedule.nextRunAt.map(Timestamp.millis),
                        schedule.lastRunAt.map(Timestamp.millis), schedule.lastJobID, schedule.runs, schedule.skipped,
                        Timestamp.millis(schedule.createdAt), Timestamp.millis(schedule.updatedAt),
                    ])
                return .created(schedule)
            }
        }
    }

    public func schedule(id: String) async throws -> Schedule? {
        try await pool.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM schedules WHERE id = ?", arguments: [id]).map(Self.schedule(from:))
        }
    }

    public func listSchedules(_ query: ScheduleQuery) async throws -> SchedulePage {
        try await pool.read { db in
            var conditions = ["org_id = ?"]
            var arguments: [any DatabaseValueConvertible] = [query.orgID]
            if let paused = query.paused {
                conditions.append("paused = ?")
                arguments.append(paused)
            }
            if let jobTypeID = query.jobTypeID {
                conditions.append("job_type_id = ?")
                arguments.append(jobTypeID)
            }
            let whereClause = conditions.joined(separator: " AND ")
            let direction = query.direction == .asc ? "ASC" : "DESC"
            // NULLs (paused schedules' next_run_at, unnamed schedules) sort last either way.
            let order =
                "\(query.sortField.column) IS NULL, \(query.sortField.column) \(direction), id \(direction)"
            let rows = try Row.fetchAll(
                db, sql: "SELECT * FROM schedules WHERE \(whereClause) ORDER BY \(order) LIMIT ? OFFSET ?",
                arguments: StatementArguments(arguments + [query.limit, query.offset]))
            let total =
                try Int.fetchOne(
                    db, sql: "SELECT COUNT(*) FROM schedules WHERE \(whereClause)",
                    arguments: StatementArguments(arguments)) ?? 0
            return SchedulePage(schedules: try rows.map(Self.schedule(from:)), total: total)
        }
    }

    public func updateSchedule(_ schedule: Schedule) async throws -> Bool {
        try await pool.write { db in
            try db.execute(
                sql: """
                    UPDATE schedules SET name = ?, cron = ?, timezone = ?, job = ?, job_type_id = ?,
                        delay_minutes = ?, overlap = ?, paused = ?, next_run_at = ?, updated_at = ?
                    WHERE id = ?
                    """,
                arguments: [
                    schedule.name, schedule.cron, schedule.timezone, try Self.encodeJob(schedule.job),
                    schedule.job.jobTypeID, schedule.delayMinutes, schedule.overlap.rawValue, schedule.paused,
                    schedule.nextRunAt.map(Timestamp.millis), Timestamp.millis(schedule.updatedAt), schedule.id,
                ])
            return db.changesCount > 0
        }
    }

    public func deleteSchedule(id: String) async throws -> Bool {
        try await pool.write { db in
            try db.execute(sql: "DELETE FROM schedules WHERE id = ?", arguments: [id])
            return db.changesCount > 0
        }
    }

    public func fireDueSchedules(
        now: Date, limit: Int, jitter: @escaping @Sendable () -> Double
    ) async throws -> [Job] {
        try await countedWrite { write in
            let db = write.db
            let due = try Row.fetchAll(
                db,
                sql: """
                    SELECT * FROM schedules WHERE next_run_at IS NOT NULL AND next_run_at <= ?
                    ORDER BY next_run_at LIMIT ?
                    """,
                arguments: [Timestamp.millis(now), limit]
            ).map(Self.schedule(from:))
            var created: [Job] = []
            for schedule in due {
                let previousActive =
                    try (schedule.overlap == .skip ? schedule.lastJobID : nil).map { id in
                        try String.fetchOne(db, sql: "SELECT status FROM jobs WHERE id = ?", arguments: [id])
                            .map { !(try JobStatus.stored($0, column: "jobs.status")).isTerminal } ?? false
                    } ?? false
                let jobType = try Row.fetchOne(
                    db, sql: "SELECT * FROM job_types WHERE id = ?", arguments: [schedule.job.jobTypeID]
                ).map(Self.jobType(from:))
                guard
                    var firing = ScheduleFiring.plan(
                        schedule, now: now, previousJobActive: previousActive, jobType: jobType,
                        jobID: Identifier.make(prefix: "job", at: now), jitter: jitter())
                else {
                    // A row no rule can be read from: it stops rather than keep the timer spinning.
                    try db.execute(
                        sql: "UPDATE schedules SET next_run_at = NULL WHERE id = ?", arguments: [schedule.id])
                    continue
                }
                if let job = firing.job {
                    let exists =
                        try Bool.fetchOne(
                            db, sql: "SELECT 1 FROM jobs WHERE schedule_id = ? AND schedule_occurrence = ?",
                            arguments: [schedule.id, Timestamp.millis(firing.occurrence)]) ?? false
                    if exists {
                        firing.job = nil
                    } else {
                        _ = try Self.insert(
                            CreateRequest(job: job, idempotency: nil, date: now, text: StoredJobText(job)), write)
                        created.append(job.asJob)
                    }
                }
                let updated = firing.applied(to: schedule, now: now)
                try db.execute(
                    sql: """
                        UPDATE schedules SET next_run_at = ?, last_run_at = ?, last_job_id = ?, runs = ?,
                            skipped = ?, updated_at = ?
                        WHERE id = ?
                        """,
                    arguments: [
                        updated.nextRunAt.map(Timestamp.millis), updated.lastRunAt.map(Timestamp.millis),
                        updated.lastJobID, updated.runs, updated.skipped, Timestamp.millis(updated.updatedAt),
                        schedule.id,
                    ])
            }
            return created
        }
    }

    static func decodeJob(_ text: String) throws -> JobSubmission {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .millisecondsSince1970
        return try decoder.decode(JobSubmission.self, from: Data(text.utf8))
    }

    static func encodeJob(_ job: JobSubmission) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .millisecondsSince1970
        return String(decoding: try encoder.encode(job), as: UTF8.self)
    }
}
