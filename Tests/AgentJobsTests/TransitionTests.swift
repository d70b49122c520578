import AgentJobsCore
import Foundation
import Testing

/// `JobStateMachine`'s transitions as values, without a store or a clock.
@Suite("Job transitions (pure)")
struct TransitionTests {
    let now = Timestamp.parse("2026-03-01T12:00:00Z")!
    let config = JobConfig(
        maxFollowUps: 1, maxTaskRetries: 1, taskRetryInterval: 2, startPrompt: nil, maxTimeToComplete: 60,
        profileID: nil)

    func state(status: JobStatus = .waiting, deadline: Date? = nil, attempts: Int = 0) -> JobRunState {
        JobRunState(
            id: "job_1", orgID: "org-a", jobTypeID: "t", channelCode: "C1", status: status, config: config,
            progress: JobProgress(attempts: attempts), nextRunAt: now, nextKind: .initial, startedAt: nil,
            deadlineAt: deadline)
    }

    func running(owner: String? = "w1", expires: Date? = nil) -> TaskLeaseState {
        TaskLeaseState(id: "task_1", status: .running, leaseOwner: owner, leaseExpiresAt: expires)
    }

    @Test("start: a RUNNING task leased to the worker; the first start fixes the deadline")
    func start() throws {
        let transition = JobStateMachine.start(
            state(), taskID: "task_1", worker: "w1", leaseUntil: now + 15, now: now)
        let started = try #require(transition.startedTask)
        #expect(started.task.attempt == 1 && started.task.kind == .initial && started.task.status == .running)
        #expect(started.leaseOwner == "w1" && started.leaseUntil == now + 15)
        #expect(transition.job.status == .running && transition.job.next == nil)
        #expect(transition.job.deadlineAt == now + 3600 && transition.job.startedAt == now)
        #expect(transition.job.progress.attempts == 1)
        let later = JobStateMachine.start(
            state(status: .running, deadline: now + 100, attempts: 1), taskID: "task_2", worker: "w1",
            leaseUntil: now + 15, now: now)
        #expect(later.job.deadlineAt == now + 100 && later.startedTask?.task.attempt == 2)
    }

    @Test("start past the deadline fails the job instead")
    func startPastDeadline() {
        let transition = JobStateMachine.start(
            state(status: .running, deadline: now), taskID: "t", worker: "w1", leaseUntil: now + 15, now: now)
        #expect(transition.startedTask == nil)
        #expect(transition.job.status == .failed && transition.job.result == JobStateMachine.maxTimeExceeded)
        #expect(transition.job.finishedAt == now)
    }

    @Test("a claim's start: after the job's newest event, lease pushed back as much, token and hash paired")
    func claimStart() throws {
        let request = ClaimRequest(limit: 1, now: now, worker: "w1", leaseUntil: now + 15)
        let start = ClaimStart(state(), for: request, eventsAt: now + 3)
        let started = try #require(start.transition.startedTask)
        #expect(started.task.startedAt == now + 3 && started.leaseUntil == now + 18)
        #expect(started.progressTokenHash == ProgressToken.hash(start.progressToken))
        #expect(ClaimStart(state(), for: request, eventsAt: now - 5).transition.startedTask?.task.startedAt == now)

        let job = Job(
            id: "job_1", orgID: "org-a", jobTypeID: "t",
            targetChannel: TargetChannel(orgID: "org-a", platform: "slack", type: "channel", code: "C1"),
            status: .waiting, config: config, params: ["n": .number(1)], createdAt: now - 60, updatedAt: now - 60,
            scheduledAt: now, nextRunAt: now)
        let jobType = JobType(
            id: "t", orgID: nil, executor: .demo, defaultConfig: .init(), environment: [], taskTimeoutMinutes: 60,
            createdAt: now)
        let claimed = try #require(start.claimedTask(job: job, jobType: jobType, dueAt: now, events: []))
        #expect(claimed.job.status == .running && claimed.job.nextRunAt == nil && claimed.job.updatedAt == now + 3)
        #expect(claimed.job.startedAt == now + 3 && claimed.job.params == job.params)
        #expect(claimed.task == started.task && claimed.progressToken == start.progressToken)
        #expect(claimed.deadline == now + 3 + 3600 && claimed.dueAt == now)

        // Past its deadline the job fails instead: no task to hand out.
        let late = ClaimStart(state(status: .running, deadline: now), for: request, eventsAt: nil)
        #expect(late.claimedTask(job: job, jobType: jobType, dueAt: now, events: []) == nil)
    }

