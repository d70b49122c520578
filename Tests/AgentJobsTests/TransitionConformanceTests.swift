import AgentJobsCore
import Foundation
import Testing

/// Every job transition, applied by each store, reads back as `JobStateMachine` defines it.
/// Driven by a hand-moved clock; runs against SQLite and PostgreSQL alike.
@Suite("Conformance: every transition on every store")
struct TransitionConformanceTests {
    let lease: TimeInterval = 15
    let config = JobConfigOverrides(maxFollowUps: 1, maxTaskRetries: 1, taskRetryInterval: 2, maxTimeToComplete: 60)

    func makeJob(
        _ env: TestEnvironment, jobType: String = "daily-report", at offset: TimeInterval = 0,
        config: JobConfigOverrides? = nil
    ) async throws -> Job {
        let now = env.clock.now()
        let submission = JobSubmission(
            targetChannel: TargetChannel(orgID: TestEnvironment.orgA, platform: "slack", type: "channel", code: "C1"),
            jobTypeID: jobType, config: config ?? self.config, scheduledAt: now.addingTimeInterval(offset))
        let type = JobType(id: jobType, orgID: nil, executor: .demo, defaultConfig: .init(), createdAt: now)
        let job = submission.makeJob(id: Identifier.make(prefix: "job", at: now), jobType: type, now: now, jitter: 0)
        guard case .created(let created) = try await env.store.createJob(job, idempotency: nil, at: now) else {
            throw AgentJobsError.conflict("replayed")
        }
        return created
    }

    func claim(_ env: TestEnvironment, worker: String = "w1") async throws -> [ClaimedTask] {
        try await env.store.claimDueTasks(
            ClaimRequest(
                limit: 10, now: env.clock.now(), worker: worker,
                leaseUntil: env.clock.now().addingTimeInterval(lease)))
    }

    func claimOne(_ env: TestEnvironment) async throws -> ClaimedTask {
        try #require(try await claim(env).first)
    }

    func finish(
        _ env: TestEnvironment, _ claimed: ClaimedTask, _ outcome: TaskOutcome, worker: String = "w1"
    )
        async throws -> FinishedTask?
    {
        try await env.store.finishTask(taskID: claimed.task.id, worker: worker, outcome: outcome, now: env.clock.now())
    }

    func stored(_ env: TestEnvironment, _ id: String) async throws -> Job {
        try #require(try await env.store.job(id: id))
    }

    @Test(
        "start: RUNNING, attempt 1, deadline from max_time_to_complete, nothing planned", arguments: StoreKind.available
    )
    func start(kind: StoreKind) async throws {
        let env = try await TestEnvironment.make(kind)
        let job = try await makeJob(env)
        #expect(job.nextRunAt == job.scheduledAt)
        let claimed = try await claimOne(env)
        #expect(claimed.task.kind == .initial && claimed.task.attempt == 1 && claimed.task.status == .running)
        #expect(claimed.deadline == env.clock.now().addingTimeInterval(3600))
        let after = try await stored(env, job.id)
        #expect(after.status == .running)
        #expect(after.startedAt == env.clock.now())
        #expect(after.nextRunAt == nil)
        #expect(after.tasks.map(\.id) == [claimed.task.id])
    }

    @Test("completed: task and job COMPLETED with the result", arguments: StoreKind.available)
    func completed(kind: StoreKind) async throws {
        let env = try await TestEnvironment.make(kind)
        let job = try await makeJob(env)
        let claimed = try await claimOne(env)
        env.clock.advance(seconds: 3)
        let finished = try #require(try await finish(env, claimed, .completed(result: "posted")))
        #expect(finished.jobStatus == .completed && finished.taskStatus == .completed && finished.nextRunAt == nil)
        let after = try await stored(env, job.id)
        #expect(after.status == .completed && after.result == "posted")
        #expect(after.finishedAt == env.clock.now() && after.nextRunAt == nil)
        #expect(after.tasks.map(\.status) == [.completed] && after.tasks[0].result == "posted")
        #expect(after.tasks[0].finishedAt == env.clock.now())
    }

