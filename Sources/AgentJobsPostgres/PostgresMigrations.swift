import Logging
import PostgresNIO

/// The versioned schema of the PostgreSQL store. Migrations are append-only; each runs in
/// a transaction under an advisory lock, so several nodes may start at once.
enum PostgresMigrations {
    static let all: [(version: Int, name: String, sql: [String])] = [
        (
            1, "tenancy-jobs-engine",
            [
                """
                CREATE TABLE organizations (
                    id TEXT PRIMARY KEY,
                    name TEXT,
                    created_at BIGINT NOT NULL
                )
                """,
                """
                CREATE TABLE app_tokens (
                    id TEXT PRIMARY KEY,
                    org_id TEXT NOT NULL REFERENCES organizations(id),
                    access TEXT NOT NULL,
                    name TEXT,
                    secret_hash TEXT NOT NULL,
                    created_at BIGINT NOT NULL,
                    revoked_at BIGINT
                )
                """,
                "CREATE INDEX app_tokens_by_org ON app_tokens(org_id, created_at)",
                """
                CREATE TABLE job_types (
                    id TEXT PRIMARY KEY,
                    org_id TEXT REFERENCES organizations(id),
                    executor TEXT NOT NULL,
                    default_config TEXT NOT NULL,
                    created_at BIGINT NOT NULL
                )
                """,
                """
                CREATE TABLE jobs (
                    id TEXT PRIMARY KEY,
                    org_id TEXT NOT NULL,
                    job_type_id TEXT NOT NULL,
                    channel_code TEXT NOT NULL,
                    status TEXT NOT NULL,
                    target_channel TEXT NOT NULL,
                    config TEXT NOT NULL,
                    params TEXT NOT NULL,
                    created_at BIGINT NOT NULL,
                    updated_at BIGINT NOT NULL,
                    scheduled_at BIGINT NOT NULL,
                    started_at BIGINT,
                    finished_at BIGINT,
                    result TEXT,
                    cancel_reason TEXT,
                    next_run_at BIGINT,
                    next_kind TEXT,
                    deadline_at BIGINT,
                    attempts INTEGER NOT NULL DEFAULT 0,
                    follow_ups INTEGER NOT NULL DEFAULT 0,
                    retries INTEGER NOT NULL DEFAULT 0
                )
                """,
                "CREATE INDEX jobs_by_org_created ON jobs(org_id, created_at, id)",
                "CREATE INDEX jobs_by_org_status_created ON jobs(org_id, status, created_at, id)",
                "CREATE INDEX jobs_by_org_scheduled ON jobs(org_id, scheduled_at, id)",
                "CREATE INDEX jobs_by_org_status_scheduled ON jobs(org_id, status, scheduled_at, id)",
                "CREATE INDEX jobs_by_org_updated ON jobs(org_id, updated_at, id)",
                "CREATE INDEX jobs_by_org_type_created ON jobs(org_id, job_type_id, created_at, id)",
                "CREATE INDEX jobs_by_org_channel_created ON jobs(org_id, channel_code, created_at, id)",
                "CREATE INDEX jobs_due_by_org ON jobs(org_id, next_run_at, id) WHERE next_run_at IS NOT NULL",
                "CREATE INDEX jobs_due ON jobs(next_run_at) WHERE next_run_at IS NOT NULL",
                "CREATE INDEX jobs_running_deadline ON jobs(deadline_at) WHERE status = 'RUNNING'",
                """
                CREATE TABLE tasks (
                    id TEXT PRIMARY KEY,
                    job_id TEXT NOT NULL REFERENCES jobs(id),
                    kind TEXT NOT NULL,
                    attempt INTEGER NOT NULL,
                    status TEXT NOT NULL,
                    created_at BIGINT NOT NULL,
                    started_at BIGINT,
                    finished_at BIGINT,
                    result TEXT,
                    error TEXT,
                    lease_owner TEXT,
                    lease_expires_at BIGINT,
                    UNIQUE (job_id, attempt)
                )
                """,
                "CREATE INDEX tasks_running_lease ON tasks(lease_expires_at) WHERE status = 'RUNNING'",
                """
                CREATE TABLE idempotency_keys (
                    org_id TEXT NOT NULL,
                    key TEXT NOT NULL,
                    fingerprint TEXT NOT NULL,
                    job_id TEXT NOT NULL,
                    created_at BIGINT NOT NULL,
                    PRIMARY KEY (org_id, key)
                )
                """,
            ]
        ),
        (
            2, "maintenance-leader",
            [
                """
                CREATE TABLE leaders (
                    role TEXT PRIMARY KEY,
                    node TEXT NOT NULL,
                    expires_at BIGINT NOT NULL
                )
                """
            ]
        ),
        (
            3, "job-type-environment-and-timeout",
            [
                "ALTER TABLE job_types ADD COLUMN environment TEXT NOT NULL DEFAULT '[]'",
                "ALTER TABLE job_types ADD COLUMN task_timeout_minutes DOUBLE PRECISION NOT NULL DEFAULT 60",
            ]
        ),
        (
            4, "schedules",
            [
                """
                CREATE TABLE schedules (
                    id TEXT PRIMARY KEY,
                    org_id TEXT NOT NULL REFERENCES organizations(id),
                    name TEXT,
                    cron TEXT NOT NULL,
                    timezone TEXT NOT NULL,
                    job TEXT NOT NULL,
                    job_type_id TEXT NOT NULL,
                    delay_minutes INTEGER NOT NULL,
                    overlap TEXT NOT NULL,
                    paused BOOLEAN NOT NULL,
                    next_run_at BIGINT,
                    last_run_at BIGINT,
                    last_job_id TEXT,
                    runs BIGINT NOT NULL DEFAULT 0,
                    skipped BIGINT NOT NULL DEFAULT 0,
                    created_at BIGINT NOT NULL,
                    updated_at BIGINT NOT NULL
                )
                """,
                "CREATE INDEX schedules_by_org_created ON schedules(org_id, created_at, id)",
                "CREATE INDEX schedules_due ON schedules(next_run_at) WHERE next_run_at IS NOT NULL",
                "ALTER TABLE jobs ADD COLUMN schedule_id TEXT",
                "ALTER TABLE jobs ADD COLUMN schedule_occurrence BIGINT",
                """
                CREATE UNIQUE INDEX jobs_schedule_occurrence ON jobs(schedule_id, schedule_occurrence)
                    WHERE schedule_id IS NOT NULL
                """,
                """
                CREATE INDEX jobs_by_org_schedule_created ON jobs(org_id, schedule_id, created_at, id)
                    WHERE schedule_id IS NOT NULL
                """,
            ]
        ),
        (
            5, "job-counts",
            [
                // Per (org, status, job type, channel) counts, so that `meta.total` of a list
                // filtered by those is a sum over a few rows. Writers append deltas (no row is
                // updated by two transactions, so creates never wait on each other); the
                // maintenance leader folds them into `job_counts` in one statement.
                """
                CREATE TABLE job_counts (
                    org_id TEXT NOT NULL,
                    status TEXT NOT NULL,
                    job_type_id TEXT NOT NULL,
                    channel_code TEXT NOT NULL,
                    count BIGINT NOT NULL,
                    PRIMARY KEY (org_id, status, job_type_id, channel_code)
                )
                """,
                """
                CREATE TABLE job_count_deltas (
                    org_id TEXT NOT NULL,
                    status TEXT NOT NULL,
                    job_type_id TEXT NOT NULL,
                    channel_code TEXT NOT NULL,
                    delta INTEGER NOT NULL
                )
                """,
                "CREATE INDEX job_count_deltas_by_org ON job_count_deltas(org_id)",
                """
                CREATE FUNCTION agent_jobs_count_job() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                    IF TG_OP IN ('UPDATE', 'DELETE') THEN
                        INSERT INTO job_count_deltas VALUES (OLD.org_id, OLD.status, OLD.job_type_id, OLD.channel_code, -1);
                    END IF;
                    IF TG_OP IN ('UPDATE', 'INSERT') THEN
                        INSERT INTO job_count_deltas VALUES (NEW.org_id, NEW.status, NEW.job_type_id, NEW.channel_code, 1);
                    END IF;
                    RETURN NULL;
                END
                $$
                """,
                """
                CREATE TRIGGER jobs_count AFTER INSERT OR DELETE ON jobs
                FOR EACH ROW EXECUTE FUNCTION agent_jobs_count_job()
                """,
                """
                CREATE TRIGGER jobs_count_status AFTER UPDATE OF status ON jobs
                FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status) EXECUTE FUNCTION agent_jobs_count_job()
                """,
                """
                INSERT INTO job_counts(org_id, status, job_type_id, channel_code, count)
                SELECT org_id, status, job_type_id, channel_code, COUNT(*) FROM jobs
                GROUP BY org_id, status, job_type_id, channel_code
                """,
            ]
        ),
        (
            6, "events-progress-journal",
            [
                // Events wait for a job's next task; progress reports belong to a task; the
                // journal is each job's history, read by its stream. Every writer of a job's
                // journal holds the job's row lock, so one job's entries commit in id order.
                "ALTER TABLE jobs ADD COLUMN pending_events INTEGER NOT NULL DEFAULT 0",
                "ALTER TABLE tasks ADD COLUMN progress_token_hash TEXT",
                """
                CREATE TABLE job_events (
                    id TEXT PRIMARY KEY,
                    job_id TEXT NOT NULL REFERENCES jobs(id),
                    type TEXT NOT NULL,
                    data TEXT NOT NULL,
                    created_at BIGINT NOT NULL,
                    delivered_to_task_id TEXT
                )
                """,
                "CREATE INDEX job_events_by_job ON job_events(job_id, created_at, id)",
                "CREATE INDEX job_events_undelivered ON job_events(job_id) WHERE delivered_to_task_id IS NULL",
                """
                CREATE TABLE task_progress (
                    id TEXT PRIMARY KEY,
                    job_id TEXT NOT NULL REFERENCES jobs(id),
                    task_id TEXT NOT NULL REFERENCES tasks(id),
                    message TEXT,
                    data TEXT NOT NULL,
                    created_at BIGINT NOT NULL
                )
                """,
                "CREATE INDEX task_progress_by_job ON task_progress(job_id, task_id, created_at, id)",
                """
                CREATE TABLE job_entries (
                    id BIGSERIAL PRIMARY KEY,
                    job_id TEXT NOT NULL,
                    kind TEXT NOT NULL,
                    ref_id TEXT,
                    status TEXT,
                    created_at BIGINT NOT NULL
                )
                """,
                "CREATE INDEX job_entries_by_job ON job_entries(job_id, id)",
                """
                INSERT INTO job_entries(job_id, kind, status, created_at)
                SELECT id, 'job', status, updated_at FROM jobs ORDER BY created_at, id
                """,
                """
                CREATE FUNCTION agent_jobs_journal_job() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                    INSERT INTO job_entries(job_id, kind, status, created_at)
                    VALUES (NEW.id, 'job', NEW.status, NEW.created_at);
                    RETURN NULL;
                END
                $$
                """,
                """
                CREATE TRIGGER jobs_journal AFTER INSERT ON jobs
                FOR EACH ROW EXECUTE FUNCTION agent_jobs_journal_job()
                """,
            ]
        ),
        (
            7, "retention",
            [
                // The purge finds finished jobs by status and age, and an idempotency record by
                // the record it names.
                "CREATE INDEX jobs_finished ON jobs(status, finished_at) WHERE finished_at IS NOT NULL",
                "CREATE INDEX idempotency_keys_by_record ON idempotency_keys(job_id)",
            ]
        ),
        (
            8, "task-due-times",
            [
                // When each task was due, for the dashboard's due → start lag.
                "ALTER TABLE tasks ADD COLUMN due_at bigint"
            ]
        ),
        (
            9, "counts-per-statement",
            [
                // Status changes and deletes are counted once per statement, not once per row:
                // the engine changes a batch of jobs in one UPDATE, and a row trigger ran a
                // PL/pgSQL function with two INSERTs for each of them (a drained job's two
                // changes wrote four delta rows). A statement trigger appends one delta per
                // (org, status, job type, channel) that changed, and none for an UPDATE that
                // left every status as it was. A create, one row per statement, runs one row
                // trigger that counts it and starts its journal (two functions before).
                // Triggers belong to the database: every node counts the same way.
                "DROP TRIGGER jobs_count_status ON jobs",
                "DROP TRIGGER jobs_count ON jobs",
                "DROP TRIGGER jobs_journal ON jobs",
                "DROP FUNCTION agent_jobs_count_job()",
                "DROP FUNCTION agent_jobs_journal_job()",
                """
                CREATE FUNCTION agent_jobs_job_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                    INSERT INTO job_count_deltas VALUES (NEW.org_id, NEW.status, NEW.job_type_id, NEW.channel_code, 1);
                    INSERT INTO job_entries(job_id, kind, status, created_at)
                    VALUES (NEW.id, 'job', NEW.status, NEW.created_at);
                    RETURN NULL;
                END
                $$
                """,
                """
                CREATE TRIGGER jobs_inserted AFTER INSERT ON jobs
                FOR EACH ROW EXECUTE FUNCTION agent_jobs_job_inserted()
                """,
                """
                CREATE FUNCTION agent_jobs_count_changed_jobs() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                    IF TG_OP = 'DELETE' THEN
                        INSERT INTO job_count_deltas
                        SELECT org_id, status, job_type_id, channel_code, -COUNT(*) FROM old_rows
                        GROUP BY org_id, status, job_type_id, channel_code;
                    ELSE
                        INSERT INTO job_count_deltas
                        SELECT org_id, status, job_type_id, channel_code, SUM(delta) FROM (
                            SELECT org_id, status, job_type_id, channel_code, -1 AS delta FROM old_rows
                            UNION ALL
                            SELECT org_id, status, job_type_id, channel_code, 1 AS delta FROM new_rows
                        ) AS changes
                        GROUP BY org_id, status, job_type_id, channel_code
                        HAVING SUM(delta) <> 0;
                    END IF;
                    RETURN NULL;
                END
                $$
                """,
                """
                CREATE TRIGGER jobs_count_deleted AFTER DELETE ON jobs
                REFERENCING OLD TABLE AS old_rows
                FOR EACH STATEMENT EXECUTE FUNCTION agent_jobs_count_changed_jobs()
                """,
                """
                CREATE TRIGGER jobs_count_updated AFTER UPDATE ON jobs
                REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
                FOR EACH STATEMENT EXECUTE FUNCTION agent_jobs_count_changed_jobs()
                """,
            ]
        ),
    ]

    static func migrate(_ client: PostgresClient, logger: Logger) async throws {
        try await client.withTransaction(logger: logger) { connection in
            // One migrator at a time across all nodes.
            try await connection.query("SELECT pg_advisory_xact_lock(727274)", logger: logger)
            try await connection.query(
                "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL)",
                logger: logger)
            var applied = Set<Int>()
            for try await version in try await connection.query("SELECT version FROM schema_migrations", logger: logger)
                .decode(Int.self)
            {
                applied.insert(version)
            }
            for migration in all where !applied.contains(migration.version) {
                for statement in migration.sql {
                    try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
                }
                try await connection.query(
                    "INSERT INTO schema_migrations(version, name) VALUES (\(migration.version), \(migration.name))",
                    logger: logger)
                logger.info(
                    "applied migration", metadata: ["version": "\(migration.version)", "name": "\(migration.name)"])
            }
        }
    }
}
