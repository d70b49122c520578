import AgentJobsCore
import Foundation
import Logging
import NIOSSL
import PostgresNIO
import ServiceLifecycle

/// The PostgreSQL store: any number of `serve` processes may share one database. Claims use
/// `FOR UPDATE SKIP LOCKED`; wake-ups and cancels travel between nodes by LISTEN/NOTIFY.
public final class PostgresJobStore: JobStore, Sendable {
    /// Pool and statement settings.
    public struct Configuration: Sendable {
        /// Largest number of pooled connections (plus one for LISTEN when an engine runs).
        public var maximumConnections: Int
        /// Connections opened at start and kept open (at most `maximumConnections`): leases
        /// take them first, and they go idle without the pool's idle and keep-alive timers.
        /// `keepAlive` pings them. The pool opens the others on demand and closes each after a
        /// minute idle.
        public var keptConnections: Int
        /// How often `keepAlive` pings the kept connections.
        public var keepAliveInterval: Duration
        /// Whether the frequent statements go prepared (`Statements`); the database URL's
        /// `prepared_statements=off` turns it off, for a pooler that does not track them.
        public var preparedStatements: Bool

        public init(
            maximumConnections: Int = 20, keptConnections: Int = 4, keepAliveInterval: Duration = .seconds(30),
            preparedStatements: Bool = true
        ) {
            self.maximumConnections = maximumConnections
            self.keptConnections = keptConnections
            self.keepAliveInterval = keepAliveInterval
            self.preparedStatements = preparedStatements
        }
    }

    static let dueChannel = "agent_jobs_due"
    static let cancelChannel = "agent_jobs_cancel"

    /// The connection pool. It must run (`PostgresClient` is a swift-service-lifecycle
    /// `Service`: add it to the process's service group) for the store to answer.
    public let client: PostgresClient
    /// Pings the pool's kept connections; run it beside `client` (`services`).
    public let keepAlive: PostgresKeepAlive
    /// What a process runs for the store, in start order: the pool, then its keep-alive.
    public var services: [any Service] { [client, keepAlive] }
    let logger: Logger
    /// `host:port` of the server, for messages (never the credentials).
    let endpoint: String
    let connectTimeout: Duration = .seconds(10)
    let jobTypes = JobTypeCache()
    /// This process's identity among the nodes (for the maintenance leader's row).
    let nodeID = Identifier.make(prefix: "node")

    /// Where the store's time comes from: the database's clock, or (tests that move time by
    /// hand) a given clock.
    let clock: (any WallClock)?
    /// Task outcomes recorded at once share one transaction (`WriteBatcher`).
    let finishes: WriteBatcher<FinishRequest, FinishedTask?>
    /// Creates made at once share one statement (`PostgresCreates.swift`).
    let creates: WriteBatcher<CreateRequest, CreateJobOutcome>
    /// Token lookups made at once share one query (`PostgresTokenLookups.swift`).
    let tokenLookups: WriteBatcher<String, AppToken?>
    /// How the frequent statements are sent: prepared, unless turned off or a clock is given.
    let statements: Statements

    /// A store over `client`, which the caller runs as a service. Due, lease and deadline
    /// comparisons use the database's clock unless `clock` is given (tests only; its time is
    /// written into the statements, which then go unnamed). `keptConnections`: how many of
    /// the client's connections `keepAlive` pings (its `minimumConnections`, when its own
    /// keep-alive is off; none by default).
    public init(
        client: PostgresClient, endpoint: String, clock: (any WallClock)? = nil, preparedStatements: Bool = true,
        keptConnections: Int = 0, keepAliveInterval: Duration = .seconds(30),
        logger: Logger = Logger(label: "agent-jobs.postgres")
    ) {
        self.client = client
        keepAlive = PostgresKeepAlive(
            client: client, connections: keptConnections, interval: keepAliveInterval, logger: logger)
        self.endpoint = endpoint
        self.clock = clock
        self.logger = logger
        let statements = Statements(prepared: preparedStatements && clock == nil)
        self.statements = statements
        finishes = WriteBatcher { requests in
            try await Self.finish(requests, client: client, nowSQL: { Self.nowSQL(clock) }, logger: logger)
        }
        creates = Self.makeCreates(client: client, statements: statements, logger: logger)
        tokenLookups = Self.makeTokenLookups(client: client, statements: statements, logger: logger)
    }

    /// The store's current time in milliseconds, as SQL: the database's clock, or the given one.
    var nowSQL: String { Self.nowSQL(clock) }

