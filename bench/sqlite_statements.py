#!/usr/bin/env python3
"""What SQLite's own work costs for one drained job, statement by statement, on the schema
the binary migrates (with N seeded jobs): the two job UPDATEs of a claim and an outcome
(each status change counted by a row trigger as before migration v10, counted once per
transaction as the store does since, not counted, and with a RETURNING clause), the
journal's entries (two INSERTs per job as before v10, gathered into INSERTs of 64 rows as
since, without AUTOINCREMENT, and without the journal's index), and a task's INSERT and
UPDATE. Each variant runs on a fresh copy of the database, 256 jobs per transaction, and
reports the median of ROUNDS runs in µs of this process's CPU per job; the first row is
Python's own floor (two trivial statements).

Usage: bench/sqlite_statements.py PATH_TO_BINARY [N] [ROUNDS]
"""
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time

binary = os.path.abspath(sys.argv[1])
count = int(sys.argv[2]) if len(sys.argv) > 2 else 10_000
rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 3
bench = os.path.dirname(os.path.abspath(__file__))
work = tempfile.mkdtemp(prefix="agent-jobs-statements-")
seeded = os.path.join(work, "seeded.sqlite")
copy = os.path.join(work, "copy.sqlite")

JOB_UPDATE = """UPDATE jobs SET status = ?, result = ?, cancel_reason = ?, next_run_at = ?, next_kind = ?,
    attempts = ?, follow_ups = ?, retries = ?, started_at = ?, deadline_at = ?, finished_at = ?,
    updated_at = ?, pending_events = ? WHERE id = ?"""
JOURNAL = """INSERT INTO job_entries(job_id, kind, ref_id, status, created_at)
    VALUES (?, ?, ?, ?, ?), (?, ?, ?, ?, ?)"""


def floor(db, job, i):
    db.execute("SELECT 1 WHERE ? IS NOT NULL", (job,))
    db.execute("SELECT 1 WHERE ? IS NOT NULL", (job,))


def job_updates(db, job, i):
    db.execute(JOB_UPDATE, ("RUNNING", None, None, None, None, 1, 0, 0, i, i + 600_000, None, i, 0, job))
    db.execute(JOB_UPDATE, ("COMPLETED", "done", None, None, None, 1, 0, 0, i, None, i + 1, i + 1, 0, job))


COUNT_UPSERT = """INSERT INTO job_counts(org_id, status, job_type_id, channel_code, count) VALUES (?, ?, ?, ?, ?)
    ON CONFLICT(org_id, status, job_type_id, channel_code) DO UPDATE SET count = count + excluded.count"""


channel_of = {}
batch_channels = {}


def job_updates_counted(db, job, i):
    """The UPDATEs, and per 256 jobs the upserts of a claim's and an outcome's transaction
    (`JobCountLedger`: one per key changed, here WAITING → RUNNING, then RUNNING → COMPLETED,
    for each channel of the batch; the seeded jobs use 50)."""
    job_updates(db, job, i)
    channel = channel_of[job]
    batch_channels[channel] = batch_channels.get(channel, 0) + 1
    if i % 256 == 255 or i == len(channel_of) - 1:
        for channel, n in batch_channels.items():
            for status, delta in (("WAITING", -n), ("RUNNING", n), ("RUNNING", -n), ("COMPLETED", n)):
                db.execute(COUNT_UPSERT, ("org123", status, "daily-report", channel, delta))
        batch_channels.clear()


# The row trigger of migrations v6 to v9 (v10 counts in code instead).
COUNT_TRIGGER = """CREATE TRIGGER IF NOT EXISTS jobs_count_update AFTER UPDATE OF status ON jobs
    WHEN OLD.status <> NEW.status BEGIN
        UPDATE job_counts SET count = count - 1
        WHERE org_id = OLD.org_id AND status = OLD.status AND job_type_id = OLD.job_type_id
          AND channel_code = OLD.channel_code;
        INSERT INTO job_counts(org_id, status, job_type_id, channel_code, count)
        VALUES (NEW.org_id, NEW.status, NEW.job_type_id, NEW.channel_code, 1)
        ON CONFLICT(org_id, status, job_type_id, channel_code) DO UPDATE SET count = count + 1;
    END"""
NO_COUNT_TRIGGER = "DROP TRIGGER IF EXISTS jobs_count_update"


def job_updates_returning(db, job, i):
    """The UPDATEs returning the job's count key: SQLite runs a RETURNING clause as a trigger
    program, which is why the store keeps the key in the transition instead."""
    returning = JOB_UPDATE + " RETURNING org_id, job_type_id, channel_code"
    db.execute(returning, ("RUNNING", None, None, None, None, 1, 0, 0, i, i + 600_000, None, i, 0, job)).fetchall()
    db.execute(returning, ("COMPLETED", "done", None, None, None, 1, 0, 0, i, None, i + 1, i + 1, 0, job)).fetchall()


pending_entries = []
ENTRY = "(?, ?, ?, ?, ?)"
ENTRIES_64 = "INSERT INTO job_entries(job_id, kind, ref_id, status, created_at) VALUES " + ", ".join([ENTRY] * 64)


