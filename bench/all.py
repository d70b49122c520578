#!/usr/bin/env python3
"""Every figure of the throughput work on SQLite and (under scripts/with-postgres) PostgreSQL,
printed as one table with its targets:

  throughput     bench/throughput.py: creates at 1 and 32 clients (with the server's CPU per
                 create), create -> COMPLETED, the drain of 10,000 jobs, due -> start
  in flight      bench/in_flight.py: AGENTS HTTP agents (bench/slow_agent.py) and
                 COMMAND_AGENTS command agents holding their tasks for 30 s
  lists          bench/seed_jobs.py LIST_JOBS jobs into a fresh database, then
                 bench/list_shapes.py against `serve --role api`: p99 of each documented shape

Each part starts its own servers on fresh databases. Every figure is printed as soon as it
is measured; the table comes at the end. A full run takes 30-40 minutes on 2 cores.

Usage: [scripts/with-postgres] bench/all.py PATH_TO_BINARY [--seconds 10] [--agents 10000]
       [--command-agents 1000] [--list-jobs 1000000] [--only throughput,in-flight,lists]
Needs wrk, curl, python3 (and psql for PostgreSQL).
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nodes  # noqa: E402

parser = argparse.ArgumentParser(usage=__doc__)
parser.add_argument("binary")
parser.add_argument("--seconds", type=int, default=10, help="each wrk run")
parser.add_argument("--agents", type=int, default=10_000, help="HTTP agents in flight")
parser.add_argument("--command-agents", type=int, default=1_000, help="command agents in flight")
parser.add_argument("--list-jobs", type=int, default=1_000_000, help="jobs in the org for the list shapes")
parser.add_argument("--only", default="throughput,in-flight,lists")
arguments = parser.parse_args()
binary = os.path.abspath(arguments.binary)
parts = set(arguments.only.split(","))
unknown = parts - {"throughput", "in-flight", "lists"}
if unknown:
    parser.error(f"--only: unknown part {', '.join(sorted(unknown))}")
bench = os.path.dirname(os.path.abspath(__file__))
postgres = os.environ.get("AGENT_JOBS_TEST_POSTGRES_URL")
stores = ["sqlite"] + (["postgres"] if postgres else [])
rows = []  # (figure, target, {store: value})


def row(figure, target):
    for existing in rows:
        if existing[0] == figure:
            return existing[2]
    rows.append((figure, target, {}))
    return rows[-1][2]


def run(command, **options):
    """Runs a sub-benchmark, echoing its output as it comes; returns the output."""
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, **options)
    lines = []
    for line in process.stdout:
        print("  " + line, end="", flush=True)
        lines.append(line)
    if process.wait() != 0:
        raise SystemExit(f"{' '.join(command)} failed (exit {process.returncode})")
    return "".join(lines)


THROUGHPUT_TARGETS = {
    "create, 1 client": ("≥ 4,000/s (SQLite), ≤ 150 µs CPU each",),
    "create, 32 clients": ("≥ 10,000/s, p99 < 10 ms (SQLite); ≥ 5,000/s (PostgreSQL)",),
    "create -> COMPLETED, 32 clients": ("≥ 5,000/s (SQLite); ≥ 4,000/s (PostgreSQL)",),
    "drain 10,000": ("≥ 10,000/s (SQLite); ≥ 7,500/s (PostgreSQL)",),
    "drain 10,000, 1,024 slots": ("≥ 10,000/s (SQLite); ≥ 7,500/s (PostgreSQL)",),
    "due -> start": ("p99 < 5 ms",),
}


def throughput():
    output = run([sys.executable, os.path.join(bench, "throughput.py"), binary, str(arguments.seconds)])
    for store, figure, value in re.findall(r"^(sqlite|postgres): ([^:]+): (.+)$", output, re.M):
        row(figure, THROUGHPUT_TARGETS.get(figure, ("",))[0])[store] = value


def in_flight():
    for mode, count in (("http", arguments.agents), ("command", arguments.command_agents)):
        for store in stores:
            output = run([sys.executable, os.path.join(bench, "in_flight.py"), binary, str(count), "30", mode, store])
            figures = json.loads(output.strip().splitlines()[-1])
            name = f"{count:,} {mode} agents"
            row(f"{name}: documents delivered by due + 2 s", f"all {count:,}")[store] = (
                f"{figures['by_due_plus_2s']:,} (all by due + {figures['all_by_ms'] / 1000:.1f} s)"
                if figures["all_by_ms"] is not None else f"{figures['by_due_plus_2s']:,} (not all within 25 s)")
            row(f"{name}: server CPU per task until all are delivered", "")[store] = (
                f"{figures['burst_cpu_us_per_task']} µs")
            row(f"{name}: server RSS, CPU while all wait", "< 500 MB, near idle")[store] = (
                f"{figures['rss_mb']} MB, {figures['idle_cpu_percent']}% of a core")
            row(f"{name}: due -> start of 100 other jobs", "p99 < 5 ms")[store] = (
                f"p50 {figures['other_p50_ms']} ms, p99 {figures['other_p99_ms']} ms")


def fold_counts(url):
    """What a worker node's maintenance does every second: the seed's count deltas into the
    counts (an API-only node folds nothing)."""
    base, _, options = url.partition("?")
    schema = dict(part.split("=", 1) for part in options.split("&") if "=" in part)["search_path"]
    environment = {**os.environ, "PGOPTIONS": f"-c search_path={schema}"}
    sql = """
        WITH moved AS (DELETE FROM job_count_deltas RETURNING org_id, status, job_type_id, channel_code, delta)
        INSERT INTO job_counts(org_id, status, job_type_id, channel_code, count)
        SELECT org_id, status, job_type_id, channel_code, SUM(delta) FROM moved
        GROUP BY org_id, status, job_type_id, channel_code
        ON CONFLICT (org_id, status, job_type_id, channel_code) DO UPDATE SET count = job_counts.count + EXCLUDED.count
    """
    for statement in (sql, "VACUUM job_count_deltas", "VACUUM ANALYZE jobs"):
        subprocess.run(["psql", postgres, "-qc", statement], check=True, capture_output=True, env=environment)


def lists():
    work = tempfile.mkdtemp(prefix="agent-jobs-lists-")
    try:
        for store in stores:
            url, location = nodes.fresh_database(work, postgres, store, prefix="lists")
            subprocess.run([binary, "migrate", "--database", url], check=True, capture_output=True)
            started = time.time()
            run([sys.executable, os.path.join(bench, "seed_jobs.py"), location, str(arguments.list_jobs), "org123"])
            if store == "postgres":
                fold_counts(url)
            print(f"  seeded in {time.time() - started:.0f} s", flush=True)
            server, port, token = nodes.start(binary, work, url, ["--role", "api"])
            try:
                output = run([sys.executable, os.path.join(bench, "list_shapes.py"), f"http://127.0.0.1:{port}",
                              token, "20"])
            finally:
                server.terminate()
                server.wait()
            for query, p50, p99 in re.findall(r"^\| `(.+?)` \| ([\d.]+) ms \| ([\d.]+) ms \|", output, re.M):
                row(f"list `{query}`", "p99 < 20 ms")[store] = f"p50 {p50} ms, p99 {p99} ms"
    finally:
        shutil.rmtree(work, ignore_errors=True)


began = time.time()
for part, measure in (("throughput", throughput), ("in-flight", in_flight), ("lists", lists)):
    if part in parts:
        print(f"== {part}", flush=True)
        measure()

names = {"sqlite": "SQLite", "postgres": "PostgreSQL"}
print(f"\n{time.strftime('%Y-%m-%d')}, {os.cpu_count()} cores, {os.path.basename(binary)}, "
      f"{arguments.seconds} s per wrk run, {arguments.list_jobs:,} jobs for the lists; "
      f"took {time.time() - began:.0f} s\n")
print("| figure | " + " | ".join(names[s] for s in stores) + " | target |")
print("|---|" + "---|" * len(stores) + "---|")
for figure, target, values in rows:
    print(f"| {figure} | " + " | ".join(values.get(s, "–") for s in stores) + f" | {target} |")
