#!/usr/bin/env python3
"""Engine benchmarks against a running `agent-jobs serve` (demo executor).

  throughput: N jobs created through the API, all due at one instant T shortly after the
              last create; reports create rate and run rate (N / (last finished_at - T)).
  lag:        N jobs scheduled at distinct instants 1..10 s ahead; reports the lag from
              scheduled_at to the task's start (p50/p99/max), read from the database.
  lag-now:    N jobs due at creation (no scheduled_at), 20 per second; the same lag: for a
              job created on an API node and run by another node this is the LISTEN/NOTIFY path.

DATABASE is a SQLite file or a postgres:// URL (read with one psql session); it should hold
the benchmark's jobs only (the wait polls a count of every unfinished job).
Usage: bench/engine_bench.py throughput|lag|lag-now BASE_URL TOKEN DATABASE [N]
"""
import os
import subprocess
import datetime as dt
import http.client
import json
import sqlite3
import sys
import threading
import time
import urllib.parse

mode, base, token, database = sys.argv[1:5]
count = int(sys.argv[5]) if len(sys.argv) > 5 else (10_000 if mode == "throughput" else 1_000)
url = urllib.parse.urlparse(base)


def iso(t: float) -> str:
    return dt.datetime.fromtimestamp(t, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def create_all(scheduled_times, threads=16):
    """Creates one job per scheduled time over keep-alive connections; returns job ids."""
    ids = [None] * len(scheduled_times)
    cursor = iter(range(len(scheduled_times)))
    lock = threading.Lock()

    def worker():
        conn = http.client.HTTPConnection(url.hostname, url.port)
        while True:
            with lock:
                index = next(cursor, None)
            if index is None:
                break
            job = {
                "target_channel": {"org_id": "org123", "platform": "slack", "type": "channel", "code": f"C{index % 20}"},
                "job_type_id": "daily-report", "params": {"n": index}}
            if scheduled_times[index] is not None:
                job["scheduled_at"] = iso(scheduled_times[index])
            body = json.dumps(job)
            conn.request("POST", "/services/agent-jobs", body,
                         {"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
            response = conn.getresponse()
            data = response.read()
            if response.status != 201:
                raise SystemExit(f"create failed: {response.status} {data[:200]}")
            ids[index] = json.loads(data)["data"]["job_id"]
        conn.close()

    workers = [threading.Thread(target=worker) for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return ids


class Database:
    """Runs read queries with `?` placeholders against SQLite or PostgreSQL. PostgreSQL's go
    through one `psql` session kept open: a `psql` process (and a server backend) per poll
    would take CPU from the server being measured."""

    def __init__(self, location):
        self.postgres = location.startswith("postgres")
        self.location = location
        self.sqlite = None if self.postgres else sqlite3.connect(location)
        self.psql = None
        if self.postgres:
            url = location.split("?")[0]
            options = dict(part.split("=", 1) for part in location.split("?")[1].split("&")) if "?" in location else {}
            env = {"PGOPTIONS": f"-c search_path={options['search_path']}"} if "search_path" in options else {}
            self.psql = subprocess.Popen(
                ["psql", url, "-At", "-F", "|", "-X", "-q"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                text=True, env={**os.environ, **env})

    def execute(self, sql, args=()):
        if not self.postgres:
            return self.sqlite.execute(sql, args).fetchall()
        for arg in args:
            sql = sql.replace("?", "'" + str(arg).replace("'", "''") + "'", 1)
        self.psql.stdin.write(sql.rstrip().rstrip(";") + ";\n\\echo __done__\n")
        self.psql.stdin.flush()
        rows = []
        for line in self.psql.stdout:
            line = line.rstrip("\n")
            if line == "__done__":
                break
            if line:
                rows.append(tuple(int(v) if v.lstrip("-").isdigit() else v for v in line.split("|")))
        return rows

    def chunked(self, ids, sql):
        rows = []
        for start in range(0, len(ids), 900):
            chunk = ids[start:start + 900]
            rows += self.execute(sql.replace("IDS", ",".join("?" * len(chunk))), chunk)
        return rows


def wait_all_terminal(ids, timeout):
    """Waits until no job of the (fresh) database is unfinished, polling one count twice a
    second, then checks the benchmark's own jobs once."""
    db = Database(database)
    deadline = time.time() + timeout
    while time.time() < deadline:
        left, = db.execute("SELECT COUNT(*) FROM jobs WHERE status IN ('WAITING', 'SCHEDULED', 'RUNNING')")[0]
        if left == 0:
            done = sum(row[0] for row in db.chunked(
                ids, "SELECT COUNT(*) FROM jobs WHERE status IN ('COMPLETED','FAILED','CANCELED') AND id IN (IDS)"))
            if done == len(ids):
                return db
        time.sleep(0.5)
    raise SystemExit("timed out waiting for jobs to finish")


def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


if mode == "throughput":
    # Time to create them all before they become due (AGENT_JOBS_BENCH_CREATE_RATE: the
    # creates/s to plan for, 400 by default).
    lead = 3 + count / float(os.environ.get("AGENT_JOBS_BENCH_CREATE_RATE", 400))
    due = time.time() + lead
    started = time.time()
    ids = create_all([due] * count)
    created = time.time()
    if created >= due:
        raise SystemExit("creates took longer than the lead time; rerun with a larger lead")
    db = wait_all_terminal(ids, 600)
    rows = db.chunked(ids, "SELECT status, finished_at FROM jobs WHERE id IN (IDS)")
    completed = sum(1 for status, _ in rows if status == "COMPLETED")
    last = max(finished for _, finished in rows) / 1000
    print(f"jobs={count} completed={completed}")
    print(f"create: {count / (created - started):.0f} jobs/s through the API ({created - started:.2f} s)")
    print(f"run: {count / (last - due):.0f} jobs/s end to end from due time to last COMPLETED ({last - due:.2f} s)")
else:
    if mode == "lag":
        now = time.time()
        ids = create_all([now + 1 + 9 * i / count for i in range(count)], threads=4)
    else:
        ids = []
        for batch in range(0, count, 20):
            started = time.time()
            ids += create_all([None] * min(20, count - batch), threads=1)
            time.sleep(max(0, 1 - (time.time() - started)))
    db = wait_all_terminal(ids, 300)
    lags = [row[0] for row in db.chunked(
        ids, "SELECT t.started_at - j.scheduled_at FROM jobs j JOIN tasks t ON t.job_id = j.id AND t.attempt = 1"
             " WHERE j.id IN (IDS)")]
    print(f"jobs={count} lag_ms p50={percentile(lags, 50)} p99={percentile(lags, 99)} max={max(lags)} min={min(lags)}")
