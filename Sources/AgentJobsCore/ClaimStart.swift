import Foundation

/// A task a claim starts: its transition and the progress token the agent gets (only its
/// hash is in the transition). Both stores start claimed jobs with it.
public struct ClaimStart: Sendable, Hashable {
    public var transition: JobTransition
    public var progressToken: String

    /// Starts `state`'s next task for `request`. A task that gets events starts no earlier than
    /// the newest of them (`eventsAt`), also when the claim's clock was read before they were
    /// recorded; its lease is pushed back by as much.
    public init(_ state: JobRunState, for request: ClaimRequest, eventsAt: Date?) {
        let token = ProgressToken.generate()
        let startedAt = max(request.now, eventsAt ?? request.now)
        transition = JobStateMachine.start(
            state, taskID: Identifier.make(prefix: "task", at: request.now), worker: request.worker,
            leaseUntil: request.leaseUntil.addingTimeInterval(startedAt.timeIntervalSince(request.now)),
            now: startedAt, progressTokenHash: token.hash)
        progressToken = token.token
    }

    /// The claimed task for `job` as it was read before the claim (with its earlier tasks), or
    /// `nil` when the transition started no task.
    public func claimedTask(job: Job, jobType: JobType, dueAt: Date, events: [JobEvent]) -> ClaimedTask? {
        guard let started = transition.startedTask, let deadline = transition.job.deadlineAt else { return nil }
        var job = job
        job.status = transition.job.status
        job.startedAt = transition.job.startedAt
        job.updatedAt = transition.job.updatedAt
        job.nextRunAt = nil
        var task = ClaimedTask(job: job, task: started.task, jobType: jobType, deadline: deadline, dueAt: dueAt)
        task.events = events
        task.progressToken = progressToken
        return task
    }
}