    static func nowSQL(_ clock: (any WallClock)?) -> String {
        clock.map { "(\(Timestamp.millis($0.now())))::bigint" } ?? databaseNowMillis
    }

    /// A store with a new client for `url` (`postgres://user:pass@host:port/db` with any of
    /// `?sslmode=disable|prefer|require`, `search_path=S`, `prepared_statements=on|off`).
    /// Run `store.services` before using the store.
    public convenience init(
        url: String, configuration: Configuration = .init(), clock: (any WallClock)? = nil,
        logger: Logger = Logger(label: "agent-jobs.postgres")
    ) throws {
        guard let components = URLComponents(string: url), let host = components.host, !host.isEmpty else {
            throw AgentJobsError.badRequest("database URL '\(Self.redacted(url))' has no host")
        }
        let database = components.path.hasPrefix("/") ? String(components.path.dropFirst()) : components.path
        let sslmode = components.queryItems?.first { $0.name == "sslmode" }?.value ?? "disable"
        let tls: PostgresClient.Configuration.TLS
        switch sslmode {
        case "disable": tls = .disable
        case "prefer": tls = .prefer(.makeClientConfiguration())
        case "require": tls = .require(.makeClientConfiguration())
        default: throw AgentJobsError.badRequest("database URL: sslmode must be disable, prefer or require")
        }
        var configuration = configuration
        switch components.queryItems?.first(where: { $0.name == "prepared_statements" })?.value {
        case nil: break
        case "on": configuration.preparedStatements = true
        case "off": configuration.preparedStatements = false
        default: throw AgentJobsError.badRequest("database URL: prepared_statements must be on or off")
        }
        var clientConfiguration = PostgresClient.Configuration(
            host: host, port: components.port ?? 5432, username: components.user ?? "postgres",
            password: components.password, database: database.isEmpty ? nil : database, tls: tls)
        clientConfiguration.options.maximumConnections = configuration.maximumConnections
        // The pool's keep-alive and idle timers are tasks of its own: one scheduled each time a
        // connection goes idle, cancelled at its next lease. Kept connections have neither;
        // `keepAlive` pings them instead (`PostgresKeepAlive`).
        let kept = max(0, min(configuration.keptConnections, configuration.maximumConnections))
        clientConfiguration.options.minimumConnections = kept
        clientConfiguration.options.keepAliveBehavior = nil
        if let schema = components.queryItems?.first(where: { $0.name == "search_path" })?.value {
            clientConfiguration.options.additionalStartupParameters = [("search_path", schema)]
        }
        // The pool's own chatter (such as a lease requested a moment before `run()` starts)
        // stays out of the service log; errors still show.
        var poolLogger = logger
        poolLogger.logLevel = .error
        self.init(
            client: PostgresClient(configuration: clientConfiguration, backgroundLogger: poolLogger),
            endpoint: "\(host):\(components.port ?? 5432)", clock: clock,
            preparedStatements: configuration.preparedStatements, keptConnections: kept,
            keepAliveInterval: configuration.keepAliveInterval, logger: logger)
    }

    /// A URL with its password hidden, for messages and logs.
    static func redacted(_ url: String) -> String {
        guard var components = URLComponents(string: url), components.password != nil else { return url }
        components.password = "***"
        return components.string ?? "postgres://***"
    }

    /// Runs `body` in a transaction, rethrowing the body's own error rather than postgres-nio's
    /// wrapper, so that `AgentJobsError`s and SQL states reach the callers unchanged.
    func transaction<Result: Sendable>(_ body: (PostgresConnection) async throws -> Result) async throws -> Result {
        try await Self.transaction(client, logger: logger, body)
    }

    static func transaction<Result: Sendable>(
        _ client: PostgresClient, logger: Logger, _ body: (PostgresConnection) async throws -> Result
    ) async throws -> Result {
        do {
            return try await client.withTransaction(logger: logger) { connection in try await body(connection) }
        } catch let error as PostgresTransactionError {
            throw error.closureError ?? error.commitError ?? error.beginError ?? error
        }
    }

    public func migrate() async throws {
        // The pool retries connecting forever; the first contact gets a deadline and a message.
        try await withDeadline(connectTimeout, "could not connect to PostgreSQL at \(endpoint)") {
            try await self.client.query("SELECT 1", logger: self.logger)
        }
        try await PostgresMigrations.migrate(client, logger: logger)
    }

