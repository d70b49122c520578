import AgentJobsCore
import Foundation
import GRDB

/// The embedded store: one SQLite file in WAL mode, accessed through a GRDB `DatabasePool`
/// (concurrent readers, one writer). Creates are group-committed.
public final class SQLiteJobStore: JobStore {
    /// Tuning for the SQLite store.
    public struct Configuration: Sendable {
        /// `FULL` fsyncs the WAL at every commit, so acknowledged writes survive power loss
        /// as well as `kill -9`; `NORMAL` survives `kill -9` only.
        public var synchronousFull: Bool
        /// How long a write waits for another process's write lock before it fails with
        /// `unavailable` (HTTP 503 with `Retry-After`). Within one `serve` process, writes never
        /// wait for each other's locks (one writer connection); only another process does that
        /// (an `agent-jobs` CLI command, a backup), and those hold the lock for milliseconds.
        /// 5 s rides out such a writer and answers well before a client's usual 30 s timeout.
        public var busyTimeout: TimeInterval
        /// How long the readiness check waits for the write lock before reporting "busy".
        public var readinessBusyTimeout: TimeInterval
        /// Number of reader connections.
        public var maximumReaderCount: Int
        /// The WAL size (in pages of 4 KiB) past which the writer checkpoints itself
        /// (`wal_autocheckpoint`). `checkpointer` keeps the WAL well below it.
        public var writerCheckpointPages: Int

        public init(
            synchronousFull: Bool = true, busyTimeout: TimeInterval = 5, readinessBusyTimeout: TimeInterval = 0.5,
            maximumReaderCount: Int = 8, writerCheckpointPages: Int = 10_000
        ) {
            self.synchronousFull = synchronousFull
            self.busyTimeout = busyTimeout
            self.readinessBusyTimeout = readinessBusyTimeout
            self.maximumReaderCount = maximumReaderCount
            self.writerCheckpointPages = writerCheckpointPages
        }
    }

    let pool: DatabasePool
    /// Connections of their own for the token lookup of every request.
    private let pointReaders: PointReaders
    let configuration: Configuration
    /// Checkpoints the store's WAL in the background: run it beside the store.
    public let checkpointer: SQLiteCheckpointer
    let jobTypes = JobTypeCache()
    private let creates: GroupCommit<CreateRequest, CreateJobOutcome>
    /// Task outcomes recorded at once share one transaction (one fsync) and one savepoint.
    let finishes: GroupCommit<FinishRequest, FinishedTask?>

    struct CreateRequest: Sendable {
        var job: NewJob
        var idempotency: IdempotencyClaim?
        var date: Date
        /// The job's JSON columns, written before the request waits for the writer.
        var text: StoredJobText
    }

