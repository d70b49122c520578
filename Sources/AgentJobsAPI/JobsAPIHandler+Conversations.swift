import AgentJobsCore
import Foundation
import OpenAPIRuntime

/// The operations of `openapi.yaml` for agent conversations: events, progress reports and the
/// job stream.
extension JobsAPIHandler {
    func createJobEvent(_ input: Operations.CreateJobEvent.Input) async throws -> Operations.CreateJobEvent.Output {
        let principal = try RequestPrincipal.require()
        let id = try jobID(input.path.id)
        guard case .json(let body) = input.body else {
            throw AgentJobsError(.unsupportedMediaType, "Content-Type must be application/json")
        }
        let submission = EventSubmission(type: body._type, data: APIModelConversion.jsonValue(body.data?.value))
        try submission.validate()
        var claim: IdempotencyClaim?
        if let key = input.headers.idempotencyKey {
            try IdempotencyClaim.validateKey(key)
            claim = IdempotencyClaim(
                key: key, fingerprint: submission.fingerprint(jobID: id), window: configuration.idempotencyWindow,
                scope: .events)
        }
        switch try await store.recordEvent(
            submission, jobID: id, orgID: principal.orgID, idempotency: claim, at: clock.now())
        {
        case .recorded(let event, let wakeAt):
            logger.info(
                "event recorded",
                metadata: [
                    "job_id": "\(id)", "org": "\(principal.orgID)", "event_id": "\(event.id)",
                    "event_type": "\(event.type)", "woke_follow_up": "\(wakeAt != nil)",
                ])
            if let wakeAt { configuration.onJobDue(wakeAt) }
            return .created(.init(body: .json(.init(data: APIModelConversion.event(event)))))
        case .replayed(let event):
            return .ok(.init(body: .json(.init(data: APIModelConversion.event(event)))))
        case .notFound:
            throw AgentJobsError.notFound("job '\(id)' not found")
        case .forbidden:
            throw AgentJobsError.forbidden("job '\(id)' belongs to another organization")
        case .alreadyTerminal(let status):
            throw AgentJobsError.conflict("job '\(id)' is already \(status.rawValue): it takes no more events")
        }
    }

    func reportTaskProgress(
        _ input: Operations.ReportTaskProgress.Input
    ) async throws -> Operations.ReportTaskProgress.Output {
        guard let presented = PresentedProgressToken.current else {
            throw AgentJobsError.unauthorized("missing Authorization header (expected: Bearer <progress_token>)")
        }
        let jobID = input.path.id.removingPercentEncoding ?? input.path.id
        let taskID = input.path.taskId.removingPercentEncoding ?? input.path.taskId
        guard case .json(let body) = input.body else {
            throw AgentJobsError(.unsupportedMediaType, "Content-Type must be application/json")
        }
        if let message = body.message, message.count > 4096 {
            throw AgentJobsError.badRequest("message must be at most 4096 characters")
        }
        try TextRules.rejectNUL(body.message, field: "message")
        guard TextRules.isStorable(jobID), TextRules.isStorable(taskID) else {
            throw AgentJobsError.unauthorized("this progress token is not the task's")
        }
        switch try await store.recordProgress(
            jobID: jobID, taskID: taskID, tokenHash: ProgressToken.hash(presented), message: body.message,
            data: APIModelConversion.jsonValue(body.data?.value), at: clock.now())
        {
        case .recorded(let entry):
            return .accepted(.init(body: .json(.init(data: APIModelConversion.progress(entry)))))
        case .unauthorized:
            throw AgentJobsError.unauthorized("this progress token is not the task's")
        case .notRunning(let status):
            throw AgentJobsError.conflict("task '\(taskID)' is \(status.rawValue), no longer RUNNING")
        }
    }

    func streamJob(_ input: Operations.StreamJob.Input) async throws -> Operations.StreamJob.Output {
        let principal = try RequestPrincipal.require()
        let id = try jobID(input.path.id)
        let after = try Self.streamCursor(query: input.query.lastEventId, header: input.headers.lastEventID)
        if let timeout = input.query.timeout, !(1...86_400).contains(timeout) {
            throw AgentJobsError.badRequest("timeout must be a number of seconds from 1 to 86400")
        }
        guard let job = try await store.job(id: id) else {
            throw AgentJobsError.notFound("job '\(id)' not found")
        }
        guard job.orgID == principal.orgID else {
            throw AgentJobsError.forbidden("job '\(id)' belongs to another organization")
        }
        let stream = JobStream(
            store: store, watcher: streams, jobID: id, after: after, endedAtStart: job.status.isTerminal,
            keepAlive: configuration.streamKeepAlive,
            endAt: input.query.timeout.map { ContinuousClock.now + .seconds($0) })
        return .ok(.init(body: .textEventStream(HTTPBody(stream, length: .unknown, iterationBehavior: .single))))
    }

    /// The entry id a stream resumes after: `last_event_id`, else `Last-Event-ID`, else 0;
    /// either one, when given, must be a non-negative integer.
    static func streamCursor(query: String?, header: String?) throws(AgentJobsError) -> Int64 {
        func parse(_ raw: String, name: String) throws(AgentJobsError) -> Int64 {
            let text = raw.trimmingCharacters(in: .whitespaces)
            guard !text.isEmpty, text.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), let value = Int64(text) else {
                throw .badRequest("\(name) must be a non-negative integer (an entry id of the stream)")
            }
            return value
        }
        let fromHeader = try header.map { (raw) throws(AgentJobsError) in try parse(raw, name: "Last-Event-ID") }
        let fromQuery = try query.map { (raw) throws(AgentJobsError) in try parse(raw, name: "last_event_id") }
        return fromQuery ?? fromHeader ?? 0
    }
}
