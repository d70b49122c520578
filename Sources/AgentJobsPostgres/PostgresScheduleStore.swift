import AgentJobsCore
import Foundation
import PostgresNIO

/// Schedules on PostgreSQL: their rows, and firing due ones with the jobs they create. Any
/// node may fire: a due schedule's row is locked (`FOR UPDATE SKIP LOCKED`) while its job is
/// inserted and `next_run_at` advanced, and the unique (schedule, occurrence) key backs that.
extension PostgresJobStore {
    public func createSchedule(
        _ schedule: Schedule, idempotency: IdempotencyClaim?
    ) async throws -> CreateScheduleOutcome {
        // Two creates racing on one key: the loser's insert fails on the key's primary key and
        // retries, then finds the winner's row and replays it (as for jobs).
        for attempt in 1...3 {
            do {
                return try await translatingConstraints(
                    duplicate: "schedule '\(schedule.id)' already exists",
                    missingReference: "organization '\(schedule.orgID)' not found"
                ) {
                    try await transaction { connection in
                        try await insertSchedule(schedule, idempotency: idempotency, connection)
                    }
                }
            } catch let error as AgentJobsError where error.code == .conflict && idempotency != nil && attempt < 3 {
                continue
            }
        }
        throw AgentJobsError.conflict("Idempotency-Key '\(idempotency?.key ?? "")' is being used concurrently")
    }

    private func insertSchedule(
        _ schedule: Schedule, idempotency: IdempotencyClaim?, _ connection: PostgresConnection
    ) async throws -> CreateScheduleOutcome {
        func load(_ id: String) async throws -> Schedule? {
            try await PostgresRows.all(connection.query("SELECT * FROM schedules WHERE id = \(id)", logger: logger))
                .first.map(PostgresRows.schedule)
        }
        if let idempotency,
            let firstID = try await Self.recordClaim(
                idempotency, orgID: schedule.orgID, recordID: schedule.id, date: schedule.createdAt, connection,
                logger: logger, exists: { try await load($0) != nil }),
            let first = try await load(firstID)
        {
            return .replayed(first)
        }
        let job = try Self.encodeJob(schedule.job)
        try await connection.query(
            """
            WITH inserted AS (
                INSERT INTO schedules(id, org_id, name, cron, timezone, job, job_type_id, delay_minutes, overlap,
                                      paused, next_run_at, last_run_at, last_job_id, runs, skipped, created_at,
                                      updated_at)
                VALUES (\(schedule.id), \(schedule.orgID), \(schedule.name), \(schedule.cron),
                        \(schedule.timezone), \(job), \(schedule.job.jobTypeID), \(schedule.delayMinutes),
                        \(schedule.overlap.rawValue), \(schedule.paused), \(schedule.nextRunAt.map(Timestamp.millis)),
                        \(schedule.lastRunAt.map(Timestamp.millis)), \(schedule.lastJobID), \(Int64(schedule.runs)),
                        \(Int64(schedule.skipped)), \(Timestamp.millis(schedule.createdAt)),
                        \(Timestamp.millis(schedule.updatedAt)))
                RETURNING next_run_at)
            SELECT pg_notify(\(Self.dueChannel), COALESCE(next_run_at, 0)::text) FROM inserted
            """, logger: logger)
        return .created(schedule)
    }

    public func schedule(id: String) async throws -> Schedule? {
        try await PostgresRows.all(client.query("SELECT * FROM schedules WHERE id = \(id)", logger: logger))
            .first.map(PostgresRows.schedule)
    }

    public func listSchedules(_ query: ScheduleQuery) async throws -> SchedulePage {
        var filter = SQLBuilder(" WHERE org_id = ")
        try filter.bind(query.orgID)
        if let paused = query.paused {
            filter.append(" AND paused = ")
            try filter.bind(paused)
        }
        if let jobTypeID = query.jobTypeID {
            filter.append(" AND job_type_id = ")
            try filter.bind(jobTypeID)
        }
        let direction = query.direction == .asc ? "ASC" : "DESC"
        let column = query.sortField.column
        var page = filter
        page.append(" ORDER BY \(column) IS NULL, \(column) \(direction), id \(direction) LIMIT ")
        try page.bind(Int64(query.limit))
        page.append(" OFFSET ")
        try page.bind(Int64(query.offset))
        return try await client.withConnection { connection in
            let rows = try await PostgresRows.all(
                connection.query(page.query(prefix: "SELECT * FROM schedules"), logger: logger))
            let total =
                try await PostgresRows.all(
                    connection.query(filter.query(prefix: "SELECT COUNT(*) AS n FROM schedules"), logger: logger)
                ).first.map { try $0.int64("n") } ?? 0
            return SchedulePage(schedules: try rows.map(PostgresRows.schedule), total: Int(total))
        }
    }