    /// Opens (creating when absent) the database file at `path`.
    public init(path: String, configuration: Configuration = .init()) throws {
        self.configuration = configuration
        var config = GRDB.Configuration()
        config.busyMode = .timeout(configuration.busyTimeout)
        config.maximumReaderCount = configuration.maximumReaderCount
        let synchronous = configuration.synchronousFull ? "FULL" : "NORMAL"
        let checkpointPages = configuration.writerCheckpointPages
        config.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = \(synchronous)")
            try db.execute(sql: "PRAGMA wal_autocheckpoint = \(checkpointPages)")
            // Statement journals and sorts in memory: on disk, a statement that writes several
            // rows (a create's INSERT when it had triggers) made, wrote and deleted a temporary
            // file.
            try db.execute(sql: "PRAGMA temp_store = MEMORY")
        }
        let directory = URL(fileURLWithPath: path).deletingLastPathComponent()
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        pool = try DatabasePool(path: path, configuration: config)
        pointReaders = try PointReaders(
            path: path, count: ProcessInfo.processInfo.activeProcessorCount, busyTimeout: configuration.busyTimeout)
        checkpointer = SQLiteCheckpointer(path: path)
        // A create without an idempotency key is one INSERT: atomic without a savepoint.
        creates = GroupCommit(writer: pool, needsSavepoint: { $0.idempotency != nil }) { write, request in
            try SQLiteJobStore.insert(request, write)
        }
        finishes = GroupCommit(
            writer: pool, prepare: { write, requests in try write.runningTasks.read(requests.map(\.taskID), write.db) }
        ) { write, request in try SQLiteJobStore.finish(request, write) }
    }

    /// A write transaction that may change jobs: the job counts and journal entries it gathers
    /// are written just before it commits (`SQLiteWrite`).
    func countedWrite<T: Sendable>(_ body: @escaping @Sendable (SQLiteWrite) throws -> T) async throws -> T {
        try await pool.transaction { db in try SQLiteWrite.run(db, body) }
    }

    /// A synchronous read on the calling thread (no hop to a reader queue), for point lookups.
    func readNow<T>(_ block: (Database) throws -> T) throws -> T {
        try pool.read(block)
    }

    public func migrate() async throws {
        let migrator = SQLiteMigrations.migrator
        // Checked on the writer, where the migrations then run: a reader connection opened on
        // the empty file before them kept a view without the schema (its index lists empty).
        let unknown = try await pool.write { db in
            try migrator.appliedIdentifiers(db).subtracting(Set(migrator.migrations)).sorted()
        }
        // An older build would write to a schema it does not know (since v10 it would stop
        // counting jobs): refuse, naming what it lacks.
        guard unknown.isEmpty else {
            throw AgentJobsError.unavailable(
                "the database was migrated by a newer agent-jobs (migrations \(unknown.joined(separator: ", ")) are "
                    + "unknown to this build); run that version or later")
        }
        try migrator.migrate(pool)
    }

    public func ping() async throws {
        _ = try await pool.read { db in try Int.fetchOne(db.cachedStatement(sql: "SELECT 1")) }
        // Reads go on while another process holds the write lock, but every write waits and
        // then fails: such a database is not ready. The probe waits briefly, not `busyTimeout`.
        let probe = Int(configuration.readinessBusyTimeout * 1000)
        let full = Int(configuration.busyTimeout * 1000)
        try await pool.writeWithoutTransaction { db in
            try db.execute(sql: "PRAGMA busy_timeout = \(probe)")
            defer { try? db.execute(sql: "PRAGMA busy_timeout = \(full)") }
            try db.beginTransaction(.immediate)
            try db.rollback()
        }
    }

    public func unavailability(of error: any Error) -> AgentJobsError? {
        guard let error = error as? DatabaseError,
            error.resultCode == .SQLITE_BUSY || error.resultCode == .SQLITE_LOCKED
        else { return nil }
        return .unavailable("the database is busy: another process holds its write lock; retry shortly")
    }

    // MARK: Organizations

    public func createOrganization(_ organization: Organization) async throws {
        try await translatingConstraints(duplicate: "organization '\(organization.id)' already exists") {
            try await pool.write { db in
                try db.execute(
                    sql: "INSERT INTO organizations(id, name, created_at) VALUES (?, ?, ?)",
                    arguments: [organization.id, organization.name, Timestamp.millis(organization.createdAt)])
            }
        }
    }

    public func organization(id: String) async throws -> Organization? {
        try readNow { db in
            try Row.fetchOne(db.cachedStatement(sql: "SELECT * FROM organizations WHERE id = ?"), arguments: [id])
                .map(Self.organization(from:))
        }
    }

    public func organizations() async throws -> [Organization] {
        try await pool.read { db in
            try Row.fetchAll(db.cachedStatement(sql: "SELECT * FROM organizations ORDER BY id")).map(
                Self.organization(from:))
        }
    }

    public func jobTypes() async throws -> [JobType] {
        try await pool.read { db in
            try Row.fetchAll(db.cachedStatement(sql: "SELECT * FROM job_types ORDER BY id")).map(Self.jobType(from:))
        }
    }

    // MARK: Tokens

    public func createToken(_ token: AppToken) async throws {
        try await translatingConstraints(
            duplicate: "token '\(token.id)' already exists",
            missingReference: "organization '\(token.orgID)' does not exist"
        ) {
            try await pool.write { db in
                try db.execute(
                    sql: """
                        INSERT INTO app_tokens(id, org_id, access, name, secret_hash, created_at, revoked_at)
                        VALUES (?, ?, ?, ?, ?, ?, ?)
                        """,
                    arguments: [
                        token.id, token.orgID, token.accessList, token.name, token.secretHash,
                        Timestamp.millis(token.createdAt), token.revokedAt.map(Timestamp.millis),
                    ])
            }
        }
    }

    // Point lookups by primary key run synchronously on the calling thread: they take
    // microseconds, and an async hop to GRDB's reader queue costs more than the query.

    public func token(id: String) async throws -> AppToken? {
        try pointReaders.firstRow(
            "SELECT id, org_id, access, name, secret_hash, created_at, revoked_at FROM app_tokens WHERE id = ?", key: id
        ) { row in
            AppToken(
                id: row.text(0), orgID: row.text(1), access: AppToken.accessSet(row.text(2)),
                name: row.optionalText(3), secretHash: row.text(4), createdAt: Timestamp.date(millis: row.int64(5)),
                revokedAt: row.optionalInt64(6).map { Timestamp.date(millis: $0) })
        }
    }

    public func tokens(orgID: String) async throws -> [AppToken] {
        try await pool.read { db in
            try Row.fetchAll(
                db.cachedStatement(sql: "SELECT * FROM app_tokens WHERE org_id = ? ORDER BY created_at, id"),
                arguments: [orgID]
            ).map(Self.token(from:))
        }
    }

    public func revokeToken(id: String, at date: Date) async throws -> Bool {
        try await pool.write { db in
            guard
                try Row.fetchOne(db.cachedStatement(sql: "SELECT 1 FROM app_tokens WHERE id = ?"), arguments: [id])
                    != nil
            else { return false }
            try db.execute(
                sql: "UPDATE app_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
                arguments: [Timestamp.millis(date), id])
            return true
        }
    }

    // MARK: Job types

    public func createJobType(_ jobType: JobType) async throws {
        let executor = try String(decoding: JSONEncoder().encode(jobType.executor), as: UTF8.self)
        let defaults = try String(decoding: JSONEncoder().encode(jobType.defaultConfig), as: UTF8.self)
        let environment = try String(decoding: JSONEncoder().encode(jobType.environment), as: UTF8.self)
        try await translatingConstraints(
            duplicate: "job type '\(jobType.id)' already exists",
            missingReference: "organization '\(jobType.orgID ?? "")' does not exist"
        ) {
            try await pool.write { db in
                try db.execute(
                    sql: """
                        INSERT INTO job_types(id, org_id, executor, default_config, environment, task_timeout_minutes,
                                              created_at)
                        VALUES (?, ?, ?, ?, ?, ?, ?)
                        """,
                    arguments: [
                        jobType.id, jobType.orgID, executor, defaults, environment, jobType.taskTimeoutMinutes,
                        Timestamp.millis(jobType.createdAt),
                    ])
            }
        }
    }

    public func jobType(id: String) async throws -> JobType? {
        try jobTypes.jobType(id: id) {
            try readNow { db in
                try Row.fetchOne(db.cachedStatement(sql: "SELECT * FROM job_types WHERE id = ?"), arguments: [id])
                    .map(Self.jobType(from:))
            }
        }
    }

    // MARK: Jobs

    public func createJob(
        _ job: NewJob, idempotency: IdempotencyClaim?, at date: Date, confirmingToken: String?
    ) async throws -> CreateJobOutcome {
        // The one database is read right before the write: a revocation committed before
        // this create is seen (PostgreSQL confirms in the create's own statement instead).
        if let confirmingToken {
            guard let token = try await token(id: confirmingToken), token.revokedAt == nil else {
                throw AgentJobsError.tokenRevoked
            }
        }
        return try await creates.submit(
            CreateRequest(job: job, idempotency: idempotency, date: date, text: StoredJobText(job)))
    }

    public func job(id: String) async throws -> Job? {
        try readNow { db in try Self.loadJob(id: id, db) }
    }

    public func listJobs(_ query: JobQuery) async throws -> JobPage {
        try await pool.read { db in try SQLiteJobList(query: query).run(db) }
    }

    public func cancelJob(id: String, orgID: String, reason: String?, at date: Date) async throws -> CancelOutcome {
        try await countedWrite { write in
            let db = write.db
            guard
                let row = try Row.fetchOne(
                    db.cachedStatement(sql: "SELECT \(Self.runStateSelect) FROM jobs WHERE id = ?"), arguments: [id])
            else {
                return .notFound
            }
            let running = try String.fetchOne(
                db.cachedStatement(sql: "SELECT id FROM tasks WHERE job_id = ? AND status = 'RUNNING'"), arguments: [id]
            )
            switch JobStateMachine.cancel(
                try Self.runState(atPositionsOf: row), runningTaskID: running, byOrg: orgID, reason: reason, now: date)
            {
            case .forbidden: return .forbidden
            case .alreadyTerminal(let status): return .alreadyTerminal(status)
            case .cancel(let transition):
                try SQLiteTransitions.apply(transition, write)
                guard let job = try Self.loadJob(id: id, db) else { return .notFound }
                return .canceled(job)
            }
        }
    }
}

/// Runs `body`, turning SQLite constraint violations into client errors.
func translatingConstraints<T>(
    duplicate: String, missingReference: String = "a referenced record does not exist",
    _ body: () async throws -> T
) async throws -> T {
    try await ConstraintViolation.translating(
        duplicate: duplicate, missingReference: missingReference,
        classify: { error in
            guard let error = error as? DatabaseError else { return nil }
            if error.isUniqueViolation { return .duplicate }
            return error.isForeignKeyViolation ? .missingReference : nil
        }, body)
}

extension DatabaseError {
    var isUniqueViolation: Bool {
        extendedResultCode == .SQLITE_CONSTRAINT_PRIMARYKEY || extendedResultCode == .SQLITE_CONSTRAINT_UNIQUE
    }
    var isForeignKeyViolation: Bool { extendedResultCode == .SQLITE_CONSTRAINT_FOREIGNKEY }
}
