import AgentJobsCore
import Foundation
import OpenAPIRuntime

/// Conversions between the generated API types and the domain types.
enum APIModelConversion {
    static func jsonObject(_ container: OpenAPIObjectContainer?) -> JSONObject {
        guard let container else { return [:] }
        return container.value.mapValues(jsonValue)
    }

    static func jsonValue(_ value: (any Sendable)?) -> JSONValue {
        switch value {
        case nil: .null
        case let value as Bool: .bool(value)
        case let value as Int: .number(Double(value))
        case let value as Int64: .number(Double(value))
        case let value as Double: .number(value)
        case let value as String: .string(value)
        case let value as [(any Sendable)?]: .array(value.map(jsonValue))
        case let value as [String: (any Sendable)?]: .object(value.mapValues(jsonValue))
        default: .null
        }
    }

    static func anyValue(_ value: JSONValue) -> (any Sendable)? {
        switch value {
        case .null: nil
        case .bool(let value): value
        case .number(let value): JSONValue.wholeNumber(value) ?? value
        case .string(let value): value
        case .array(let value): value.map(anyValue)
        case .object(let value): value.mapValues(anyValue)
        }
    }

    static func container(_ object: JSONObject) -> OpenAPIObjectContainer {
        // Values built from JSONValue are always JSON-compatible.
        (try? OpenAPIObjectContainer(unvalidatedValue: object.mapValues(anyValue))) ?? OpenAPIObjectContainer()
    }

    /// A page of jobs as a list answers it.
    static func listEnvelope(_ page: JobPage, query: JobQuery) -> Components.Schemas.JobListEnvelope {
        .init(
            data: page.jobs.map(job),
            meta: .init(
                orgId: query.orgID, limit: Int64(query.limit), offset: Int64(query.offset),
                total: Int64(page.total), totalExact: page.totalIsExact,
                sort: query.sort.map {
                    .init(
                        field: .init(rawValue: $0.field.rawValue) ?? .createdAt,
                        direction: $0.direction == .asc ? .asc : .desc)
                },
                nextAfter: nullable(query.nextAfter(in: page)?.encoded)))
    }

    /// A required-but-nullable field: always present, `null` when absent.
    static func nullable(_ text: String?) -> OpenAPIValueContainer {
        // A String or nil is always a valid JSON value.
        (try? OpenAPIValueContainer(unvalidatedValue: text))!
    }

    static func nullable(_ date: Date?) -> OpenAPIValueContainer {
        nullable(date.map(Timestamp.format))
    }

    static func nullable(_ number: Int64?) -> OpenAPIValueContainer {
        // An Int (the container takes no Int64) or nil is always a valid JSON value.
        (try? OpenAPIValueContainer(unvalidatedValue: number.map { Int($0) }))!
    }

    static func submission(
        _ body: Components.Schemas.CreateJobRequest, delay: Int64?
    ) throws(AgentJobsError) -> JobSubmission {
        // Conversions only: the rules and bounds live in the core (`JobSubmission.validate`).
        JobSubmission(
            targetChannel: targetChannel(body.targetChannel), jobTypeID: body.jobTypeId,
            config: overrides(body.config?.value1), params: jsonObject(body.params),
            scheduledAt: body.scheduledAt, delayMinutes: delay.map { Int(clamping: $0) })
    }

    static func targetChannel(_ channel: Components.Schemas.TargetChannel) -> TargetChannel {
        TargetChannel(
            orgID: channel.orgId, platform: channel.platform, type: channel._type, code: channel.code,
            data: jsonObject(channel.data))
    }

    static func overrides(_ config: Components.Schemas.JobConfigInput?) -> JobConfigOverrides {
        JobConfigOverrides(
            maxFollowUps: config?.maxFollowUps.map { Int(clamping: $0) },
            maxTaskRetries: config?.maxTaskRetries.map { Int(clamping: $0) },
            taskRetryInterval: config?.taskRetryInterval, startPrompt: config?.startPrompt,
            maxTimeToComplete: config?.maxTimeToComplete, profileID: config?.profileId)
    }

    /// Any JSON value as an untyped field (`null` included).
    static func value(_ value: JSONValue) -> OpenAPIValueContainer {
        // Values built from JSONValue are always JSON-compatible.
        (try? OpenAPIValueContainer(unvalidatedValue: anyValue(value)))!
    }

    static func event(_ event: JobEvent) -> Components.Schemas.JobEvent {
        Components.Schemas.JobEvent(
            eventId: event.id, jobId: event.jobID, _type: event.type, data: value(event.data),
            createdAt: event.createdAt, deliveredToTaskId: nullable(event.deliveredToTaskID))
    }

    static func progress(_ entry: ProgressEntry) -> Components.Schemas.ProgressEntry {
        Components.Schemas.ProgressEntry(
            progressId: entry.id, taskId: entry.taskID, message: nullable(entry.message), data: value(entry.data),
            createdAt: entry.createdAt)
    }

    /// The job as `GET /services/agent-jobs/{id}` shows it: with its events, and each task's
    /// delivered events and progress.
    static func detailedJob(_ job: Job) -> Components.Schemas.Job {
        var shown = self.job(job)
        shown.events = job.events.map(event)
        shown.tasks = job.tasks.map { task in
            var shownTask = self.task(task)
            shownTask.eventIds = task.eventIDs
            shownTask.progress = task.progress.map(progress)
            return shownTask
        }
        return shown
    }

    static func job(_ job: Job) -> Components.Schemas.Job {
        Components.Schemas.Job(
            jobId: job.id, orgId: job.orgID, channelCode: job.channelCode, jobTypeId: job.jobTypeID,
            jobStatus: Components.Schemas.JobStatus(rawValue: job.status.rawValue) ?? .failed,
            createdAt: job.createdAt, updatedAt: job.updatedAt, scheduledAt: job.scheduledAt,
            tasks: job.tasks.map(task), result: nullable(job.result), params: container(job.params),
            config: config(job.config),
            targetChannel: .init(
                orgId: job.targetChannel.orgID, platform: job.targetChannel.platform,
                _type: job.targetChannel.type, code: job.targetChannel.code,
                data: container(job.targetChannel.data)),
            startedAt: nullable(job.startedAt), finishedAt: nullable(job.finishedAt),
            cancelReason: nullable(job.cancelReason), scheduleId: nullable(job.scheduleID),
            nextRunAt: nullable(job.nextRunAt))
    }

    static func task(_ task: JobTask) -> Components.Schemas.Task {
        Components.Schemas.Task(
            taskId: task.id, createdAt: task.createdAt,
            status: Components.Schemas.TaskStatus(rawValue: task.status.rawValue) ?? .failed,
            result: nullable(task.result),
            kind: Components.Schemas.TaskKind(rawValue: task.kind.rawValue) ?? .initial,
            attempt: Int64(task.attempt), startedAt: nullable(task.startedAt),
            finishedAt: nullable(task.finishedAt), error: nullable(task.error))
    }

    static func config(_ config: JobConfig) -> Components.Schemas.JobConfig {
        Components.Schemas.JobConfig(
            maxFollowUps: Int64(config.maxFollowUps), maxTaskRetries: Int64(config.maxTaskRetries),
            taskRetryInterval: config.taskRetryInterval, startPrompt: config.startPrompt,
            maxTimeToComplete: config.maxTimeToComplete, profileId: config.profileID)
    }

    static func envelope(_ job: Job, detailed: Bool = false) -> Components.Schemas.JobEnvelope {
        .init(data: detailed ? detailedJob(job) : self.job(job), meta: .init(orgId: job.orgID, id: job.id))
    }
}
