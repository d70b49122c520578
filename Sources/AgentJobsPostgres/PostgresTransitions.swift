import AgentJobsCore
import Foundation
import Logging
import PostgresNIO

/// Writes `JobTransition`s: the only code that changes a job's scheduling columns or a task's
/// status in the PostgreSQL store, and sends the transitions' announcements.
///
/// Any number of transitions go in one statement (one round trip): their rows travel as JSON
/// arrays that `jsonb_to_recordset` turns back into rows for one UPDATE of the jobs, one
/// UPDATE of the ended tasks, one INSERT of the started tasks and the NOTIFYs. A batch sends
/// each cancel once and one due notification, for its earliest due instant. The UPDATEs also
/// name their ids as an array: the planner estimates a record set at 100 rows whatever its
/// size, and on a table it has no statistics for it would join it by reading the whole table.
enum PostgresTransitions {
    static func apply(
        _ transition: JobTransition, _ connection: PostgresConnection, logger: Logger
    ) async throws {
        try await apply([transition], connection, logger: logger)
    }

    /// Applies `transitions` with their journal entries; returns the events delivered to the
    /// tasks they start, by task id, oldest first.
    @discardableResult
    static func apply(
        _ transitions: [JobTransition], _ connection: PostgresConnection, logger: Logger
    ) async throws -> [String: [JobEvent]] {
        guard !transitions.isEmpty else { return [:] }
        let batch = Batch(transitions)
        let jobs = batch.jobs.recordSetJSON
        let ended = batch.ended.recordSetJSON
        let started = batch.started.recordSetJSON
        let notifications = batch.notifications.recordSetJSON
        let journal = batch.journal.recordSetJSON
        // Unnamed, planned for its values each time: its record sets range from one row to
        // hundreds (`Statements` says why that is not prepared).
        try await connection.query(
            """
            WITH changed_jobs AS (
                UPDATE jobs SET status = c.status, result = c.result, cancel_reason = c.cancel_reason,
                                next_run_at = c.next_run_at, next_kind = c.next_kind, attempts = c.attempts,
                                follow_ups = c.follow_ups, retries = c.retries, started_at = c.started_at,
                                deadline_at = c.deadline_at, finished_at = c.finished_at, updated_at = c.updated_at,
                                pending_events = c.pending_events
                FROM jsonb_to_recordset(\(jobs)::jsonb) AS c(
                    id text, status text, result text, cancel_reason text, next_run_at bigint, next_kind text,
                    attempts integer, follow_ups integer, retries integer, started_at bigint, deadline_at bigint,
                    finished_at bigint, updated_at bigint, pending_events integer)
                WHERE jobs.id = c.id AND jobs.id = ANY(\(batch.jobs.map(\.id)))
                RETURNING 1
            ), ended_tasks AS (
                UPDATE tasks SET status = e.status, result = e.result, error = e.error, finished_at = e.finished_at,
                                 lease_owner = NULL, lease_expires_at = NULL
                FROM jsonb_to_recordset(\(ended)::jsonb) AS e(
                    id text, status text, result text, error text, finished_at bigint)
                WHERE tasks.id = e.id AND tasks.id = ANY(\(batch.ended.map(\.id)))
                RETURNING 1
            ), started_tasks AS (
                INSERT INTO tasks(id, job_id, kind, attempt, status, created_at, started_at, lease_owner,
                                  lease_expires_at, progress_token_hash, due_at)
                SELECT id, job_id, kind, attempt, status, created_at, started_at, lease_owner, lease_expires_at,
                       progress_token_hash, due_at
                FROM jsonb_to_recordset(\(started)::jsonb) AS s(
                    id text, job_id text, kind text, attempt integer, status text, created_at bigint,
                    started_at bigint, lease_owner text, lease_expires_at bigint, progress_token_hash text,
                    due_at bigint)
                RETURNING 1
            ), journal AS (
                INSERT INTO job_entries(job_id, kind, ref_id, status, created_at)
                SELECT job_id, kind, ref_id, status, created_at
                FROM jsonb_to_recordset(\(journal)::jsonb) AS r(
                    seq integer, job_id text, kind text, ref_id text, status text, created_at bigint)
                ORDER BY seq
                RETURNING 1
            )
            SELECT pg_notify(n.channel, n.payload)
            FROM jsonb_to_recordset(\(notifications)::jsonb) AS n(channel text, payload text)
            """, logger: logger)
        guard !batch.deliveries.isEmpty else { return [:] }
        let deliveries = batch.deliveries.recordSetJSON
        var delivered: [String: [JobEvent]] = [:]
        for row in try await PostgresRows.all(
            connection.query(
                """
                UPDATE job_events e SET delivered_to_task_id = m.task_id
                FROM jsonb_to_recordset(\(deliveries)::jsonb) AS m(job_id text, task_id text)
                WHERE e.job_id = m.job_id AND e.delivered_to_task_id IS NULL
                RETURNING e.*
                """, logger: logger))
        {
            let event = try PostgresRows.event(row)
            delivered[event.deliveredToTaskID ?? "", default: []].append(event)
        }
        return delivered.mapValues { $0.sorted { ($0.createdAt, $0.id) < ($1.createdAt, $1.id) } }
    }

