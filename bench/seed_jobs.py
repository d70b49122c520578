#!/usr/bin/env python3
"""Bulk-loads N jobs for one org into a migrated agent-jobs SQLite database, for benchmarks.

Usage: bench/seed_jobs.py DATABASE_FILE [N] [ORG]
Rows match what the API writes (same columns and JSON shapes); the job_counts triggers
keep the per-status counts as the service would.
"""
import json
import random
import sqlite3
import sys
import time

path = sys.argv[1]
count = int(sys.argv[2]) if len(sys.argv) > 2 else 1_000_000
org = sys.argv[3] if len(sys.argv) > 3 else "org123"

alphabet = "0123456789abcdefghjkmnpqrstvwxyz"


def job_id(millis: int) -> str:
    chars = [alphabet[(millis >> (5 * (9 - i))) & 31] for i in range(10)]
    chars += [random.choice(alphabet) for _ in range(16)]
    return "job_" + "".join(chars)


db = sqlite3.connect(path)
db.execute("PRAGMA synchronous = OFF")
now = int(time.time() * 1000)
start = now - count * 10
config = json.dumps({"max_follow_ups": 0, "max_task_retries": 0, "task_retry_interval": 1,
                     "max_time_to_complete": 60}, sort_keys=True)
params = json.dumps({"include_metrics": True, "report_type": "daily"}, sort_keys=True)
batch = []
for index in range(count):
    created = start + index * 10
    code = f"C{index % 50}"
    channel = json.dumps({"code": code, "data": {"channel_id": code}, "org_id": org,
                          "platform": "slack", "type": "channel"}, sort_keys=True)
    batch.append((job_id(created), org, "daily-report", code, "WAITING", channel, config, params,
                  created, created, created))
    if len(batch) == 50_000:
        db.executemany(
            "INSERT INTO jobs(id, org_id, job_type_id, channel_code, status, target_channel, config, params,"
            " created_at, updated_at, scheduled_at) VALUES (?,?,?,?,?,?,?,?,?,?,?)", batch)
        db.commit()
        batch = []
if batch:
    db.executemany(
        "INSERT INTO jobs(id, org_id, job_type_id, channel_code, status, target_channel, config, params,"
        " created_at, updated_at, scheduled_at) VALUES (?,?,?,?,?,?,?,?,?,?,?)", batch)
    db.commit()
db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
db.execute("ANALYZE")
db.commit()
print(f"seeded {count} jobs for {org} into {path}")
