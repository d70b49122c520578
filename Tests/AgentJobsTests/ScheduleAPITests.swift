import AgentJobsCore
import Foundation
import HTTPTypes
import Testing

/// `/services/agent-schedules`: every status code and validation rule.
@Suite("Schedules API")
struct ScheduleAPITests {
    static func body(
        org: String = TestEnvironment.orgA, cron: String = "0 9 * * MON-FRI", extra: String = "",
        job: String? = nil
    ) -> String {
        let job =
            job
                ?? """
                {"target_channel": {"org_id": "\(org)", "platform": "slack", "type": "channel", "code": "C123"},
                 "job_type_id": "daily-report", "params": {"report": "daily"}}
                """
        return #"{"cron": "\#(cron)", "job": \#(job)\#(extra.isEmpty ? "" : ", " + extra)}"#
    }

    @Test(
        "create answers 201 with Location and the schedule; get, list, patch and delete it",
        arguments: StoreKind.available)
    func lifecycle(kind: StoreKind) async throws {
        let env = try await TestEnvironment.make(kind)
        try await env.withClient { api in
            let created = try await api.request(
                .post, "/services/agent-schedules", token: env.writeA,
                body: Self.body(extra: #""name": "morning report", "timezone": "Europe/Paris", "delay": 5"#))
            #expect(created.status == 201, "\(created.json)")
            let schedule = created.json["data"]
            let id = try #require(schedule["schedule_id"].string)
            #expect(created.headers[.location] == "/services/agent-schedules/\(id)")
            #expect(schedule["org_id"].string == TestEnvironment.orgA)
            #expect(schedule["timezone"].string == "Europe/Paris")
            #expect(schedule["overlap"].string == "allow")
            #expect(schedule["paused"].bool == false)
            #expect(schedule["runs"].int == 0 && schedule["skipped"].int == 0)
            #expect(schedule["job"]["params"]["report"].string == "daily")
            // The test clock reads Sunday 2026-03-01 12:00Z: Monday 9:00 in Paris is 08:00Z.
            #expect(schedule["next_run_at"].string == "2026-03-02T08:00:00.000Z")
            #expect(schedule["last_run_at"].isNull && schedule["last_job_id"].isNull)

            let read = try await api.request(.get, "/services/agent-schedules/\(id)", token: env.readA)
            #expect(read.status == 200 && read.json["data"]["schedule_id"].string == id)
            #expect(try await api.request(.get, "/services/agent-schedules/\(id)", token: env.writeB).status == 403)
            #expect(try await api.request(.get, "/services/agent-schedules/sched_nope", token: env.readA).status == 404)

            let paused = try await api.request(
                .patch, "/services/agent-schedules/\(id)", token: env.writeA, body: #"{"paused": true}"#)
            #expect(paused.status == 200)
            #expect(paused.json["data"]["paused"].bool == true && paused.json["data"]["next_run_at"].isNull)
            #expect(paused.json["data"]["name"].string == "morning report", "unchanged fields stay")
            let resumed = try await api.request(
                .patch, "/services/agent-schedules/\(id)", token: env.writeA,
                body: #"{"paused": false, "cron": "@hourly", "timezone": "UTC"}"#)
            #expect(resumed.json["data"]["next_run_at"].string == "2026-03-01T13:00:00.000Z")

            let list = try await api.request(.get, "/services/agent-schedules?paused=false", token: env.readA)
            #expect(list.status == 200 && list.json["meta"]["total"].int == 1)
            #expect(
                try await api.request(.get, "/services/agent-schedules?paused=true", token: env.readA)
                    .json["meta"]["total"].int == 0)
            #expect(
                try await api.request(.get, "/services/agent-schedules", token: env.writeB)
                    .json["meta"]["total"].int == 0, "another org sees none")

            #expect(try await api.request(.delete, "/services/agent-schedules/\(id)", token: env.readA).status == 403)
            #expect(try await api.request(.delete, "/services/agent-schedules/\(id)", token: env.writeB).status == 403)
            #expect(try await api.request(.delete, "/services/agent-schedules/\(id)", token: env.writeA).status == 204)
            #expect(try await api.request(.get, "/services/agent-schedules/\(id)", token: env.readA).status == 404)
        }
    }

    @Test(
        "400 naming the field",
        arguments: [
            (body(cron: "0 0 30 2 *"), "cron"), (body(cron: "61 * * * *"), "minute"),
            (body(extra: #""timezone": "Mars/Base""#), "timezone"), (body(extra: #""delay": 525601"#), "delay"),
            (body(extra: #""overlap": "sometimes""#), "overlap"), (body(extra: #""name": """#), "name"),
            (body(extra: #""name": "\#(String(repeating: "n", count: 201))""#), "name"),
            (
                body(
                    job:
                        #"{"target_channel": {"org_id": "org-a", "platform": "s", "type": "c", "code": " "}, "job_type_id": "daily-report"}"#
                ), "job.target_channel.code"
            ),
            (
                body(
                    job:
                        #"{"target_channel": {"org_id": "org-a", "platform": "s", "type": "c", "code": "C"}, "job_type_id": "daily-report", "config": {"max_task_retries": 10001}}"#
                ), "job.config.max_task_retries"
            ),
            (
                body(
                    job:
                        #"{"target_channel": {"org_id": "org-a", "platform": "s", "type": "c", "code": "C"}, "job_type_id": "daily-report", "scheduled_at": "2030-01-01T00:00:00Z"}"#
                ), "job.scheduled_at"
            ),
            (
                #"{"job": {"target_channel": {"org_id": "org-a", "platform": "s", "type": "c", "code": "C"}, "job_type_id": "daily-report"}}"#,
                "cron"
            ),
            (#"{"cron": "@daily"}"#, "job"),
        ])
    func refused(body: String, mentions: String) async throws {
        let env = try await TestEnvironment.make()
        try await env.withClient { api in
            let reply = try await api.request(.post, "/services/agent-schedules", token: env.writeA, body: body)
            #expect(reply.status == 400, "\(body): \(reply.json)")
            #expect(reply.errorMessage.contains(mentions), "'\(reply.errorMessage)' should name \(mentions)")
        }
    }

    @Test("another org's channel is 403, an unknown job type 404, a read token 403, no token 401")
    func accessRules() async throws {
        let env = try await TestEnvironment.make()
        let unknownType = Self.body(
            job:
                #"{"target_channel": {"org_id": "org-a", "platform": "s", "type": "c", "code": "C"}, "job_type_id": "nope"}"#
        )
        let privateType = Self.body(
            org: TestEnvironment.orgB,
            job:
                #"{"target_channel": {"org_id": "org-b", "platform": "s", "type": "c", "code": "C"}, "job_type_id": "private-a"}"#
        )
        let cases: [(String?, String, Int)] = [
            (env.writeA, Self.body(org: TestEnvironment.orgB), 403), (env.writeA, unknownType, 404),
            (env.writeB, privateType, 404), (env.readA, Self.body(), 403), (nil, Self.body(), 401),
        ]
        try await env.withClient { api in
            for (token, body, status) in cases {
                let reply = try await api.request(.post, "/services/agent-schedules", token: token, body: body)
                #expect(reply.status == status, "\(body): \(reply.json)")
            }
            let put = try await api.request(.put, "/services/agent-schedules", token: env.writeA, body: Self.body())
            #expect(put.status == 405)
            let plain = try await api.request(
                .post, "/services/agent-schedules", token: env.writeA, body: Self.body(), contentType: "text/plain")
            #expect(plain.status == 415)
            let huge = Self.body(extra: #""name": "\#(String(repeating: "n", count: 1 << 20))""#)
            #expect(
                try await api.request(.post, "/services/agent-schedules", token: env.writeA, body: huge).status == 413)
            let patchPlain = try await api.request(
                .patch, "/services/agent-schedules/sched_x", token: env.writeA, body: "{}", contentType: "text/plain")
            #expect(patchPlain.status == 415)
        }
    }

    @Test(
        "Idempotency-Key: a replay returns the first schedule (200), another body is 409, job keys are apart",
        arguments: StoreKind.available)
    func idempotency(kind: StoreKind) async throws {
        let env = try await TestEnvironment.make(kind)
        try await env.withClient { api in
            let path = "/services/agent-schedules"
            let key: HTTPFields = [HTTPField.Name("Idempotency-Key")!: "morning-1"]
            let first = try await api.request(.post, path, token: env.writeA, body: Self.body(), headers: key)
            #expect(first.status == 201)
            let again = try await api.request(.post, path, token: env.writeA, body: Self.body(), headers: key)
            #expect(again.status == 200)
            #expect(again.json["data"]["schedule_id"].string == first.json["data"]["schedule_id"].string)
            #expect(again.headers[.location] == first.headers[.location])
            let other = try await api.request(
                .post, path, token: env.writeA, body: Self.body(cron: "@daily"), headers: key)
            #expect(other.status == 409)
            // The same key on a job create is a different key.
            #expect(try await api.create(jobBody(), token: env.writeA, headers: key).status == 201)
            let bad = try await api.request(
                .post, path, token: env.writeA, body: Self.body(),
                headers: [HTTPField.Name("Idempotency-Key")!: "caf\u{e9}"])
            #expect(bad.status == 400)
            #expect(try await api.request(.get, path, token: env.readA).json["meta"]["total"].int == 1)
        }
    }

    @Test("list: filters, sort on every field, limit and offset, total", arguments: StoreKind.available)
    func listing(kind: StoreKind) async throws {
        let env = try await TestEnvironment.make(kind)
        try await env.withClient { api in
            for (name, cron, paused) in [("b", "@hourly", false), ("a", "@daily", true), ("c", "*/5 * * * *", false)] {
                let reply = try await api.request(
                    .post, "/services/agent-schedules", token: env.writeA,
                    body: Self.body(cron: cron, extra: #""name": "\#(name)", "paused": \#(paused)"#))
                #expect(reply.status == 201)
                env.clock.advance(seconds: 1)
            }
            func names(_ query: String) async throws -> [String] {
                let reply = try await api.request(.get, "/services/agent-schedules?\(query)", token: env.readA)
                #expect(reply.status == 200, "\(query): \(reply.json)")
                return reply.json["data"].array.compactMap { $0["name"].string }
            }
            #expect(try await names("") == ["c", "a", "b"], "default: newest first")
            #expect(try await names("sort=name") == ["a", "b", "c"])
            #expect(try await names("sort=name:desc&limit=2") == ["c", "b"])
            #expect(try await names("sort=name&offset=2") == ["c"])
            #expect(try await names("sort=next_run_at") == ["c", "b", "a"], "paused (no next run) last")
            #expect(try await names("paused=true") == ["a"])
            #expect(try await names("job_type_id=daily-report&sort=created_at:asc") == ["b", "a", "c"])
            #expect(try await names("job_type_id=other") == [])
            for bad in [
                "sort=cron", "sort=name:up", "limit=0", "limit=201", "offset=-1", "paused=maybe", "job_type_id=a%00",
            ] {
                #expect(
                    try await api.request(.get, "/services/agent-schedules?\(bad)", token: env.readA).status == 400,
                    "\(bad)")
            }
        }
    }
}
