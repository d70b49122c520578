import AgentJobsCore
import AgentJobsEngine
import Foundation
import HTTPTypes
import Testing

@Suite("Retention: old finished jobs are deleted, with everything that hangs off them")
struct RetentionTests {
    let steps = TransitionConformanceTests()

    @Test("--retention parses statuses and durations, and names what is wrong")
    func parse() throws {
        let policy = try RetentionPolicy.parse("completed=7d,failed=30d,canceled=90m")
        let expected: [JobStatus: TimeInterval] = [.completed: 604_800, .failed: 2_592_000, .canceled: 5_400]
        #expect(policy.limits == expected)
        #expect(policy.description == "completed=7d,failed=30d,canceled=90m")
        let twelveHours: [JobStatus: TimeInterval] = [.completed: 43_200]
        #expect(try RetentionPolicy.parse(" COMPLETED=12h ").limits == twelveHours)
        let seconds: [JobStatus: TimeInterval] = [.failed: 45]
        #expect(try RetentionPolicy.parse("failed=45s").limits == seconds)
        #expect(try RetentionPolicy.parse("").keepsEverything)
        for (text, named) in [
            ("completed", "STATUS=DURATION"), ("running=1d", "'running'"), ("completed=7", "completed=7"),
            ("completed=0d", "completed=0d"), ("completed=1w", "completed=1w"), ("completed=-1d", "completed=-1d"),
            ("completed=1.5d", "completed=1.5d"), ("completed=40000d", "100 years"),
            ("completed=1d,completed=2d", "twice"), ("completed=1d,", "STATUS=DURATION"),
        ] {
            #expect(throws: AgentJobsError.self, "\(text)") { _ = try RetentionPolicy.parse(text) }
            do {
                _ = try RetentionPolicy.parse(text)
            } catch {
                #expect(error.message.contains(named), "\(text): \(error.message)")
                #expect(error.message.hasPrefix("--retention"))
            }
        }
        let now = Date(timeIntervalSince1970: 1_000_000)
        #expect(policy.cutoffs(now: now)[.completed] == now.addingTimeInterval(-7 * 86_400))
    }

