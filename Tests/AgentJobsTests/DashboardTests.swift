import AgentJobsCore
import Foundation
import HTTPTypes
import Testing

/// `GET /services/agent-jobs/stats` and the dashboard's assets at `/ui` (the dashboard itself
/// runs in a real browser in `scripts/dashboard-test`).
@Suite("The dashboard: stats and assets")
struct DashboardTests {
    let steps = TransitionConformanceTests()

    @Test(
        "stats: exact counts, jobs per minute, due → start and duration percentiles, one org's only",
        arguments: StoreKind.available)
    func stats(kind: StoreKind) async throws {
        let env = try await TestEnvironment.make(kind)
        let t0 = env.clock.now()  // 12:00:00
        let first = try await steps.makeJob(env)
        let second = try await steps.makeJob(env)
        let later = try await steps.makeJob(env, at: 30)
        env.clock.advance(seconds: 2)
        let started = try await steps.claim(env)  // the two due jobs, 2 s late
        #expect(Set(started.map(\.job.id)) == [first.id, second.id])
        env.clock.advance(seconds: 63)  // 12:01:05
        let firstTask = try #require(started.first { $0.job.id == first.id })
        _ = try await steps.finish(env, firstTask, .completed(result: "done"))
        let third = try await steps.claimOne(env)  // due at 12:00:30, started 35 s late
        #expect(third.job.id == later.id)
        try await env.withClient { api in
            let otherOrg = try await api.create(jobBody(org: TestEnvironment.orgB), token: env.writeB)
            #expect(otherOrg.status == 201)
            let cancel = try await api.request(.delete, "/services/agent-jobs/\(second.id)", token: env.writeA)
            #expect(cancel.status == 200)

            let reply = try await api.request(.get, "/services/agent-jobs/stats", token: env.readA)
            #expect(reply.status == 200)
            let data = reply.json["data"]
            let counts = data["counts"]
            #expect(counts["RUNNING"].int == 1 && counts["COMPLETED"].int == 1 && counts["CANCELED"].int == 1)
            #expect(counts["WAITING"].int == 0 && counts["SCHEDULED"].int == 0 && counts["FAILED"].int == 0)
            let minutes = data["per_minute"].array
            #expect(minutes.count == 60)
            #expect(data["since"].string == Timestamp.format(t0.addingTimeInterval(-58 * 60)))
            #expect(minutes.last?["minute"].string == Timestamp.format(t0.addingTimeInterval(60)))
            #expect(minutes.last?["created"].int == 0 && minutes.last?["finished"].int == 2)
            #expect(minutes[58]["minute"].string == Timestamp.format(t0))
            #expect(minutes[58]["created"].int == 3 && minutes[58]["finished"].int == 0)
            #expect(minutes.dropLast(2).allSatisfy { $0["created"].int == 0 && $0["finished"].int == 0 })
            let lag = data["due_to_start_ms"]
            #expect(lag["samples"].int == 3 && lag["p50"].int == 2_000 && lag["p90"].int == 35_000)
            #expect(lag["p99"].int == 35_000 && lag["max"].int == 35_000)
            let duration = data["task_duration_ms"]
            #expect(duration["samples"].int == 2 && duration["p50"].int == 63_000 && duration["max"].int == 63_000)
            #expect(reply.json["meta"]["org_id"].string == TestEnvironment.orgA)
            #expect(reply.json["meta"]["access"].array.compactMap(\.string) == ["services:read"])

            let writer = try await api.request(.get, "/services/agent-jobs/stats", token: env.writeA)
            #expect(writer.json["meta"]["access"].array.compactMap(\.string) == ["services:read", "services:write"])
            let other = try await api.request(.get, "/services/agent-jobs/stats", token: env.writeB)
            #expect(
                other.json["data"]["counts"]["WAITING"].int == 1 && other.json["data"]["counts"]["RUNNING"].int == 0)
            #expect(other.json["data"]["per_minute"].array.last?["created"].int == 1)
            #expect(other.json["data"]["due_to_start_ms"]["samples"].int == 0)
            #expect(other.json["data"]["due_to_start_ms"]["p50"].isNull)

            let anonymous = try await api.request(.get, "/services/agent-jobs/stats", token: nil)
            #expect(anonymous.status == 401 && anonymous.json["error"]["code"].string == "unauthorized")
            let revoked = try await api.request(.get, "/services/agent-jobs/stats", token: env.revokedA)
            #expect(revoked.status == 401)
            for method in [HTTPRequest.Method.post, .delete, .options] {
                let other = try await api.request(method, "/services/agent-jobs/stats", token: env.writeA, body: "{}")
                #expect(other.status == 405 && other.headers[.allow] == "GET", "\(method)")
            }
        }
    }

    @Test("an hour later the window has moved on: nothing per minute, no task samples")
    func windowMoves() async throws {
        let env = try await TestEnvironment.make()
        let job = try await steps.makeJob(env)
        let claimed = try await steps.claimOne(env)
        _ = try await steps.finish(env, claimed, .completed(result: "done"))
        env.clock.advance(seconds: 3_600)
        let stats = try await env.store.statistics(orgID: TestEnvironment.orgA, now: env.clock.now())
        #expect(stats.counts[.completed] == 1 && stats.counts[.waiting] == 0)
        #expect(stats.minutes.allSatisfy { $0.created == 0 && $0.finished == 0 })
        #expect(stats.dueToStart.samples == 0 && stats.taskDuration.samples == 0)
        #expect(try await env.store.job(id: job.id)?.status == .completed)
    }

    @Test("percentiles are nearest-rank over the samples")
    func percentiles() {
        let hundred = DurationSummary(millis: (1...100).map { Int64($0) }.shuffled())
        #expect(hundred.samples == 100 && hundred.p50 == 50 && hundred.p90 == 90 && hundred.p99 == 99)
        #expect(hundred.max == 100)
        let one = DurationSummary(millis: [7])
        #expect(one.p50 == 7 && one.p99 == 7 && one.max == 7)
        let none = DurationSummary(millis: [])
        #expect(none.samples == 0 && none.p50 == nil && none.max == nil)
        let two = DurationSummary(millis: [10, 1_000])
        #expect(two.p50 == 10 && two.p90 == 1_000)
    }

    @Test("/ui serves the page, script and stylesheet without a token, under a strict CSP")
    func assets() async throws {
        let env = try await TestEnvironment.make()
        try await env.withClient { api in
            for (path, type) in [
                ("/ui", "text/html"), ("/ui/", "text/html"), ("/ui/app.js", "text/javascript"),
                ("/ui/app.css", "text/css"),
            ] {
                let reply = try await api.request(.get, path, token: nil)
                #expect(reply.status == 200, "\(path)")
                #expect(reply.headers[.contentType]?.hasPrefix(type) == true, "\(path)")
                let policy = try #require(reply.headers[.contentSecurityPolicy])
                #expect(policy.contains("default-src 'none'") && policy.contains("script-src 'self'"))
                #expect(policy.contains("style-src 'self'") && !policy.contains("unsafe"))
                #expect(reply.headers[.xContentTypeOptions] == "nosniff")
            }
            let page = try await api.request(.get, "/ui", token: nil).text
            #expect(page.contains(#"<script src="/ui/app.js""#))
            // No inline script or style, nothing from elsewhere.
            #expect(page.components(separatedBy: "<script").count == 2)
            #expect(!page.contains("style=") && !page.contains("<style") && !page.contains("http"))
            let script = try await api.request(.get, "/ui/app.js", token: nil).text
            #expect(!script.contains("innerHTML") && !script.contains("eval(") && !script.contains("localStorage"))
            #expect(script.contains("sessionStorage"))
            let post = try await api.request(.post, "/ui", token: nil, body: "{}")
            #expect(post.status == 405)
            let missing = try await api.request(.get, "/ui/other.js", token: nil)
            #expect(missing.status == 404)
        }
        try await env.withClient(configuration: .init(servesJobsAPI: false)) { api in
            let page = try await api.request(.get, "/ui", token: nil)
            #expect(page.status == 404)
        }
    }
}
