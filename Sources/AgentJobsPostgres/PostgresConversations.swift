import AgentJobsCore
import Foundation
import Logging
import PostgresNIO

/// Events, progress reports and the journal that job streams read, in the PostgreSQL store.
/// Every write to a job's journal holds the job's row lock.
extension PostgresJobStore {
    public func recordEvent(
        _ event: EventSubmission, jobID: String, orgID: String, idempotency: IdempotencyClaim?, at date: Date
    ) async throws -> RecordEventOutcome {
        let logger = self.logger
        return try await transaction { connection in
            guard
                let row = try await PostgresRows.all(
                    connection.query(
                        "SELECT *, \(unescaped: nowSQL) AS database_now FROM jobs WHERE id = \(jobID) FOR UPDATE",
                        logger: logger)
                ).first
            else { return .notFound }
            let state = try PostgresRows.runState(row)
            guard state.orgID == orgID else { return .forbidden }
            let now = try row.date("database_now")
            let eventID = Identifier.make(prefix: "evt", at: now)
            if let claim = idempotency,
                let firstID = try await Self.recordClaim(
                    claim, orgID: orgID, recordID: eventID, date: now, connection, logger: logger,
                    exists: { try await Self.loadEvent(id: $0, connection, logger: logger) != nil }),
                let first = try await Self.loadEvent(id: firstID, connection, logger: logger)
            {
                return .replayed(first)
            }
            switch JobStateMachine.recordEvent(state, byOrg: orgID, now: now) {
            case .forbidden: return .forbidden
            case .alreadyTerminal(let status): return .alreadyTerminal(status)
            case .record(let transition, let wakeAt):
                let data = event.data.compactJSON()
                let millis = Timestamp.millis(now)
                try await connection.query(
                    """
                    WITH event AS (
                        INSERT INTO job_events(id, job_id, type, data, created_at)
                        VALUES (\(eventID), \(jobID), \(event.type), \(data), \(millis))
                    )
                    INSERT INTO job_entries(job_id, kind, ref_id, created_at)
                    VALUES (\(jobID), 'event', \(eventID), \(millis))
                    """, logger: logger)
                try await PostgresTransitions.apply(transition, connection, logger: logger)
                return .recorded(
                    JobEvent(id: eventID, jobID: jobID, type: event.type, data: event.data, createdAt: now),
                    wakeAt: wakeAt)
            }
        }
    }

    public func recordProgress(
        jobID: String, taskID: String, tokenHash: String, message: String?, data: JSONValue, at date: Date
    ) async throws -> RecordProgressOutcome {
        let logger = self.logger
        return try await transaction { connection in
            guard
                let row = try await PostgresRows.all(
                    connection.query(
                        """
                        SELECT t.status, t.progress_token_hash, \(unescaped: nowSQL) AS database_now
                        FROM jobs j JOIN tasks t ON t.job_id = j.id
                        WHERE j.id = \(jobID) AND t.id = \(taskID)
                        FOR UPDATE OF j
                        """, logger: logger)
                ).first,
                let stored = try row.optionalString("progress_token_hash"),
                TokenSecret.hashesMatch(stored, tokenHash)
            else { return .unauthorized }
            let status = try TaskStatus.stored(try row.string("status"), column: "tasks.status")
            guard status == .running else { return .notRunning(status) }
            let now = try row.date("database_now")
            let entry = ProgressEntry(
                id: Identifier.make(prefix: "prg", at: now), jobID: jobID, taskID: taskID, message: message,
                data: data, createdAt: now)
            let millis = Timestamp.millis(now)
            try await connection.query(
                """
                WITH progress AS (
                    INSERT INTO task_progress(id, job_id, task_id, message, data, created_at)
                    VALUES (\(entry.id), \(jobID), \(taskID), \(message), \(data.compactJSON()), \(millis))
                )
                INSERT INTO job_entries(job_id, kind, ref_id, created_at)
                VALUES (\(jobID), 'progress', \(entry.id), \(millis))
                """, logger: logger)
            return .recorded(entry)
        }
    }

