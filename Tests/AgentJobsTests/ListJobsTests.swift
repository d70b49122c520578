import AgentJobsCore
import Foundation
import Testing

/// What the test itself remembers about each job it created: the independent model that
/// list results are checked against.
private struct ModelJob {
    var id: String
    var status: String
    var jobType: String
    var channel: String
    var createdAt: Date
    var updatedAt: Date
    var scheduledAt: Date

    func value(_ field: String) -> String {
        switch field {
        case "created_at": Timestamp.format(createdAt)
        case "updated_at": Timestamp.format(updatedAt)
        case "scheduled_at": Timestamp.format(scheduledAt)
        case "job_status": status
        case "job_type_id": jobType
        default: channel
        }
    }
}

@Suite("GET /services/agent-jobs: filters, sort, pagination")
struct ListJobsTests {
    /// Expected page: filter, then sort by the keys with ties broken by job_id in the last key's direction.
    private func expected(
        _ jobs: [ModelJob], where include: (ModelJob) -> Bool, sort: [(String, Bool)]
    ) -> [String] {
        let descendingTieBreak = sort.last?.1 == false
        return jobs.filter(include).sorted { left, right in
            for (field, ascending) in sort {
                let l = left.value(field)
                let r = right.value(field)
                if l != r { return ascending ? l < r : l > r }
            }
            return descendingTieBreak ? left.id > right.id : left.id < right.id
        }.map(\.id)
    }

