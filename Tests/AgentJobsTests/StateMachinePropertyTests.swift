import AgentJobsCore
import Foundation
import PropertyBased
import Testing

/// The state machine and the time arithmetic under random and extreme inputs: nothing traps,
/// and the rules' invariants hold over any sequence of outcomes.
@Suite("State machine properties")
struct StateMachinePropertyTests {
    /// Outcomes an executor or the engine can report, by index.
    static func outcome(_ index: Int, minutes: Double) -> TaskOutcome {
        switch index % 7 {
        case 0: .completed(result: "done")
        case 1: .followUp(result: "asked", afterMinutes: minutes)
        case 2: .followUp(result: nil, afterMinutes: nil)
        case 3: .failed(error: "boom", retryable: true)
        case 4: .failed(error: "fatal", retryable: false)
        case 5: .deadlineExceeded
        default: .handedBack
        }
    }

    @Test("adding any number of minutes to any date never traps and stays within the store's range")
    func timeArithmetic() async {
        await propertyCheck(
            count: 2000, input: Gen.double(in: -1e300...1e300), Gen.date(inYear: 1...9999), Gen.int(in: 0...4)
        ) { minutes, date, special in
            let value = [minutes, .infinity, -.infinity, .nan, .greatestFiniteMagnitude][special]
            let result = Timestamp.adding(minutes: value, to: date)
            #expect(result >= date || result == Timestamp.latest)
            #expect(result <= max(date, Timestamp.latest))
            _ = Timestamp.millis(result)  // Would trap on an out-of-range date.
            _ = Timestamp.format(result)
        }
    }

    @Test("any config within the bounds, any sequence of outcomes: no trap, and the rules' invariants hold")
    func outcomeSequences() async {
        await propertyCheck(
            count: 500,
            // Small limits, so that sequences reach them; the largest counts only make them unreachable.
            input: Gen.int(in: 0...4), Gen.int(in: 0...4),
            Gen.double(in: 0...Bounds.maxMinutes), Gen.double(in: 0.0001...Bounds.maxMinutes),
            Gen.int(in: 0...6).array(of: 1...40), Gen.double(in: -1e300...1e300)
        ) { followUps, retries, interval, maxTime, outcomes, afterMinutes in
            let config = JobConfig(
                maxFollowUps: followUps, maxTaskRetries: retries, taskRetryInterval: interval, startPrompt: nil,
                maxTimeToComplete: maxTime, profileID: nil)
            var now = Timestamp.parse("2026-03-01T12:00:00Z")!
            var state = JobRunState(
                id: "job", orgID: "org", jobTypeID: "t", channelCode: "C1", status: .waiting, config: config,
                progress: .init(),
                nextRunAt: now, nextKind: .initial, startedAt: nil, deadlineAt: nil)
            for (step, index) in outcomes.enumerated() {
                guard !state.status.isTerminal, let due = state.nextRunAt else { break }
                now = max(now, due)
                let start = JobStateMachine.start(
                    state, taskID: "task_\(step)", worker: "w", leaseUntil: now + 15, now: now)
                state = Self.apply(start, to: state)
                guard let task = start.startedTask else {
                    #expect(state.status == .failed && start.job.result == JobStateMachine.maxTimeExceeded)
                    break
                }
                #expect(task.task.attempt == step + 1, "attempts count every task")
                let lease = TaskLeaseState(
                    id: task.task.id, status: .running, leaseOwner: "w", leaseExpiresAt: now + 15)
                let outcome = Self.outcome(index, minutes: afterMinutes)
                guard
                    let finished = JobStateMachine.finish(
                        state, task: lease, reportedBy: "w", outcome: outcome, now: now)
                else {
                    Issue.record("a running task's outcome was refused")
                    break
                }
                #expect(
                    JobStateMachine.finish(state, task: lease, reportedBy: "other", outcome: outcome, now: now) == nil,
                    "another worker is fenced out")
                state = Self.apply(finished, to: state)
                #expect(state.progress.followUps <= config.maxFollowUps)
                #expect(state.progress.retries <= config.maxTaskRetries)
                if let next = finished.job.next {
                    #expect(next.at >= now && next.at <= Timestamp.latest)
                    _ = Timestamp.millis(next.at)
                    #expect(!state.status.isTerminal)
                } else {
                    #expect(state.status.isTerminal, "a job with nothing planned has ended")
                }
            }
        }
    }

    /// The job's state after a transition, as a store would read it back.
    static func apply(_ transition: JobTransition, to state: JobRunState) -> JobRunState {
        var state = state
        state.status = transition.job.status
        state.progress = transition.job.progress
        state.nextRunAt = transition.job.next?.at
        state.nextKind = transition.job.next?.kind ?? state.nextKind
        state.startedAt = transition.job.startedAt
        state.deadlineAt = transition.job.deadlineAt
        return state
    }
}
