import AgentJobsCore
import Foundation
import Logging
import PostgresNIO

/// Creates that arrive together share one statement (the creates' group commit): one round
/// trip, one parse and plan, one commit and one WAL flush for the batch, and one due
/// notification for its earliest due instant. A create that finds no batch under way goes
/// alone at once (`createAlone`), so a lone client pays nothing for the batching.
extension PostgresJobStore {
    /// One `createJob` call, as the creates' `WriteBatcher` holds it.
    struct CreateRequest: Sendable {
        var job: NewJob
        var idempotency: IdempotencyClaim?
        var date: Date
        /// The app token to confirm in the write (`JobStore.createJob(_:idempotency:at:confirmingToken:)`).
        var token: String?
    }

    static func makeCreates(
        client: PostgresClient, statements: Statements, logger: Logger
    ) -> WriteBatcher<CreateRequest, CreateJobOutcome> {
        WriteBatcher(
            flush: { requests in await createBatch(requests, client: client, statements: statements, logger: logger) },
            writeAlone: { request in
                try await createAlone(request, client: client, statements: statements, logger: logger)
            })
    }

    /// One create on its own: the common case in one statement (the key is new, or there is
    /// none), else the transaction that replays, refuses or replaces the key.
    static func createAlone(
        _ request: CreateRequest, client: PostgresClient, statements: Statements, logger: Logger
    ) async throws -> CreateJobOutcome {
        if try await insertInOneStatement(
            request.job, idempotency: request.idempotency, at: request.date, token: request.token, client,
            statements: statements, logger: logger)
        {
            return .created(request.job.asJob)
        }
        return try await createHoldingKey(request, client: client, logger: logger)
    }

    /// The create whose idempotency key is already recorded, or whose token the one statement
    /// did not find unrevoked (this transaction then answers `.unauthorized`). Two creates racing on one key:
    /// the loser's insert fails on the key's primary key and retries, then finds the winner's
    /// row and replays it.
    static func createHoldingKey(
        _ request: CreateRequest, client: PostgresClient, logger: Logger
    ) async throws -> CreateJobOutcome {
        for attempt in 1...3 {
            do {
                return try await transaction(client, logger: logger) { connection in
                    try await insert(
                        request.job, idempotency: request.idempotency, at: request.date, token: request.token,
                        connection, logger: logger)
                }
            } catch  where sqlState(of: error) == "23505" && request.idempotency != nil && attempt < 3 {
                continue
            }
        }
        throw AgentJobsError.conflict(
            "Idempotency-Key '\(request.idempotency?.key ?? "")' is being used concurrently")
    }

    /// Writes `requests` in one statement. A create whose key was already recorded (also by
    /// an earlier create of the same batch), or whose token is revoked, then takes
    /// `createHoldingKey`. When the statement
    /// fails (one row can fail it: a duplicate schedule occurrence, say), nothing of it was
    /// written and every create goes alone, each with its own answer.
    static func createBatch(
        _ requests: [CreateRequest], client: PostgresClient, statements: Statements, logger: Logger
    ) async -> [Result<CreateJobOutcome, any Error>] {
        let inserted: Set<String>
        do {
            inserted = try await insertBatch(requests, client: client, statements: statements, logger: logger)
        } catch {
            var results: [Result<CreateJobOutcome, any Error>] = []
            for request in requests {
                results.append(
                    await result {
                        try await createAlone(request, client: client, statements: statements, logger: logger)
                    })
            }
            return results
        }
        var results: [Result<CreateJobOutcome, any Error>] = []
        for request in requests {
            if inserted.contains(request.job.id) {
                results.append(.success(.created(request.job.asJob)))
            } else {
                results.append(await result { try await createHoldingKey(request, client: client, logger: logger) })
            }
        }
        return results
    }