    public func ping() async throws {
        try await withDeadline(.seconds(2), "PostgreSQL at \(endpoint) did not answer") {
            try await self.client.query("SELECT 1", logger: self.logger)
        }
    }

    public func unavailability(of error: any Error) -> AgentJobsError? {
        guard let error = error as? PSQLError else { return nil }
        switch error.code {
        case .connectionError, .serverClosedConnection, .clientClosedConnection, .uncleanShutdown, .poolClosed:
            return .unavailable("the database is unreachable; retry shortly")
        case .server:
            // 53xxx: insufficient resources (too many connections, out of memory or disk);
            // 57P0x: the server is shutting down or starting; 40001/40P01: serialization, deadlock.
            let state = error.serverInfo?[.sqlState] ?? ""
            guard state.hasPrefix("53") || state.hasPrefix("57P0") || state == "40001" || state == "40P01"
            else { return nil }
            return .unavailable("the database cannot take this request now (SQLSTATE \(state)); retry shortly")
        default:
            return nil
        }
    }

    /// Runs `operation`, failing with `message` if it takes longer than `limit`.
    func withDeadline(
        _ limit: Duration, _ message: String, _ operation: @escaping @Sendable () async throws -> Void
    ) async throws {
        try await AgentJobsPostgres.withDeadline(
            limit, orThrow: { AgentJobsError(.internal, "\(message) within \(limit)") }, operation)
    }

    // MARK: Organizations, tokens, job types

    public func createOrganization(_ organization: Organization) async throws {
        try await translatingConstraints(duplicate: "organization '\(organization.id)' already exists") {
            try await client.query(
                """
                INSERT INTO organizations(id, name, created_at)
                VALUES (\(organization.id), \(organization.name), \(Timestamp.millis(organization.createdAt)))
                """, logger: logger)
        }
    }

    public func organization(id: String) async throws -> Organization? {
        try await PostgresRows.all(client.query("SELECT * FROM organizations WHERE id = \(id)", logger: logger))
            .first.map(PostgresRows.organization)
    }

    public func organizations() async throws -> [Organization] {
        try await PostgresRows.all(client.query("SELECT * FROM organizations ORDER BY id", logger: logger))
            .map(PostgresRows.organization)
    }

    public func jobTypes() async throws -> [JobType] {
        try await PostgresRows.all(client.query("SELECT * FROM job_types ORDER BY id", logger: logger))
            .map(PostgresRows.jobType)
    }

    public func createToken(_ token: AppToken) async throws {
        try await translatingConstraints(
            duplicate: "token '\(token.id)' already exists",
            missingReference: "organization '\(token.orgID)' does not exist"
        ) {
            try await client.query(
                """
                INSERT INTO app_tokens(id, org_id, access, name, secret_hash, created_at, revoked_at)
                VALUES (\(token.id), \(token.orgID), \(token.accessList), \(token.name), \(token.secretHash),
                        \(Timestamp.millis(token.createdAt)), \(token.revokedAt.map(Timestamp.millis)))
                """, logger: logger)
        }
    }

    public func token(id: String) async throws -> AppToken? {
        try await tokenLookups.submit(id)
    }

    public func tokens(orgID: String) async throws -> [AppToken] {
        try await PostgresRows.all(
            client.query("SELECT * FROM app_tokens WHERE org_id = \(orgID) ORDER BY created_at, id", logger: logger)
        ).map(PostgresRows.token)
    }

    public func revokeToken(id: String, at date: Date) async throws -> Bool {
        guard try await token(id: id) != nil else { return false }
        try await client.query(
            "UPDATE app_tokens SET revoked_at = \(Timestamp.millis(date)) WHERE id = \(id) AND revoked_at IS NULL",
            logger: logger)
        return true
    }

    public func createJobType(_ jobType: JobType) async throws {
        let executor = String(decoding: try JSONEncoder().encode(jobType.executor), as: UTF8.self)
        let defaults = String(decoding: try JSONEncoder().encode(jobType.defaultConfig), as: UTF8.self)
        let environment = String(decoding: try JSONEncoder().encode(jobType.environment), as: UTF8.self)
        try await translatingConstraints(
            duplicate: "job type '\(jobType.id)' already exists",
            missingReference: "organization '\(jobType.orgID ?? "")' does not exist"
        ) {
            try await client.query(
                """
                INSERT INTO job_types(id, org_id, executor, default_config, environment, task_timeout_minutes, created_at)
                VALUES (\(jobType.id), \(jobType.orgID), \(executor), \(defaults), \(environment),
                        \(jobType.taskTimeoutMinutes), \(Timestamp.millis(jobType.createdAt)))
                """, logger: logger)
        }
    }

