import AgentJobsCore
import Foundation
import HTTPTypes
import NIOCore
import PropertyBased
import Testing

@testable import AgentJobsAPI

/// The list's fast path (`ListJobsRoute`) answers what the generated server answers: the same
/// bytes for any page, and the same answer for the same request.
@Suite("The list's fast path")
struct ListJobsRouteTests {
    static func query(seed: UInt64, jobs: Int) -> JobQuery {
        var random = SplitMix(state: seed ^ 0x5EED)
        var query = JobQuery(orgID: "org-\(seed % 7)")
        // A limit of the page's size now and then, so that `next_after` is written too.
        query.limit = Bool.random(using: &random) ? max(jobs, 1) : Int.random(in: 1...200, using: &random)
        query.offset = Int.random(in: 0...JobQuery.maxOffset, using: &random)
        query.sort = (0..<Int.random(in: 0...3, using: &random)).map { _ in
            SortKey(SortField.allCases.randomElement(using: &random)!, Bool.random(using: &random) ? .asc : .desc)
        }
        return query
    }

    @Test("any page: JobJSON's list bytes are the generated encoding's")
    func sameBytesAsTheGeneratedEncoding() async {
        await propertyCheck(count: 500, input: Gen.uint64(in: 0...UInt64.max)) { seed in
            let jobs = (0..<Int(seed % 4)).map { JobJSONTests.job(seed: seed &+ UInt64($0)) }
            let page = JobPage(jobs: jobs, total: Int(seed % 1_000_003), totalIsExact: seed % 3 != 0)
            let query = Self.query(seed: seed, jobs: jobs.count)
            let written = String(buffer: JobJSON.listEnvelope(page, query: query, orgID: query.orgID))
            let generated = try? JobJSONTests.generatedEncoding(
                of: APIModelConversion.listEnvelope(page, query: query))
            #expect(written == generated, "seed \(seed)")
        }
    }

    @Test("only a plain query takes the fast path")
    func plainQueries() throws {
        #expect(ListJobsRoute.parameters(in: nil) != nil)
        #expect(ListJobsRoute.parameters(in: "") != nil)
        let parameters = try #require(
            ListJobsRoute.parameters(
                in:
                    "status=WAITING,RUNNING&limit=5&offset=10&sort=created_at:desc,job_type_id&job_type_id=a.b-c_d&channel_code=C1&schedule_id=sched_1&after=abc-_&scheduled_at_gte=2026-12-01T00:00:00Z&created_at_lte=2026-12-02T00:00:00.5Z"
            ))
        #expect(parameters.status == "WAITING,RUNNING")
        #expect(parameters.limit == 5)
        #expect(parameters.offset == 10)
        #expect(parameters.sort == "created_at:desc,job_type_id")
        #expect(parameters.jobTypeID == "a.b-c_d")
        #expect(parameters.channelCode == "C1")
        #expect(parameters.scheduleID == "sched_1")
        #expect(parameters.after == "abc-_")
        #expect(parameters.scheduledAtGte == Timestamp.parse("2026-12-01T00:00:00Z"))
        #expect(parameters.createdAtLte == Timestamp.parse("2026-12-02T00:00:00.5Z"))
        // Percent-encoded values (as a browser's `URLSearchParams` writes them) are decoded.
        let encoded = try #require(
            ListJobsRoute.parameters(
                in:
                    "sort=created_at%3Adesc%2Cjob_type_id&channel_code=C%20%C3%A9%26&created_at_gte=2026-12-01T00%3A00%3A00Z"
            ))
        #expect(encoded.sort == "created_at:desc,job_type_id")
        #expect(encoded.channelCode == "C \u{E9}&")
        #expect(encoded.createdAtGte == Timestamp.parse("2026-12-01T00:00:00Z"))
        for query in [
            "status=WAITING&status=RUNNING",  // a repeat
            "channel_code=C%2",  // a broken percent-encoding
            "status%3D=WAITING",  // an encoded name
            "channel_code=a+b",  // a `+`
            "status",  // no value
            "status=",  // an empty value
            "limit=-1", "limit=+1", "limit=1e3", "limit=1234567890123456789",  // not plain digits
            "scheduled_at=tomorrow",  // not a timestamp
            "unknown=1",  // not a parameter of the list
            "status=WAITING&",  // an empty pair
            "job_type_id=a=b",  // a second `=`
            "job_type_id=\u{E9}",  // not ASCII
        ] {
            #expect(ListJobsRoute.parameters(in: query) == nil, "\(query)")
        }
    }

    @Test("the fast path and the generated server answer a list alike", arguments: StoreKind.available)
    func bothWaysAnswerAlike(kind: StoreKind) async throws {
        let env = try await TestEnvironment.make(kind)
        // The generated way is taken when the first media range of Accept is not JSON.
        let generated: HTTPFields = [.accept: "text/plain;q=0.1, application/json"]
        try await env.withClient { api in
            for index in 0..<5 {
                let created = try await api.create(
                    jobBody(code: "C\(index % 2)", extra: #""params": {"n": \#(index), "s": "a/b \"é\""}"#),
                    token: env.writeA, query: index % 2 == 0 ? "?delay=60" : "")
                #expect(created.status == 201)
            }
            let first = try await api.list("limit=2&sort=channel_code:desc,created_at", token: env.readA)
            let cursor = try #require(first.json["meta"]["next_after"].string)
            for query in [
                "", "limit=2&sort=channel_code:desc,created_at",
                "limit=2&sort=channel_code:desc,created_at&after=\(cursor)",
                "status=WAITING,SCHEDULED&channel_code=C1", "offset=3&limit=1", "job_type_id=daily-report&limit=200",
                "status=WAITING%2CSCHEDULED&sort=created_at%3Adesc", "channel_code=C%31", "channel_code=%C3%A9%26",
                "scheduled_at_gte=2000-01-01T00%3A00%3A00.000Z", "job_type_id=%00",
                "scheduled_at_gte=2000-01-01T00:00:00Z&sort=scheduled_at:desc", "created_at_lte=2000-01-01T00:00:00Z",
                // Plain queries the parser refuses: the same error either way.
                "status=BOGUS", "limit=0", "offset=2147483647", "sort=nope", "after=garbage",
            ] {
                let uri = "/services/agent-jobs" + (query.isEmpty ? "" : "?" + query)
                let fast = try await api.request(.get, uri, token: env.readA)
                let slow = try await api.request(.get, uri, token: env.readA, headers: generated)
                #expect(fast.status == slow.status, "\(query)")
                #expect(fast.text == slow.text, "\(query)")
                #expect(fast.headers[.contentType] == slow.headers[.contentType], "\(query)")
                #expect(fast.status == 200 || fast.status == 400, "\(query): \(fast.status)")
            }
            // Another org's token sees none of these jobs, by either way.
            let other = try await api.list("", token: env.writeB)
            #expect(other.json["meta"]["total"].int == 0)
        }
    }
}
