#!/usr/bin/env python3
"""Every throughput figure of the README's table, on SQLite and (when
AGENT_JOBS_TEST_POSTGRES_URL is set, as `scripts/with-postgres` does) on PostgreSQL, printed
as one table. Each row starts a fresh `serve --demo` on a fresh database.

  create, 1 client       wrk -c1 for SECONDS: creates/s, p50, and the server's CPU per create
  create, 32 clients     wrk -c32: creates/s, p99
  create -> COMPLETED    wrk -c32 creating jobs due at once while the demo executor runs them
                         (--concurrency 256): completed jobs/s over the whole run
  drain 10,000           10,000 jobs due at one instant, created beforehand (--concurrency 256):
                         jobs/s from the due time to the last COMPLETED (bench/engine_bench.py
                         throughput)
  drain 10,000, 1,024 slots   the same with --concurrency 1024
  due -> start           1,000 jobs due at distinct instants 1-10 s ahead: p99 lag
                         (bench/engine_bench.py lag)

Usage: [scripts/with-postgres] bench/throughput.py PATH_TO_BINARY [SECONDS]
Needs wrk, curl, python3 (and psql for PostgreSQL).
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nodes  # noqa: E402

binary = os.path.abspath(sys.argv[1])
seconds = int(sys.argv[2]) if len(sys.argv) > 2 else 10
bench = os.path.dirname(os.path.abspath(__file__))
work = tempfile.mkdtemp(prefix="agent-jobs-bench-")
postgres = os.environ.get("AGENT_JOBS_TEST_POSTGRES_URL")
stores = ["sqlite"] + (["postgres"] if postgres else [])


def fresh_database(store):
    """A new SQLite file or PostgreSQL schema: (URL for serve, location for engine_bench.py)."""
    return nodes.fresh_database(work, postgres, store)


# Task slots for the rows that run jobs: with a no-op agent, more slots mean larger claims
# and outcome batches (64 slots drained 4,100-4,700 jobs/s on SQLite where 256 drained 5,400).
ENGINE_CONCURRENCY = 256
# The drain once more with more slots: with 256, the claims and outcome batches of a no-op
# drain settle around 40 jobs each and SQLite's writer waits between them; 1,024 slots keep
# claims at their full 256 and the writer busy.
DEEP_DRAIN_CONCURRENCY = 1024


class Server:
    def __init__(self, store, concurrency=64):
        self.url, self.location = fresh_database(store)
        subprocess.run([binary, "migrate", "--database", self.url], check=True, capture_output=True)
        self.process, self.port, self.token = nodes.start(
            binary, work, self.url, ["--concurrency", str(concurrency)])
        self.base = f"http://127.0.0.1:{self.port}"

    def cpu_seconds(self):
        fields = open(f"/proc/{self.process.pid}/stat").read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self):
        self.process.terminate()
        self.process.wait()

    def __enter__(self):
        return self

    def __exit__(self, *_):
        self.stop()


def wrk(server, script, connections, due_now=False):
    threads = 1 if connections == 1 else 2
    output = subprocess.run(
        ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", os.path.join(bench, script),
         server.base], capture_output=True, text=True, check=True,
        env={**os.environ, "TOKEN": server.token, **({"DUE_NOW": "1"} if due_now else {})}).stdout
    rate = float(re.search(r"requests/s: (\d+)", output).group(1))
    p50, p99 = map(float, re.search(r"p50: ([\d.]+) ms  p99: ([\d.]+) ms", output).groups())
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    if errors:
        raise SystemExit(f"{script}: {errors.group(1)} failed requests")
    return rate, p50, p99


def engine_bench(server, mode, count):
    run = subprocess.run(
        [sys.executable, os.path.join(bench, "engine_bench.py"), mode, server.base, server.token, server.location,
         str(count)], capture_output=True, text=True)
    if run.returncode != 0:
        raise SystemExit(f"engine_bench.py {mode} failed: {run.stdout} {run.stderr}")
    return run.stdout


def query(server, sql):
    if server.url.startswith("sqlite://"):
        import sqlite3
        return sqlite3.connect(server.location).execute(sql).fetchone()
    schema = server.url.split("search_path=")[1]
    output = subprocess.run(["psql", postgres, "-At", "-F", "|", "-c", sql], capture_output=True, text=True,
                            check=True, env={**os.environ, "PGOPTIONS": f"-c search_path={schema}"}).stdout
    return tuple(int(v) if v.isdigit() else v for v in output.strip().split("|"))


class Figures(dict):
    """Prints each figure as it is measured (a long run shows its progress)."""

    def __init__(self, store):
        super().__init__()
        self.store = store

    def __setitem__(self, key, value):
        print(f"{self.store}: {key}: {value}", flush=True)
        super().__setitem__(key, value)


def drained(output):
    """The jobs/s of an `engine_bench.py throughput` run."""
    return f"{int(re.search(r'run: ([0-9]+) jobs/s', output).group(1)):,} jobs/s"


def measure(store):
    figures = Figures(store)
    with Server(store) as server:
        before = server.cpu_seconds()
        rate, p50, _ = wrk(server, "create.lua", 1)
        cpu = (server.cpu_seconds() - before) / (rate * seconds)
        figures["create, 1 client"] = f"{rate:,.0f}/s, p50 {p50:.2f} ms, {cpu * 1e6:.0f} µs CPU each"
    with Server(store) as server:
        rate, _, p99 = wrk(server, "create.lua", 32)
        figures["create, 32 clients"] = f"{rate:,.0f}/s, p99 {p99:.1f} ms"
    with Server(store, concurrency=ENGINE_CONCURRENCY) as server:
        wrk(server, "create.lua", 32, due_now=True)
        deadline = time.time() + 300
        while time.time() < deadline:
            left, = query(server, "SELECT COUNT(*) FROM jobs WHERE status NOT IN ('COMPLETED','FAILED','CANCELED')")
            if left == 0:
                break
            time.sleep(0.5)
        done, first, last = query(
            server, "SELECT COUNT(*), MIN(created_at), MAX(finished_at) FROM jobs WHERE status = 'COMPLETED'")
        figures["create -> COMPLETED, 32 clients"] = f"{done / ((last - first) / 1000):,.0f} jobs/s ({done:,} jobs)"
    with Server(store, concurrency=ENGINE_CONCURRENCY) as server:
        output = engine_bench(server, "throughput", 10_000)
        figures["drain 10,000"] = drained(output)
    with Server(store, concurrency=DEEP_DRAIN_CONCURRENCY) as server:
        output = engine_bench(server, "throughput", 10_000)
        figures["drain 10,000, 1,024 slots"] = drained(output)
    with Server(store) as server:
        output = engine_bench(server, "lag", 1_000)
        p50, p99, most = re.search(r"p50=(\d+) p99=(\d+) max=(\d+)", output).groups()
        figures["due -> start"] = f"p50 {p50} ms, p99 {p99} ms, max {most} ms"
    return figures


try:
    results = {store: measure(store) for store in stores}
    rows = list(results[stores[0]].keys())
    print(f"\n{time.strftime('%Y-%m-%d')}, {os.cpu_count()} cores, {os.path.basename(binary)}, {seconds} s per wrk run\n")
    print("| | " + " | ".join("SQLite" if s == "sqlite" else "PostgreSQL" for s in stores) + " |")
    print("|---|" + "---|" * len(stores))
    for row in rows:
        print(f"| {row} | " + " | ".join(results[s][row] for s in stores) + " |")
finally:
    shutil.rmtree(work, ignore_errors=True)