    public func jobType(id: String) async throws -> JobType? {
        try await jobTypes.jobType(id: id) {
            try await PostgresRows.all(client.query("SELECT * FROM job_types WHERE id = \(id)", logger: logger))
                .first.map(PostgresRows.jobType)
        }
    }

    // MARK: Jobs

    public func createJob(
        _ job: NewJob, idempotency: IdempotencyClaim?, at date: Date, confirmingToken: String?
    ) async throws -> CreateJobOutcome {
        try await creates.submit(CreateRequest(job: job, idempotency: idempotency, date: date, token: confirmingToken))
    }

    /// Inserts a job in the transaction of `connection`, or replays or refuses its key; with
    /// `token`, only while that app token exists unrevoked.
    static func insert(
        _ job: NewJob, idempotency: IdempotencyClaim?, at date: Date, token: String? = nil,
        _ connection: PostgresConnection, logger: Logger
    ) async throws -> CreateJobOutcome {
        if let token,
            try await connection.query(
                "SELECT 1 FROM app_tokens WHERE id = \(token) AND revoked_at IS NULL", logger: logger
            ).collect().isEmpty
        {
            throw AgentJobsError.tokenRevoked
        }
        if let claim = idempotency,
            let firstID = try await recordClaim(
                claim, orgID: job.orgID, recordID: job.id, date: date, connection, logger: logger,
                exists: { try await loadJob(id: $0, connection, logger: logger) != nil }),
            let first = try await loadJob(id: firstID, connection, logger: logger)
        {
            return .replayed(first)
        }
        try await connection.query(insertQuery(JobInsertRow(job)), logger: logger)
        return .created(job.asJob)
    }

    /// Inserts the job, its idempotency key when one is given and not yet recorded, and the
    /// due notification, in one statement (one round trip, no explicit transaction). Returns
    /// false, having written nothing, when the key is already recorded: the caller then takes
    /// the transaction that replays, refuses or replaces it (`IdempotencyClaim.decide`).
    ///
    /// With `token`, the statement writes only while that app token exists unrevoked, and
    /// also returns false having written nothing when it does not (`createHoldingKey` then
    /// answers `.unauthorized`): the request's token confirmed in the create's own round trip.
    static func insertInOneStatement(
        _ job: NewJob, idempotency: IdempotencyClaim?, at date: Date, token: String?, _ client: PostgresClient,
        statements: Statements, logger: Logger
    ) async throws -> Bool {
        let row = JobInsertRow(job)
        guard let claim = idempotency else {
            let inserted = try await statements.rows(insertQuery(row, confirming: token), on: client, logger: logger)
            return !inserted.isEmpty
        }
        let inserted = try await statements.rows(
            """
            WITH claimed AS (
                INSERT INTO idempotency_keys(org_id, key, fingerprint, job_id, created_at)
                SELECT \(row.orgID), \(claim.storedKey), \(claim.fingerprint), \(row.id), \(Timestamp.millis(date))
                WHERE \(token)::text IS NULL
                   OR EXISTS (SELECT 1 FROM app_tokens WHERE id = \(token) AND revoked_at IS NULL)
                ON CONFLICT (org_id, key) DO NOTHING
                RETURNING job_id
            ), inserted AS (
                INSERT INTO jobs(\(unescaped: JobInsertRow.columns))
                SELECT claimed.job_id, \(row.orgID), \(row.jobTypeID), \(row.channelCode), \(row.status),
                       \(row.channel), \(row.config), \(row.params), \(row.created), \(row.created),
                       \(row.scheduled), \(row.scheduled), 'initial', \(row.scheduleID), \(row.occurrence)
                FROM claimed
                RETURNING next_run_at
            )
            SELECT pg_notify(\(dueChannel), next_run_at::text) FROM inserted
            """, on: client, logger: logger)
        return !inserted.isEmpty
    }

