import AgentJobsAPI
import AgentJobsClient
import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import OpenAPIRuntime
import Synchronization
import Testing

/// The `AgentJobsClient` library against a live server (a real socket, the real router).
@Suite("The Swift client against a live server")
struct SwiftClientTests {
    /// Runs `body` with the URL of a live server on `env`'s store.
    func withLiveURL(_ env: TestEnvironment, _ body: @Sendable (URL) async throws -> Void) async throws {
        var logger = Logger(label: "client-test")
        logger.logLevel = .error
        let router = try buildRouter(store: env.store, clock: env.clock, logger: logger)
        let app = Application(
            router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)), logger: logger)
        try await app.test(.live) { client in
            try await body(URL(string: "http://127.0.0.1:\(try #require(client.port))")!)
        }
    }

    /// Runs `body` with clients for org A's write and read tokens and org B's write token.
    func withLiveServer(
        _ env: TestEnvironment,
        _ body: @Sendable (_ write: AgentJobs, _ read: AgentJobs, _ other: AgentJobs) async throws -> Void
    ) async throws {
        try await withLiveURL(env) { url in
            try await body(
                AgentJobs(serverURL: url, token: env.writeA), AgentJobs(serverURL: url, token: env.readA),
                AgentJobs(serverURL: url, token: env.writeB))
        }
    }

    func newJob(org: String = TestEnvironment.orgA, code: String = "C1", scheduledAt: Date? = nil) throws -> NewJob {
        NewJob(
            targetChannel: TargetChannel(orgId: org, platform: "slack", _type: "channel", code: code),
            jobTypeId: "daily-report", config: .init(value1: JobConfigInput(maxTaskRetries: 2)),
            params: try OpenAPIObjectContainer(unvalidatedValue: ["report_type": "daily"]),
            scheduledAt: scheduledAt)
    }

    /// The refusal `call` throws.
    func refusal(_ call: () async throws -> Void) async -> AgentJobsClientError? {
        do {
            try await call()
            return nil
        } catch {
            return error as? AgentJobsClientError
        }
    }

    @Test("jobs: create (and replay), get, list with filters and the cursor, cancel; refusals carry the error body")
    func jobs() async throws {
        let env = try await TestEnvironment.make()
        try await withLiveServer(env) { write, read, other in
            let later = env.clock.now().addingTimeInterval(3_600)
            let created = try await write.createJob(newJob(scheduledAt: later), idempotencyKey: "k-1")
            #expect(created.jobStatus == .scheduled && created.jobTypeId == "daily-report")
            #expect(created.config.maxTaskRetries == 2 && created.scheduledAt == later)
            #expect(created.params.value["report_type"] as? String == "daily")
            let replayed = try await write.createJob(newJob(scheduledAt: later), idempotencyKey: "k-1")
            #expect(replayed.jobId == created.jobId)
            env.clock.advance(seconds: 1)
            let second = try await write.createJob(newJob(code: "C2"))
            _ = try await other.createJob(newJob(org: TestEnvironment.orgB))

            let fetched = try await read.job(id: created.jobId)
            #expect(fetched.jobId == created.jobId && fetched.tasks.isEmpty && fetched.events == [])
            let scheduled = try await read.listJobs(.init(status: "SCHEDULED"))
            #expect(scheduled.data.map(\.jobId) == [created.jobId] && scheduled.meta.total == 1)
            let firstPage = try await read.listJobs(.init(limit: 1, sort: "created_at:asc"))
            #expect(firstPage.data.map(\.jobId) == [created.jobId] && firstPage.meta.total == 2)
            let cursor = try #require(firstPage.meta.nextAfter?.value as? String)
            let secondPage = try await read.listJobs(.init(limit: 1, after: cursor, sort: "created_at:asc"))
            #expect(secondPage.data.map(\.jobId) == [second.jobId])

            let message = try await write.cancelJob(id: created.jobId, reason: "not this week")
            #expect(message.contains("canceled"))
            let canceled = try await read.job(id: created.jobId)
            #expect(canceled.jobStatus == .canceled && canceled.cancelReason?.value as? String == "not this week")

            let again = await refusal { try await write.cancelJob(id: created.jobId) }
            #expect(again?.status == 409 && again?.code == "conflict")
            let missing = await refusal { _ = try await read.job(id: "job_missing") }
            #expect(missing?.status == 404 && missing?.code == "not_found")
            let foreign = await refusal { _ = try await other.job(id: second.jobId) }
            #expect(foreign?.status == 403 && foreign?.code == "forbidden")
            let readOnly = await refusal { _ = try await read.createJob(newJob()) }
            #expect(readOnly?.status == 403 && readOnly?.message.contains("services:write") == true)
            let badSort = await refusal { _ = try await read.listJobs(.init(sort: "created_at:sideways")) }
            #expect(badSort?.status == 400 && badSort?.message.contains("sort") == true)
            var blank = try newJob()
            blank.jobTypeId = "nope"
            let unknownType = await refusal { _ = try await write.createJob(blank) }
            #expect(unknownType?.status == 404 && unknownType?.message.contains("nope") == true)
        }
    }

    @Test("the README's example, as written but for the URL and token")
    func readmeExample() async throws {
        let env = try await TestEnvironment.make()
        try await withLiveURL(env) { url in
            let serverURL = url.absoluteString
            let token = env.writeA
            let printed = Mutex<[String]>([])
            func print(_ text: String) { printed.withLock { $0.append(text) } }

            let jobs = AgentJobs(serverURL: URL(string: serverURL)!, token: token)
            let job = try await jobs.createJob(
                NewJob(
                    targetChannel: .init(orgId: "org-a", platform: "slack", _type: "channel", code: "C123"),
                    jobTypeId: "daily-report"), idempotencyKey: "report-2026-12-02")
            let failed = try await jobs.listJobs(.init(status: "FAILED", limit: 50, sort: "updated_at:desc"))
            do { try await jobs.cancelJob(id: job.jobId, reason: "not needed") } catch let error as AgentJobsClientError
                where error.code == "conflict"
            { print(error.message) }

            #expect(failed.data.isEmpty && printed.withLock { $0 }.isEmpty)
            do { try await jobs.cancelJob(id: job.jobId, reason: "not needed") } catch let error as AgentJobsClientError
                where error.code == "conflict"
            { print(error.message) }
            #expect(printed.withLock { $0 }.count == 1)
            #expect(try await jobs.job(id: job.jobId).jobStatus == .canceled)
        }
    }

    @Test("events, schedules (create, list, pause, resume, delete) and stats")
    func eventsSchedulesAndStats() async throws {
        let env = try await TestEnvironment.make()
        try await withLiveServer(env) { write, read, _ in
            let job = try await write.createJob(newJob(scheduledAt: env.clock.now().addingTimeInterval(60)))
            let event = try await write.createEvent(
                jobID: job.jobId, type: "reply", data: try OpenAPIValueContainer(unvalidatedValue: ["text": "yes"]))
            #expect(event.jobId == job.jobId && event._type == "reply")
            #expect((event.data?.value as? [String: (any Sendable)?])?["text"] as? String == "yes")
            let badEvent = await refusal { _ = try await write.createEvent(jobID: job.jobId, type: "has space") }
            #expect(badEvent?.status == 400 && badEvent?.message.contains("type") == true)

            let draft = NewSchedule(
                name: "morning report", cron: "0 9 * * MON-FRI", timezone: "Europe/Paris",
                job: .init(
                    targetChannel: TargetChannel(
                        orgId: TestEnvironment.orgA, platform: "slack", _type: "channel", code: "C1"),
                    jobTypeId: "daily-report"))
            let schedule = try await write.createSchedule(draft)
            #expect(schedule.cron == "0 9 * * MON-FRI" && !schedule.paused)
            #expect(try await read.listSchedules().data.map(\.scheduleId) == [schedule.scheduleId])
            let paused = try await write.pauseSchedule(id: schedule.scheduleId)
            #expect(paused.paused && paused.nextRunAt?.value == nil)
            let resumed = try await write.resumeSchedule(id: schedule.scheduleId)
            #expect(!resumed.paused && resumed.nextRunAt?.value is String)
            #expect(try await read.schedule(id: schedule.scheduleId).paused == false)
            try await write.deleteSchedule(id: schedule.scheduleId)
            let gone = await refusal { _ = try await read.schedule(id: schedule.scheduleId) }
            #expect(gone?.status == 404)
            let badCron = await refusal {
                var wrong = draft
                wrong.cron = "every day"
                _ = try await write.createSchedule(wrong)
            }
            #expect(badCron?.status == 400 && badCron?.message.contains("cron") == true)

            let stats = try await read.stats()
            #expect(stats.counts.scheduled == 1 && stats.counts.waiting == 0 && stats.perMinute.count == 60)
        }
        // Nothing listens there: the HTTP client's error, within the timeout given.
        let unreachable = AgentJobs(
            serverURL: URL(string: "http://127.0.0.1:1")!, token: env.readA, timeout: .seconds(2))
        await #expect(throws: (any Error).self) { _ = try await unreachable.stats() }
    }
}
