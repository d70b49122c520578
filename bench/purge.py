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
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nodes  # noqa: E402

binary = os.path.abspath(sys.argv[1])
seconds = int(sys.argv[2]) if len(sys.argv) > 2 else 20
jobs = int(sys.argv[3]) if len(sys.argv) > 3 else 1_000_000
bench = os.path.dirname(os.path.abspath(__file__))
work = tempfile.mkdtemp(prefix="agent-jobs-purge-")
postgres = os.environ.get("AGENT_JOBS_TEST_POSTGRES_URL")


def serve(url, extra):
    process, port, token = nodes.start(binary, work, url, extra)
    return process, f"http://127.0.0.1:{port}", token


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
    url, seed_target = nodes.fresh_database(work, postgres, store, "purge")
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