    /// Inserts a job and sends its due notification, in one statement; with `token`, only
    /// while that app token exists unrevoked.
    static func insertQuery(_ row: JobInsertRow, confirming token: String? = nil) -> PostgresQuery {
        """
        WITH inserted AS (
            INSERT INTO jobs(\(unescaped: JobInsertRow.columns))
            SELECT \(row.id), \(row.orgID), \(row.jobTypeID), \(row.channelCode), \(row.status),
                   \(row.channel), \(row.config), \(row.params), \(row.created), \(row.created),
                   \(row.scheduled), \(row.scheduled), 'initial', \(row.scheduleID), \(row.occurrence)
            WHERE \(token)::text IS NULL
               OR EXISTS (SELECT 1 FROM app_tokens WHERE id = \(token) AND revoked_at IS NULL)
            RETURNING next_run_at
        )
        SELECT pg_notify(\(dueChannel), next_run_at::text) FROM inserted
        """
    }

    /// Applies `claim` (`IdempotencyClaim.decide`) with the key's row locked: records the key
    /// for `recordID` and returns nil, or returns the id of the record an identical earlier
    /// request created (when `exists` still finds it).
    static func recordClaim(
        _ claim: IdempotencyClaim, orgID: String, recordID: String, date: Date, _ connection: PostgresConnection,
        logger: Logger, exists: (String) async throws -> Bool
    ) async throws -> String? {
        let key = claim.storedKey
        let existing = try await PostgresRows.all(
            connection.query(
                """
                SELECT fingerprint, job_id, created_at FROM idempotency_keys
                WHERE org_id = \(orgID) AND key = \(key) FOR UPDATE
                """, logger: logger)
        ).first.map {
            IdempotencyRecord(
                fingerprint: try $0.string("fingerprint"), jobID: try $0.string("job_id"),
                createdAt: try $0.date("created_at"))
        }
        switch try claim.decide(existing: existing, now: date) {
        case .replay(let firstID):
            if try await exists(firstID) { return firstID }
            fallthrough
        case .replaceExpired:
            try await connection.query(
                "DELETE FROM idempotency_keys WHERE org_id = \(orgID) AND key = \(key)", logger: logger)
        case .insert:
            break
        }
        try await connection.query(
            """
            INSERT INTO idempotency_keys(org_id, key, fingerprint, job_id, created_at)
            VALUES (\(orgID), \(key), \(claim.fingerprint), \(recordID), \(Timestamp.millis(date)))
            """, logger: logger)
        return nil
    }

    public func job(id: String) async throws -> Job? {
        try await client.withConnection { connection in
            try await Self.loadJob(id: id, connection, logger: logger)
        }
    }

    static func loadJob(id: String, _ connection: PostgresConnection, logger: Logger) async throws -> Job? {
        guard
            let row = try await PostgresRows.all(
                connection.query("SELECT * FROM jobs WHERE id = \(id)", logger: logger)
            ).first
        else { return nil }
        let tasks = try await PostgresRows.all(
            connection.query("SELECT * FROM tasks WHERE job_id = \(id) ORDER BY attempt", logger: logger)
        ).map(PostgresRows.task)
        var job = try PostgresRows.job(row, tasks: tasks)
        try await addEventsAndProgress(to: &job, connection, logger: logger)
        return job
    }

    public func listJobs(_ query: JobQuery) async throws -> JobPage {
        let list = PostgresJobList(query: query)
        guard list.wantsSnapshot else {
            return try await client.withConnection { connection in try await list.run(connection, logger: logger) }
        }
        return try await transaction { connection in
            try await connection.query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY", logger: logger)
            return try await list.run(connection, logger: logger, inSnapshot: true)
        }
    }

    public func cancelJob(id: String, orgID: String, reason: String?, at date: Date) async throws -> CancelOutcome {
        try await transaction { connection in
            guard
                let row = try await PostgresRows.all(
                    connection.query("SELECT * FROM jobs WHERE id = \(id) FOR UPDATE", logger: logger)
                ).first
            else { return .notFound }
            let running = try await connection.query(
                "SELECT id FROM tasks WHERE job_id = \(id) AND status = 'RUNNING' FOR UPDATE", logger: logger
            ).collect().first?.decode(String.self)
            switch JobStateMachine.cancel(
                try PostgresRows.runState(row), runningTaskID: running, byOrg: orgID, reason: reason,
                now: try await self.databaseNow(connection))
            {
            case .forbidden: return .forbidden
            case .alreadyTerminal(let status): return .alreadyTerminal(status)
            case .cancel(let transition):
                try await PostgresTransitions.apply(transition, connection, logger: logger)
                guard let job = try await Self.loadJob(id: id, connection, logger: logger) else { return .notFound }
                return .canceled(job)
            }
        }
    }
}