    @Test(
        "follow_up: planned after_minutes later as kind follow_up; one more than allowed fails the job",
        arguments: StoreKind.available)
    func followUps(kind: StoreKind) async throws {
        let env = try await TestEnvironment.make(kind)
        let job = try await makeJob(env)
        let first = try await claimOne(env)
        let finished = try #require(try await finish(env, first, .followUp(result: "asked", afterMinutes: 0.5)))
        #expect(finished.jobStatus == .running && finished.nextRunAt == env.clock.now().addingTimeInterval(30))
        var after = try await stored(env, job.id)
        #expect(after.status == .running && after.nextRunAt == env.clock.now().addingTimeInterval(30))
        #expect(after.tasks[0].status == .completed && after.tasks[0].result == "asked")
        #expect(try await claim(env).isEmpty, "not due before after_minutes")
        env.clock.advance(seconds: 30)
        let second = try await claimOne(env)
        #expect(second.task.kind == .followUp && second.task.attempt == 2)
        #expect(second.job.tasks.map(\.id) == [first.task.id], "the document sees the earlier task")
        _ = try await finish(env, second, .followUp(result: "again", afterMinutes: nil))
        after = try await stored(env, job.id)
        #expect(after.status == .failed && after.result == JobStateMachine.maxFollowUpsExceeded)
        #expect(after.tasks.map(\.status) == [.completed, .completed] && after.nextRunAt == nil)
    }

    @Test(
        "failed: a retry after task_retry_interval, then FAILED with the last error; retryable false fails at once",
        arguments: StoreKind.available)
    func failures(kind: StoreKind) async throws {
        let env = try await TestEnvironment.make(kind)
        let job = try await makeJob(env)
        let first = try await claimOne(env)
        _ = try await finish(env, first, .failed(error: "boom", retryable: true))
        var after = try await stored(env, job.id)
        #expect(after.status == .running && after.nextRunAt == env.clock.now().addingTimeInterval(120))
        #expect(after.tasks[0].status == .failed && after.tasks[0].error == "boom")
        env.clock.advance(seconds: 120)
        let retry = try await claimOne(env)
        #expect(retry.task.kind == .retry && retry.task.attempt == 2)
        _ = try await finish(env, retry, .failed(error: "boom again", retryable: true))
        after = try await stored(env, job.id)
        #expect(after.status == .failed && after.result == "boom again" && after.nextRunAt == nil)

        let fatal = try await makeJob(env)
        let fatalTask = try await claimOne(env)
        _ = try await finish(env, fatalTask, .failed(error: "no such channel", retryable: false))
        let fatalAfter = try await stored(env, fatal.id)
        #expect(fatalAfter.status == .failed && fatalAfter.result == "no such channel")
    }

    @Test("hand-back: the step runs again at once and keeps its retry", arguments: StoreKind.available)
    func handBack(kind: StoreKind) async throws {
        let env = try await TestEnvironment.make(kind)
        let job = try await makeJob(env)
        let first = try await claimOne(env)
        _ = try await finish(env, first, .handedBack)
        let after = try await stored(env, job.id)
        #expect(after.status == .running && after.nextRunAt == env.clock.now())
        #expect(after.tasks[0].error == JobStateMachine.handedBack)
        let again = try await claimOne(env)
        #expect(again.task.kind == .retry && again.task.attempt == 2)
        _ = try await finish(env, again, .failed(error: "boom", retryable: true))
        #expect(try await stored(env, job.id).status == .running, "the retry was not used up by the hand-back")
    }

    @Test("fence: another worker's outcome and a second outcome are discarded", arguments: StoreKind.available)
    func fence(kind: StoreKind) async throws {
        let env = try await TestEnvironment.make(kind)
        let job = try await makeJob(env)
        let claimed = try await claimOne(env)
        #expect(try await finish(env, claimed, .completed(result: "x"), worker: "w2") == nil)
        #expect(try await finish(env, claimed, .completed(result: "first")) != nil)
        #expect(try await finish(env, claimed, .completed(result: "second")) == nil)
        #expect(try await stored(env, job.id).result == "first")
    }

    @Test(
        "rescue: only an expired lease; the task fails with worker lost and the retry rules apply",
        arguments: StoreKind.available)
    func rescue(kind: StoreKind) async throws {
        let env = try await TestEnvironment.make(kind)
        let job = try await makeJob(env)
        let claimed = try await claimOne(env)
        env.clock.advance(seconds: lease - 1)
        #expect(try await env.store.rescueExpiredLeases(now: env.clock.now()).isEmpty)
        env.clock.advance(seconds: 2)
        let rescued = try await env.store.rescueExpiredLeases(now: env.clock.now())
        #expect(rescued.map(\.taskID) == [claimed.task.id])
        let after = try await stored(env, job.id)
        #expect(after.tasks[0].status == .failed && after.tasks[0].error == JobStateMachine.workerLost)
        #expect(after.status == .running && after.nextRunAt == env.clock.now().addingTimeInterval(120))
        #expect(try await finish(env, claimed, .completed(result: "late")) == nil, "a late outcome is discarded")
    }

