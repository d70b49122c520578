import AgentJobsCore
import Foundation
import Logging
import OpenAPIRuntime

/// The operations of `openapi.yaml` on jobs (schedules: `JobsAPIHandler+Schedules.swift`). Failures are thrown as `AgentJobsError`s and
/// turned into responses by `ErrorMiddleware`.
struct JobsAPIHandler: APIProtocol {
    let store: any JobStore
    let clock: any WallClock
    let configuration: APIConfiguration
    let logger: Logger
    let streams: JobStreamWatcher

    func createJob(_ input: Operations.CreateJob.Input) async throws -> Operations.CreateJob.Output {
        guard case .json(let body) = input.body else {
            throw AgentJobsError(.unsupportedMediaType, "Content-Type must be application/json")
        }
        let (job, created) = try await create(
            body, delay: input.query.delay, idempotencyKey: input.headers.idempotencyKey)
        let location = location(of: job)
        let envelope = APIModelConversion.envelope(job)
        if created { return .created(.init(headers: .init(location: location), body: .json(envelope))) }
        return .ok(.init(headers: .init(location: location), body: .json(envelope)))
    }

    /// A create, whichever way its request came (the generated server, or `CreateJobRoute`):
    /// the job, and whether it is new (`false`: an idempotent replay).
    func create(
        _ body: Components.Schemas.CreateJobRequest, delay: Int64?, idempotencyKey: String?
    ) async throws -> (Job, created: Bool) {
        try await create(APIModelConversion.submission(body, delay: delay), idempotencyKey: idempotencyKey)
    }

    /// A create from its submission (`CreateJobBody` makes one without the generated type).
    func create(_ submission: JobSubmission, idempotencyKey: String?) async throws -> (Job, created: Bool) {
        let principal = try RequestPrincipal.require()
        try submission.validate(forOrg: principal.orgID)
        var claim: IdempotencyClaim?
        if let key = idempotencyKey {
            try IdempotencyClaim.validateKey(key)
            claim = IdempotencyClaim(
                key: key, fingerprint: submission.fingerprint, window: configuration.idempotencyWindow)
        }
        guard let jobType = try await store.jobType(id: submission.jobTypeID),
            jobType.isVisible(to: principal.orgID)
        else {
            throw AgentJobsError.notFound("job type '\(submission.jobTypeID)' not found")
        }
        let now = clock.now()
        let newJob = submission.makeJob(
            id: Identifier.make(prefix: "job", at: now), jobType: jobType, now: now,
            jitter: configuration.jitter())
        let confirming = principal.confirmInWrite ? principal.tokenID : nil
        switch try await store.createJob(newJob, idempotency: claim, at: now, confirmingToken: confirming) {
        case .created(let job):
            logger.info(
                "job created",
                metadata: ["job_id": "\(job.id)", "org": "\(job.orgID)", "job_status": "\(job.status.rawValue)"])
            configuration.onJobCreated(job)
            return (job, true)
        case .replayed(let job):
            return (job, false)
        }
    }

    func listJobs(_ input: Operations.ListJobs.Input) async throws -> Operations.ListJobs.Output {
        let q = input.query
        let (query, page) = try await list(
            .init(
                status: q.status, scheduledAt: q.scheduledAt, scheduledAtGte: q.scheduledAtGte,
                scheduledAtLte: q.scheduledAtLte, createdAtGte: q.createdAtGte, createdAtLte: q.createdAtLte,
                jobTypeID: q.jobTypeId, channelCode: q.channelCode, limit: q.limit,
                offset: q.offset, sort: q.sort, scheduleID: q.scheduleId, after: q.after))
        return .ok(.init(body: .json(APIModelConversion.listEnvelope(page, query: query))))
    }

    /// A list, whichever way its request came (the generated server, or `ListJobsRoute`): the
    /// query of the caller's org, and its page.
    func list(_ parameters: JobQueryParser.Parameters) async throws -> (JobQuery, JobPage) {
        let principal = try RequestPrincipal.require()
        let query = try JobQueryParser.parse(parameters, orgID: principal.orgID)
        return (query, try await store.listJobs(query))
    }

    func getJob(_ input: Operations.GetJob.Input) async throws -> Operations.GetJob.Output {
        .ok(.init(body: .json(APIModelConversion.envelope(try await job(pathID: input.path.id), detailed: true))))
    }

    /// The caller's job of the path's `{id}`, whichever way its request came (the generated
    /// server, or `GetJobRoute`).
    func job(pathID: String) async throws -> Job {
        let principal = try RequestPrincipal.require()
        let id = try jobID(pathID)
        guard let job = try await store.job(id: id) else {
            throw AgentJobsError.notFound("job '\(id)' not found")
        }
        guard job.orgID == principal.orgID else {
            throw AgentJobsError.forbidden("job '\(id)' belongs to another organization")
        }
        return job
    }

    func cancelJob(_ input: Operations.CancelJob.Input) async throws -> Operations.CancelJob.Output {
        let principal = try RequestPrincipal.require()
        let id = try jobID(input.path.id)
        var reason: String?
        if case .json(let body) = input.body { reason = body.reason }
        try TextRules.rejectNUL(reason, field: "reason")
        switch try await store.cancelJob(id: id, orgID: principal.orgID, reason: reason, at: clock.now()) {
        case .canceled(let job):
            logger.info(
                "job canceled",
                metadata: [
                    "job_id": "\(job.id)", "org": "\(job.orgID)", "job_status": "CANCELED",
                    "task_id": "\(job.tasks.last(where: { $0.status == .canceled })?.id ?? "-")",
                ])
            configuration.onJobCanceled(job)
            return .ok(
                .init(
                    body: .json(
                        .init(
                            meta: .init(orgId: principal.orgID, jobId: id),
                            message: "Job with ID '\(id)' successfully canceled"))))
        case .notFound:
            throw AgentJobsError.notFound("job '\(id)' not found")
        case .forbidden:
            throw AgentJobsError.forbidden("job '\(id)' belongs to another organization")
        case .alreadyTerminal(let status):
            throw AgentJobsError.conflict("job '\(id)' is already \(status.rawValue)")
        }
    }

    func jobID(_ raw: String) throws(AgentJobsError) -> String {
        try TextRules.recordID(raw.removingPercentEncoding ?? raw, kind: "job")
    }

    func location(of job: Job) -> String { "/services/agent-jobs/\(job.id)" }
}
