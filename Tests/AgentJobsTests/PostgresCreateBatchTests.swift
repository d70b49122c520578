import AgentJobsCore
import Foundation
import Logging
import PostgresNIO
import Testing

@testable import AgentJobsPostgres

/// The PostgreSQL creates' group commit (`PostgresJobStore.createBatch`): many creates in one
/// statement, each answered as if it had been made alone.
@Suite("PostgreSQL creates in one statement")
struct PostgresCreateBatchTests {
    static var kinds: [StoreKind] { StoreKind.available.filter { $0 == .postgres } }

    static func newJob(_ env: TestEnvironment, occurrence: Date? = nil) -> NewJob {
        let now = env.clock.now()
        return NewJob(
            id: Identifier.make(prefix: "job", at: now), orgID: TestEnvironment.orgA, jobTypeID: "daily-report",
            targetChannel: TargetChannel(orgID: TestEnvironment.orgA, platform: "slack", type: "channel", code: "C1"),
            status: .waiting, config: .defaults, params: ["n": .number(1)], createdAt: now, scheduledAt: now,
            scheduleID: occurrence.map { _ in "sched_batch" }, scheduleOccurrence: occurrence)
    }

    static func request(
        _ job: NewJob, key: String? = nil, fingerprint: String = "f", _ env: TestEnvironment
    )
        -> PostgresJobStore.CreateRequest
    {
        PostgresJobStore.CreateRequest(
            job: job, idempotency: key.map { IdempotencyClaim(key: $0, fingerprint: fingerprint) },
            date: env.clock.now())
    }

    static func journalEntries(_ store: PostgresJobStore, jobID: String) async throws -> Int {
        var count = 0
        for try await value in try await store.client.query(
            "SELECT COUNT(*) FROM job_entries WHERE job_id = \(jobID)"
        ).decode(Int.self) {
            count = value
        }
        return count
    }

    @Test(
        "keys new, repeated in the batch and recorded before: created, replayed or refused as alone",
        arguments: kinds)
    func keys(kind: StoreKind) async throws {
        let env = try await TestEnvironment.make(kind)
        let store = try #require(env.store as? PostgresJobStore)
        let earlier = Self.newJob(env)
        _ = try await store.createJob(
            earlier, idempotency: IdempotencyClaim(key: "old", fingerprint: "f"), at: env.clock.now())
        let plain = Self.newJob(env)
        let keyed = Self.newJob(env)
        let sameKey = Self.newJob(env)
        let replay = Self.newJob(env)
        let refused = Self.newJob(env)
        let results = await PostgresJobStore.createBatch(
            [
                Self.request(plain, env), Self.request(keyed, key: "new", env),
                Self.request(sameKey, key: "new", env), Self.request(replay, key: "old", env),
                Self.request(refused, key: "old", fingerprint: "other body", env),
            ], client: store.client, statements: store.statements, logger: Logger(label: "test"))
        #expect(results.count == 5)
        guard case .created(let first)? = try? results[0].get() else { throw Unexpected(results[0]) }
        #expect(first.id == plain.id)
        guard case .created(let second)? = try? results[1].get() else { throw Unexpected(results[1]) }
        #expect(second.id == keyed.id)
        guard case .replayed(let third)? = try? results[2].get() else { throw Unexpected(results[2]) }
        #expect(third.id == keyed.id)
        guard case .replayed(let fourth)? = try? results[3].get() else { throw Unexpected(results[3]) }
        #expect(fourth.id == earlier.id)
        #expect(throws: AgentJobsError.self) { try results[4].get() }

        for id in [plain.id, keyed.id] {
            #expect(try await store.job(id: id)?.status == .waiting)
            #expect(try await Self.journalEntries(store, jobID: id) == 1)
        }
        for id in [sameKey.id, replay.id, refused.id] { #expect(try await store.job(id: id) == nil) }
        try await store.foldCountDeltas()
        #expect(try await store.jobCountsByStatus()[.waiting] == 3)
    }

    @Test("a row that fails the statement fails alone; the others are written once", arguments: kinds)
    func failingRow(kind: StoreKind) async throws {
        let env = try await TestEnvironment.make(kind)
        let store = try #require(env.store as? PostgresJobStore)
        let occurrence = env.clock.now()
        _ = try await store.createJob(Self.newJob(env, occurrence: occurrence), idempotency: nil, at: occurrence)
        let before = Self.newJob(env)
        let duplicate = Self.newJob(env, occurrence: occurrence)
        let after = Self.newJob(env)
        let results = await PostgresJobStore.createBatch(
            [Self.request(before, env), Self.request(duplicate, env), Self.request(after, env)],
            client: store.client, statements: store.statements, logger: Logger(label: "test"))
        #expect(throws: (any Error).self) { try results[1].get() }
        for (index, job) in [(0, before), (2, after)] {
            guard case .created(let created)? = try? results[index].get() else { throw Unexpected(results[index]) }
            #expect(created.id == job.id)
            #expect(try await Self.journalEntries(store, jobID: job.id) == 1)
        }
        #expect(try await store.job(id: duplicate.id) == nil)
        try await store.foldCountDeltas()
        #expect(try await store.jobCountsByStatus()[.waiting] == 3)
    }

    struct Unexpected: Error, CustomStringConvertible {
        let description: String
        init(_ result: Result<CreateJobOutcome, any Error>) { description = "unexpected outcome: \(result)" }
    }
}
