import AgentJobsCore
import Foundation
import GRDB

extension SQLiteJobStore {
    /// Inserts a new job (one item of a group commit), honouring an idempotency claim as
    /// `IdempotencyClaim.decide` rules.
    static func insert(_ request: CreateRequest, _ write: SQLiteWrite) throws -> CreateJobOutcome {
        let db = write.db
        let job = request.job
        if let claim = request.idempotency,
            let firstID = try recordClaim(
                claim, orgID: job.orgID, recordID: job.id, date: request.date, db,
                exists: {
                    try Bool.fetchOne(db, sql: "SELECT 1 FROM jobs WHERE id = ?", arguments: [$0]) ?? false
                }),
            let first = try loadJob(id: firstID, db)
        {
            return .replayed(first)
        }
        let created = Timestamp.millis(job.createdAt)
        // A cached statement: compiled once per connection, not once per create.
        var insert = try BoundStatement(db, sql: insertJobSQL)
        insert.bind(job.id)
        insert.bind(job.orgID)
        insert.bind(job.jobTypeID)
        insert.bind(job.targetChannel.code)
        insert.bind(job.status.rawValue)
        insert.bind(request.text.channel)
        insert.bind(request.text.config)
        insert.bind(request.text.params)
        insert.bind(created)
        insert.bind(created)
        insert.bind(Timestamp.millis(job.scheduledAt))
        insert.bind(Timestamp.millis(job.scheduledAt))
        insert.bind(job.scheduleID)
        insert.bind(job.scheduleOccurrence.map(Timestamp.millis))
        try insert.execute()
        write.journal.append(
            JournalRecord(jobID: job.id, kind: .job, refID: nil, status: job.status.rawValue, at: job.createdAt))
        write.counts.add(
            JobCountKey(orgID: job.orgID, jobTypeID: job.jobTypeID, channelCode: job.targetChannel.code),
            status: job.status.rawValue, 1)
        return .created(job.asJob)
    }

    private static let insertJobSQL = """
        INSERT INTO jobs(id, org_id, job_type_id, channel_code, status, target_channel, config, params,
                         created_at, updated_at, scheduled_at, next_run_at, next_kind,
                         schedule_id, schedule_occurrence)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'initial', ?, ?)
        """

    /// Applies `claim` (`IdempotencyClaim.decide`): records the key for `recordID` and returns
    /// nil, or returns the id of the record an identical earlier request created (when
    /// `exists` still finds it).
    static func recordClaim(
        _ claim: IdempotencyClaim, orgID: String, recordID: String, date: Date, _ db: Database,
        exists: (String) throws -> Bool
    ) throws -> String? {
        let existing = try Row.fetchOne(
            db, sql: "SELECT fingerprint, job_id, created_at FROM idempotency_keys WHERE org_id = ? AND key = ?",
            arguments: [orgID, claim.storedKey]
        ).map {
            IdempotencyRecord(
                fingerprint: $0["fingerprint"], jobID: $0["job_id"], createdAt: Timestamp.date(millis: $0["created_at"])
            )
        }
        switch try claim.decide(existing: existing, now: date) {
        case .replay(let firstID):
            if try exists(firstID) { return firstID }
            fallthrough
        case .replaceExpired:
            try db.execute(
                sql: "DELETE FROM idempotency_keys WHERE org_id = ? AND key = ?", arguments: [orgID, claim.storedKey])
        case .insert:
            break
        }
        try db.execute(
            sql: "INSERT INTO idempotency_keys(org_id, key, fingerprint, job_id, created_at) VALUES (?, ?, ?, ?, ?)",
            arguments: [orgID, claim.storedKey, claim.fingerprint, recordID, Timestamp.millis(date)])
        return nil
    }
}