    @Test(
        "a few hundred jobs: every filter and sort agrees with an independent computation",
        arguments: StoreKind.available)
    func filtersAndSorts(kind: StoreKind) async throws {
        let env = try await TestEnvironment.make(kind)
        try await env.withClient { api in
            var random = SplitMix(state: 42)
            var jobs: [ModelJob] = []
            let types = ["daily-report", "private-a", "with-defaults"]
            let channels = ["C1", "C2", "C3", "C4", "C5"]
            let start = env.clock.now()
            for _ in 0..<300 {
                if Int.random(in: 0..<3, using: &random) > 0 {
                    env.clock.advance(seconds: Double(Int.random(in: 1...3, using: &random)))
                }
                let offsetMinutes = Int.random(in: -2880...2880, using: &random)
                let scheduled = start.addingTimeInterval(Double(offsetMinutes) * 60)
                let type = types.randomElement(using: &random)!
                let channel = channels.randomElement(using: &random)!
                let reply = try await api.create(
                    jobBody(
                        jobType: type, code: channel, extra: "\"scheduled_at\": \"\(Timestamp.format(scheduled))\""),
                    token: env.writeA)
                #expect(reply.status == 201)
                let data = reply.json["data"]
                jobs.append(
                    ModelJob(
                        id: data["job_id"].string!, status: data["job_status"].string!, jobType: type, channel: channel,
                        createdAt: env.clock.now(), updatedAt: env.clock.now(),
                        scheduledAt: Timestamp.truncated(scheduled)))
            }
            // Another org's jobs must never show up.
            for _ in 0..<20 { _ = try await api.create(jobBody(org: TestEnvironment.orgB), token: env.writeB) }
            // Cancel every seventh job.
            for index in stride(from: 0, to: jobs.count, by: 7) {
                env.clock.advance(seconds: 1)
                let reply = try await api.request(.delete, "/services/agent-jobs/\(jobs[index].id)", token: env.writeA)
                #expect(reply.status == 200)
                jobs[index].status = "CANCELED"
                jobs[index].updatedAt = env.clock.now()
            }
            #expect(Set(jobs.map(\.status)) == ["WAITING", "SCHEDULED", "CANCELED"])

            let midCreated = jobs[150].createdAt
            let midScheduled = start.addingTimeInterval(-600)
            let lateScheduled = start.addingTimeInterval(1800 * 60)
            struct Case {
                var query: String
                var include: (ModelJob) -> Bool
                var sort: [(String, Bool)]
            }
            let cases: [Case] = [
                Case(query: "limit=200", include: { _ in true }, sort: [("created_at", false)]),
                Case(
                    query: "status=WAITING&limit=200", include: { $0.status == "WAITING" },
                    sort: [("created_at", false)]),
                Case(
                    query: "status=SCHEDULED,CANCELED&sort=scheduled_at:asc&limit=200",
                    include: { ["SCHEDULED", "CANCELED"].contains($0.status) }, sort: [("scheduled_at", true)]),
                Case(
                    query: "job_type_id=private-a&sort=channel_code,created_at:desc&limit=200",
                    include: { $0.jobType == "private-a" }, sort: [("channel_code", true), ("created_at", false)]),
                Case(
                    query: "channel_code=C2&status=WAITING&limit=200",
                    include: { $0.channel == "C2" && $0.status == "WAITING" }, sort: [("created_at", false)]),
                Case(
                    query:
                        "scheduled_at_gte=\(Timestamp.format(midScheduled))&scheduled_at_lte=\(Timestamp.format(lateScheduled))&sort=scheduled_at&limit=200",
                    include: { $0.scheduledAt >= midScheduled && $0.scheduledAt <= lateScheduled },
                    sort: [("scheduled_at", true)]),
                Case(
                    query: "created_at_gte=\(Timestamp.format(midCreated))&limit=200",
                    include: { $0.createdAt >= midCreated }, sort: [("created_at", false)]),
                Case(
                    query: "created_at_lte=\(Timestamp.format(midCreated))&sort=created_at:asc&limit=200",
                    include: { $0.createdAt <= midCreated }, sort: [("created_at", true)]),
                Case(
                    query: "scheduled_at=\(Timestamp.format(jobs[10].scheduledAt))",
                    include: { $0.scheduledAt == jobs[10].scheduledAt }, sort: [("created_at", false)]),
                Case(
                    query: "sort=job_status:desc,scheduled_at&limit=200",
                    include: { _ in true }, sort: [("job_status", false), ("scheduled_at", true)]),
                Case(query: "sort=updated_at:desc&limit=200", include: { _ in true }, sort: [("updated_at", false)]),
                Case(query: "sort=job_type_id&limit=200", include: { _ in true }, sort: [("job_type_id", true)]),
                Case(
                    query: "sort=channel_code:desc&status=CANCELED", include: { $0.status == "CANCELED" },
                    sort: [("channel_code", false)]),
            ]
            for testCase in cases {
                let reply = try await api.list(testCase.query, token: env.readA)
                #expect(reply.status == 200, "\(testCase.query): \(reply.json)")
                let all = expected(jobs, where: testCase.include, sort: testCase.sort)
                let limit = reply.json["meta"]["limit"].int ?? 20
                #expect(
                    reply.json["data"].array.compactMap { $0["job_id"].string } == Array(all.prefix(limit)),
                    "\(testCase.query)")
                #expect(reply.json["meta"]["total"].int == all.count, "\(testCase.query)")
                let echoed = reply.json["meta"]["sort"].array.map {
                    "\($0["field"].string ?? ""):\($0["direction"].string ?? "")"
                }
                #expect(echoed == testCase.sort.map { "\($0.0):\($0.1 ? "asc" : "desc")" }, "\(testCase.query)")

                // The keyset cursor walks the same order in pages of 9, without gaps or repeats.
                var cursorWalk: [String] = []
                var after: String?
                var pages = 0
                repeat {
                    let pageQuery =
                        testCase.query.replacingOccurrences(of: "limit=200", with: "") + "&limit=9"
                        + (after.map { "&after=\($0)" } ?? "")
                    let page = try await api.list(pageQuery, token: env.readA)
                    #expect(page.status == 200, "\(pageQuery): \(page.json)")
                    #expect(page.json["meta"]["total"].int == all.count, "\(pageQuery)")
                    cursorWalk += page.json["data"].array.compactMap { $0["job_id"].string }
                    after = page.json["meta"]["next_after"].string
                    pages += 1
                } while after != nil && pages <= all.count / 9 + 2
                #expect(cursorWalk == all, "cursor walk of \(testCase.query)")
            }

            // Pagination walks the whole ordered list without gaps or repeats.
            let order = expected(jobs, where: { _ in true }, sort: [("scheduled_at", false)])
            var walked: [String] = []
            var offset = 0
            while offset < order.count + 7 {
                let page = try await api.list("sort=scheduled_at:desc&limit=7&offset=\(offset)", token: env.readA)
                #expect(page.json["meta"]["offset"].int == offset)
                #expect(page.json["meta"]["limit"].int == 7)
                #expect(page.json["meta"]["total"].int == order.count)
                walked += page.json["data"].array.compactMap { $0["job_id"].string }
                offset += 7
            }
            #expect(walked == order)

            let defaults = try await api.list(token: env.readA)
            #expect(defaults.json["meta"]["limit"].int == 20)
            #expect(defaults.json["meta"]["offset"].int == 0)
            #expect(defaults.json["data"].array.count == 20)
        }
    }

    @Test(
        "400 naming the parameter",
        arguments: [
            ("status=DONE", "status"), ("status=WAITING,", "status"), ("status=waiting", "status"),
            ("sort=name", "sort"), ("sort=created_at:up", "sort"), ("sort=created_at%20", "sort"),
            ("status=%20WAITING", "status"),
            ("sort=", "sort"), ("limit=0", "limit"), ("limit=201", "limit"), ("limit=abc", "limit"),
            ("offset=-1", "offset"), ("offset=1.5", "offset"), ("scheduled_at_gte=yesterday", "scheduled_at_gte"),
            ("created_at_lte=2026-01-01T00:00:00", "created_at_lte"),
            ("scheduled_at=2026-13-01T00:00:00Z", "scheduled_at"),
            ("created_at_gte=1767225600", "created_at_gte"), ("job_type_id=a%00b", "job_type_id"),
            ("channel_code=%00", "channel_code"), ("schedule_id=a%00", "schedule_id"),
            ("after=abc", "after"), ("after=", "after"), ("after=a%2Bb", "after"),
            // A cursor made for the default sort (created_at:desc), used with another sort.
            (
                "sort=scheduled_at&after="
                    + ListCursor(sort: SortKey.defaultOrder, values: [.millis(1)], jobID: "job_x").encoded, "after"
            ),
            (
                "after=" + ListCursor(sort: [SortKey(.jobTypeID, .asc)], values: [.text("x")], jobID: "j").encoded,
                "after"
            ),
        ])
    func rejectsBadParameters(query: String, names: String) async throws {
        let env = try await TestEnvironment.make()
        try await env.withClient { api in
            let reply = try await api.list(query, token: env.readA)
            #expect(reply.status == 400, "\(query)")
            #expect(reply.errorCode == "bad_request")
            #expect(reply.errorMessage.contains(names), "'\(reply.errorMessage)' should name \(names)")
        }
    }

    @Test("empty pairs in the query string are ignored, not a 500")
    func emptyQueryPairs() async throws {
        let env = try await TestEnvironment.make()
        try await env.withClient { api in
            for _ in 0..<4 { _ = try await api.create(jobBody(), token: env.writeA) }
            for query in ["status=WAITING&&limit=3", "&limit=3", "limit=3&", "&&&limit=3&&"] {
                let reply = try await api.list(query, token: env.readA)
                #expect(reply.status == 200, "\(query): \(reply.json)")
                #expect(reply.json["data"].array.count == 3, "\(query)")
            }
            let schedules = try await api.request(.get, "/services/agent-schedules?&&limit=5&", token: env.readA)
            #expect(schedules.status == 200)
        }
    }

    @Test("a field repeated in sort counts once, at its first place")
    func repeatedSortField() async throws {
        let env = try await TestEnvironment.make()
        try await env.withClient { api in
            let reply = try await api.list("sort=job_status:desc,created_at,job_status:asc", token: env.readA)
            #expect(reply.status == 200)
            let sort = reply.json["meta"]["sort"].array.map {
                "\($0["field"].string ?? ""):\($0["direction"].string ?? "")"
            }
            #expect(sort == ["job_status:desc", "created_at:asc"], "\(reply.json["meta"]["sort"])")
        }
    }

    @Test("SCHEDULED is a valid status filter and every status name is accepted")
    func everyStatusAccepted() async throws {
        let env = try await TestEnvironment.make()
        try await env.withClient { api in
            let reply = try await api.list(
                "status=WAITING,SCHEDULED,RUNNING,COMPLETED,FAILED,CANCELED", token: env.readA)
            #expect(reply.status == 200)
            #expect(reply.json["meta"]["total"].int == 0)
        }
    }
}