    @Test("finish: fenced by status and lease owner; a retry announces its due time")
    func finish() throws {
        let job = state(status: .running, deadline: now + 3600, attempts: 1)
        #expect(
            JobStateMachine.finish(job, task: running(owner: "w2"), reportedBy: "w1", outcome: .handedBack, now: now)
                == nil)
        let ended = TaskLeaseState(id: "task_1", status: .canceled, leaseOwner: nil)
        #expect(JobStateMachine.finish(job, task: ended, reportedBy: nil, outcome: .handedBack, now: now) == nil)
        let retry = try #require(
            JobStateMachine.finish(
                job, task: running(), reportedBy: "w1", outcome: .failed(error: "x", retryable: true), now: now))
        #expect(retry.job.next == NextTask(kind: .retry, at: now + 120))
        #expect(retry.announcements == [.due(now + 120)])
        #expect(retry.endedTask == TaskEnd(taskID: "task_1", status: .failed, result: nil, error: "x", finishedAt: now))
    }

    @Test("rescue needs an expired lease; expire needs a passed deadline")
    func sweeps() {
        let job = state(status: .running, deadline: now + 60, attempts: 1)
        #expect(JobStateMachine.rescue(job, task: running(expires: now + 1), now: now) == nil)
        #expect(
            JobStateMachine.rescue(job, task: running(expires: now - 1), now: now)?.endedTask?.error == "worker lost")
        #expect(JobStateMachine.expire(job, runningTask: running(), now: now) == nil)
        let expired = JobStateMachine.expire(job, runningTask: nil, now: now + 60)
        #expect(expired?.job.status == .failed && expired?.endedTask == nil)
    }

    @Test("cancel: another org is forbidden, a terminal job is refused, else CANCELED with its task")
    func cancel() {
        #expect(
            JobStateMachine.cancel(state(), runningTaskID: nil, byOrg: "org-b", reason: nil, now: now) == .forbidden)
        #expect(
            JobStateMachine.cancel(state(status: .completed), runningTaskID: nil, byOrg: "org-a", reason: nil, now: now)
                == .alreadyTerminal(.completed))
        guard
            case .cancel(let transition) = JobStateMachine.cancel(
                state(status: .running), runningTaskID: "task_1", byOrg: "org-a", reason: "why", now: now)
        else {
            Issue.record("not canceled")
            return
        }
        #expect(transition.job.status == .canceled && transition.job.cancelReason == "why")
        #expect(transition.endedTask?.status == .canceled && transition.announcements == [.canceled])
    }

    @Test("time arithmetic never traps: huge, negative and non-finite minutes")
    func timeArithmetic() {
        #expect(Timestamp.adding(minutes: 1e300, to: now) == Timestamp.latest)
        #expect(Timestamp.adding(minutes: .infinity, to: now) == Timestamp.latest)
        #expect(Timestamp.adding(minutes: -5, to: now) == now)
        #expect(Timestamp.adding(minutes: .nan, to: now) == now)
        #expect(Timestamp.adding(minutes: 0.5, to: now) == now + 30)
        #expect(Timestamp.millis(Timestamp.adding(minutes: 1e18, to: now)) > 0)
    }

    @Test("recordEvent: counted for the next task; wakes a waiting follow-up, never a retry; refused once ended")
    func recordEvent() throws {
        var waiting = state(status: .running, deadline: now + 3600, attempts: 1)
        waiting.nextRunAt = now + 600
        waiting.nextKind = .followUp
        guard case .record(let woken, let wakeAt) = JobStateMachine.recordEvent(waiting, byOrg: "org-a", now: now)
        else {
            Issue.record("not recorded")
            return
        }
        #expect(wakeAt == now && woken.job.next == NextTask(kind: .followUp, at: now))
        #expect(woken.announcements == [.due(now)] && woken.job.pendingEvents == 1 && !woken.statusChanged)
        var retrying = waiting
        retrying.nextKind = .retry
        guard case .record(let kept, let noWake) = JobStateMachine.recordEvent(retrying, byOrg: "org-a", now: now)
        else {
            Issue.record("not recorded")
            return
        }
        #expect(noWake == nil && kept.job.next == NextTask(kind: .retry, at: now + 600) && kept.announcements.isEmpty)
        #expect(JobStateMachine.recordEvent(waiting, byOrg: "org-b", now: now) == .forbidden)
        #expect(
            JobStateMachine.recordEvent(state(status: .completed), byOrg: "org-a", now: now)
                == .alreadyTerminal(.completed))
    }

    @Test("start hands the pending events to the task; a follow-up asked for while one waits starts at once")
    func pendingEvents() throws {
        var job = state()
        job.pendingEvents = 2
        let start = JobStateMachine.start(job, taskID: "task_1", worker: "w1", leaseUntil: now + 15, now: now)
        #expect(start.startedTask?.deliversEvents == true && start.job.pendingEvents == 0)
        #expect(start.journal.map(\.kind) == [.job, .task])
        var running = state(status: .running, deadline: now + 3600, attempts: 1)
        running.config.maxFollowUps = 2
        running.pendingEvents = 1
        let asked = try #require(
            JobStateMachine.finish(
                running, task: self.running(), reportedBy: "w1",
                outcome: .followUp(result: nil, afterMinutes: 60, waitForEvent: true), now: now))
        #expect(asked.job.next == NextTask(kind: .followUp, at: now))
        #expect(asked.journal.map(\.kind) == [.task])
        running.pendingEvents = 0
        let waits = try #require(
            JobStateMachine.finish(
                running, task: self.running(), reportedBy: "w1",
                outcome: .followUp(result: nil, afterMinutes: 60, waitForEvent: true), now: now))
        #expect(waits.job.next == NextTask(kind: .followUp, at: now + 3600))
    }
}
