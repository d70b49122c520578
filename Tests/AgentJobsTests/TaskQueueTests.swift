import AgentJobsCore
import AgentJobsSQLite
import Foundation
import Testing

/// The store's queue semantics, driven by a hand-moved clock: no sleeping.
@Suite("Task queue: claiming, leases, fencing, deadlines")
struct TaskQueueTests {
    let lease: TimeInterval = 15

    func makeJob(
        _ env: TestEnvironment, org: String = TestEnvironment.orgA, at offset: TimeInterval = 0,
        config: JobConfigOverrides = .init()
    ) async throws -> Job {
        let submission = JobSubmission(
            targetChannel: TargetChannel(orgID: org, platform: "slack", type: "channel", code: "C1"),
            jobTypeID: "daily-report", config: config,
            scheduledAt: env.clock.now().addingTimeInterval(offset))
        let jobType = try #require(try await env.store.jobType(id: "daily-report"))
        let job = submission.makeJob(
            id: Identifier.make(prefix: "job", at: env.clock.now()), jobType: jobType, now: env.clock.now(), jitter: 0)
        guard case .created(let created) = try await env.store.createJob(job, idempotency: nil, at: env.clock.now())
        else { throw AgentJobsError.conflict("replayed") }
        return created
    }

    func claim(
        _ env: TestEnvironment, limit: Int = 10, worker: String = "w1", turns: [String: UInt64] = [:]
    )
        async throws -> [ClaimedTask]
    {
        try await env.store.claimDueTasks(
            ClaimRequest(
                limit: limit, now: env.clock.now(), worker: worker,
                leaseUntil: env.clock.now().addingTimeInterval(lease), orgTurns: turns))
    }

    @Test("a job is claimed at its scheduled_at, not before, and only once", arguments: StoreKind.available)
    func dueTime(kind: StoreKind) async throws {
        let env = try await TestEnvironment.make(kind)
        let job = try await makeJob(env, at: 60)
        #expect(try await claim(env).isEmpty)
        let wake = try await env.store.wakeTimes()
        #expect(wake.nextDue == job.scheduledAt)
        env.clock.advance(seconds: 60)
        let claimed = try await claim(env)
        #expect(claimed.map(\.job.id) == [job.id])
        #expect(claimed.first?.task.kind == .initial)
        #expect(claimed.first?.task.attempt == 1)
        #expect(claimed.first?.dueAt == job.scheduledAt)
        #expect(try await claim(env, worker: "w2").isEmpty, "no second claim of a running job")

        let stored = try #require(try await env.store.job(id: job.id))
        #expect(stored.status == .running)
        #expect(stored.startedAt == env.clock.now())
        #expect(stored.tasks.map(\.status) == [.running])
    }

    @Test("within an org: by due time, then job_id; across orgs: turns", arguments: StoreKind.available)
    func orderAndFairness(kind: StoreKind) async throws {
        let env = try await TestEnvironment.make(kind)
        var aJobs: [Job] = []
        for index in 0..<6 { aJobs.append(try await makeJob(env, at: -Double(100 - index))) }
        let bJob = try await makeJob(env, org: TestEnvironment.orgB, at: -1)

        // Org A was just served, so B goes first even though A's jobs are older.
        let first = try await claim(env, limit: 1, turns: [TestEnvironment.orgA: 5])
        #expect(first.map(\.job.id) == [bJob.id])
        let rest = try await claim(env, limit: 10)
        #expect(rest.map(\.job.id) == aJobs.map(\.id))
    }

    @Test("with one free slot per round, orgs alternate", arguments: StoreKind.available)
    func alternation(kind: StoreKind) async throws {
        let env = try await TestEnvironment.make(kind)
        for index in 0..<5 { _ = try await makeJob(env, at: -Double(50 - index)) }
        let bJob = try await makeJob(env, org: TestEnvironment.orgB, at: 0)
        var turns: [String: UInt64] = [:]
        var served: [String] = []
        for turn in 1...3 {
            let claimed = try await claim(env, limit: 1, turns: turns)
            let org = try #require(claimed.first?.job.orgID)
            turns[org] = UInt64(turn)
            served.append(org)
        }
        #expect(served == [TestEnvironment.orgA, TestEnvironment.orgB, TestEnvironment.orgA])
        #expect(try await env.store.job(id: bJob.id)?.status == .running)
    }

