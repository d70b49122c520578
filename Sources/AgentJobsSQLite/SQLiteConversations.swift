import AgentJobsCore
import Foundation
import GRDB

/// Events, progress reports and the journal that job streams read, in the SQLite store.
extension SQLiteJobStore {
    public func recordEvent(
        _ event: EventSubmission, jobID: String, orgID: String, idempotency: IdempotencyClaim?, at date: Date
    ) async throws -> RecordEventOutcome {
        try await countedWrite { write in
            let db = write.db
            guard
                let row = try Row.fetchOne(
                    db.cachedStatement(sql: "SELECT \(Self.runStateSelect) FROM jobs WHERE id = ?"), arguments: [jobID])
            else {
                return .notFound
            }
            let state = try Self.runState(atPositionsOf: row)
            guard state.orgID == orgID else { return .forbidden }
            let eventID = Identifier.make(prefix: "evt", at: date)
            if let claim = idempotency,
                let firstID = try Self.recordClaim(
                    claim, orgID: orgID, recordID: eventID, date: date, db,
                    exists: { try Self.loadEvent(id: $0, db) != nil }),
                let first = try Self.loadEvent(id: firstID, db)
            {
                return .replayed(first)
            }
            switch JobStateMachine.recordEvent(state, byOrg: orgID, now: date) {
            case .forbidden: return .forbidden
            case .alreadyTerminal(let status): return .alreadyTerminal(status)
            case .record(let transition, let wakeAt):
                let stored = JobEvent(id: eventID, jobID: jobID, type: event.type, data: event.data, createdAt: date)
                try db.execute(
                    sql: "INSERT INTO job_events(id, job_id, type, data, created_at) VALUES (?, ?, ?, ?, ?)",
                    arguments: [eventID, jobID, event.type, event.data.compactJSON(), Timestamp.millis(date)])
                try SQLiteTransitions.apply(transition, write)
                write.journal.append(
                    JournalRecord(jobID: jobID, kind: .event, refID: eventID, status: nil, at: date))
                return .recorded(stored, wakeAt: wakeAt)
            }
        }
    }

