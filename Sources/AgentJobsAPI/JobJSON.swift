import AgentJobsCore
import Foundation
import NIOCore

/// The API's job documents written straight to bytes, for the hottest answers (a create's 201
/// and a page of jobs): the same bytes `APIModelConversion` and the generated types' `Codable`
/// give with the server's encoder, without their cost. Keys are written in sorted order by
/// hand; `JobJSONTests` checks every document against the generated encoding.
enum JobJSON {
    /// `{"data": job, "meta": {"id", "org_id"}}`, as a create answers.
    static func envelope(_ job: Job) -> ByteBuffer {
        var json = JSONBytes(capacity: 1024 + 256 * job.tasks.count)
        json.object { json in
            json.key("data", first: true)
            write(job, into: &json)
            json.key("meta")
            json.object { json in
                json.member("id", job.id, first: true)
                json.member("org_id", job.orgID)
            }
        }
        return json.buffer
    }

    /// A job as lists and creates show it (without its events and the tasks' progress).
    static func write(_ job: Job, into json: inout JSONBytes) {
        json.object { json in
            json.member("cancel_reason", job.cancelReason, first: true)
            json.member("channel_code", job.channelCode)
            json.key("config")
            write(job.config, into: &json)
            json.member("created_at", time: job.createdAt)
            json.member("finished_at", time: job.finishedAt)
            json.member("job_id", job.id)
            json.member("job_status", job.status.rawValue)
            json.member("job_type_id", job.jobTypeID)
            json.member("next_run_at", time: job.nextRunAt)
            json.member("org_id", job.orgID)
            json.member("params", job.params)
            json.member("result", job.result)
            json.member("schedule_id", job.scheduleID)
            json.member("scheduled_at", time: job.scheduledAt)
            json.member("started_at", time: job.startedAt)
            json.key("target_channel")
            json.object { json in
                json.member("code", job.targetChannel.code, first: true)
                json.member("data", job.targetChannel.data)
                json.member("org_id", job.targetChannel.orgID)
                json.member("platform", job.targetChannel.platform)
                json.member("type", job.targetChannel.type)
            }
            json.key("tasks")
            json.array(job.tasks) { json, task in write(task, into: &json) }
            json.member("updated_at", time: job.updatedAt)
        }
    }

    static func write(_ config: JobConfig, into json: inout JSONBytes) {
        json.object { json in
            json.member("max_follow_ups", config.maxFollowUps, first: true)
            json.member("max_task_retries", config.maxTaskRetries)
            json.member("max_time_to_complete", config.maxTimeToComplete)
            if let profileID = config.profileID {
                json.member("profile_id", profileID)
            }
            if let startPrompt = config.startPrompt {
                json.member("start_prompt", startPrompt)
            }
            json.member("task_retry_interval", config.taskRetryInterval)
        }
    }

    static func write(_ task: JobTask, into json: inout JSONBytes) {
        json.object { json in
            json.member("attempt", task.attempt, first: true)
            json.member("created_at", time: task.createdAt)
            json.member("error", task.error)
            json.member("finished_at", time: task.finishedAt)
            json.member("kind", task.kind.rawValue)
            json.member("result", task.result)
            json.member("started_at", time: task.startedAt)
            json.member("status", task.status.rawValue)
            json.member("task_id", task.id)
        }
    }
}
