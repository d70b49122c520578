import AgentJobsCore
import Foundation
import Testing

/// `meta.total` comes from counts the stores keep (per org, status, job type and channel),
/// not from scanning: they must match the jobs exactly through every change, on both stores.
@Suite("Conformance: job counts and totals")
struct JobCountsTests {
    private func create(
        _ env: TestEnvironment, type: String, channel: String, org: String = TestEnvironment.orgA,
        at offset: TimeInterval = 0
    ) async throws -> Job {
        let now = env.clock.now()
        let submission = JobSubmission(
            targetChannel: TargetChannel(orgID: org, platform: "slack", type: "channel", code: channel),
            jobTypeID: type, scheduledAt: now.addingTimeInterval(offset))
        let jobType = JobType(id: type, orgID: nil, executor: .demo, defaultConfig: .init(), createdAt: now)
        let job = submission.makeJob(id: Identifier.make(prefix: "job", at: now), jobType: jobType, now: now, jitter: 0)
        guard case .created(let created) = try await env.store.createJob(job, idempotency: nil, at: now) else {
            throw AgentJobsError.conflict("replayed")
        }
        return created
    }

    private func total(_ env: TestEnvironment, _ query: JobQuery) async throws -> (Int, Bool) {
        let page = try await env.store.listJobs(query)
        return (page.total, page.totalIsExact)
    }

