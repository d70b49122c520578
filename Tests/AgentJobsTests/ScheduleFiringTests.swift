import AgentJobsCore
import Foundation
import Testing

@testable import AgentJobsEngine

/// Firing due schedules, on both stores: one job per occurrence, downtime, overlap, pause.
@Suite("Schedules: firing")
struct ScheduleFiringTests {
    /// A schedule of org A on `daily-report`, due first at `first`.
    static func schedule(
        _ env: TestEnvironment, cron: String = "* * * * * *", first: Date, overlap: ScheduleOverlap = .allow
    ) -> Schedule {
        let job = JobSubmission(
            targetChannel: TargetChannel(orgID: TestEnvironment.orgA, platform: "slack", type: "channel", code: "C1"),
            jobTypeID: "daily-report")
        return Schedule(
            id: Identifier.make(prefix: "sched"), orgID: TestEnvironment.orgA, name: nil, cron: cron, timezone: "UTC",
            job: job, delayMinutes: 0, overlap: overlap, paused: false, nextRunAt: first,
            createdAt: env.clock.now(), updatedAt: env.clock.now())
    }

    @Test(
        "after downtime: one job for the most recent occurrence, the older ones skipped; then nothing twice",
        arguments: StoreKind.available)
    func downtime(kind: StoreKind) async throws {
        let env = try await TestEnvironment.make(kind)
        let start = env.clock.now()
        let schedule = Self.schedule(env, first: start)
        _ = try await env.store.createSchedule(schedule, idempotency: nil)
        env.clock.advance(seconds: 10.5)
        let created = try await env.store.fireDueSchedules(now: env.clock.now(), limit: 10, jitter: { 0 })
        #expect(created.count == 1)
        let job = try #require(created.first)
        #expect(job.scheduleID == schedule.id)
        #expect(job.scheduledAt == start + 10, "the most recent occurrence")
        let after = try #require(try await env.store.schedule(id: schedule.id))
        #expect(after.runs == 1 && after.skipped == 10 && after.lastJobID == job.id)
        #expect(after.lastRunAt == start + 10 && after.nextRunAt == start + 11)
        #expect(try await env.store.fireDueSchedules(now: env.clock.now(), limit: 10, jitter: { 0 }).isEmpty)
        let listed = try await env.store.listJobs(JobQuery(orgID: TestEnvironment.orgA, scheduleID: schedule.id))
        #expect(listed.jobs.map(\.id) == [job.id] && listed.total == 1)
        #expect(try await env.store.job(id: job.id)?.scheduleID == schedule.id)
    }

    @Test(
        "overlap skip: no job while the previous one is not terminal, counted in skipped",
        arguments: StoreKind.available)
    func overlapSkip(kind: StoreKind) async throws {
        let env = try await TestEnvironment.make(kind)
        let schedule = Self.schedule(env, first: env.clock.now(), overlap: .skip)
        _ = try await env.store.createSchedule(schedule, idempotency: nil)
        let first = try await env.store.fireDueSchedules(now: env.clock.now(), limit: 10, jitter: { 0 })
        #expect(first.count == 1)
        env.clock.advance(seconds: 1)
        #expect(try await env.store.fireDueSchedules(now: env.clock.now(), limit: 10, jitter: { 0 }).isEmpty)
        #expect(try await env.store.schedule(id: schedule.id)?.skipped == 1)
        _ = try await env.store.cancelJob(
            id: first[0].id, orgID: TestEnvironment.orgA, reason: nil, at: env.clock.now())
        env.clock.advance(seconds: 1)
        let third = try await env.store.fireDueSchedules(now: env.clock.now(), limit: 10, jitter: { 0 })
        #expect(third.count == 1)
        let after = try #require(try await env.store.schedule(id: schedule.id))
        #expect(after.runs == 2 && after.skipped == 1 && after.lastJobID == third.first?.id)
    }

    @Test(
        "jitter adds up to delay minutes to the occurrence; paused schedules create nothing",
        arguments: StoreKind.available)
    func jitterAndPause(kind: StoreKind) async throws {
        let env = try await TestEnvironment.make(kind)
        var schedule = Self.schedule(env, cron: "@hourly", first: env.clock.now())
        schedule.delayMinutes = 10
        _ = try await env.store.createSchedule(schedule, idempotency: nil)
        var paused = Self.schedule(env, first: env.clock.now())
        paused.paused = true
        paused.nextRunAt = nil
        _ = try await env.store.createSchedule(paused, idempotency: nil)
        let created = try await env.store.fireDueSchedules(now: env.clock.now(), limit: 10, jitter: { 0.5 })
        #expect(created.count == 1)
        #expect(created.first?.scheduledAt == env.clock.now() + 300)
        #expect(created.first?.status == .scheduled)
        #expect(try await env.store.schedule(id: paused.id)?.runs == 0)
    }

    @Test("a schedule fires on time while every slot is taken and other jobs wait", arguments: StoreKind.available)
    func firesWhileSlotsAreFull(kind: StoreKind) async throws {
        let env = try await TestEnvironment.make(kind, start: Date())
        // No safety-net poll to lean on: only the schedule's own wake-up can fire it.
        let busy = EngineConfiguration(
            concurrency: 1, leaseDuration: .seconds(15), heartbeatInterval: .seconds(5),
            drainTimeout: .milliseconds(100),
            fallbackPoll: .seconds(3600))
        try await EngineHarness.run(env: env, configuration: busy) { harness, api in
            let long = jobBody(extra: #""params": {"demo": {"sleep_ms": 60000}}"#)
            let running = try #require(try await api.create(long, token: env.writeA).json["data"]["job_id"].string)
            try await harness.waitForEvent { if case .started(let task) = $0 { task.job.id == running } else { false } }
            #expect(try await api.create(long, token: env.writeA).status == 201, "a second job waits for the slot")
            let created = try await api.request(
                .post, "/services/agent-schedules", token: env.writeA, body: ScheduleAPITests.body(cron: "* * * * * *"))
            let id = try #require(created.json["data"]["schedule_id"].string)
            try await harness.waitForEvent {
                if case .scheduled(let jobs) = $0 { jobs.contains { $0.scheduleID == id } } else { false }
            }
            #expect(try await env.store.job(id: running)?.status == .running, "the slot was still taken")
            _ = try await api.request(.delete, "/services/agent-schedules/\(id)", token: env.writeA)
        }
    }

    @Test("the engine fires a per-second schedule: one job per occurrence, each run", arguments: StoreKind.available)
    func engineFires(kind: StoreKind) async throws {
        let env = try await TestEnvironment.make(kind, start: Date())
        try await EngineHarness.run(env: env) { harness, api in
            let created = try await api.request(
                .post, "/services/agent-schedules", token: env.writeA,
                body: ScheduleAPITests.body(cron: "* * * * * *"))
            #expect(created.status == 201)
            let id = try #require(created.json["data"]["schedule_id"].string)
            try await harness.waitForEvent { _ in
                harness.events.events.filter {
                    if case .finished = $0 { return true } else { return false }
                }.count >= 3
            }
            _ = try await api.request(.delete, "/services/agent-schedules/\(id)", token: env.writeA)
            let jobs = try await env.store.listJobs(
                JobQuery(orgID: TestEnvironment.orgA, scheduleID: id, limit: 200, sort: [SortKey(.scheduledAt, .asc)]))
            #expect(jobs.total >= 3)
            let instants = jobs.jobs.map { Timestamp.millis($0.scheduledAt) }
            #expect(Set(instants).count == instants.count, "one job per occurrence")
            #expect(instants.allSatisfy { $0 % 1000 == 0 }, "each on a whole second")
        }
    }
}
