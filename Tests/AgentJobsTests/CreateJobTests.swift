import AgentJobsCore
import AgentJobsSQLite
import Foundation
import Testing

@Suite("POST /services/agent-jobs")
struct CreateJobTests {
    @Test("201 with Location, WAITING when due now, and every documented field", arguments: StoreKind.available)
    func createsWaitingJob(kind: StoreKind) async throws {
        let env = try await TestEnvironment.make(kind)
        try await env.withClient { api in
            let reply = try await api.create(
                jobBody(extra: #""params": {"report_type": "daily", "n": 3, "ratio": 1.5, "flag": true}"#),
                token: env.writeA)
            #expect(reply.status == 201)
            let data = reply.json["data"]
            let id = try #require(data["job_id"].string)
            #expect(reply.headers[.location] == "/services/agent-jobs/\(id)")
            #expect(data["job_status"].string == "WAITING")
            #expect(data["org_id"].string == TestEnvironment.orgA)
            #expect(data["channel_code"].string == "C123")
            #expect(data["job_type_id"].string == "daily-report")
            #expect(data["created_at"].string == "2026-03-01T12:00:00.000Z")
            #expect(data["updated_at"].string == "2026-03-01T12:00:00.000Z")
            #expect(data["scheduled_at"].string == "2026-03-01T12:00:00.000Z")
            #expect(data["tasks"].array.isEmpty)
            for field in ["result", "started_at", "finished_at", "cancel_reason"] {
                #expect(data[field].isNull, "\(field) should be null")
            }
            #expect(data["params"]["n"].int == 3)
            #expect(data["params"]["ratio"].double == 1.5)
            #expect(data["params"]["flag"].bool == true)
            #expect(data["target_channel"]["data"]["channel_id"].string == "C123")
            #expect(reply.json["meta"]["id"].string == id)
            #expect(reply.json["meta"]["org_id"].string == TestEnvironment.orgA)

            let fetched = try await api.request(.get, "/services/agent-jobs/\(id)", token: env.readA)
            #expect(fetched.status == 200)
            // The job as created, plus what only GET shows: its events (none yet).
            var detail = try #require(data.object)
            detail["events"] = [Any]()
            #expect(fetched.json["data"].description == JSONTree(detail).description)
        }
    }

    @Test("a future scheduled_at makes the job SCHEDULED; zones are normalised to UTC milliseconds")
    func scheduledJob() async throws {
        let env = try await TestEnvironment.make()
        try await env.withClient { api in
            let reply = try await api.create(
                jobBody(extra: #""scheduled_at": "2026-03-02T09:30:00.1234+02:00""#), token: env.writeA)
            #expect(reply.status == 201)
            #expect(reply.json["data"]["job_status"].string == "SCHEDULED")
            #expect(reply.json["data"]["scheduled_at"].string == "2026-03-02T07:30:00.123Z")

            let past = try await api.create(
                jobBody(extra: #""scheduled_at": "2020-01-01T00:00:00Z""#), token: env.writeA)
            #expect(past.json["data"]["job_status"].string == "WAITING")
            #expect(past.json["data"]["scheduled_at"].string == "2020-01-01T00:00:00.000Z")
        }
    }

    @Test(
        "effective config: request, then the job type's defaults, then global defaults", arguments: StoreKind.available)
    func effectiveConfig(kind: StoreKind) async throws {
        let env = try await TestEnvironment.make(kind)
        try await env.withClient { api in
            let plain = try await api.create(jobBody(), token: env.writeA)
            let config = plain.json["data"]["config"]
            #expect(config["max_follow_ups"].int == 0)
            #expect(config["max_task_retries"].int == 0)
            #expect(config["task_retry_interval"].double == 1)
            #expect(config["max_time_to_complete"].double == 60)

            let typed = try await api.create(
                jobBody(
                    jobType: "with-defaults", extra: #""config": {"max_task_retries": 1, "task_retry_interval": 0.05}"#),
                token: env.writeA)
            let merged = typed.json["data"]["config"]
            #expect(merged["max_follow_ups"].int == 2)
            #expect(merged["max_task_retries"].int == 1)
            #expect(merged["task_retry_interval"].double == 0.05)
            #expect(merged["start_prompt"].string == "Type prompt")
            #expect(merged["max_time_to_complete"].double == 60)
        }
    }

    @Test("delay adds jitter × delay minutes to the requested time", arguments: [0.0, 0.25, 1.0])
    func delayJitter(jitter: Double) async throws {
        let env = try await TestEnvironment.make()
        try await env.withClient(configuration: .init(jitter: { jitter })) { api in
            let reply = try await api.create(
                jobBody(extra: #""scheduled_at": "2026-03-01T13:00:00Z""#), token: env.writeA, query: "?delay=8")
            #expect(reply.status == 201)
            let expected = Timestamp.parse("2026-03-01T13:00:00Z")!.addingTimeInterval(8 * 60 * jitter)
            #expect(reply.json["data"]["scheduled_at"].string == Timestamp.format(expected))

            let fromNow = try await api.create(jobBody(), token: env.writeA, query: "?delay=4")
            let expectedFromNow = env.clock.now().addingTimeInterval(4 * 60 * jitter)
            #expect(fromNow.json["data"]["scheduled_at"].string == Timestamp.format(expectedFromNow))
            #expect(fromNow.json["data"]["job_status"].string == (jitter > 0 ? "SCHEDULED" : "WAITING"))
        }
    }

    @Test("the default jitter is uniform within 0…delay")
    func realJitterStaysInRange() async throws {
        let env = try await TestEnvironment.make()
        try await env.withClient(configuration: .init()) { api in
            var offsets: Set<String> = []
            for _ in 0..<20 {
                let reply = try await api.create(jobBody(), token: env.writeA, query: "?delay=10")
                let scheduled = try #require(Timestamp.parse(reply.json["data"]["scheduled_at"].string ?? ""))
                let offset = scheduled.timeIntervalSince(env.clock.now())
                #expect(offset >= 0 && offset <= 600)
                offsets.insert(reply.json["data"]["scheduled_at"].string ?? "")
            }
            #expect(offsets.count > 1, "twenty random delays should not all be equal")
        }
    }

    @Test("unknown fields are ignored")
    func unknownFieldsIgnored() async throws {
        let env = try await TestEnvironment.make()
        try await env.withClient { api in
            let reply = try await api.create(
                jobBody(extra: #""surprise": [1, 2], "config": {"unknown": true}"#), token: env.writeA)
            #expect(reply.status == 201)
        }
    }

    @Test("404 for an unknown job type and for a type restricted to another org")
    func unknownJobType() async throws {
        let env = try await TestEnvironment.make()
        try await env.withClient { api in
            let unknown = try await api.create(jobBody(jobType: "nope"), token: env.writeA)
            #expect(unknown.status == 404)
            #expect(unknown.errorCode == "not_found")
            #expect(unknown.errorMessage.contains("nope"))

            let own = try await api.create(jobBody(jobType: "private-a"), token: env.writeA)
            #expect(own.status == 201)
            let other = try await api.create(
                jobBody(org: TestEnvironment.orgB, jobType: "private-a"), token: env.writeB)
            #expect(other.status == 404)
        }
    }

    @Test("413 for a body over 1 MiB, 415 for a non-JSON content type")
    func bodyLimits() async throws {
        let env = try await TestEnvironment.make()
        try await env.withClient { api in
            let big = jobBody(extra: "\"params\": {\"blob\": \"\(String(repeating: "x", count: 1 << 20))\"}")
            let tooLarge = try await api.create(big, token: env.writeA)
            #expect(tooLarge.status == 413)
            #expect(tooLarge.errorCode == "payload_too_large")

            let text = try await api.request(
                .post, "/services/agent-jobs", token: env.writeA, body: jobBody(), contentType: "text/plain")
            #expect(text.status == 415)
            #expect(text.errorCode == "unsupported_media_type")

            let withCharset = try await api.request(
                .post, "/services/agent-jobs", token: env.writeA, body: jobBody(),
                contentType: "application/json; charset=utf-8")
            #expect(withCharset.status == 201)
        }
    }

    @Test("every acknowledged create is in the database after reopening it", arguments: StoreKind.available)
    func concurrentCreatesAreDurable(kind: StoreKind) async throws {
        let env = try await TestEnvironment.make(kind)
        let ids = try await withThrowingTaskGroup(of: String.self) { group in
            for index in 0..<200 {
                group.addTask {
                    let submission = JobSubmission(
                        targetChannel: TargetChannel(
                            orgID: TestEnvironment.orgA, platform: "slack", type: "channel",
                            code: "C\(index)"),
                        jobTypeID: "daily-report")
                    let jobType = try #require(try await env.store.jobType(id: "daily-report"))
                    let job = submission.makeJob(
                        id: Identifier.make(prefix: "job"), jobType: jobType, now: env.clock.now(), jitter: 0)
                    guard case .created(let created) = try await env.store.createJob(job, idempotency: nil, at: Date())
                    else { throw AgentJobsError.conflict("unexpected replay") }
                    return created.id
                }
            }
            return try await group.reduce(into: [String]()) { $0.append($1) }
        }
        #expect(Set(ids).count == 200)
        let reopened = try openStore(env.databaseURL)
        let page = try await reopened.store.listJobs(JobQuery(orgID: TestEnvironment.orgA, limit: 200))
        #expect(page.total == 200)
        #expect(Set(page.jobs.map(\.id)) == Set(ids))
    }
}