    @Test(
        "deadline: the in-flight task and the job fail; a job waiting between tasks too; a claim past it fails the job",
        arguments: StoreKind.available)
    func deadlines(kind: StoreKind) async throws {
        let env = try await TestEnvironment.make(kind)
        let short = JobConfigOverrides(maxTaskRetries: 3, taskRetryInterval: 10, maxTimeToComplete: 1)
        let inFlight = try await makeJob(env, config: short)
        let waiting = try await makeJob(env, config: short)
        let tasks = try await claim(env)
        #expect(tasks.count == 2)
        let waitingTask = try #require(tasks.first { $0.job.id == waiting.id })
        _ = try await finish(env, waitingTask, .failed(error: "boom", retryable: true))
        env.clock.advance(seconds: 60)
        let ended = try await env.store.failJobsPastDeadline(now: env.clock.now())
        #expect(Set(ended.map(\.jobID)) == [inFlight.id, waiting.id])
        let a = try await stored(env, inFlight.id)
        let b = try await stored(env, waiting.id)
        #expect(a.status == .failed && a.result == JobStateMachine.maxTimeExceeded)
        #expect(a.tasks.map(\.status) == [.failed] && a.tasks[0].error == JobStateMachine.maxTimeExceeded)
        #expect(b.status == .failed && b.result == JobStateMachine.maxTimeExceeded && b.nextRunAt == nil)

        // A retry due after the deadline, claimed before any sweep: the claim fails the job.
        let late = try await makeJob(
            env, config: JobConfigOverrides(maxTaskRetries: 1, taskRetryInterval: 2, maxTimeToComplete: 1))
        let lateTask = try await claimOne(env)
        _ = try await finish(env, lateTask, .failed(error: "boom", retryable: true))
        env.clock.advance(seconds: 120)
        #expect(try await claim(env).isEmpty)
        let lateAfter = try await stored(env, late.id)
        #expect(lateAfter.status == .failed && lateAfter.result == JobStateMachine.maxTimeExceeded)
    }

    @Test("a job whose type no longer exists fails at its claim", arguments: StoreKind.available)
    func missingJobType(kind: StoreKind) async throws {
        let env = try await TestEnvironment.make(kind)
        let ghost = try await makeJob(env, jobType: "ghost-type")
        #expect(try await claim(env).isEmpty)
        let after = try await stored(env, ghost.id)
        #expect(after.status == .failed && after.result == "job type 'ghost-type' not found")
    }

    @Test(
        "cancel: CANCELED with its reason and task; terminal jobs and other orgs are refused",
        arguments: StoreKind.available)
    func cancel(kind: StoreKind) async throws {
        let env = try await TestEnvironment.make(kind)
        let job = try await makeJob(env)
        let claimed = try await claimOne(env)
        guard
            case .canceled(let canceled) = try await env.store.cancelJob(
                id: job.id, orgID: TestEnvironment.orgA, reason: "not needed", at: env.clock.now())
        else {
            Issue.record("not canceled")
            return
        }
        #expect(canceled.status == .canceled && canceled.cancelReason == "not needed" && canceled.result == nil)
        #expect(canceled.tasks.map(\.status) == [.canceled] && canceled.tasks[0].error == JobStateMachine.jobCanceled)
        #expect(canceled.finishedAt == env.clock.now() && canceled.nextRunAt == nil)
        #expect(try await finish(env, claimed, .completed(result: "late")) == nil)
        guard
            case .alreadyTerminal(.canceled) = try await env.store.cancelJob(
                id: job.id, orgID: TestEnvironment.orgA, reason: nil, at: env.clock.now())
        else {
            Issue.record("a second cancel was not refused")
            return
        }
        let other = try await makeJob(env)
        guard
            case .forbidden = try await env.store.cancelJob(
                id: other.id, orgID: TestEnvironment.orgB, reason: nil, at: env.clock.now())
        else {
            Issue.record("another org's cancel was not refused")
            return
        }
        #expect(try await stored(env, other.id).status == .waiting)
        guard
            case .notFound = try await env.store.cancelJob(
                id: "job_nope", orgID: TestEnvironment.orgA, reason: nil, at: env.clock.now())
        else {
            Issue.record("an unknown id was not reported")
            return
        }
    }
}