    /// The rows of a batch of transitions, in the shapes the statement reads.
    struct Batch {
        var jobs: [JobColumns] = []
        var ended: [EndedTaskColumns] = []
        var started: [StartedTaskColumns] = []
        var notifications: [Notification] = []
        var journal: [JournalColumns] = []
        var deliveries: [Delivery] = []

        init(_ transitions: [JobTransition]) {
            var seen = Set<Notification>()
            var earliestDue: Date?
            for transition in transitions {
                let job = transition.job
                jobs.append(
                    JobColumns(
                        id: transition.jobID, status: job.status.rawValue, result: job.result,
                        cancel_reason: job.cancelReason, next_run_at: job.next.map { Timestamp.millis($0.at) },
                        next_kind: job.next?.kind.rawValue, attempts: job.progress.attempts,
                        follow_ups: job.progress.followUps, retries: job.progress.retries,
                        started_at: job.startedAt.map(Timestamp.millis),
                        deadline_at: job.deadlineAt.map(Timestamp.millis),
                        finished_at: job.finishedAt.map(Timestamp.millis), updated_at: Timestamp.millis(job.updatedAt),
                        pending_events: job.pendingEvents))
                for record in transition.journal {
                    journal.append(JournalColumns(record, seq: journal.count))
                }
                if let end = transition.endedTask {
                    ended.append(
                        EndedTaskColumns(
                            id: end.taskID, status: end.status.rawValue, result: end.result, error: end.error,
                            finished_at: Timestamp.millis(end.finishedAt)))
                }
                if let start = transition.startedTask {
                    let task = start.task
                    started.append(
                        StartedTaskColumns(
                            id: task.id, job_id: task.jobID, kind: task.kind.rawValue, attempt: task.attempt,
                            status: task.status.rawValue, created_at: Timestamp.millis(task.createdAt),
                            started_at: task.startedAt.map(Timestamp.millis), lease_owner: start.leaseOwner,
                            lease_expires_at: Timestamp.millis(start.leaseUntil),
                            progress_token_hash: start.progressTokenHash, due_at: start.dueAt.map(Timestamp.millis)))
                    if start.deliversEvents { deliveries.append(Delivery(job_id: task.jobID, task_id: task.id)) }
                }
                for announcement in transition.announcements {
                    switch announcement {
                    case .due(let at):
                        earliestDue = min(earliestDue ?? at, at)
                    case .canceled:
                        let notification = Notification(
                            channel: PostgresJobStore.cancelChannel, payload: transition.jobID)
                        if seen.insert(notification).inserted { notifications.append(notification) }
                    }
                }
            }
            // Listeners keep the earliest due instant they hear of and read the rest from the
            // table when they get there: one due notification per batch is enough.
            if let earliestDue {
                notifications.append(
                    Notification(channel: PostgresJobStore.dueChannel, payload: String(Timestamp.millis(earliestDue))))
            }
        }
    }

