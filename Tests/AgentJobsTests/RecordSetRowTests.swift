import AgentJobsCore
import Foundation
import PostgresNIO
import Testing

@testable import AgentJobsPostgres

/// The rows PostgreSQL's statements read with `jsonb_to_recordset`, written by hand with
/// `JSONWriter`: every stored property is a member under its own name with its own value,
/// and text comes back from PostgreSQL exactly as it went in.
@Suite("Record set rows")
struct RecordSetRowTests {
    static let tricky = "quote \" backslash \\ slash / newline \n tab \t control \u{1} \u{1F} é 🎉 \u{7F}"

    /// Each property of `row` (by `Mirror`) against the member of that name in its JSON.
    static func checkMembers(_ row: some RecordSetRow) throws {
        let text = [row].recordSetJSON
        let parsed = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [[String: Any]]
        let members = try #require(parsed?.first, "\(text)")
        let properties = Mirror(reflecting: row).children
        #expect(Set(members.keys) == Set(properties.compactMap(\.label)), "\(type(of: row))")
        for property in properties {
            let label = try #require(property.label)
            let value = members[label]
            switch property.value {
            case let text as String: #expect(value as? String == text, "\(label)")
            case let text as String?: #expect((text == nil ? value is NSNull : value as? String == text), "\(label)")
            case let number as Int: #expect((value as? NSNumber)?.intValue == number, "\(label)")
            case let number as Int64: #expect((value as? NSNumber)?.int64Value == number, "\(label)")
            case let number as Int64?:
                #expect((number == nil ? value is NSNull : (value as? NSNumber)?.int64Value == number), "\(label)")
            default: Issue.record("\(label): a property of a type the test does not know")
            }
        }
    }

    @Test("every property of every row is a member of its JSON object, with its value")
    func members() throws {
        try Self.checkMembers(
            PostgresTransitions.JobColumns(
                id: "job_1", status: "RUNNING", result: Self.tricky, cancel_reason: nil, next_run_at: nil,
                next_kind: "retry", attempts: 2, follow_ups: 1, retries: 3, started_at: 1_700_000_000_123,
                deadline_at: -5, finished_at: nil, updated_at: Int64.max, pending_events: 4))
        try Self.checkMembers(
            PostgresTransitions.JournalColumns(
                JournalRecord(jobID: "job_1", kind: .task, refID: "task_1", status: "RUNNING", at: Date()), seq: 7))
        try Self.checkMembers(PostgresTransitions.Delivery(job_id: "job_1", task_id: "task_1"))
        try Self.checkMembers(
            PostgresTransitions.EndedTaskColumns(
                id: "task_1", status: "FAILED", result: nil, error: Self.tricky, finished_at: 12))
        try Self.checkMembers(
            PostgresTransitions.StartedTaskColumns(
                id: "task_1", job_id: "job_1", kind: "initial", attempt: 1, status: "RUNNING", created_at: 1,
                started_at: 2, lease_owner: "node", lease_expires_at: 3, progress_token_hash: nil, due_at: 4))
        try Self.checkMembers(PostgresTransitions.Notification(channel: "agent_jobs_due", payload: Self.tricky))
        let now = Date()
        let job = NewJob(
            id: "job_2", orgID: "org", jobTypeID: "type",
            targetChannel: TargetChannel(orgID: "org", platform: "slack", type: "channel", code: Self.tricky),
            status: .scheduled, config: .defaults, params: ["text": .string(Self.tricky)], createdAt: now,
            scheduledAt: now.addingTimeInterval(60), scheduleID: "sched_1", scheduleOccurrence: now)
        try Self.checkMembers(
            PostgresJobStore.CreateColumns(
                PostgresJobStore.CreateRequest(
                    job: job, idempotency: IdempotencyClaim(key: "k", fingerprint: "f"), date: now)))
        try Self.checkMembers(
            PostgresJobStore.CreateColumns(PostgresJobStore.CreateRequest(job: job, idempotency: nil, date: now)))
    }

    @Test("text and numbers come back from jsonb_to_recordset as they went in", arguments: StoreKind.available)
    func roundTrip(kind: StoreKind) async throws {
        guard kind == .postgres else { return }
        let env = try await TestEnvironment.make(kind)
        let store = try #require(env.store as? PostgresJobStore)
        let rows = [
            PostgresTransitions.EndedTaskColumns(
                id: "a", status: "FAILED", result: Self.tricky, error: nil, finished_at: Int64.max),
            PostgresTransitions.EndedTaskColumns(
                id: "b", status: "COMPLETED", result: "", error: "ünïcödé 🎉", finished_at: -1),
        ]
        var back: [(String, String, String?, String?, Int64)] = []
        for try await row in try await store.client.query(
            """
            SELECT * FROM jsonb_to_recordset(\(rows.recordSetJSON)::jsonb)
            AS e(id text, status text, result text, error text, finished_at bigint) ORDER BY id
            """
        ).decode((String, String, String?, String?, Int64).self) {
            back.append(row)
        }
        #expect(back.count == 2)
        for (row, stored) in zip(rows, back) {
            #expect(stored.0 == row.id)
            #expect(stored.1 == row.status)
            #expect(stored.2 == row.result)
            #expect(stored.3 == row.error)
            #expect(stored.4 == row.finished_at)
        }
    }
}