    @Test(
        "an outcome from a worker that lost its lease is discarded; the rescue retries", arguments: StoreKind.available)
    func leaseExpiryAndFencing(kind: StoreKind) async throws {
        let env = try await TestEnvironment.make(kind)
        let job = try await makeJob(env, config: .init(maxTaskRetries: 1, taskRetryInterval: 0.5))
        let first = try #require(try await claim(env).first)
        env.clock.advance(seconds: lease + 1)
        let rescued = try await env.store.rescueExpiredLeases(now: env.clock.now())
        #expect(rescued.map(\.taskID) == [first.task.id])
        #expect(rescued.first?.jobStatus == .running)

        let late = try await env.store.finishTask(
            taskID: first.task.id, worker: "w1", outcome: .completed(result: "late"), now: env.clock.now())
        #expect(late == nil, "the late outcome is discarded")

        var stored = try #require(try await env.store.job(id: job.id))
        #expect(stored.tasks.first?.status == .failed)
        #expect(stored.tasks.first?.error == "worker lost")
        #expect(stored.result == nil)

        #expect(try await claim(env).isEmpty, "the retry waits task_retry_interval")
        env.clock.advance(seconds: 30)
        let retry = try #require(try await claim(env, worker: "w2").first)
        #expect(retry.task.kind == .retry)
        #expect(retry.task.attempt == 2)
        #expect(retry.job.tasks.map(\.id) == [first.task.id], "the executor sees the earlier task")
        let done = try await env.store.finishTask(
            taskID: retry.task.id, worker: "w2", outcome: .completed(result: "ok"), now: env.clock.now())
        #expect(done?.jobStatus == .completed)
        stored = try #require(try await env.store.job(id: job.id))
        #expect(stored.status == .completed)
        #expect(stored.result == "ok")
        #expect(stored.finishedAt == env.clock.now())
        #expect(stored.tasks.map(\.attempt) == [1, 2])
    }

    @Test("renewing keeps the lease; renewing a task one does not hold reports it lost", arguments: StoreKind.available)
    func renewal(kind: StoreKind) async throws {
        let env = try await TestEnvironment.make(kind)
        _ = try await makeJob(env)
        let claimed = try #require(try await claim(env).first)
        env.clock.advance(seconds: 10)
        let lost = try await env.store.renewLeases(
            taskIDs: [claimed.task.id], worker: "w1", now: env.clock.now(), leaseDuration: lease)
        #expect(lost.isEmpty)
        env.clock.advance(seconds: 10)
        #expect(try await env.store.rescueExpiredLeases(now: env.clock.now()).isEmpty)
        let stolen = try await env.store.renewLeases(
            taskIDs: [claimed.task.id], worker: "w2", now: env.clock.now(), leaseDuration: lease)
        #expect(stolen == [claimed.task.id])
    }

