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
                json.key("id", first: true)
                json.string(job.id)
                json.key("org_id")
                json.string(job.orgID)
            }
        }
        return json.buffer
    }

    /// A job as lists and creates show it (without its events and the tasks' progress).
    static func write(_ job: Job, into json: inout JSONBytes) {
        json.object { json in
            json.key("cancel_reason", first: true)
            json.string(job.cancelReason)
            json.key("channel_code")
            json.string(job.channelCode)
            json.key("config")
            write(job.config, into: &json)
            json.key("created_at")
            json.time(job.createdAt)
            json.key("finished_at")
            json.time(job.finishedAt)
            json.key("job_id")
            json.string(job.id)
            json.key("job_status")
            json.string(job.status.rawValue)
            json.key("job_type_id")
            json.string(job.jobTypeID)
            json.key("next_run_at")
            json.time(job.nextRunAt)
            json.key("org_id")
            json.string(job.orgID)
            json.key("params")
            json.object(job.params)
            json.key("result")
            json.string(job.result)
            json.key("schedule_id")
            json.string(job.scheduleID)
            json.key("scheduled_at")
            json.time(job.scheduledAt)
            json.key("started_at")
            json.time(job.startedAt)
            json.key("target_channel")
            json.object { json in
                json.key("code", first: true)
                json.string(job.targetChannel.code)
                json.key("data")
                json.object(job.targetChannel.data)
                json.key("org_id")
                json.string(job.targetChannel.orgID)
                json.key("platform")
                json.string(job.targetChannel.platform)
                json.key("type")
                json.string(job.targetChannel.type)
            }
            json.key("tasks")
            json.array(job.tasks) { json, task in write(task, into: &json) }
            json.key("updated_at")
            json.time(job.updatedAt)
        }
    }

    static func write(_ config: JobConfig, into json: inout JSONBytes) {
        json.object { json in
            json.key("max_follow_ups", first: true)
            json.integer(config.maxFollowUps)
            json.key("max_task_retries")
            json.integer(config.maxTaskRetries)
            json.key("max_time_to_complete")
            json.number(config.maxTimeToComplete)
            if let profileID = config.profileID {
                json.key("profile_id")
                json.string(profileID)
            }
            if let startPrompt = config.startPrompt {
                json.key("start_prompt")
                json.string(startPrompt)
            }
            json.key("task_retry_interval")
            json.number(config.taskRetryInterval)
        }
    }

    static func write(_ task: JobTask, into json: inout JSONBytes) {
        json.object { json in
            json.key("attempt", first: true)
            json.integer(task.attempt)
            json.key("created_at")
            json.time(task.createdAt)
            json.key("error")
            json.string(task.error)
            json.key("finished_at")
            json.time(task.finishedAt)
            json.key("kind")
            json.string(task.kind.rawValue)
            json.key("result")
            json.string(task.result)
            json.key("started_at")
            json.time(task.startedAt)
            json.key("status")
            json.string(task.status.rawValue)
            json.key("task_id")
            json.string(task.id)
        }
    }
}
