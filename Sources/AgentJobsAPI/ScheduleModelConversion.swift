import AgentJobsCore
import Foundation
import OpenAPIRuntime

/// Conversions between the generated schedule types and the domain's.
enum ScheduleModelConversion {
    /// The job part of a schedule body, as a create's submission (no `scheduled_at`).
    static func submission(_ job: Components.Schemas.ScheduleJob) throws(AgentJobsError) -> JobSubmission {
        if job.scheduledAt != nil { throw .badRequest("job.scheduled_at is not allowed: each occurrence sets it") }
        return JobSubmission(
            targetChannel: APIModelConversion.targetChannel(job.targetChannel), jobTypeID: job.jobTypeId,
            config: APIModelConversion.overrides(job.config?.value1), params: APIModelConversion.jsonObject(job.params))
    }

    static func job(_ job: JobSubmission) -> Components.Schemas.ScheduleJob {
        let config = job.config
        return .init(
            targetChannel: .init(
                orgId: job.targetChannel.orgID, platform: job.targetChannel.platform, _type: job.targetChannel.type,
                code: job.targetChannel.code, data: APIModelConversion.container(job.targetChannel.data)),
            jobTypeId: job.jobTypeID,
            config: .init(
                value1: .init(
                    maxFollowUps: config.maxFollowUps.map(Int64.init),
                    maxTaskRetries: config.maxTaskRetries.map(Int64.init),
                    taskRetryInterval: config.taskRetryInterval, startPrompt: config.startPrompt,
                    maxTimeToComplete: config.maxTimeToComplete, profileId: config.profileID)),
            params: APIModelConversion.container(job.params))
    }

    static func schedule(_ schedule: Schedule) -> Components.Schemas.Schedule {
        .init(
            scheduleId: schedule.id, orgId: schedule.orgID, name: APIModelConversion.nullable(schedule.name),
            cron: schedule.cron,
            timezone: schedule.timezone, job: job(schedule.job), delay: Int64(schedule.delayMinutes),
            overlap: schedule.overlap == .skip ? .skip : .allow, paused: schedule.paused,
            nextRunAt: APIModelConversion.nullable(schedule.nextRunAt),
            lastRunAt: APIModelConversion.nullable(schedule.lastRunAt),
            lastJobId: APIModelConversion.nullable(schedule.lastJobID),
            runs: Int64(schedule.runs), skipped: Int64(schedule.skipped), createdAt: schedule.createdAt,
            updatedAt: schedule.updatedAt)
    }
}
