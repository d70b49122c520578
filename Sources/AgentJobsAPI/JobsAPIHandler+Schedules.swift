import AgentJobsCore
import Foundation
import OpenAPIRuntime

/// The schedule operations of `openapi.yaml`.
extension JobsAPIHandler {
    func createSchedule(_ input: Operations.CreateSchedule.Input) async throws -> Operations.CreateSchedule.Output {
        let principal = try RequestPrincipal.require()
        guard case .json(let body) = input.body else {
            throw AgentJobsError(.unsupportedMediaType, "Content-Type must be application/json")
        }
        let draft = ScheduleDraft(
            name: body.name, cron: body.cron, timezone: body.timezone ?? "UTC",
            job: try ScheduleModelConversion.submission(body.job), delayMinutes: Int(clamping: body.delay ?? 0),
            overlap: body.overlap == .skip ? .skip : .allow, paused: body.paused ?? false)
        let now = clock.now()
        let rule = try draft.validate(forOrg: principal.orgID, now: now)
        var claim: IdempotencyClaim?
        if let key = input.headers.idempotencyKey {
            try IdempotencyClaim.validateKey(key)
            claim = IdempotencyClaim(
                key: key, fingerprint: draft.fingerprint, window: configuration.idempotencyWindow, scope: .schedules)
        }
        try await requireJobType(draft.job.jobTypeID, for: principal.orgID)
        let schedule = draft.schedule(
            id: Identifier.make(prefix: "sched", at: now), orgID: principal.orgID, rule: rule, now: now)
        if case .replayed(let first) = try await store.createSchedule(schedule, idempotency: claim) {
            return .ok(
                .init(
                    headers: .init(location: "/services/agent-schedules/\(first.id)"),
                    body: .json(.init(data: ScheduleModelConversion.schedule(first)))))
        }
        logger.info(
            "schedule created",
            metadata: [
                "schedule_id": "\(schedule.id)", "org": "\(schedule.orgID)",
                "next_run_at": "\(schedule.nextRunAt.map(Timestamp.format) ?? "-")",
            ])
        configuration.onScheduleChanged(schedule)
        return .created(
            .init(
                headers: .init(location: "/services/agent-schedules/\(schedule.id)"),
                body: .json(.init(data: ScheduleModelConversion.schedule(schedule)))))
    }

    func listSchedules(_ input: Operations.ListSchedules.Input) async throws -> Operations.ListSchedules.Output {
        let principal = try RequestPrincipal.require()
        let q = input.query
        var query = ScheduleQuery(orgID: principal.orgID)
        if let paused = q.paused { query.paused = paused == ._true }
        try TextRules.rejectNUL(q.jobTypeId, field: "job_type_id")
        query.jobTypeID = q.jobTypeId
        (query.limit, query.offset) = try JobQueryParser.page(limit: q.limit, offset: q.offset)
        if let sort = q.sort { (query.sortField, query.direction) = try ScheduleQuery.parseSort(sort) }
        let page = try await store.listSchedules(query)
        return .ok(
            .init(
                body: .json(
                    .init(
                        data: page.schedules.map(ScheduleModelConversion.schedule),
                        meta: .init(
                            orgId: principal.orgID, limit: Int64(query.limit), offset: Int64(query.offset),
                            total: Int64(page.total),
                            sort: [
                                .init(
                                    field: .init(rawValue: query.sortField.rawValue) ?? .createdAt,
                                    direction: query.direction == .asc ? .asc : .desc)
                            ])))))
    }

    func getSchedule(_ input: Operations.GetSchedule.Input) async throws -> Operations.GetSchedule.Output {
        let principal = try RequestPrincipal.require()
        let schedule = try await ownSchedule(input.path.scheduleId, principal: principal)
        return .ok(.init(body: .json(.init(data: ScheduleModelConversion.schedule(schedule)))))
    }

    func updateSchedule(_ input: Operations.UpdateSchedule.Input) async throws -> Operations.UpdateSchedule.Output {
        let principal = try RequestPrincipal.require()
        guard case .json(let body) = input.body else {
            throw AgentJobsError(.unsupportedMediaType, "Content-Type must be application/json")
        }
        let existing = try await ownSchedule(input.path.scheduleId, principal: principal)
        var draft = ScheduleDraft(existing)
        if let name = body.name { draft.name = name }
        if let cron = body.cron { draft.cron = cron }
        if let timezone = body.timezone { draft.timezone = timezone }
        if let job = body.job?.value1 { draft.job = try ScheduleModelConversion.submission(job) }
        if let delay = body.delay { draft.delayMinutes = Int(clamping: delay) }
        if let overlap = body.overlap { draft.overlap = overlap == .skip ? .skip : .allow }
        if let paused = body.paused { draft.paused = paused }
        let now = clock.now()
        let rule = try draft.validate(forOrg: principal.orgID, now: now)
        if body.job != nil { try await requireJobType(draft.job.jobTypeID, for: principal.orgID) }
        var updated = draft.schedule(id: existing.id, orgID: existing.orgID, rule: rule, now: now)
        updated.createdAt = existing.createdAt
        updated.lastRunAt = existing.lastRunAt
        updated.lastJobID = existing.lastJobID
        updated.runs = existing.runs
        updated.skipped = existing.skipped
        guard try await store.updateSchedule(updated) else {
            throw AgentJobsError.notFound("schedule '\(existing.id)' not found")
        }
        configuration.onScheduleChanged(updated)
        let stored = try await store.schedule(id: existing.id) ?? updated
        return .ok(.init(body: .json(.init(data: ScheduleModelConversion.schedule(stored)))))
    }

    func deleteSchedule(_ input: Operations.DeleteSchedule.Input) async throws -> Operations.DeleteSchedule.Output {
        let principal = try RequestPrincipal.require()
        let schedule = try await ownSchedule(input.path.scheduleId, principal: principal)
        guard try await store.deleteSchedule(id: schedule.id) else {
            throw AgentJobsError.notFound("schedule '\(schedule.id)' not found")
        }
        logger.info("schedule deleted", metadata: ["schedule_id": "\(schedule.id)", "org": "\(schedule.orgID)"])
        return .noContent(.init())
    }

    /// The schedule `raw` names: 404 when unknown, 403 when another org's.
    private func ownSchedule(_ raw: String, principal: RequestPrincipal) async throws -> Schedule {
        let id = try TextRules.recordID(raw.removingPercentEncoding ?? raw, kind: "schedule")
        guard let schedule = try await store.schedule(id: id) else {
            throw AgentJobsError.notFound("schedule '\(id)' not found")
        }
        guard schedule.orgID == principal.orgID else {
            throw AgentJobsError.forbidden("schedule '\(id)' belongs to another organization")
        }
        return schedule
    }

    /// The job type must exist for the org, as on a create (404 otherwise).
    private func requireJobType(_ id: String, for orgID: String) async throws {
        guard let jobType = try await store.jobType(id: id), jobType.isVisible(to: orgID) else {
            throw AgentJobsError.notFound("job.job_type_id: job type '\(id)' not found")
        }
    }
}
