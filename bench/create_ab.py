#!/usr/bin/env python3
"""Two (or more) builds' creates, alternating: wrk at 1 and at 32 clients against a fresh
`serve --demo` and database each time, with the server's CPU per create (and on PostgreSQL
the CPU of every postgres process) read from /proc around the run.

A part BINARY@VARIANT drops some of the jobs table's indexes after migrating (`changed` or
`lists`, see `nodes.INDEX_DROPS`): what a schema with fewer of them would buy.

Usage: [scripts/with-postgres] bench/create_ab.py BINARY_A[@VARIANT],BINARY_B[@VARIANT] [ROUNDS] [SECONDS] [sqlite|postgres]
"""
import os
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nodes  # noqa: E402

if len(sys.argv) < 2:
    raise SystemExit(__doc__)
parts = [(b.split("@") + [""])[:2] for b in sys.argv[1].split(",")]
parts = [(os.path.abspath(binary), variant) for binary, variant in parts]
rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 2
seconds = int(sys.argv[3]) if len(sys.argv) > 3 else 8
store = sys.argv[4] if len(sys.argv) > 4 else "sqlite"
postgres = nodes.postgres_for(store)
nodes.check_variants(variant for _, variant in parts)
work = tempfile.mkdtemp(prefix="agent-jobs-create-ab-")
script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "create.lua")


def creates(binary, variant, clients):
    url, location = nodes.fresh_database(work, postgres, store)
    subprocess.run([binary, "migrate", "--database", url], check=True, capture_output=True)
    nodes.drop_indexes(url, location, postgres, store, variant)
    process, port, token = nodes.start(binary, work, url, [])
    try:
        server, database = nodes.cpu_seconds(process.pid), nodes.postgres_cpu_seconds()
        output = subprocess.run(
            ["wrk", f"-t{min(2, clients)}", f"-c{clients}", f"-d{seconds}s", "--latency", "-s", script,
             f"http://127.0.0.1:{port}"], capture_output=True, text=True, check=True,
            env={**os.environ, "TOKEN": token}).stdout
        server = nodes.cpu_seconds(process.pid) - server
        database = nodes.postgres_cpu_seconds() - database
        rate = float(re.search(r"requests/s: (\d+)", output).group(1))
        p50, p99 = re.search(r"p50: ([\d.]+) ms  p99: ([\d.]+) ms", output).groups()
        count = max(1.0, rate * seconds)
        return f"{rate:,.0f}/s, p50 {p50} ms, p99 {p99} ms, " + nodes.cpu_per_item(
            server, database, count, store, "create")
    finally:
        process.terminate()
        process.wait()


for round_number in range(rounds):
    for clients in (1, 32):
        for binary, variant in parts if round_number % 2 == 0 else parts[::-1]:
            name = nodes.variant_name(binary, variant)
            print(f"{name}, {clients} client{'s' if clients > 1 else ''} ({store}): "
                  f"{creates(binary, variant, clients)}", flush=True)
