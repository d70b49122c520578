import GRDB

/// The versioned schema of the SQLite store. Migrations are append-only.
enum SQLiteMigrations {
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1-tenancy-and-jobs") { db in
            try db.execute(
                sql: """
                    CREATE TABLE organizations (
                        id TEXT PRIMARY KEY,
                        name TEXT,
                        created_at INTEGER NOT NULL
                    );
                    CREATE TABLE app_tokens (
                        id TEXT PRIMARY KEY,
                        org_id TEXT NOT NULL REFERENCES organizations(id),
                        access TEXT NOT NULL,
                        name TEXT,
                        secret_hash TEXT NOT NULL,
                        created_at INTEGER NOT NULL,
                        revoked_at INTEGER
                    );
                    CREATE INDEX app_tokens_by_org ON app_tokens(org_id, created_at);
                    CREATE TABLE job_types (
                        id TEXT PRIMARY KEY,
                        org_id TEXT REFERENCES organizations(id),
                        executor TEXT NOT NULL,
                        default_config TEXT NOT NULL,
                        created_at INTEGER NOT NULL
                    );
                    CREATE TABLE jobs (
                        id TEXT PRIMARY KEY,
                        org_id TEXT NOT NULL,
                        job_type_id TEXT NOT NULL,
                        channel_code TEXT NOT NULL,
                        status TEXT NOT NULL,
                        target_channel TEXT NOT NULL,
                        config TEXT NOT NULL,
                        params TEXT NOT NULL,
                        created_at INTEGER NOT NULL,
                        updated_at INTEGER NOT NULL,
                        scheduled_at INTEGER NOT NULL,
                        started_at INTEGER,
                        finished_at INTEGER,
                        result TEXT,
                        cancel_reason TEXT
                    );
                    CREATE INDEX jobs_by_org_created ON jobs(org_id, created_at, id);
                    CREATE INDEX jobs_by_org_status_created ON jobs(org_id, status, created_at, id);
                    CREATE INDEX jobs_by_org_scheduled ON jobs(org_id, scheduled_at, id);
                    CREATE INDEX jobs_by_org_status_scheduled ON jobs(org_id, status, scheduled_at, id);
                    CREATE INDEX jobs_by_org_updated ON jobs(org_id, updated_at, id);
                    CREATE INDEX jobs_by_org_type_created ON jobs(org_id, job_type_id, created_at, id);
                    CREATE INDEX jobs_by_org_channel_created ON jobs(org_id, channel_code, created_at, id);
                    CREATE TABLE tasks (
                        id TEXT PRIMARY KEY,
                        job_id TEXT NOT NULL REFERENCES jobs(id),
                        kind TEXT NOT NULL,
                        attempt INTEGER NOT NULL,
                        status TEXT NOT NULL,
                        created_at INTEGER NOT NULL,
                        started_at INTEGER,
                        finished_at INTEGER,
                        result TEXT,
                        error TEXT
                    );
                    CREATE INDEX tasks_by_job ON tasks(job_id, attempt);
                    CREATE TABLE idempotency_keys (
                        org_id TEXT NOT NULL,
                        key TEXT NOT NULL,
                        fingerprint TEXT NOT NULL,
                        job_id TEXT NOT NULL,
                        created_at INTEGER NOT NULL,
                        PRIMARY KEY (org_id, key)
                    ) WITHOUT ROWID;

                    -- Per-org, per-status counts kept by triggers, so that `meta.total` of a
                    -- status-filtered list needs no scan over a million rows.
                    CREATE TABLE job_counts (
                        org_id TEXT NOT NULL,
                        status TEXT NOT NULL,
                        count INTEGER NOT NULL,
                        PRIMARY KEY (org_id, status)
                    ) WITHOUT ROWID;
                    CREATE TRIGGER jobs_count_insert AFTER INSERT ON jobs BEGIN
                        INSERT INTO job_counts(org_id, status, count) VALUES (NEW.org_id, NEW.status, 1)
                        ON CONFLICT(org_id, status) DO UPDATE SET count = count + 1;
                    END;
                    CREATE TRIGGER jobs_count_update AFTER UPDATE OF status ON jobs
                    WHEN OLD.status <> NEW.status BEGIN
                        UPDATE job_counts SET count = count - 1
                        WHERE org_id = OLD.org_id AND status = OLD.status;
                        INSERT INTO job_counts(org_id, status, count) VALUES (NEW.org_id, NEW.status, 1)
                        ON CONFLICT(org_id, status) DO UPDATE SET count = count + 1;
                    END;
                    CREATE TRIGGER jobs_count_delete AFTER DELETE ON jobs BEGIN
                        UPDATE job_counts SET count = count - 1
                        WHERE org_id = OLD.org_id AND status = OLD.status;
                    END;
                    """)
        }
        migrator.registerMigration("v2-engine") { db in
            try db.execute(
                sql: """
                    ALTER TABLE jobs ADD COLUMN next_run_at INTEGER;
                    ALTER TABLE jobs ADD COLUMN next_kind TEXT;
                    ALTER TABLE jobs ADD COLUMN deadline_at INTEGER;
                    ALTER TABLE jobs ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
                    ALTER TABLE jobs ADD COLUMN follow_ups INTEGER NOT NULL DEFAULT 0;
                    ALTER TABLE jobs ADD COLUMN retries INTEGER NOT NULL DEFAULT 0;
                    UPDATE jobs SET next_run_at = scheduled_at, next_kind = 'initial'
                        WHERE status IN ('WAITING', 'SCHEDULED');
                    -- Due work per org in due order, and the earliest due time overall.
                    CREATE INDEX jobs_due_by_org ON jobs(org_id, next_run_at, id) WHERE next_run_at IS NOT NULL;
                    CREATE INDEX jobs_due ON jobs(next_run_at) WHERE next_run_at IS NOT NULL;
                    CREATE INDEX jobs_running_deadline ON jobs(deadline_at) WHERE status = 'RUNNING';
                    ALTER TABLE tasks ADD COLUMN lease_owner TEXT;
                    ALTER TABLE tasks ADD COLUMN lease_expires_at INTEGER;
                    CREATE INDEX tasks_running_lease ON tasks(lease_expires_at) WHERE status = 'RUNNING';
                    """)
        }
        migrator.registerMigration("v3-unique-attempts") { db in
            // One task per attempt of a job, as on PostgreSQL.
            try db.execute(
                sql: """
                    DROP INDEX tasks_by_job;
                    CREATE UNIQUE INDEX tasks_job_attempt ON tasks(job_id, attempt);
                    """)
        }
        migrator.registerMigration("v4-job-type-environment-and-timeout") { db in
            try db.execute(
                sql: """
                    ALTER TABLE job_types ADD COLUMN environment TEXT NOT NULL DEFAULT '[]';
                    ALTER TABLE job_types ADD COLUMN task_timeout_minutes REAL NOT NULL DEFAULT 60;
                    """)
        }
        migrator.registerMigration("v5-schedules") { db in
            try db.execute(
                sql: """
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
                        paused INTEGER NOT NULL,
                        next_run_at INTEGER,
                        last_run_at INTEGER,
                        last_job_id TEXT,
                        runs INTEGER NOT NULL DEFAULT 0,
                        skipped INTEGER NOT NULL DEFAULT 0,
                        created_at INTEGER NOT NULL,
                        updated_at INTEGER NOT NULL
                    );
                    CREATE INDEX schedules_by_org_created ON schedules(org_id, created_at, id);
                    CREATE INDEX schedules_due ON schedules(next_run_at) WHERE next_run_at IS NOT NULL;
                    ALTER TABLE jobs ADD COLUMN schedule_id TEXT;
                    ALTER TABLE jobs ADD COLUMN schedule_occurrence INTEGER;
                    -- Each occurrence of a schedule creates at most one job.
                    CREATE UNIQUE INDEX jobs_schedule_occurrence ON jobs(schedule_id, schedule_occurrence)
                        WHERE schedule_id IS NOT NULL;
                    CREATE INDEX jobs_by_org_schedule_created ON jobs(org_id, schedule_id, created_at, id)
                        WHERE schedule_id IS NOT NULL;
                    """)
        }
        migrator.registerMigration("v6-counts-by-type-and-channel") { db in
            // The counts also split by job type and channel, so that `meta.total` of any list
            // filtered by status, job type and channel is a sum over a few rows.
            try db.execute(
                sql: """
                    DROP TRIGGER jobs_count_insert;
                    DROP TRIGGER jobs_count_update;
                    DROP TRIGGER jobs_count_delete;
                    DROP TABLE job_counts;
                    CREATE TABLE job_counts (
                        org_id TEXT NOT NULL,
                        status TEXT NOT NULL,
                        job_type_id TEXT NOT NULL,
                        channel_code TEXT NOT NULL,
                        count INTEGER NOT NULL,
                        PRIMARY KEY (org_id, status, job_type_id, channel_code)
                    ) WITHOUT ROWID;
                    CREATE INDEX job_counts_by_type ON job_counts(org_id, job_type_id);
                    CREATE INDEX job_counts_by_channel ON job_counts(org_id, channel_code);
                    INSERT INTO job_counts(org_id, status, job_type_id, channel_code, count)
                        SELECT org_id, status, job_type_id, channel_code, COUNT(*) FROM jobs
                        GROUP BY org_id, status, job_type_id, channel_code;
                    CREATE TRIGGER jobs_count_insert AFTER INSERT ON jobs BEGIN
                        INSERT INTO job_counts(org_id, status, job_type_id, channel_code, count)
                        VALUES (NEW.org_id, NEW.status, NEW.job_type_id, NEW.channel_code, 1)
                        ON CONFLICT(org_id, status, job_type_id, channel_code) DO UPDATE SET count = count + 1;
                    END;
                    CREATE TRIGGER jobs_count_update AFTER UPDATE OF status ON jobs
                    WHEN OLD.status <> NEW.status BEGIN
                        UPDATE job_counts SET count = count - 1
                        WHERE org_id = OLD.org_id AND status = OLD.status AND job_type_id = OLD.job_type_id
                          AND channel_code = OLD.channel_code;
                        INSERT INTO job_counts(org_id, status, job_type_id, channel_code, count)
                        VALUES (NEW.org_id, NEW.status, NEW.job_type_id, NEW.channel_code, 1)
                        ON CONFLICT(org_id, status, job_type_id, channel_code) DO UPDATE SET count = count + 1;
                    END;
                    CREATE TRIGGER jobs_count_delete AFTER DELETE ON jobs BEGIN
                        UPDATE job_counts SET count = count - 1
                        WHERE org_id = OLD.org_id AND status = OLD.status AND job_type_id = OLD.job_type_id
                          AND channel_code = OLD.channel_code;
                    END;
                    """)
        }
        migrator.registerMigration("v7-events-progress-journal") { db in
            // Events wait for a job's next task; progress reports belong to a task; the journal
            // is each job's history, read by its stream. AUTOINCREMENT: an entry id is never
            // reused, even after deletes, so a stream resumed after an id misses nothing.
            try db.execute(
                sql: """
                    ALTER TABLE jobs ADD COLUMN pending_events INTEGER NOT NULL DEFAULT 0;
                    ALTER TABLE tasks ADD COLUMN progress_token_hash TEXT;
                    CREATE TABLE job_events (
                        id TEXT PRIMARY KEY,
                        job_id TEXT NOT NULL REFERENCES jobs(id),
                        type TEXT NOT NULL,
                        data TEXT NOT NULL,
                        created_at INTEGER NOT NULL,
                        delivered_to_task_id TEXT
                    );
                    CREATE INDEX job_events_by_job ON job_events(job_id, created_at, id);
                    CREATE INDEX job_events_undelivered ON job_events(job_id) WHERE delivered_to_task_id IS NULL;
                    CREATE TABLE task_progress (
                        id TEXT PRIMARY KEY,
                        job_id TEXT NOT NULL REFERENCES jobs(id),
                        task_id TEXT NOT NULL REFERENCES tasks(id),
                        message TEXT,
                        data TEXT NOT NULL,
                        created_at INTEGER NOT NULL
                    );
                    CREATE INDEX task_progress_by_job ON task_progress(job_id, task_id, created_at, id);
                    CREATE TABLE job_entries (
                        id INTEGER PRIMARY KEY AUTOINCREMENT,
                        job_id TEXT NOT NULL,
                        kind TEXT NOT NULL,
                        ref_id TEXT,
                        status TEXT,
                        created_at INTEGER NOT NULL
                    );
                    CREATE INDEX job_entries_by_job ON job_entries(job_id, id);
                    INSERT INTO job_entries(job_id, kind, status, created_at)
                        SELECT id, 'job', status, updated_at FROM jobs ORDER BY created_at, id;
                    CREATE TRIGGER jobs_journal_insert AFTER INSERT ON jobs BEGIN
                        INSERT INTO job_entries(job_id, kind, status, created_at)
                        VALUES (NEW.id, 'job', NEW.status, NEW.created_at);
                    END;
                    """)
        }
        migrator.registerMigration("v8-retention") { db in
            // The purge finds finished jobs by status and age, and an idempotency record by the
            // record it names.
            try db.execute(
                sql: """
                    CREATE INDEX jobs_finished ON jobs(status, finished_at) WHERE finished_at IS NOT NULL;
                    CREATE INDEX idempotency_keys_by_record ON idempotency_keys(job_id);
                    """)
        }
        migrator.registerMigration("v9-task-due-times") { db in
            // When each task was due, for the dashboard's due → start lag.
            try db.execute(sql: "ALTER TABLE tasks ADD COLUMN due_at INTEGER")
        }
        migrator.registerMigration("v10-counts-and-journal-in-code") { db in
            // The store counts jobs and writes a created job's first journal entry in code, once
            // per transaction (`SQLiteWrite`), instead of in row triggers. Every process writing
            // the file must then be of this version or later: stop the older ones before the
            // first of these starts (README, "Upgrading"); `migrate` refuses a file migrated by
            // a newer version.
            try db.execute(
                sql: """
                    DROP TRIGGER jobs_count_insert;
                    DROP TRIGGER jobs_count_update;
                    DROP TRIGGER jobs_count_delete;
                    DROP TRIGGER jobs_journal_insert;
                    """)
        }
        return migrator
    }
}
