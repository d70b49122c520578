import AgentJobsCore
import Foundation
import Testing

/// Events, progress reports and the journal, as each store keeps them: driven by a hand-moved
/// clock against SQLite and PostgreSQL alike.
@Suite("Conformance: events, progress and the journal on every store")
struct ConversationStoreTests {
    let steps = TransitionConformanceTests()
    let followUps = JobConfigOverrides(
        maxFollowUps: 3, maxTaskRetries: 1, taskRetryInterval: 5, maxTimeToComplete: 10_000)

    func event(
        _ env: TestEnvironment, _ jobID: String, type: String = "message", org: String = TestEnvironment.orgA,
        key: String? = nil, data: JSONValue = .object(["text": .string("yes")])
    ) async throws -> RecordEventOutcome {
        let submission = EventSubmission(type: type, data: data)
        return try await env.store.recordEvent(
            submission, jobID: jobID, orgID: org,
            idempotency: key.map {
                IdempotencyClaim(key: $0, fingerprint: submission.fingerprint(jobID: jobID), scope: .events)
            },
            at: env.clock.now())
    }

    func recorded(_ outcome: RecordEventOutcome) throws -> JobEvent {
        guard case .recorded(let event, _) = outcome else {
            Issue.record("expected a recorded event, got \(outcome)")
            throw AgentJobsError.conflict("not recorded")
        }
        return event
    }

    @Test("an event recorded before the first task goes to that task, once", arguments: StoreKind.available)
    func beforeFirstTask(kind: StoreKind) async throws {
        let env = try await TestEnvironment.make(kind)
        let job = try await steps.makeJob(env, config: followUps)
        let first = try recorded(try await event(env, job.id))
        #expect(first.deliveredToTaskID == nil)
        let claimed = try await steps.claimOne(env)
        #expect(claimed.events.map(\.id) == [first.id])
        #expect(claimed.document.events.map(\.id) == [first.id])
        let stored = try await steps.stored(env, job.id)
        #expect(stored.events.map(\.id) == [first.id])
        #expect(stored.events.first?.deliveredToTaskID == claimed.task.id)
        #expect(stored.tasks.first?.eventIDs == [first.id])
        // The next task gets nothing more.
        env.clock.advance(seconds: 1)
        _ = try await steps.finish(env, claimed, .failed(error: "boom", retryable: true))
        env.clock.advance(seconds: 301)
        let retry = try await steps.claimOne(env)
        #expect(retry.events.isEmpty && retry.document.events.isEmpty)
    }

