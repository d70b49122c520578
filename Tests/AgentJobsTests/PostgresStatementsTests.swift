import AgentJobsCore
import Foundation
import Logging
import PostgresNIO
import Testing

@testable import AgentJobsPostgres

/// The PostgreSQL store's frequent statements go prepared (`Statements`): once per text and
/// connection, named by their text, off with `prepared_statements=off`, and still right after
/// a migration adds a column under a running store.
@Suite("PostgreSQL prepared statements")
struct PostgresStatementsTests {
    static var kinds: [StoreKind] { StoreKind.available.filter { $0 == .postgres } }

    /// A store on `env`'s database with one connection (so that `pg_prepared_statements`,
    /// which shows its own session's, shows the store's) and the database's clock, with the
    /// lifetime that keeps its client running.
    static func singleConnectionStore(
        _ env: TestEnvironment, query: String = ""
    ) throws -> (PostgresJobStore, ClientLifetime) {
        let store = try PostgresJobStore(url: env.databaseURL + query, configuration: .init(maximumConnections: 1))
        return (store, ClientLifetime(store.client))
    }

    /// A fresh environment on the database's clock, and a single-connection store on it.
    static func environment(_ kind: StoreKind) async throws -> (TestEnvironment, PostgresJobStore, ClientLifetime) {
        let env = try await TestEnvironment.make(kind, start: Date())
        let (store, lifetime) = try singleConnectionStore(env)
        return (env, store, lifetime)
    }

    static func preparedCount(_ store: PostgresJobStore) async throws -> Int {
        var count = 0
        for try await value in try await store.client.query(
            "SELECT COUNT(*) FROM pg_prepared_statements WHERE name LIKE 'aj\\_%'"
        ).decode(Int.self) {
            count = value
        }
        return count
    }

    /// Creates a job due now, claims it and records its outcome: the claim's, the outcome's, the
    /// create's and the wake times' statements.
    static func runOneJob(_ store: PostgresJobStore, _ env: TestEnvironment) async throws {
        let now = Date()
        let job = NewJob(
            id: Identifier.make(prefix: "job", at: now), orgID: TestEnvironment.orgA, jobTypeID: "daily-report",
            targetChannel: TargetChannel(orgID: TestEnvironment.orgA, platform: "slack", type: "channel", code: "C1"),
            status: .waiting, config: .defaults, params: [:], createdAt: now, scheduledAt: now.addingTimeInterval(-1))
        _ = try await store.createJob(job, idempotency: nil, at: now)
        _ = try await store.wakeTimes()
        let claimed = try await store.claimDueTasks(
            ClaimRequest(limit: 10, now: now, worker: "w1", leaseUntil: now.addingTimeInterval(60)))
        let task = try #require(claimed.first { $0.job.id == job.id })
        let finished = try await store.finishTask(
            taskID: task.task.id, worker: "w1", outcome: .completed(result: "ok"), now: now)
        #expect(finished?.jobStatus == .completed)
    }

    @Test(
        "the frequent statements are prepared once per text; prepared_statements=off sends them unnamed",
        arguments: kinds)
    func preparedOnce(kind: StoreKind) async throws {
        let (env, store, lifetime) = try await Self.environment(kind)
        try await Self.runOneJob(store, env)
        let afterOne = try await Self.preparedCount(store)
        #expect(afterOne >= 3, "the create, the wake times and the claim's due orgs")
        try await Self.runOneJob(store, env)
        #expect(try await Self.preparedCount(store) == afterOne, "the same texts are not prepared again")

        let (plain, plainLifetime) = try Self.singleConnectionStore(env, query: "&prepared_statements=off")
        try await Self.runOneJob(plain, env)
        #expect(try await Self.preparedCount(plain) == 0)
        withExtendedLifetime((lifetime, plainLifetime)) {}
    }

    @Test(
        "a prepared claim, outcome and token lookup still work after a migration adds columns",
        arguments: kinds)
    func survivesAddedColumns(kind: StoreKind) async throws {
        let (env, store, lifetime) = try await Self.environment(kind)
        let tokenID = try #require(TokenSecret.parse(env.writeA)?.id)
        #expect(try await store.token(id: tokenID)?.orgID == TestEnvironment.orgA)
        try await Self.runOneJob(store, env)
        // Another node's migration, under this running store.
        try await store.client.query("ALTER TABLE jobs ADD COLUMN added_later TEXT")
        try await store.client.query("ALTER TABLE app_tokens ADD COLUMN added_later TEXT")
        try await Self.runOneJob(store, env)
        #expect(try await store.token(id: tokenID)?.orgID == TestEnvironment.orgA)
        withExtendedLifetime(lifetime) {}
    }

    @Test("a statement's name comes from its text alone")
    func names() {
        let claim = NamedStatement.Text(sql: "SELECT 1").name
        #expect(claim == NamedStatement.Text(sql: "SELECT 1").name)
        #expect(claim != NamedStatement.Text(sql: "SELECT 2").name)
        #expect(claim.hasPrefix("aj_") && claim.count == 19)
        #expect(claim.dropFirst(3).allSatisfy { $0.isHexDigit })
        // FNV-1a of the empty text is its offset basis.
        #expect(NamedStatement.Text(sql: "").name == "aj_cbf29ce484222325")
    }

    @Test("prepared_statements takes on or off, and names itself otherwise")
    func urlParameter() throws {
        let error = #expect(throws: AgentJobsError.self) {
            try PostgresJobStore(url: "postgres://u@localhost/db?prepared_statements=yes")
        }
        #expect(error?.message.contains("prepared_statements must be on or off") == true)
        #expect(
            try PostgresJobStore(url: "postgres://u@localhost/db?prepared_statements=off").statements.prepared == false)
        #expect(try PostgresJobStore(url: "postgres://u@localhost/db?prepared_statements=on").statements.prepared)
        #expect(try PostgresJobStore(url: "postgres://u@localhost/db").statements.prepared)
        let clock = TestClock(Date())
        #expect(try PostgresJobStore(url: "postgres://u@localhost/db", clock: clock).statements.prepared == false)
    }
}