    /// Inserts the batch's jobs and records their new idempotency keys (in key order, so two
    /// nodes' batches never wait on each other's keys in opposite orders); returns the ids of
    /// the jobs inserted.
    static func insertBatch(
        _ requests: [CreateRequest], client: PostgresClient, statements: Statements, logger: Logger
    ) async throws -> Set<String> {
        let rows = requests.map(CreateColumns.init)
        let input = rows.recordSetJSON
        let result = try await statements.rows(
            """
            WITH input AS (
                SELECT * FROM jsonb_to_recordset(\(input)::jsonb) AS r(
                    id text, org_id text, job_type_id text, channel_code text, status text, target_channel text,
                    config text, params text, created_at bigint, scheduled_at bigint, schedule_id text,
                    schedule_occurrence bigint, idempotency_key text, fingerprint text, key_created_at bigint,
                    token_id text)
                WHERE token_id IS NULL
                   OR EXISTS (SELECT 1 FROM app_tokens t WHERE t.id = r.token_id AND t.revoked_at IS NULL)
            ), claimed AS (
                INSERT INTO idempotency_keys(org_id, key, fingerprint, job_id, created_at)
                SELECT org_id, idempotency_key, fingerprint, id, key_created_at FROM input
                WHERE idempotency_key IS NOT NULL
                ORDER BY org_id, idempotency_key
                ON CONFLICT (org_id, key) DO NOTHING
                RETURNING job_id
            ), inserted AS (
                INSERT INTO jobs(\(unescaped: JobInsertRow.columns))
                SELECT id, org_id, job_type_id, channel_code, status, target_channel, config, params,
                       created_at, created_at, scheduled_at, scheduled_at, 'initial', schedule_id, schedule_occurrence
                FROM input
                WHERE idempotency_key IS NULL OR id IN (SELECT job_id FROM claimed)
                RETURNING id, next_run_at
            ), summary AS (
                SELECT array_agg(id) AS ids, MIN(next_run_at) AS first_due FROM inserted
            )
            SELECT ids, pg_notify(\(dueChannel), first_due::text) FROM summary WHERE first_due IS NOT NULL
            """, on: client, logger: logger)
        guard let row = result.first else { return [] }
        return Set(try row["ids"].decode([String].self))
    }

    /// A create's columns as the batch statement's record definition spells them.
    // swift-format-ignore: AlwaysUseLowerCamelCase
    struct CreateColumns: RecordSetRow {
        var id: String
        var org_id: String
        var job_type_id: String
        var channel_code: String
        var status: String
        var target_channel: String
        var config: String
        var params: String
        var created_at: Int64
        var scheduled_at: Int64
        var schedule_id: String?
        var schedule_occurrence: Int64?
        var idempotency_key: String?
        var fingerprint: String?
        var key_created_at: Int64?
        var token_id: String?

        init(_ request: CreateRequest) {
            let row = JobInsertRow(request.job)
            id = row.id
            org_id = row.orgID
            job_type_id = row.jobTypeID
            channel_code = row.channelCode
            status = row.status
            target_channel = row.channel
            config = row.config
            params = row.params
            created_at = row.created
            scheduled_at = row.scheduled
            schedule_id = row.scheduleID
            schedule_occurrence = row.occurrence
            idempotency_key = request.idempotency?.storedKey
            fingerprint = request.idempotency?.fingerprint
            key_created_at = request.idempotency.map { _ in Timestamp.millis(request.date) }
            token_id = request.token
        }

        func writeMembers(to json: inout JSONWriter) {
            json.member("id", id, first: true)
            json.member("org_id", org_id)
            json.member("job_type_id", job_type_id)
            json.member("channel_code", channel_code)
            json.member("status", status)
            json.member("target_channel", target_channel)
            json.member("config", config)
            json.member("params", params)
            json.member("created_at", integer: created_at)
            json.member("scheduled_at", integer: scheduled_at)
            json.member("schedule_id", schedule_id)
            json.member("schedule_occurrence", integer: schedule_occurrence)
            json.member("idempotency_key", idempotency_key)
            json.member("fingerprint", fingerprint)
            json.member("key_created_at", integer: key_created_at)
            json.member("token_id", token_id)
        }
    }
}

/// `body`'s value or error, as a `Result`.
private func result<Value>(_ body: () async throws -> Value) async -> Result<Value, any Error> {
    do {
        return .success(try await body())
    } catch {
        return .failure(error)
    }
}