    // Column names as the statement's record definitions spell them.
    // swift-format-ignore: AlwaysUseLowerCamelCase
    struct JobColumns: RecordSetRow {
        var id: String
        var status: String
        var result: String?
        var cancel_reason: String?
        var next_run_at: Int64?
        var next_kind: String?
        var attempts: Int
        var follow_ups: Int
        var retries: Int
        var started_at: Int64?
        var deadline_at: Int64?
        var finished_at: Int64?
        var updated_at: Int64
        var pending_events: Int

        func writeMembers(to json: inout JSONWriter) {
            json.member("id", id, first: true)
            json.member("status", status)
            json.member("result", result)
            json.member("cancel_reason", cancel_reason)
            json.member("next_run_at", integer: next_run_at)
            json.member("next_kind", next_kind)
            json.member("attempts", attempts)
            json.member("follow_ups", follow_ups)
            json.member("retries", retries)
            json.member("started_at", integer: started_at)
            json.member("deadline_at", integer: deadline_at)
            json.member("finished_at", integer: finished_at)
            json.member("updated_at", integer: updated_at)
            json.member("pending_events", pending_events)
        }
    }

    // swift-format-ignore: AlwaysUseLowerCamelCase
    struct JournalColumns: RecordSetRow {
        var seq: Int
        var job_id: String
        var kind: String
        var ref_id: String?
        var status: String?
        var created_at: Int64

        func writeMembers(to json: inout JSONWriter) {
            json.member("seq", seq, first: true)
            json.member("job_id", job_id)
            json.member("kind", kind)
            json.member("ref_id", ref_id)
            json.member("status", status)
            json.member("created_at", integer: created_at)
        }

        init(_ record: JournalRecord, seq: Int) {
            self.seq = seq
            job_id = record.jobID
            kind = record.kind.rawValue
            ref_id = record.refID
            status = record.status
            created_at = Timestamp.millis(record.at)
        }
    }

    // swift-format-ignore: AlwaysUseLowerCamelCase
    struct Delivery: RecordSetRow {
        var job_id: String
        var task_id: String

        func writeMembers(to json: inout JSONWriter) {
            json.member("job_id", job_id, first: true)
            json.member("task_id", task_id)
        }
    }

    // swift-format-ignore: AlwaysUseLowerCamelCase
    struct EndedTaskColumns: RecordSetRow {
        var id: String
        var status: String
        var result: String?
        var error: String?
        var finished_at: Int64

        func writeMembers(to json: inout JSONWriter) {
            json.member("id", id, first: true)
            json.member("status", status)
            json.member("result", result)
            json.member("error", error)
            json.member("finished_at", integer: finished_at)
        }
    }

    // swift-format-ignore: AlwaysUseLowerCamelCase
    struct StartedTaskColumns: RecordSetRow {
        var id: String
        var job_id: String
        var kind: String
        var attempt: Int
        var status: String
        var created_at: Int64
        var started_at: Int64?
        var lease_owner: String
        var lease_expires_at: Int64
        var progress_token_hash: String?
        var due_at: Int64?

        func writeMembers(to json: inout JSONWriter) {
            json.member("id", id, first: true)
            json.member("job_id", job_id)
            json.member("kind", kind)
            json.member("attempt", attempt)
            json.member("status", status)
            json.member("created_at", integer: created_at)
            json.member("started_at", integer: started_at)
            json.member("lease_owner", lease_owner)
            json.member("lease_expires_at", integer: lease_expires_at)
            json.member("progress_token_hash", progress_token_hash)
            json.member("due_at", integer: due_at)
        }
    }

    struct Notification: RecordSetRow, Hashable {
        var channel: String
        var payload: String

        func writeMembers(to json: inout JSONWriter) {
            json.member("channel", channel, first: true)
            json.member("payload", payload)
        }
    }
}
