import AgentJobsCore
import Foundation
import GRDB
import PostgresNIO
import Testing

@testable import AgentJobsPostgres
@testable import AgentJobsSQLite

/// Both schemas give the same guarantees: the same primary keys, unique constraints and
/// indexes (columns, uniqueness and partial predicates) on the shared tables.
@Suite("Conformance: the two schemas")
struct SchemaConformanceTests {
    /// What every store must have, as `kind table(columns) [where predicate]`.
    static let expected: Set<String> = [
        "pk organizations(id)",
        // The retention purge's lookups.
        "index idempotency_keys(job_id)",
        "index jobs(status,finished_at) where finished_at is not null",
        "pk app_tokens(id)",
        "index app_tokens(org_id,created_at)",
        "pk job_types(id)",
        "pk jobs(id)",
        "index jobs(org_id,created_at,id)",
        "index jobs(org_id,status,created_at,id)",
        "index jobs(org_id,scheduled_at,id)",
        "index jobs(org_id,status,scheduled_at,id)",
        "index jobs(org_id,updated_at,id)",
        "index jobs(org_id,job_type_id,created_at,id)",
        "index jobs(org_id,channel_code,created_at,id)",
        "index jobs(org_id,next_run_at,id) where next_run_at is not null",
        "index jobs(next_run_at) where next_run_at is not null",
        "index jobs(deadline_at) where status = 'running'",
        "pk tasks(id)",
        "unique tasks(job_id,attempt)",
        "index tasks(lease_expires_at) where status = 'running'",
        "pk idempotency_keys(org_id,key)",
        "unique jobs(schedule_id,schedule_occurrence) where schedule_id is not null",
        "index jobs(org_id,schedule_id,created_at,id) where schedule_id is not null",
        "pk schedules(id)",
        "index schedules(org_id,created_at,id)",
        "index schedules(next_run_at) where next_run_at is not null",
    ]

    static let sharedTables = [
        "organizations", "app_tokens", "job_types", "jobs", "tasks", "idempotency_keys", "schedules",
    ]

    static func normalized(_ predicate: String?) -> String {
        guard let predicate, !predicate.isEmpty else { return "" }
        let text = predicate.replacingOccurrences(of: "::text", with: "")
            .replacingOccurrences(of: "(", with: "").replacingOccurrences(of: ")", with: "")
            .lowercased().split(whereSeparator: \.isWhitespace).joined(separator: " ")
        return " where " + text
    }

    static func sqliteIndexes(_ store: SQLiteJobStore) async throws -> Set<String> {
        try await store.pool.read { db in
            var found: Set<String> = []
            for table in sharedTables {
                for index in try Row.fetchAll(db, sql: "PRAGMA index_list(\(table))") {
                    let name: String = index["name"]
                    let columns = try Row.fetchAll(db, sql: "PRAGMA index_info(\(name))")
                        .sorted { ($0["seqno"] as Int) < ($1["seqno"] as Int) }
                        .map { $0["name"] as String }.joined(separator: ",")
                    let origin: String = index["origin"]
                    let unique: Bool = index["unique"]
                    let sql = try String.fetchOne(
                        db, sql: "SELECT sql FROM sqlite_master WHERE name = ?", arguments: [name])
                    let predicate = sql.flatMap { $0.range(of: " WHERE ").map { String(sql![$0.upperBound...]) } }
                    let kind = origin == "pk" ? "pk" : unique ? "unique" : "index"
                    found.insert("\(kind) \(table)(\(columns))\(normalized(predicate))")
                }
                // A rowid table's INTEGER-less TEXT PRIMARY KEY shows as an autoindex above; a
                // WITHOUT ROWID table's key does too. Nothing else to add.
            }
            return found
        }
    }