    @Test("follow-ups then completion; a wrong worker cannot record", arguments: StoreKind.available)
    func followUps(kind: StoreKind) async throws {
        let env = try await TestEnvironment.make(kind)
        let job = try await makeJob(env, config: .init(maxFollowUps: 1))
        let first = try #require(try await claim(env).first)
        #expect(
            try await env.store.finishTask(
                taskID: first.task.id, worker: "intruder", outcome: .completed(result: "x"), now: env.clock.now())
                == nil)
        let followUp = try await env.store.finishTask(
            taskID: first.task.id, worker: "w1", outcome: .followUp(result: "ping", afterMinutes: 1),
            now: env.clock.now())
        #expect(followUp?.nextRunAt == env.clock.now().addingTimeInterval(60))
        env.clock.advance(seconds: 60)
        let second = try #require(try await claim(env).first)
        #expect(second.task.kind == .followUp)
        _ = try await env.store.finishTask(
            taskID: second.task.id, worker: "w1", outcome: .followUp(result: "ping", afterMinutes: nil),
            now: env.clock.now())
        let stored = try #require(try await env.store.job(id: job.id))
        #expect(stored.status == .failed)
        #expect(stored.result == "max_follow_ups exceeded")
        #expect(stored.tasks.map(\.status) == [.completed, .completed])
    }

    @Test("past max_time_to_complete the in-flight task and the job fail", arguments: StoreKind.available)
    func deadline(kind: StoreKind) async throws {
        let env = try await TestEnvironment.make(kind)
        let job = try await makeJob(env, config: .init(maxTimeToComplete: 2))
        let claimed = try #require(try await claim(env).first)
        #expect(claimed.deadline == env.clock.now().addingTimeInterval(120))
        #expect(try await env.store.wakeTimes().nextDeadline == claimed.deadline)
        env.clock.advance(seconds: 119)
        #expect(try await env.store.failJobsPastDeadline(now: env.clock.now()).isEmpty)
        env.clock.advance(seconds: 1)
        let failed = try await env.store.failJobsPastDeadline(now: env.clock.now())
        #expect(failed.map(\.taskID) == [claimed.task.id])
        let stored = try #require(try await env.store.job(id: job.id))
        #expect(stored.status == .failed)
        #expect(stored.result == "max_time_to_complete exceeded")
        #expect(stored.tasks.first?.status == .failed)
        #expect(stored.tasks.first?.error == "max_time_to_complete exceeded")
    }

    @Test("a deadline also ends a job waiting between tasks", arguments: StoreKind.available)
    func deadlineBetweenTasks(kind: StoreKind) async throws {
        let env = try await TestEnvironment.make(kind)
        let job = try await makeJob(env, config: .init(maxTaskRetries: 3, taskRetryInterval: 10, maxTimeToComplete: 1))
        let claimed = try #require(try await claim(env).first)
        _ = try await env.store.finishTask(
            taskID: claimed.task.id, worker: "w1", outcome: .failed(error: "e", retryable: true), now: env.clock.now())
        env.clock.advance(seconds: 60)
        _ = try await env.store.failJobsPastDeadline(now: env.clock.now())
        #expect(try await env.store.job(id: job.id)?.result == "max_time_to_complete exceeded")
        env.clock.advance(seconds: 600)
        #expect(try await claim(env).isEmpty)
    }

    @Test("cancel ends the running task, and nothing is claimed afterwards", arguments: StoreKind.available)
    func cancelRunning(kind: StoreKind) async throws {
        let env = try await TestEnvironment.make(kind)
        let job = try await makeJob(env, config: .init(maxTaskRetries: 2))
        let claimed = try #require(try await claim(env).first)
        guard
            case .canceled(let canceled) = try await env.store.cancelJob(
                id: job.id, orgID: TestEnvironment.orgA, reason: "stop", at: env.clock.now())
        else {
            Issue.record("not canceled")
            return
        }
        #expect(canceled.tasks.first?.status == .canceled)
        #expect(
            try await env.store.finishTask(
                taskID: claimed.task.id, worker: "w1", outcome: .failed(error: "killed", retryable: true),
                now: env.clock.now()) == nil)
        env.clock.advance(seconds: 3600)
        #expect(try await claim(env).isEmpty)
        #expect(try await env.store.job(id: job.id)?.status == .canceled)
    }

    @Test("hand-back reruns the step at once without using a retry", arguments: StoreKind.available)
    func handBack(kind: StoreKind) async throws {
        let env = try await TestEnvironment.make(kind)
        let job = try await makeJob(env)
        let claimed = try #require(try await claim(env).first)
        let handed = try await env.store.finishTask(
            taskID: claimed.task.id, worker: "w1", outcome: .handedBack, now: env.clock.now())
        #expect(handed?.jobStatus == .running)
        let again = try #require(try await claim(env).first)
        #expect(again.job.id == job.id)
        #expect(again.task.attempt == 2)
    }
}