    @Test(
        "an event recorded while a task runs goes to the next task, which is due at once",
        arguments: StoreKind.available)
    func duringTask(kind: StoreKind) async throws {
        let env = try await TestEnvironment.make(kind)
        let job = try await steps.makeJob(env, config: followUps)
        let claimed = try await steps.claimOne(env)
        #expect(claimed.events.isEmpty)
        env.clock.advance(seconds: 1)
        let reply = try recorded(try await event(env, job.id))
        env.clock.advance(seconds: 1)
        let finished = try #require(
            try await steps.finish(env, claimed, .followUp(result: "asked", afterMinutes: 60)))
        // The reply is already here: the follow-up does not wait its 60 minutes.
        #expect(finished.nextRunAt == env.clock.now())
        let next = try await steps.claimOne(env)
        #expect(next.task.kind == .followUp)
        #expect(next.events.map(\.id) == [reply.id])
        let stored = try await steps.stored(env, job.id)
        #expect(stored.tasks.map(\.eventIDs) == [[], [reply.id]])
    }

    @Test("an event wakes a waiting follow-up but not a retry", arguments: StoreKind.available)
    func waking(kind: StoreKind) async throws {
        let env = try await TestEnvironment.make(kind)
        let job = try await steps.makeJob(env, config: followUps)
        let claimed = try await steps.claimOne(env)
        env.clock.advance(seconds: 1)
        _ = try await steps.finish(env, claimed, .followUp(result: "asked", afterMinutes: 60))
        #expect(try await steps.claim(env).isEmpty)
        env.clock.advance(seconds: 30)
        guard case .recorded(_, let wakeAt) = try await event(env, job.id) else {
            Issue.record("not recorded")
            return
        }
        #expect(wakeAt == env.clock.now())
        #expect(try await steps.stored(env, job.id).nextRunAt == env.clock.now())
        let followUp = try await steps.claimOne(env)
        #expect(followUp.task.kind == .followUp && followUp.events.count == 1)
        // A retry keeps its wait.
        env.clock.advance(seconds: 1)
        _ = try await steps.finish(env, followUp, .failed(error: "flaky", retryable: true))
        let retryAt = try #require(try await steps.stored(env, job.id).nextRunAt)
        #expect(retryAt == env.clock.now().addingTimeInterval(300))
        guard case .recorded(_, let noWake) = try await event(env, job.id) else {
            Issue.record("not recorded")
            return
        }
        #expect(noWake == nil)
        #expect(try await steps.stored(env, job.id).nextRunAt == retryAt)
        #expect(try await steps.claim(env).isEmpty)
    }

    @Test(
        "wait_for_event: the follow-up starts at the first event, or after after_minutes with no events",
        arguments: StoreKind.available)
    func waitForEvent(kind: StoreKind) async throws {
        let env = try await TestEnvironment.make(kind)
        let reply = ExecutorReply.outcome(
            of: Data(#"{"status": "follow_up", "wait_for_event": true, "after_minutes": 1440}"#.utf8))
        #expect(reply == .followUp(result: nil, afterMinutes: 1440, waitForEvent: true))
        // Without an event: after 1,440 minutes, with no events.
        let quiet = try await steps.makeJob(env, config: followUps)
        let first = try await steps.claimOne(env)
        _ = try await steps.finish(env, first, reply)
        #expect(try await steps.stored(env, quiet.id).nextRunAt == env.clock.now().addingTimeInterval(1440 * 60))
        env.clock.advance(seconds: 1440 * 60 - 1)
        #expect(try await steps.claim(env).isEmpty)
        env.clock.advance(seconds: 1)
        let late = try await steps.claimOne(env)
        #expect(late.task.kind == .followUp && late.events.isEmpty && late.document.events.isEmpty)
        // With an event: at once.
        let answered = try await steps.makeJob(env, config: followUps)
        let asked = try await steps.claimOne(env)
        _ = try await steps.finish(env, asked, reply)
        env.clock.advance(seconds: 5)
        let answer = try recorded(try await event(env, answered.id))
        let woken = try await steps.claimOne(env)
        #expect(woken.job.id == answered.id && woken.events.map(\.id) == [answer.id])
        // wait_for_event without after_minutes waits as long as a reply may ask (366 days).
        let outcome = ExecutorReply.outcome(of: Data(#"{"status": "follow_up", "wait_for_event": true}"#.utf8))
        let resolution = JobStateMachine.resolve(
            outcome,
            config: JobConfig(
                maxFollowUps: 1, maxTaskRetries: 0, taskRetryInterval: 1, startPrompt: nil, maxTimeToComplete: 60,
                profileID: nil),
            progress: .init(), now: env.clock.now())
        #expect(
            resolution.decision
                == JobDecision.runNext(
                    kind: .followUp, at: Timestamp.adding(minutes: JobStateMachine.maxWaitMinutes, to: env.clock.now()))
        )
        #expect(
            ExecutorReply.parse(Data(#"{"status": "follow_up", "wait_for_event": "yes"}"#.utf8))
                == .invalid("wait_for_event must be true or false"))
    }

    @Test("events: 409 once the job ended, 403 for another org, idempotent with a key", arguments: StoreKind.available)
    func eventRules(kind: StoreKind) async throws {
        let env = try await TestEnvironment.make(kind)
        let job = try await steps.makeJob(env, config: followUps)
        #expect(try await event(env, job.id, org: TestEnvironment.orgB) == .forbidden)
        #expect(try await event(env, "job_missing") == .notFound)
        let first = try recorded(try await event(env, job.id, key: "reply-1"))
        #expect(try await event(env, job.id, key: "reply-1") == .replayed(first))
        await #expect(throws: AgentJobsError.self) {
            _ = try await event(env, job.id, key: "reply-1", data: .string("other"))
        }
        let claimed = try await steps.claimOne(env)
        _ = try await steps.finish(env, claimed, .completed(result: "done"))
        #expect(try await event(env, job.id) == .alreadyTerminal(.completed))
        // The replay still answers after the job ended (the event now delivered).
        guard case .replayed(let replayed) = try await event(env, job.id, key: "reply-1") else {
            Issue.record("no replay after the job ended")
            return
        }
        #expect(replayed.id == first.id && replayed.deliveredToTaskID == claimed.task.id)
        // Undelivered events of an ended job stay visible.
        let other = try await steps.makeJob(env, at: 3600, config: followUps)
        let pending = try recorded(try await event(env, other.id))
        _ = try await env.store.cancelJob(id: other.id, orgID: TestEnvironment.orgA, reason: nil, at: env.clock.now())
        #expect(try await steps.stored(env, other.id).events == [pending])
    }

    @Test("progress: the running task's token only, while it runs", arguments: StoreKind.available)
    func progressTokens(kind: StoreKind) async throws {
        let env = try await TestEnvironment.make(kind)
        let job = try await steps.makeJob(env, config: followUps)
        let other = try await steps.makeJob(env, config: followUps)
        let claimed = try await steps.claim(env)
        let mine = try #require(claimed.first { $0.job.id == job.id })
        let theirs = try #require(claimed.first { $0.job.id == other.id })
        let token = try #require(mine.progressToken)
        #expect(mine.document.progressToken == token)
        #expect(
            mine.document.progressURL?.hasSuffix("/services/agent-jobs/\(job.id)/tasks/\(mine.task.id)/progress")
                == true)
        func report(_ token: String, task: ClaimedTask, _ message: String) async throws -> RecordProgressOutcome {
            try await env.store.recordProgress(
                jobID: task.job.id, taskID: task.task.id, tokenHash: ProgressToken.hash(token), message: message,
                data: .object(["step": .number(1)]), at: env.clock.now())
        }
        guard case .recorded(let entry) = try await report(token, task: mine, "working") else {
            Issue.record("the task's own token was refused")
            return
        }
        #expect(entry.message == "working" && entry.taskID == mine.task.id)
        #expect(try await report("ajp_wrong", task: mine, "x") == .unauthorized)
        #expect(try await report(try #require(theirs.progressToken), task: mine, "x") == .unauthorized)
        let stored = try await steps.stored(env, job.id)
        #expect(stored.tasks.first?.progress.map(\.message) == ["working"])
        #expect(try await steps.stored(env, other.id).tasks.first?.progress == [])
        _ = try await steps.finish(env, mine, .completed(result: "done"))
        #expect(try await report(token, task: mine, "late") == .notRunning(.completed))
        // Only the latest 20 show.
        for step in 0..<25 {
            env.clock.advance(seconds: 0.01)
            _ = try await report(try #require(theirs.progressToken), task: theirs, "step \(step)")
        }
        let shown = try #require(try await steps.stored(env, other.id).tasks.first?.progress)
        #expect(shown.map(\.message) == (5..<25).map { "step \($0)" })
    }

    @Test("the journal: the job's history in order, resumable after any entry", arguments: StoreKind.available)
    func journal(kind: StoreKind) async throws {
        let env = try await TestEnvironment.make(kind)
        let job = try await steps.makeJob(env, config: followUps)
        env.clock.advance(seconds: 1)
        let claimed = try await steps.claimOne(env)
        env.clock.advance(seconds: 1)
        _ = try await env.store.recordProgress(
            jobID: job.id, taskID: claimed.task.id, tokenHash: ProgressToken.hash(try #require(claimed.progressToken)),
            message: "half", data: .null, at: env.clock.now())
        env.clock.advance(seconds: 1)
        let reply = try recorded(try await event(env, job.id))
        env.clock.advance(seconds: 1)
        _ = try await steps.finish(env, claimed, .followUp(result: "asked", afterMinutes: 60))
        let second = try await steps.claimOne(env)
        env.clock.advance(seconds: 1)
        _ = try await steps.finish(env, second, .completed(result: "done"))
        let entries = try await env.store.streamEntries(jobID: job.id, after: 0, limit: 100)
        let expected: [StreamEntry.Kind] = [
            .job(.waiting), .job(.running), .task(id: claimed.task.id, status: .running),
            .progress(try #require(try await steps.stored(env, job.id).tasks.first?.progress.first)),
            .event(try #require(try await steps.stored(env, job.id).events.first)),
            .task(id: claimed.task.id, status: .completed), .task(id: second.task.id, status: .running),
            .task(id: second.task.id, status: .completed), .job(.completed),
        ]
        #expect(entries.map(\.kind) == expected)
        #expect(entries.map(\.id) == entries.map(\.id).sorted() && Set(entries.map(\.id)).count == entries.count)
        #expect(entries.last?.endsStream == true && entries.dropLast().allSatisfy { !$0.endsStream })
        if case .event(let event) = entries[4].kind { #expect(event.id == reply.id) }
        for cut in entries.indices {
            let rest = try await env.store.streamEntries(jobID: job.id, after: entries[cut].id, limit: 100)
            #expect(rest == Array(entries[(cut + 1)...]))
        }
        #expect(try await env.store.latestStreamEntries(jobIDs: [job.id, "job_none"]) == [job.id: entries.last!.id])
        // A replayed job entry shows the job as it was: a start shows the task running, with no end.
        let stored = try await steps.stored(env, job.id)
        let atStart = JobHistory.job(stored, at: entries[1], status: .running)
        #expect(atStart.status == .running && atStart.result == nil && atStart.finishedAt == nil)
        #expect(atStart.tasks.map(\.status) == [.running])
    }
}