    @Test(
        "totals by status, job type and channel stay exact through creates, starts, ends and cancels",
        arguments: StoreKind.available)
    func totalsStayExact(kind: StoreKind) async throws {
        let env = try await TestEnvironment.make(kind)
        var jobs: [Job] = []
        for index in 0..<24 {
            let type = index % 3 == 0 ? "with-defaults" : "daily-report"
            jobs.append(
                try await create(env, type: type, channel: "C\(index % 4)", at: index % 5 == 0 ? 3600 : 0))
        }
        _ = try await create(env, type: "daily-report", channel: "C0", org: TestEnvironment.orgB)
        // Start some, finish a few of those, cancel others: statuses move in every direction.
        let claimed = try await env.store.claimDueTasks(
            ClaimRequest(
                limit: 8, now: env.clock.now(), worker: "w1", leaseUntil: env.clock.now().addingTimeInterval(15)))
        #expect(claimed.count == 8)
        for task in claimed.prefix(5) {
            _ = try await env.store.finishTask(
                taskID: task.task.id, worker: "w1", outcome: .completed(result: "ok"), now: env.clock.now())
        }
        for job in jobs.suffix(4) {
            _ = try await env.store.cancelJob(id: job.id, orgID: TestEnvironment.orgA, reason: nil, at: env.clock.now())
        }
        try await env.store.foldCountDeltas()
        // One more change after the fold: the totals read the counts and the pending deltas.
        _ = try await env.store.cancelJob(id: jobs[1].id, orgID: TestEnvironment.orgA, reason: nil, at: env.clock.now())

        var stored: [Job] = []
        for job in jobs { stored.append(try #require(try await env.store.job(id: job.id))) }
        let statuses: [[JobStatus]] = [[], [.waiting], [.running, .completed], [.canceled], [.scheduled, .waiting]]
        for status in statuses {
            for type in [nil, "daily-report", "with-defaults"] {
                for channel in [nil, "C0", "C3"] {
                    let query = JobQuery(
                        orgID: TestEnvironment.orgA, statuses: status, jobTypeID: type, channelCode: channel)
                    let expected = stored.filter {
                        (status.isEmpty || status.contains($0.status)) && (type == nil || $0.jobTypeID == type)
                            && (channel == nil || $0.targetChannel.code == channel)
                    }.count
                    let (counted, exact) = try await total(env, query)
                    #expect(counted == expected, "\(status) \(type ?? "-") \(channel ?? "-")")
                    #expect(exact)
                }
            }
        }
        let byStatus = try await env.store.jobCountsByStatus()
        let all = stored.count + 1
        #expect(byStatus.values.reduce(0, +) == all)
        #expect(byStatus[.completed] == 5)
    }

    @Test(
        "totals stay exact through replays, events, lost leases, deadlines and purges",
        arguments: StoreKind.available)
    func totalsThroughEveryWriter(kind: StoreKind) async throws {
        let env = try await TestEnvironment.make(kind)
        var jobs: [Job] = []
        for index in 0..<7 {
            jobs.append(try await create(env, type: "daily-report", channel: "C\(index % 2)"))
        }
        // A create and its replay: one job, counted once.
        let keyed = jobs[0]
        let once = IdempotencyClaim(key: "once", fingerprint: "f")
        for _ in 0..<2 {
            let replayable = NewJob(
                id: Identifier.make(prefix: "job", at: env.clock.now()), orgID: keyed.orgID,
                jobTypeID: keyed.jobTypeID, targetChannel: keyed.targetChannel, status: .waiting,
                config: .defaults, params: [:], createdAt: env.clock.now(), scheduledAt: env.clock.now())
            if case .created(let job) = try await env.store.createJob(
                replayable, idempotency: once, at: env.clock.now())
            {
                jobs.append(job)
            }
        }
        func claim(_ limit: Int, leaseFor seconds: TimeInterval) async throws -> [ClaimedTask] {
            try await env.store.claimDueTasks(
                ClaimRequest(
                    limit: limit, now: env.clock.now(), worker: "w1",
                    leaseUntil: env.clock.now().addingTimeInterval(seconds)))
        }
        // Three leases lost (no retries: FAILED), an event on a waiting job, two past their
        // deadline (FAILED), then a purge of two finished jobs.
        #expect(try await claim(3, leaseFor: 15).count == 3)
        var found: Job? = nil
        for job in jobs where found == nil {
            if let stored = try await env.store.job(id: job.id), stored.status == .waiting { found = stored }
        }
        let waiting = try #require(found)
        _ = try await env.store.recordEvent(
            EventSubmission(type: "reply", data: .object([:])), jobID: waiting.id, orgID: waiting.orgID,
            idempotency: nil, at: env.clock.now())
        env.clock.advance(seconds: 20)
        #expect(try await env.store.rescueExpiredLeases(now: env.clock.now()).count == 3)
        #expect(try await claim(2, leaseFor: 7_200).count == 2)
        env.clock.advance(seconds: JobConfig.defaults.maxTimeToComplete * 60 + 1)
        #expect(try await env.store.failJobsPastDeadline(now: env.clock.now()).count == 2)
        let purged = try await env.store.purgeFinishedJobs(
            finishedBefore: [.failed: env.clock.now().addingTimeInterval(1)], limit: 2)
        #expect(purged[.failed] == 2)
        try await env.store.foldCountDeltas()

        var statuses: [JobStatus] = []
        for job in jobs {
            if let stored = try await env.store.job(id: job.id) { statuses.append(stored.status) }
        }
        #expect(statuses.count == 6, "eight created, two purged")
        for status in JobStatus.allCases {
            let (counted, exact) = try await total(
                env, JobQuery(orgID: TestEnvironment.orgA, statuses: [status]))
            #expect(counted == statuses.filter { $0 == status }.count, "\(status)")
            #expect(exact)
        }
        let byStatus = try await env.store.jobCountsByStatus()
        #expect(byStatus.values.reduce(0, +) == statuses.count)
        #expect(byStatus[.failed] == 3)
    }

    @Test(
        "a sort by status, job type or channel then a time pages through the groups like a full sort",
        arguments: StoreKind.available)
    func groupedPages(kind: StoreKind) async throws {
        let env = try await TestEnvironment.make(kind)
        var jobs: [Job] = []
        for index in 0..<40 {
            if index % 3 == 0 { env.clock.advance(seconds: 1) }
            let type = ["daily-report", "with-defaults", "private-a"][index % 3]
            jobs.append(try await create(env, type: type, channel: "C\(index % 5)", at: index % 4 == 0 ? 600 : 0))
        }
        for job in jobs.prefix(9) {
            _ = try await env.store.cancelJob(id: job.id, orgID: TestEnvironment.orgA, reason: nil, at: env.clock.now())
        }
        var stored: [Job] = []
        for job in jobs { stored.append(try #require(try await env.store.job(id: job.id))) }
        func value(_ job: Job, _ field: SortField) -> String {
            switch field {
            case .jobStatus: job.status.rawValue
            case .jobTypeID: job.jobTypeID
            default: job.targetChannel.code
            }
        }
        func time(_ job: Job, _ field: SortField) -> Date {
            switch field {
            case .scheduledAt: job.scheduledAt
            case .updatedAt: job.updatedAt
            default: job.createdAt
            }
        }
        let sorts: [(SortField, SortDirection, SortField, SortDirection)] = [
            (.jobStatus, .desc, .createdAt, .asc), (.channelCode, .asc, .createdAt, .desc),
            (.jobTypeID, .desc, .createdAt, .desc), (.jobTypeID, .asc, .scheduledAt, .asc),
            (.channelCode, .desc, .updatedAt, .desc), (.jobStatus, .asc, .scheduledAt, .desc),
        ]
        for (field, groupDirection, second, timeDirection) in sorts {
            for statuses in [[], [JobStatus.waiting, .canceled]] {
                let expected = stored.filter { statuses.isEmpty || statuses.contains($0.status) }.sorted { l, r in
                    let (a, b) = (value(l, field), value(r, field))
                    if a != b { return groupDirection == .asc ? a < b : a > b }
                    let (x, y) = (time(l, second), time(r, second))
                    if x != y { return timeDirection == .asc ? x < y : x > y }
                    return timeDirection == .asc ? l.id < r.id : l.id > r.id
                }.map(\.id)
                // 0: every group walked as a large one; 10: the groups of 10 or fewer sorted, the others walked.
                for fewMatches in [0, 10] {
                    var walked: [String] = []
                    var offset = 0
                    while offset < expected.count + 7 {
                        var query = JobQuery(
                            orgID: TestEnvironment.orgA, statuses: statuses, limit: 7, offset: offset,
                            sort: [SortKey(field, groupDirection), SortKey(second, timeDirection)])
                        query.fewMatches = fewMatches  // the grouped plan, not the small-result sort
                        #expect(GroupedPage.leadingField(of: query) == field)
                        walked += try await env.store.listJobs(query).jobs.map(\.id)
                        offset += 7
                    }
                    #expect(
                        walked == expected, "\(field) \(groupDirection) \(second) \(timeDirection) \(statuses)")
                }
            }
        }
    }

    @Test(
        "a time-range filter counts rows up to the query's limit, then says the total is inexact",
        arguments: StoreKind.available)
    func cappedTotals(kind: StoreKind) async throws {
        let env = try await TestEnvironment.make(kind)
        let start = env.clock.now()
        for _ in 0..<12 {
            env.clock.advance(seconds: 1)
            _ = try await create(env, type: "daily-report", channel: "C1")
        }
        var query = JobQuery(orgID: TestEnvironment.orgA, createdAt: TimeRange(from: start.addingTimeInterval(3)))
        #expect(try await total(env, query) == (10, true))
        query.countLimit = 10
        #expect(try await total(env, query) == (10, true), "exactly the limit is still exact")
        query.countLimit = 6
        #expect(try await total(env, query) == (6, false))
        #expect(try await env.store.listJobs(query).jobs.count == 10, "the page itself is not capped")
        query.limit = 4
        #expect(try await env.store.listJobs(query).jobs.count == 4)
    }

    @Test(
        "every offset page, deep ones read from the other end, is the slice of the full order; past the end is empty",
        arguments: StoreKind.available)
    func deepOffsetPages(kind: StoreKind) async throws {
        let env = try await TestEnvironment.make(kind)
        var jobs: [Job] = []
        for index in 0..<23 {
            if index % 2 == 0 { env.clock.advance(seconds: 1) }  // ties on created_at, broken by id
            jobs.append(
                try await create(
                    env, type: index % 3 == 0 ? "with-defaults" : "daily-report", channel: "C\(index % 4)",
                    at: TimeInterval(600 * (index % 5))))
        }
        for job in jobs.suffix(4) {
            _ = try await env.store.cancelJob(id: job.id, orgID: TestEnvironment.orgA, reason: nil, at: env.clock.now())
        }
        let sorts: [[SortKey]] = [
            [], [SortKey(.createdAt, .asc)], [SortKey(.scheduledAt, .desc)],
            [SortKey(.scheduledAt, .asc), SortKey(.createdAt, .desc)], [SortKey(.updatedAt, .desc)],
        ]
        let filters: [(statuses: [JobStatus], jobType: String?)] = [
            ([], nil), ([.waiting], nil), ([.waiting, .canceled], nil), ([], "daily-report"),
        ]
        for sort in sorts {
            for filter in filters {
                var full = JobQuery(
                    orgID: TestEnvironment.orgA, statuses: filter.statuses, jobTypeID: filter.jobType, limit: 100,
                    sort: sort)
                full.fewMatches = 0
                let expected = try await env.store.listJobs(full).jobs.map(\.id)
                #expect(expected.count >= 4)
                for limit in [1, 3, 5] {
                    for offset in 0...(expected.count + 2) {
                        var query = full
                        query.limit = limit
                        query.offset = offset
                        // 0: the page is walked in the sort's index, not sorted in memory; and
                        // from offset 1 read in one snapshot (PostgreSQL), so deep pages may be
                        // read from the other end.
                        query.fewMatches = 0
                        query.deepOffset = 1
                        let page = try await env.store.listJobs(query)
                        let slice = Array(expected.dropFirst(offset).prefix(limit))
                        #expect(page.jobs.map(\.id) == slice, "\(sort) \(filter) limit \(limit) offset \(offset)")
                        #expect(page.total == expected.count)
                    }
                }
            }
        }
    }
}
