import AgentJobsCore
import Foundation

/// A new job's column values as the `jobs` table stores them.
struct JobInsertRow: Sendable {
    /// The columns a create writes, in the order its statements give them.
    static let columns = """
        id, org_id, job_type_id, channel_code, status, target_channel, config, params, created_at, updated_at, \
        scheduled_at, next_run_at, next_kind, schedule_id, schedule_occurrence
        """

    let id: String
    let orgID: String
    let jobTypeID: String
    let channelCode: String
    let status: String
    /// `target_channel`, `config` and `params` as canonical JSON text.
    let channel: String
    let config: String
    let params: String
    let created: Int64
    let scheduled: Int64
    let scheduleID: String?
    let occurrence: Int64?

    init(_ job: NewJob) {
        let text = StoredJobText(job)
        id = job.id
        orgID = job.orgID
        jobTypeID = job.jobTypeID
        channelCode = job.targetChannel.code
        status = job.status.rawValue
        channel = text.channel
        config = text.config
        params = text.params
        created = Timestamp.millis(job.createdAt)
        scheduled = Timestamp.millis(job.scheduledAt)
        scheduleID = job.scheduleID
        occurrence = job.scheduleOccurrence.map(Timestamp.millis)
    }
}
