import AgentJobsCore
import Foundation
import NIOCore

/// The API's job documents written straight to bytes, for the hottest answers (a create's 201,
/// a page of jobs and one job): the same bytes `APIModelConversion` and the generated types' `Codable`
/// give with the server's encoder, without their cost. Keys are written in sorted order by
/// hand; `JobJSONTests`, `ListJobsRouteTests` and `GetJobRouteTests` check every document
/// against the generated encoding.
enum JobJSON {
    /// `{"data": job, "meta": {"id", "org_id"}}`, as a create answers, or `detailed` as
    /// `GET /services/agent-jobs/{id}` answers (`APIModelConversion.detailedJob`).
    static func envelope(_ job: Job, detailed: Bool = false) -> ByteBuffer {
        var json = JSONWriter(capacity: 1024 + 256 * job.tasks.count)
        json.object { json in
            json.key("data", first: true)
            write(job, detailed: detailed, into: &json)
            json.key("meta")
            json.object { json in
                json.member("id", job.id, first: true)
                json.member("org_id", job.orgID)
            }
        }
        return ByteBuffer(bytes: json.bytes)
    }

    /// `{"data": [jobs], "meta": {…}}`, as a list answers `query` with `page` for `orgID`.
    static func listEnvelope(_ page: JobPage, query: JobQuery, orgID: String) -> ByteBuffer {
        var json = JSONWriter(capacity: 512 + page.jobs.reduce(0) { $0 + 1024 + 256 * $1.tasks.count })
        json.object { json in
            json.key("data", first: true)
            json.array(page.jobs) { json, job in write(job, into: &json) }
            json.key("meta")
            json.object { json in
                json.member("limit", query.limit, first: true)
                json.member("next_after", query.nextAfter(in: page)?.encoded)
                json.member("offset", query.offset)
                json.member("org_id", orgID)
                json.key("sort")
                json.array(query.sort) { json, key in
                    json.object { json in
                        json.member("direction", key.direction == .asc ? "asc" : "desc", first: true)
                        json.member("field", key.field.rawValue)
                    }
                }
                json.member("total", page.total)
                json.key("total_exact")
                json.bool(page.totalIsExact)
            }
        }
        return ByteBuffer(bytes: json.bytes)
    }

    /// A job as lists and creates show it (without its events and the tasks' progress), or
    /// `detailed`: with its events, and each task's delivered events and progress.
    static func write(_ job: Job, detailed: Bool = false, into json: inout JSONWriter) {
        json.object { json in
            json.member("cancel_reason", job.cancelReason, first: true)
            json.member("channel_code", job.channelCode)
            json.key("config")
            json.config(job.config)
            json.member("created_at", time: job.createdAt)
            if detailed {
                json.key("events")
                json.array(job.events) { json, event in json.event(event) }
            }
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
            json.channel(job.targetChannel)
            json.key("tasks")
            json.array(job.tasks) { json, task in write(task, detailed: detailed, into: &json) }
            json.member("updated_at", time: job.updatedAt)
        }
    }

    static func write(_ task: JobTask, detailed: Bool, into json: inout JSONWriter) {
        json.object { json in
            json.member("attempt", task.attempt, first: true)
            json.member("created_at", time: task.createdAt)
            json.member("error", task.error)
            if detailed {
                json.key("event_ids")
                json.array(task.eventIDs) { json, id in json.string(id) }
            }
            json.member("finished_at", time: task.finishedAt)
            json.member("kind", task.kind.rawValue)
            if detailed {
                json.key("progress")
                json.array(task.progress) { json, entry in write(entry, into: &json) }
            }
            json.member("result", task.result)
            json.member("started_at", time: task.startedAt)
            json.member("status", task.status.rawValue)
            json.member("task_id", task.id)
        }
    }

    static func write(_ entry: ProgressEntry, into json: inout JSONWriter) {
        json.object { json in
            json.member("created_at", time: entry.createdAt, first: true)
            json.key("data")
            json.value(entry.data)
            json.member("message", entry.message)
            json.member("progress_id", entry.id)
            json.member("task_id", entry.taskID)
        }
    }
}