    static func postgresIndexes(_ store: PostgresJobStore) async throws -> Set<String> {
        let rows = try await store.client.query(
            """
            SELECT t.relname AS table_name, ix.indisunique AS is_unique, ix.indisprimary AS is_primary,
                   array_to_string(ARRAY(
                       SELECT a.attname FROM unnest(ix.indkey) WITH ORDINALITY AS k(attnum, n)
                       JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum ORDER BY k.n), ',') AS columns,
                   COALESCE(pg_get_expr(ix.indpred, ix.indrelid), '') AS predicate
            FROM pg_index ix
            JOIN pg_class t ON t.oid = ix.indrelid
            JOIN pg_namespace n ON n.oid = t.relnamespace
            WHERE n.nspname = current_schema() AND t.relname = ANY(\(sharedTables))
            """
        ).collect()
        var found: Set<String> = []
        for row in rows {
            let (table, unique, primary, columns, predicate) = try row.decode((String, Bool, Bool, String, String).self)
            let kind = primary ? "pk" : unique ? "unique" : "index"
            found.insert("\(kind) \(table)(\(columns))\(normalized(predicate))")
        }
        return found
    }

    @Test("primary keys, unique constraints and indexes are the expected ones", arguments: StoreKind.available)
    func sameGuarantees(kind: StoreKind) async throws {
        let env = try await TestEnvironment.make(kind)
        let found: Set<String>
        switch env.store {
        case let store as SQLiteJobStore: found = try await Self.sqliteIndexes(store)
        case let store as PostgresJobStore: found = try await Self.postgresIndexes(store)
        default:
            Issue.record("unknown store")
            return
        }
        #expect(found.subtracting(Self.expected).sorted() == [], "only in the \(kind.rawValue) schema")
        #expect(Self.expected.subtracting(found).sorted() == [], "missing from the \(kind.rawValue) schema")
    }

    @Test("a second task with the same attempt is refused by the schema", arguments: StoreKind.available)
    func uniqueAttempt(kind: StoreKind) async throws {
        let env = try await TestEnvironment.make(kind)
        let insert = """
            INSERT INTO tasks(id, job_id, kind, attempt, status, created_at) VALUES ('%@', 'job_x', 'initial', 1, 'FAILED', 0)
            """
        let job = """
            INSERT INTO jobs(id, org_id, job_type_id, channel_code, status, target_channel, config, params, created_at,
                             updated_at, scheduled_at) VALUES ('job_x', 'org-a', 't', 'c', 'FAILED', '{}', '{}', '{}', 0, 0, 0)
            """
        switch env.store {
        case let store as SQLiteJobStore:
            try await store.pool.write { db in
                try db.execute(sql: job)
                try db.execute(sql: String(format: insert, "task_1"))
            }
            await #expect(throws: (any Error).self) {
                try await store.pool.write { db in try db.execute(sql: String(format: insert, "task_2")) }
            }
        case let store as PostgresJobStore:
            try await store.client.query(PostgresQuery(unsafeSQL: job))
            try await store.client.query(PostgresQuery(unsafeSQL: String(format: insert, "task_1")))
            await #expect(throws: (any Error).self) {
                try await store.client.query(PostgresQuery(unsafeSQL: String(format: insert, "task_2")))
            }
        default:
            Issue.record("unknown store")
        }
    }

    @Test("an unknown stored status is an error, not read as another status", arguments: StoreKind.available)
    func unknownStatus(kind: StoreKind) async throws {
        let env = try await TestEnvironment.make(kind)
        let job = """
            INSERT INTO jobs(id, org_id, job_type_id, channel_code, status, target_channel, config, params, created_at,
                             updated_at, scheduled_at)
            VALUES ('job_odd', 'org-a', 't', 'c', 'PAUSED',
                    '{"org_id":"org-a","platform":"p","type":"t","code":"c","data":{}}',
                    '{"max_follow_ups":0,"max_task_retries":0,"task_retry_interval":1,"max_time_to_complete":60}', '{}',
                    0, 0, 0)
            """
        switch env.store {
        case let store as SQLiteJobStore: try await store.pool.write { db in try db.execute(sql: job) }
        case let store as PostgresJobStore: try await store.client.query(PostgresQuery(unsafeSQL: job))
        default: Issue.record("unknown store")
        }
        await #expect(throws: UnknownStoredValue(column: "jobs.status", value: "PAUSED")) {
            _ = try await env.store.job(id: "job_odd")
        }
    }
}