def journal_gathered(db, job, i):
    """The same four entries per job, written per 256 jobs in INSERTs of 64 rows and the rest
    one by one (`PendingJournal` also has statements of 16 and 4 rows)."""
    task = f"task_{i}"
    pending_entries.extend([(job, "task", task, "RUNNING", i), (job, "job", None, "RUNNING", i),
                            (job, "task", task, "COMPLETED", i), (job, "job", None, "COMPLETED", i)])
    if i % 256 == 255 or i == len(channel_of) - 1:
        while len(pending_entries) >= 64:
            db.execute(ENTRIES_64, [value for entry in pending_entries[:64] for value in entry])
            del pending_entries[:64]
        for entry in pending_entries:
            db.execute("INSERT INTO job_entries(job_id, kind, ref_id, status, created_at) VALUES " + ENTRY, entry)
        pending_entries.clear()


def journal(db, job, i):
    task = f"task_{i}"
    db.execute(JOURNAL, (job, "task", task, "RUNNING", i, job, "job", None, "RUNNING", i))
    db.execute(JOURNAL, (job, "task", task, "COMPLETED", i, job, "job", None, "COMPLETED", i))


def task(db, job, i):
    db.execute(
        """INSERT INTO tasks(id, job_id, kind, attempt, status, created_at, started_at, lease_owner,
                             lease_expires_at, progress_token_hash, due_at)
           VALUES (?, ?, 'initial', 1, 'RUNNING', ?, ?, 'node', ?, ?, ?)""",
        (f"task_{i}", job, i, i, i + 30_000, "0" * 64, i))
    db.execute(
        """UPDATE tasks SET status = 'COMPLETED', result = 'done', error = NULL, finished_at = ?,
                            lease_owner = NULL, lease_expires_at = NULL WHERE id = ?""", (i + 1, f"task_{i}"))


WITHOUT_AUTOINCREMENT = [
    "DROP TRIGGER IF EXISTS jobs_journal_insert",
    """CREATE TABLE entries_plain (id INTEGER PRIMARY KEY, job_id TEXT NOT NULL, kind TEXT NOT NULL,
                                   ref_id TEXT, status TEXT, created_at INTEGER NOT NULL)""",
    "INSERT INTO entries_plain SELECT * FROM job_entries",
    "DROP TABLE job_entries",
    "ALTER TABLE entries_plain RENAME TO job_entries",
]

VARIANTS = [
    ("Python's floor: two trivial statements", [], floor),
    ("jobs: the claim's and the outcome's UPDATE, each change counted by a row trigger (to v9)",
     [COUNT_TRIGGER], job_updates),
    ("jobs: the same UPDATEs, counted once per transaction (v10)", [NO_COUNT_TRIGGER], job_updates_counted),
    ("jobs: the same UPDATEs, not counted", [NO_COUNT_TRIGGER], job_updates),
    ("jobs: the same UPDATEs, not counted, RETURNING the count key", [NO_COUNT_TRIGGER], job_updates_returning),
    ("journal: two INSERTs of two entries per job (to v9)", [], journal),
    ("journal: the same entries in INSERTs of 64 rows per transaction (v10)", [], journal_gathered),
    ("journal: the same without AUTOINCREMENT", WITHOUT_AUTOINCREMENT
     + ["CREATE INDEX job_entries_by_job ON job_entries(job_id, id)"], journal),
    ("journal: the same without AUTOINCREMENT and its index", WITHOUT_AUTOINCREMENT, journal),
    ("tasks: an INSERT and an UPDATE", [], task),
]


def measure(setup, body):
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(copy + suffix):
            os.remove(copy + suffix)
    shutil.copy(seeded, copy)
    db = sqlite3.connect(copy, isolation_level=None)
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("PRAGMA synchronous = FULL")
    for statement in setup:
        db.execute(statement)
    jobs = []
    for job, channel in db.execute("SELECT id, channel_code FROM jobs ORDER BY created_at"):
        jobs.append(job)
        channel_of[job] = channel
    started = time.process_time()
    db.execute("BEGIN IMMEDIATE")
    for i, job in enumerate(jobs):
        body(db, job, i)
        if i % 256 == 255:
            db.execute("COMMIT")
            db.execute("BEGIN IMMEDIATE")
    db.execute("COMMIT")
    spent = time.process_time() - started
    db.close()
    return spent / len(jobs) * 1e6


try:
    subprocess.run([binary, "migrate", "--database", f"sqlite://{seeded}"], check=True, capture_output=True)
    subprocess.run([sys.executable, os.path.join(bench, "seed_jobs.py"), seeded, str(count)], check=True,
                   capture_output=True)
    print(f"\n{time.strftime('%Y-%m-%d')}, {count:,} jobs, median of {rounds} runs, µs of CPU per job\n")
    print("| statements of one drained job | µs per job |")
    print("|---|---|")
    for label, setup, body in VARIANTS:
        figure = statistics.median(measure(setup, body) for _ in range(rounds))
        print(f"| {label} | {figure:.1f} |", flush=True)
finally:
    shutil.rmtree(work, ignore_errors=True)
