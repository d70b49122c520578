import AgentJobsCore
import Foundation
import GRDB

extension SQLiteJobStore {
    /// Inserts a new job (one item of a group commit), honouring an idempotency claim as
    /// `IdempotencyClaim.decide` rules.
    static func insert(_ request: CreateRequest, _ db: Database) throws -> CreateJobOutcome {
        let job = request.job
        if let claim = request.idempotency {
            let existing = try Row.fetchOne(
                db, sql: "SELECT fingerprint, job_id, created_at FROM idempotency_keys WHERE org_id = ? AND key = ?",
                arguments: [job.orgID, claim.key]
            ).map {
                IdempotencyRecord(
                    fingerprint: $0["fingerprint"], jobID: $0["job_id"],
                    createdAt: Timestamp.date(millis: $0["created_at"]))
            }
            switch try claim.decide(existing: existing, now: request.date) {
            case .replay(let jobID):
                if let first = try loadJob(id: jobID, db) { return .replayed(first) }
                fallthrough
            case .replaceExpired:
                try db.execute(
                    sql: "DELETE FROM idempotency_keys WHERE org_id = ? AND key = ?", arguments: [job.orgID, claim.key])
            case .insert:
                break
            }
            try db.execute(
                sql:
                    "INSERT INTO idempotency_keys(org_id, key, fingerprint, job_id, created_at) VALUES (?, ?, ?, ?, ?)",
                arguments: [job.orgID, claim.key, claim.fingerprint, job.id, Timestamp.millis(request.date)])
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let created = Timestamp.millis(job.createdAt)
        try db.execute(
            sql: """
                INSERT INTO jobs(id, org_id, job_type_id, channel_code, status, target_channel, config, params,
                                 created_at, updated_at, scheduled_at, next_run_at, next_kind,
                                 schedule_id, schedule_occurrence)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'initial', ?, ?)
                """,
            arguments: [
                job.id, job.orgID, job.jobTypeID, job.targetChannel.code, job.status.rawValue,
                String(decoding: try encoder.encode(job.targetChannel), as: UTF8.self),
                String(decoding: try encoder.encode(job.config), as: UTF8.self),
                job.params.canonicalJSON(), created, created, Timestamp.millis(job.scheduledAt),
                Timestamp.millis(job.scheduledAt), job.scheduleID, job.scheduleOccurrence.map(Timestamp.millis),
            ])
        return .created(job.asJob)
    }
}
