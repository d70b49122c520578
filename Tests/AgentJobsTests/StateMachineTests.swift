import AgentJobsCore
import Foundation
import Testing

@Suite("Task outcome rules (CONTRACT §4)")
struct StateMachineTests {
    let now = Timestamp.parse("2026-03-01T12:00:00Z")!
    let config = JobConfig(
        maxFollowUps: 2, maxTaskRetries: 1, taskRetryInterval: 5, startPrompt: nil, maxTimeToComplete: 60,
        profileID: nil)

    @Test("completed: task COMPLETED, job COMPLETED with the result")
    func completed() {
        let resolution = JobStateMachine.resolve(
            .completed(result: "done"), config: config, progress: .init(), now: now)
        #expect(resolution.taskStatus == .completed)
        #expect(resolution.taskResult == "done")
        #expect(resolution.decision == .complete(result: "done"))
    }

    @Test("follow_up: waits after_minutes, else task_retry_interval; resets the step's retries")
    func followUp() {
        let explicit = JobStateMachine.resolve(
            .followUp(result: "asked", afterMinutes: 0.5), config: config, progress: .init(attempts: 1, retries: 1),
            now: now)
        #expect(explicit.taskStatus == .completed)
        #expect(explicit.taskResult == "asked")
        #expect(explicit.decision == .runNext(kind: .followUp, at: now.addingTimeInterval(30)))
        #expect(explicit.progress == JobProgress(attempts: 1, followUps: 1, retries: 0))

        let defaulted = JobStateMachine.resolve(
            .followUp(result: nil, afterMinutes: nil), config: config, progress: .init(), now: now)
        #expect(defaulted.decision == .runNext(kind: .followUp, at: now.addingTimeInterval(300)))
    }

    @Test("follow_up beyond max_follow_ups fails the job")
    func followUpsExhausted() {
        let resolution = JobStateMachine.resolve(
            .followUp(result: "again", afterMinutes: nil), config: config, progress: .init(followUps: 2), now: now)
        #expect(resolution.taskStatus == .completed)
        #expect(resolution.decision == .fail(result: "max_follow_ups exceeded"))
    }

    @Test("failed: retry after task_retry_interval while retries remain, then FAILED with the last error")
    func failedAndRetried() {
        let first = JobStateMachine.resolve(
            .failed(error: "boom", retryable: true), config: config, progress: .init(), now: now)
        #expect(first.taskStatus == .failed)
        #expect(first.taskError == "boom")
        #expect(first.decision == .runNext(kind: .retry, at: now.addingTimeInterval(300)))
        #expect(first.progress.retries == 1)

        let second = JobStateMachine.resolve(
            .failed(error: "boom again", retryable: true), config: config, progress: first.progress, now: now)
        #expect(second.decision == .fail(result: "boom again"))
    }

    @Test("retryable: false fails the job at once")
    func notRetryable() {
        let resolution = JobStateMachine.resolve(
            .failed(error: "fatal", retryable: false), config: config, progress: .init(), now: now)
        #expect(resolution.decision == .fail(result: "fatal"))
    }

    @Test("with max_task_retries 0 the first failure is final")
    func noRetries() {
        var strict = config
        strict.maxTaskRetries = 0
        let resolution = JobStateMachine.resolve(
            .failed(error: "x", retryable: true), config: strict, progress: .init(), now: now)
        #expect(resolution.decision == .fail(result: "x"))
    }

    @Test("deadline and hand-back")
    func deadlineAndHandBack() {
        let deadline = JobStateMachine.resolve(.deadlineExceeded, config: config, progress: .init(), now: now)
        #expect(deadline.taskStatus == .failed)
        #expect(deadline.taskError == "max_time_to_complete exceeded")
        #expect(deadline.decision == .fail(result: "max_time_to_complete exceeded"))

        let handBack = JobStateMachine.resolve(.handedBack, config: config, progress: .init(retries: 1), now: now)
        #expect(handBack.decision == .runNext(kind: .retry, at: now))
        #expect(handBack.progress.retries == 1, "a hand-back does not use up a retry")
    }

    @Test(
        "executor replies",
        arguments: [
            (#"{"status": "completed", "result": "ok"}"#, TaskOutcome.completed(result: "ok")),
            (#"{"status": "completed", "result": {"n": 1}}"#, .completed(result: #"{"n":1}"#)),
            (#"{"status": "follow_up", "after_minutes": 2}"#, .followUp(result: nil, afterMinutes: 2)),
            (#"{"status": "failed", "error": "nope"}"#, .failed(error: "nope", retryable: true)),
            (#"{"status": "failed", "error": "nope", "retryable": false}"#, .failed(error: "nope", retryable: false)),
        ])
    func replies(json: String, outcome: TaskOutcome) throws {
        #expect(ExecutorReply.parse(Data(json.utf8)) == .reply(outcome))
        #expect(ExecutorReply.outcome(of: Data(json.utf8)) == outcome)
    }

    @Test("non-replies are not parsed as replies; they complete with the trimmed text")
    func nonReplies() {
        #expect(ExecutorReply.parse(Data("hello".utf8)) == .notAReply)
        #expect(ExecutorReply.parse(Data(#"{"status": "weird"}"#.utf8)) == .notAReply)
        #expect(ExecutorReply.parse(Data("[1]".utf8)) == .notAReply)
        #expect(ExecutorReply.outcome(of: Data(" hello\n".utf8)) == .completed(result: "hello"))
    }

    @Test(
        "a reply whose fields have the wrong type or range fails the task, naming the field",
        arguments: [
            (#"{"status": "failed", "error": "x", "retryable": "false"}"#, "retryable must be true or false"),
            (#"{"status": "follow_up", "after_minutes": "soon"}"#, "after_minutes must be a number of minutes"),
            (#"{"status": "follow_up", "after_minutes": -1}"#, "after_minutes must be a number of minutes"),
            (#"{"status": "follow_up", "after_minutes": 1e15}"#, "after_minutes must be a number of minutes"),
            (#"{"status": "completed", "retryable": 1}"#, "retryable must be true or false"),
        ])
    func invalidReplies(json: String, problem: String) throws {
        guard case .failed(let error, let retryable) = ExecutorReply.outcome(of: Data(json.utf8)) else {
            Issue.record("not failed")
            return
        }
        #expect(error.hasPrefix("invalid executor reply: \(problem)"))
        #expect(retryable)
    }

    @Test("an executor cannot ask for an absurd or invalid follow-up wait", arguments: [1e300, -5, Double.infinity])
    func followUpWaitIsBounded(afterMinutes: Double) {
        let resolution = JobStateMachine.resolve(
            .followUp(result: nil, afterMinutes: afterMinutes), config: config, progress: .init(), now: now)
        guard case .runNext(_, let at) = resolution.decision else {
            Issue.record("expected a follow-up")
            return
        }
        #expect(at >= now)
        #expect(at <= now.addingTimeInterval(JobStateMachine.maxWaitMinutes * 60))
        #expect(Timestamp.millis(at) > 0, "storable as milliseconds")
    }
}