    public func recordProgress(
        jobID: String, taskID: String, tokenHash: String, message: String?, data: JSONValue, at date: Date
    ) async throws -> RecordProgressOutcome {
        try await countedWrite { write in
            let db = write.db
            guard
                let row = try Row.fetchOne(
                    db, sql: "SELECT status, progress_token_hash FROM tasks WHERE id = ? AND job_id = ?",
                    arguments: [taskID, jobID]),
                let stored = row["progress_token_hash"] as String?,
                TokenSecret.hashesMatch(stored, tokenHash)
            else { return .unauthorized }
            let status = try TaskStatus.stored(row["status"], column: "tasks.status")
            guard status == .running else { return .notRunning(status) }
            let entry = ProgressEntry(
                id: Identifier.make(prefix: "prg", at: date), jobID: jobID, taskID: taskID, message: message,
                data: data, createdAt: date)
            try db.execute(
                sql:
                    "INSERT INTO task_progress(id, job_id, task_id, message, data, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                arguments: [entry.id, jobID, taskID, message, data.compactJSON(), Timestamp.millis(date)])
            write.journal.append(
                JournalRecord(jobID: jobID, kind: .progress, refID: entry.id, status: nil, at: date))
            return .recorded(entry)
        }
    }

    public func streamEntries(jobID: String, after: Int64, limit: Int) async throws -> [StreamEntry] {
        try await pool.read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT e.id AS entry_id, e.kind AS entry_kind, e.ref_id, e.status AS entry_status,
                           e.created_at AS entry_created_at,
                           ev.id, ev.job_id, ev.type, ev.data, ev.created_at, ev.delivered_to_task_id,
                           p.id AS progress_id, p.task_id AS progress_task_id, p.message AS progress_message,
                           p.data AS progress_data, p.created_at AS progress_created_at
                    FROM job_entries e
                    LEFT JOIN job_events ev ON e.kind = 'event' AND ev.id = e.ref_id
                    LEFT JOIN task_progress p ON e.kind = 'progress' AND p.id = e.ref_id
                    WHERE e.job_id = ? AND e.id > ?
                    ORDER BY e.id
                    LIMIT ?
                    """,
                arguments: [jobID, after, limit]
            ).compactMap { row in try Self.streamEntry(from: row, jobID: jobID) }
        }
    }

    public func latestStreamEntries(jobIDs: [String]) async throws -> [String: Int64] {
        guard !jobIDs.isEmpty else { return [:] }
        return try await pool.read { db in
            var latest: [String: Int64] = [:]
            for jobID in jobIDs {
                if let id = try Int64.fetchOne(
                    db.cachedStatement(sql: "SELECT MAX(id) FROM job_entries WHERE job_id = ?"), arguments: [jobID])
                {
                    latest[jobID] = id
                }
            }
            return latest
        }
    }

    /// A journal row joined with its event or progress report; `nil` when what it names is gone.
    static func streamEntry(from row: Row, jobID: String) throws -> StreamEntry? {
        let kind: StreamEntry.Kind
        switch row["entry_kind"] as String {
        case "job":
            kind = .job(try JobStatus.stored(row["entry_status"], column: "job_entries.status"))
        case "task":
            kind = .task(
                id: row["ref_id"], status: try TaskStatus.stored(row["entry_status"], column: "job_entries.status"))
        case "event":
            guard (row["id"] as String?) != nil else { return nil }
            kind = .event(try event(from: row))
        case "progress":
            guard let id = row["progress_id"] as String? else { return nil }
            kind = .progress(
                ProgressEntry(
                    id: id, jobID: jobID, taskID: row["progress_task_id"], message: row["progress_message"],
                    data: try JSONValue.parse(any: row["progress_data"]),
                    createdAt: Timestamp.date(millis: row["progress_created_at"])))
        default:
            return nil
        }
        return StreamEntry(
            id: row["entry_id"], jobID: jobID, kind: kind, createdAt: Timestamp.date(millis: row["entry_created_at"]))
    }

    static func event(from row: Row) throws -> JobEvent {
        JobEvent(
            id: row["id"], jobID: row["job_id"], type: row["type"], data: try JSONValue.parse(any: row["data"]),
            createdAt: Timestamp.date(millis: row["created_at"]), deliveredToTaskID: row["delivered_to_task_id"])
    }

    static func loadEvent(id: String, _ db: Database) throws -> JobEvent? {
        try Row.fetchOne(db, sql: "SELECT * FROM job_events WHERE id = ?", arguments: [id]).map(event(from:))
    }

    /// Adds the job's latest events, and each task's delivered events and latest progress.
    static func addEventsAndProgress(to job: inout Job, _ db: Database) throws {
        job.events = try Row.fetchAll(
            db.cachedStatement(
                sql: """
                    SELECT * FROM (SELECT * FROM job_events WHERE job_id = ? ORDER BY created_at DESC, id DESC LIMIT ?)
                    ORDER BY created_at, id
                    """),
            arguments: [job.id, JobEvent.shownPerJob]
        ).map(event(from:))
        guard !job.tasks.isEmpty else { return }
        var eventIDs: [String: [String]] = [:]
        for row in try Row.fetchAll(
            db.cachedStatement(
                sql: """
                    SELECT id, delivered_to_task_id FROM job_events
                    WHERE job_id = ? AND delivered_to_task_id IS NOT NULL ORDER BY created_at, id
                    """),
            arguments: [job.id])
        {
            eventIDs[row["delivered_to_task_id"], default: []].append(row["id"])
        }
        var progress: [String: [ProgressEntry]] = [:]
        for row in try Row.fetchAll(
            db.cachedStatement(
                sql: """
                    SELECT * FROM (
                        SELECT *, ROW_NUMBER() OVER (PARTITION BY task_id ORDER BY created_at DESC, id DESC) AS n
                        FROM task_progress WHERE job_id = ?)
                    WHERE n <= ? ORDER BY created_at, id
                    """),
            arguments: [job.id, ProgressEntry.shownPerTask])
        {
            let entry = ProgressEntry(
                id: row["id"], jobID: job.id, taskID: row["task_id"], message: row["message"],
                data: try JSONValue.parse(any: row["data"]), createdAt: Timestamp.date(millis: row["created_at"]))
            progress[entry.taskID, default: []].append(entry)
        }
        for index in job.tasks.indices {
            job.tasks[index].eventIDs = eventIDs[job.tasks[index].id] ?? []
            job.tasks[index].progress = progress[job.tasks[index].id] ?? []
        }
    }
}
