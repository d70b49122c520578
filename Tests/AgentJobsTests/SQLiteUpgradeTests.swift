import AgentJobsCore
import Foundation
import GRDB
import Testing

@testable import AgentJobsSQLite

/// Upgrading a SQLite file: the counts kept by the triggers before migration v10 carry on,
/// kept by the store's code; and a build refuses a file a newer build migrated.
@Suite("SQLite upgrades")
struct SQLiteUpgradeTests {
    static func path() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("upgrade-\(UUID().uuidString).sqlite").path
    }

    static func job(_ id: String, channel: String, at now: Date) -> NewJob {
        NewJob(
            id: id, orgID: "org-u", jobTypeID: "daily-report",
            targetChannel: TargetChannel(orgID: "org-u", platform: "slack", type: "channel", code: channel),
            status: .waiting, config: .defaults, params: [:], createdAt: now, scheduledAt: now)
    }

    /// `(status, channel, count)` of every non-zero row of `job_counts`, and the same computed
    /// from the jobs.
    static func counts(_ path: String) throws -> (kept: [String], actual: [String]) {
        let queue = try DatabaseQueue(path: path)
        return try queue.read { db in
            (
                try String.fetchAll(
                    db,
                    sql: """
                        SELECT status || ' ' || channel_code || ' ' || count FROM job_counts WHERE count <> 0
                        ORDER BY status, channel_code
                        """),
                try String.fetchAll(
                    db,
                    sql: """
                        SELECT status || ' ' || channel_code || ' ' || COUNT(*) FROM jobs
                        GROUP BY status, channel_code ORDER BY status, channel_code
                        """)
            )
        }
    }

    @Test("counts made by v9's triggers stay exact as v10 counts in code")
    func countsCarryOver() async throws {
        let path = Self.path()
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        // The file as the previous version left it: migrated to v9, jobs counted by triggers.
        let queue = try DatabaseQueue(path: path)
        try SQLiteMigrations.migrator.migrate(queue, upTo: "v9-task-due-times")
        try await queue.write { db in
            try db.execute(sql: "INSERT INTO organizations(id, created_at) VALUES ('org-u', 0)")
            try db.execute(
                sql: """
                    INSERT INTO job_types(id, org_id, executor, default_config, created_at)
                    VALUES ('daily-report', NULL, '{"demo":{}}', '{}', 0)
                    """)
        }
        // The previous version's INSERT, counted by its trigger.
        for index in 0..<4 {
            let job = Self.job("job-old-\(index)", channel: "C\(index % 2)", at: now)
            let text = StoredJobText(job)
            let millis = Timestamp.millis(now)
            try await queue.write { db in
                try db.execute(
                    sql: """
                        INSERT INTO jobs(id, org_id, job_type_id, channel_code, status, target_channel, config,
                                         params, created_at, updated_at, scheduled_at, next_run_at, next_kind)
                        VALUES (?, ?, ?, ?, 'WAITING', ?, ?, ?, ?, ?, ?, ?, 'initial')
                        """,
                    arguments: [
                        job.id, job.orgID, job.jobTypeID, job.targetChannel.code, text.channel, text.config,
                        text.params, millis, millis, millis, millis,
                    ])
            }
        }
        let before = try Self.counts(path)
        #expect(before.kept == ["WAITING C0 2", "WAITING C1 2"])

        let store = try SQLiteJobStore(path: path)
        try await store.migrate()
        let triggers = try await queue.read { db in
            try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE type = 'trigger' ORDER BY name")
        }
        #expect(triggers == [])
        _ = try await store.createJob(Self.job("job-new", channel: "C0", at: now), idempotency: nil, at: now)
        let claimed = try await store.claimDueTasks(
            ClaimRequest(limit: 3, now: now, worker: "w", leaseUntil: now.addingTimeInterval(60)))
        #expect(claimed.count == 3)
        _ = try await store.finishTask(
            taskID: claimed[0].task.id, worker: "w", outcome: .completed(result: "ok"), now: now)
        _ = try await store.cancelJob(id: "job-old-3", orgID: "org-u", reason: nil, at: now)
        let firstEntry = try await queue.read { db in
            try String.fetchOne(
                db, sql: "SELECT kind || ' ' || status FROM job_entries WHERE job_id = 'job-new' ORDER BY id LIMIT 1")
        }
        #expect(firstEntry == "job WAITING", "a create's first journal entry, written by the store")
        let after = try Self.counts(path)
        #expect(after.kept == after.actual)
        #expect(after.actual.count >= 3, "\(after.actual)")
    }

    @Test("a file migrated by a newer build is refused, naming the migrations this build lacks")
    func newerFileRefused() async throws {
        let path = Self.path()
        let store = try SQLiteJobStore(path: path)
        try await store.migrate()
        let queue = try DatabaseQueue(path: path)
        try await queue.write { db in
            try db.execute(sql: "INSERT INTO grdb_migrations(identifier) VALUES ('v99-from-the-future')")
        }
        let error = await #expect(throws: AgentJobsError.self) { try await store.migrate() }
        #expect(error?.message.contains("v99-from-the-future") == true, "\(String(describing: error))")
    }
}
