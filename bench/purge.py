#!/usr/bin/env python3
"""Creates/s while the retention purge deletes a million finished jobs.

For each store (SQLite; PostgreSQL too under `scripts/with-postgres`): a fresh database is
seeded with JOBS COMPLETED jobs (one task each) that finished 30 days ago
(bench/seed_jobs.py). Then, each for SECONDS:

  baseline   `serve --demo` without retention, wrk -c32 creating jobs (bench/create.lua)
  purging    `serve --demo --retention completed=7d`, the same wrk run while the maintenance
             leader deletes the seeded jobs; the jobs it deleted meanwhile come from
             agent_jobs_jobs_purged_total

Usage: [scripts/with-postgres] bench/purge.py PATH_TO_BINARY [SECONDS] [JOBS]
"""
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid

binary = os.path.abspath(sys.argv[1])
seconds = int(sys.argv[2]) if len(sys.argv) > 2 else 20
jobs = int(sys.argv[3]) if len(sys.argv) > 3 else 1_000_000
bench = os.path.dirname(os.path.abspath(__file__))
work = tempfile.mkdtemp(prefix="agent-jobs-purge-")
postgres = os.environ.get("AGENT_JOBS_TEST_POSTGRES_URL")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(url, extra):
    port = free_port()
    out = open(os.path.join(work, f"serve-{port}.out"), "w+")
    process = subprocess.Popen(
        [binary, "serve", "--demo", "--port", str(port), "--log-level", "warning", "--database", url] + extra,
        stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    for _ in range(1200):
        try:
            urllib.request.urlopen(base + "/readyz", timeout=1)
            break
        except Exception:
            time.sleep(0.05)
    token = None
    for _ in range(200):
        out.seek(0)
        match = re.search(r"AGENT_JOBS_DEMO_TOKEN=(\S+)", out.read())
        if match:
            token = match.group(1)
            break
        time.sleep(0.05)
    return process, base, token


def purged(base):
    text = urllib.request.urlopen(base + "/metrics", timeout=5).read().decode()
    match = re.search(r"^agent_jobs_jobs_purged_total (\d+)", text, re.M)
    return int(match.group(1)) if match else 0


def creates(base, token):
    output = subprocess.run(
        ["wrk", "-t2", "-c32", f"-d{seconds}s", "--latency", "-s", os.path.join(bench, "create.lua"), base],
        capture_output=True, text=True, check=True, env={**os.environ, "TOKEN": token}).stdout
    return float(re.search(r"requests/s: (\d+)", output).group(1)), re.search(r"p99: ([\d.]+) ms", output).group(1)


def run(store):
    if store == "sqlite":
        path = os.path.join(work, f"{uuid.uuid4().hex}.sqlite")
        url, seed_target = f"sqlite://{path}", path
    else:
        schema = "purge_" + uuid.uuid4().hex[:12]
        subprocess.run(["psql", postgres, "-qc", f"CREATE SCHEMA {schema}"], check=True, capture_output=True)
        url = postgres + ("&" if "?" in postgres else "?") + f"search_path={schema}"
        seed_target = url
    subprocess.run([binary, "migrate", "--database", url], check=True, capture_output=True)
    subprocess.run([sys.executable, os.path.join(bench, "seed_jobs.py"), seed_target, str(jobs)], check=True,
                   capture_output=True, env={**os.environ, "SEED_STATUS": "COMPLETED", "SEED_AGE_DAYS": "30"})
    process, base, token = serve(url, [])
    try:
        baseline, baseline_p99 = creates(base, token)
    finally:
        process.terminate()
        process.wait()
    process, base, token = serve(url, ["--retention", "completed=7d"])
    try:
        for _ in range(600):
            if purged(base) > 0:
                break
            time.sleep(0.05)
        before = purged(base)
        during, during_p99 = creates(base, token)
        deleted = purged(base) - before
    finally:
        process.terminate()
        process.wait()
    print(f"{store:9} creates/s without a purge {baseline:.0f} (p99 {baseline_p99} ms), during the purge "
          f"{during:.0f} (p99 {during_p99} ms): {during / baseline * 100:.0f}%, "
          f"while {deleted} of the {jobs} finished jobs were deleted ({deleted / seconds:.0f}/s)")


print(f"{time.strftime('%Y-%m-%d')}, {os.cpu_count()} cores, {seconds} s per run, {jobs} finished jobs seeded")
run("sqlite")
if postgres:
    run("postgres")