    public func streamEntries(jobID: String, after: Int64, limit: Int) async throws -> [StreamEntry] {
        let rows = try await client.query(
            """
            SELECT e.id AS entry_id, e.kind AS entry_kind, e.ref_id, e.status AS entry_status,
                   e.created_at AS entry_created_at,
                   ev.id, ev.job_id, ev.type, ev.data, ev.created_at, ev.delivered_to_task_id,
                   p.id AS progress_id, p.task_id AS progress_task_id, p.message AS progress_message,
                   p.data AS progress_data, p.created_at AS progress_created_at
            FROM job_entries e
            LEFT JOIN job_events ev ON e.kind = 'event' AND ev.id = e.ref_id
            LEFT JOIN task_progress p ON e.kind = 'progress' AND p.id = e.ref_id
            WHERE e.job_id = \(jobID) AND e.id > \(after)
            ORDER BY e.id
            LIMIT \(limit)
            """, logger: logger
        ).collect()
        return try rows.map { $0.makeRandomAccess() }.compactMap { row in
            let kind: StreamEntry.Kind
            switch try row.string("entry_kind") {
            case "job":
                kind = .job(try JobStatus.stored(try row.string("entry_status"), column: "job_entries.status"))
            case "task":
                kind = .task(
                    id: try row.string("ref_id"),
                    status: try TaskStatus.stored(try row.string("entry_status"), column: "job_entries.status"))
            case "event":
                guard try row.optionalString("id") != nil else { return nil }
                kind = .event(try PostgresRows.event(row))
            case "progress":
                guard let id = try row.optionalString("progress_id") else { return nil }
                kind = .progress(
                    ProgressEntry(
                        id: id, jobID: jobID, taskID: try row.string("progress_task_id"),
                        message: try row.optionalString("progress_message"),
                        data: try JSONValue.parse(any: try row.string("progress_data")),
                        createdAt: try row.date("progress_created_at")))
            default:
                return nil
            }
            return StreamEntry(
                id: try row.int64("entry_id"), jobID: jobID, kind: kind, createdAt: try row.date("entry_created_at"))
        }
    }

    public func latestStreamEntries(jobIDs: [String]) async throws -> [String: Int64] {
        guard !jobIDs.isEmpty else { return [:] }
        var latest: [String: Int64] = [:]
        for try await (jobID, id) in try await client.query(
            "SELECT job_id, MAX(id) FROM job_entries WHERE job_id = ANY(\(jobIDs)) GROUP BY job_id", logger: logger
        ).decode((String, Int64).self) {
            latest[jobID] = id
        }
        return latest
    }

    static func loadEvent(id: String, _ connection: PostgresConnection, logger: Logger) async throws -> JobEvent? {
        try await PostgresRows.all(connection.query("SELECT * FROM job_events WHERE id = \(id)", logger: logger))
            .first.map(PostgresRows.event)
    }

    /// Adds the job's latest events, and each task's delivered events and latest progress.
    static func addEventsAndProgress(
        to job: inout Job, _ connection: PostgresConnection, logger: Logger
    ) async throws {
        let jobID = job.id
        job.events = try await PostgresRows.all(
            connection.query(
                """
                SELECT * FROM (
                    SELECT * FROM job_events WHERE job_id = \(jobID)
                    ORDER BY created_at DESC, id DESC LIMIT \(JobEvent.shownPerJob)) AS latest
                ORDER BY created_at, id
                """, logger: logger)
        ).map(PostgresRows.event)
        guard !job.tasks.isEmpty else { return }
        var eventIDs: [String: [String]] = [:]
        for try await (id, taskID) in try await connection.query(
            """
            SELECT id, delivered_to_task_id FROM job_events
            WHERE job_id = \(jobID) AND delivered_to_task_id IS NOT NULL ORDER BY created_at, id
            """, logger: logger
        ).decode((String, String).self) {
            eventIDs[taskID, default: []].append(id)
        }
        var progress: [String: [ProgressEntry]] = [:]
        for row in try await PostgresRows.all(
            connection.query(
                """
                SELECT * FROM (
                    SELECT *, ROW_NUMBER() OVER (PARTITION BY task_id ORDER BY created_at DESC, id DESC) AS n
                    FROM task_progress WHERE job_id = \(jobID)) AS latest
                WHERE n <= \(ProgressEntry.shownPerTask) ORDER BY created_at, id
                """, logger: logger))
        {
            let entry = ProgressEntry(
                id: try row.string("id"), jobID: jobID, taskID: try row.string("task_id"),
                message: try row.optionalString("message"), data: try JSONValue.parse(any: try row.string("data")),
                createdAt: try row.date("created_at"))
            progress[entry.taskID, default: []].append(entry)
        }
        for index in job.tasks.indices {
            job.tasks[index].eventIDs = eventIDs[job.tasks[index].id] ?? []
            job.tasks[index].progress = progress[job.tasks[index].id] ?? []
        }
    }
}

extension PostgresRows {
    static func event(_ row: PostgresRandomAccessRow) throws -> JobEvent {
        JobEvent(
            id: try row.string("id"), jobID: try row.string("job_id"), type: try row.string("type"),
            data: try JSONValue.parse(any: try row.string("data")), createdAt: try row.date("created_at"),
            deliveredToTaskID: try row.optionalString("delivered_to_task_id"))
    }
}