    @Test(
        "a purge deletes finished jobs past their limit, in batches, and nothing else", arguments: StoreKind.available)
    func purge(kind: StoreKind) async throws {
        let env = try await TestEnvironment.make(kind)
        // Three jobs that complete (one with an event, progress and keyed records), one that
        // fails, one still waiting, one completed later.
        var completed: [String] = []
        for _ in 0..<3 { completed.append(try await steps.makeJob(env).id) }
        let failed = try await steps.makeJob(env, config: .init(maxTaskRetries: 0)).id
        let waiting = try await steps.makeJob(env, at: 86_400 * 30).id
        let keyedSubmission = EventSubmission(type: "answer", data: .null)
        let keyedEvent = IdempotencyClaim(
            key: "event-key", fingerprint: keyedSubmission.fingerprint(jobID: completed[0]), scope: .events)
        _ = try await env.store.recordEvent(
            keyedSubmission, jobID: completed[0], orgID: TestEnvironment.orgA, idempotency: keyedEvent,
            at: env.clock.now())
        for claimed in try await steps.claim(env) {
            if let token = claimed.progressToken {
                _ = try await env.store.recordProgress(
                    jobID: claimed.job.id, taskID: claimed.task.id, tokenHash: ProgressToken.hash(token), message: "m",
                    data: .null, at: env.clock.now())
            }
            let outcome: TaskOutcome =
                claimed.job.id == failed ? .failed(error: "no", retryable: false) : .completed(result: "ok")
            _ = try await steps.finish(env, claimed, outcome)
        }
        env.clock.advance(seconds: 86_400 * 2)
        let recent = try await steps.makeJob(env).id
        _ = try await steps.finish(env, try await steps.claimOne(env), .completed(result: "ok"))
        env.clock.advance(seconds: 60)

        let policy = try RetentionPolicy.parse("completed=1d")
        let cutoffs = policy.cutoffs(now: env.clock.now())
        #expect(try await env.store.countPurgeable(finishedBefore: cutoffs) == [.completed: 3])
        #expect(try await env.store.purgeFinishedJobs(finishedBefore: cutoffs, limit: 2) == [.completed: 2])
        #expect(try await env.store.purgeFinishedJobs(finishedBefore: cutoffs, limit: 2) == [.completed: 1])
        #expect(try await env.store.purgeFinishedJobs(finishedBefore: cutoffs, limit: 2) == [:])
        for id in completed {
            #expect(try await env.store.job(id: id) == nil, "\(id) was not deleted")
            #expect(try await env.store.streamEntries(jobID: id, after: 0, limit: 10).isEmpty)
        }
        for id in [failed, waiting, recent] { #expect(try await env.store.job(id: id) != nil) }
        // The counts stay exact.
        try await env.store.foldCountDeltas()
        let counts = try await env.store.jobCountsByStatus()
        let completedCount = counts[.completed] ?? 0
        let failedCount = counts[.failed] ?? 0
        let waitingCount = counts[.scheduled] ?? 0
        #expect(completedCount == 1)
        #expect(failedCount == 1)
        #expect(waitingCount == 1)
        #expect(try await env.store.listJobs(JobQuery(orgID: TestEnvironment.orgA)).total == 3)
        // The event's idempotency record went with it: the key is free for another job.
        let other = EventSubmission(type: "answer", data: .null)
        let reuse = try await env.store.recordEvent(
            other, jobID: waiting, orgID: TestEnvironment.orgA,
            idempotency: IdempotencyClaim(
                key: "event-key", fingerprint: other.fingerprint(jobID: waiting), scope: .events),
            at: env.clock.now())
        guard case .recorded = reuse else {
            Issue.record("the purged event's key is still taken: \(reuse)")
            return
        }
        // Failed jobs have their own limit.
        let failedCutoffs = try RetentionPolicy.parse("failed=1h,completed=30d").cutoffs(now: env.clock.now())
        #expect(try await env.store.purgeFinishedJobs(finishedBefore: failedCutoffs, limit: 1_000) == [.failed: 1])
        #expect(try await env.store.job(id: failed) == nil)
    }

    @Test("a create's idempotency key is freed with its purged job", arguments: StoreKind.available)
    func createKeys(kind: StoreKind) async throws {
        let env = try await TestEnvironment.make(kind)
        try await env.withClient { api in
            let keyed: HTTPFieldsLiteral = ["Idempotency-Key": "nightly-1"]
            let first = try await api.create(jobBody(), token: env.writeA, headers: keyed.fields)
            let id = try #require(first.json["data"]["job_id"].string)
            _ = try await steps.finish(env, try await steps.claimOne(env), .completed(result: "ok"))
            env.clock.advance(seconds: 7200)
            _ = try await env.store.purgeFinishedJobs(
                finishedBefore: try RetentionPolicy.parse("completed=1h").cutoffs(now: env.clock.now()), limit: 10)
            #expect(try await api.request(.get, "/services/agent-jobs/\(id)", token: env.readA).status == 404)
            let again = try await api.create(jobBody(), token: env.writeA, headers: keyed.fields)
            #expect(again.status == 201 && again.json["data"]["job_id"].string != id)
        }
    }

    @Test("agent-jobs prune: --dry-run counts, prune deletes, a bad --retention exits 64")
    func pruneCommand() async throws {
        let env = try await TestEnvironment.make(.sqlite)
        var ids: [String] = []
        for _ in 0..<2 { ids.append(try await steps.makeJob(env).id) }
        for claimed in try await steps.claim(env) { _ = try await steps.finish(env, claimed, .completed(result: "ok")) }
        let kept = try await steps.makeJob(env).id
        let dry = try await CLI.run(["prune", "--retention", "completed=1d", "--dry-run"], database: env.databaseURL)
        #expect(dry.status == 0, "\(dry.stderr)")
        #expect(dry.stdout.contains("would delete 2 COMPLETED jobs finished before"))
        #expect(dry.stdout.contains("would delete 2 jobs in all (dry run: nothing deleted)"))
        #expect(try await env.store.job(id: ids[0]) != nil)
        let pruned = try await CLI.run(["prune", "--retention", "completed=1d,failed=1d"], database: env.databaseURL)
        #expect(pruned.status == 0, "\(pruned.stderr)")
        #expect(pruned.stdout.contains("deleted 2 COMPLETED jobs") && pruned.stdout.contains("deleted 0 FAILED jobs"))
        #expect(pruned.stdout.contains("deleted 2 jobs in all"))
        for id in ids { #expect(try await env.store.job(id: id) == nil) }
        #expect(try await env.store.job(id: kept) != nil)
        for bad in ["weekly", "completed=1w", ""] {
            let refused = try await CLI.run(["prune", "--retention", bad], database: env.databaseURL)
            #expect(refused.status == 64 && refused.firstErrorLine.contains("--retention"), "\(bad): \(refused.stderr)")
        }
        let serve = try await CLI.run(["serve", "--retention", "completed=soon"], database: env.databaseURL)
        #expect(serve.status == 64 && serve.firstErrorLine.contains("--retention"))
    }

    @Test("serve's maintenance leader purges on its own", arguments: StoreKind.available)
    func sweep(kind: StoreKind) async throws {
        let env = try await TestEnvironment.make(kind, start: Date())
        var configuration = EngineConfiguration(
            concurrency: 4, leaseDuration: .seconds(15), heartbeatInterval: .seconds(5), drainTimeout: .seconds(5))
        configuration.retention = try RetentionPolicy.parse("completed=1s")
        configuration.retentionInterval = .milliseconds(200)
        try await EngineHarness.run(env: env, configuration: configuration) { harness, api in
            let id = try #require(try await api.create(jobBody(), token: env.writeA).json["data"]["job_id"].string)
            _ = try await harness.waitForTerminal(id)
            try await harness.waitForEvent(timeout: .seconds(30)) { event in
                if case .purged(let count) = event { return count >= 1 }
                return false
            }
            #expect(try await env.store.job(id: id) == nil)
        }
    }
}

/// Header fields written as a dictionary literal.
struct HTTPFieldsLiteral: ExpressibleByDictionaryLiteral {
    var fields: HTTPFields = [:]

    init(dictionaryLiteral elements: (String, String)...) {
        for (name, value) in elements { fields[HTTPField.Name(name)!] = value }
    }
}