    public func updateSchedule(_ schedule: Schedule) async throws -> Bool {
        let job = try Self.encodeJob(schedule.job)
        let rows = try await PostgresRows.all(
            client.query(
                """
                WITH updated AS (
                    UPDATE schedules SET name = \(schedule.name), cron = \(schedule.cron),
                        timezone = \(schedule.timezone), job = \(job), job_type_id = \(schedule.job.jobTypeID),
                        delay_minutes = \(schedule.delayMinutes), overlap = \(schedule.overlap.rawValue),
                        paused = \(schedule.paused), next_run_at = \(schedule.nextRunAt.map(Timestamp.millis)),
                        updated_at = \(Timestamp.millis(schedule.updatedAt))
                    WHERE id = \(schedule.id)
                    RETURNING next_run_at)
                SELECT pg_notify(\(Self.dueChannel), COALESCE(next_run_at, 0)::text) FROM updated
                """, logger: logger))
        return !rows.isEmpty
    }

    public func deleteSchedule(id: String) async throws -> Bool {
        let rows = try await PostgresRows.all(
            client.query("DELETE FROM schedules WHERE id = \(id) RETURNING id", logger: logger))
        return !rows.isEmpty
    }

    public func fireDueSchedules(
        now: Date, limit: Int, jitter: @escaping @Sendable () -> Double
    ) async throws -> [Job] {
        try await transaction { connection in
            let rows = try await PostgresRows.all(
                connection.query(
                    """
                    SELECT *, \(unescaped: nowSQL) AS database_now FROM schedules
                    WHERE next_run_at IS NOT NULL AND next_run_at <= \(unescaped: nowSQL)
                    ORDER BY next_run_at LIMIT \(Int64(limit)) FOR UPDATE SKIP LOCKED
                    """, logger: logger))
            var created: [Job] = []
            for row in rows {
                let schedule = try PostgresRows.schedule(row)
                let databaseNow = try row.date("database_now")
                var previousActive = false
                if schedule.overlap == .skip, let lastJobID = schedule.lastJobID,
                    let status = try await PostgresRows.all(
                        connection.query("SELECT status FROM jobs WHERE id = \(lastJobID)", logger: logger)
                    ).first
                {
                    previousActive = !(try JobStatus.stored(try status.string("status"), column: "jobs.status"))
                        .isTerminal
                }
                // Job types never change once created: the store's cache answers.
                let jobType = try await self.jobType(id: schedule.job.jobTypeID)
                guard
                    var firing = ScheduleFiring.plan(
                        schedule, now: databaseNow, previousJobActive: previousActive, jobType: jobType,
                        jobID: Identifier.make(prefix: "job", at: databaseNow), jitter: jitter())
                else {
                    // A row no rule can be read from: it stops rather than keep the timer spinning.
                    try await connection.query(
                        "UPDATE schedules SET next_run_at = NULL WHERE id = \(schedule.id)", logger: logger)
                    continue
                }
                if let job = firing.job {
                    let exists = try await PostgresRows.all(
                        connection.query(
                            """
                            SELECT 1 AS one FROM jobs
                            WHERE schedule_id = \(schedule.id)
                              AND schedule_occurrence = \(Timestamp.millis(firing.occurrence))
                            """, logger: logger))
                    if exists.isEmpty {
                        _ = try await Self.insert(job, idempotency: nil, at: databaseNow, connection, logger: logger)
                        created.append(job.asJob)
                    } else {
                        firing.job = nil
                    }
                }
                let updated = firing.applied(to: schedule, now: databaseNow)
                try await connection.query(
                    """
                    UPDATE schedules SET next_run_at = \(updated.nextRunAt.map(Timestamp.millis)),
                        last_run_at = \(updated.lastRunAt.map(Timestamp.millis)), last_job_id = \(updated.lastJobID),
                        runs = \(Int64(updated.runs)), skipped = \(Int64(updated.skipped)),
                        updated_at = \(Timestamp.millis(updated.updatedAt))
                    WHERE id = \(schedule.id)
                    """, logger: logger)
            }
            return created
        }
    }

    static func encodeJob(_ job: JobSubmission) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .millisecondsSince1970
        return String(decoding: try encoder.encode(job), as: UTF8.self)
    }
}
