#!/usr/bin/env python3
"""Two (or more) builds' drains, alternating: on a noisy machine compare builds in the same
minutes, not figures of different hours.

Each run starts `serve --demo --concurrency 256` (or `@SLOTS`) of one binary on a fresh database, creates N
jobs all due at one instant (8 keep-alive clients), and from just before that instant until
the last job is COMPLETED reads the server's CPU from /proc (and on PostgreSQL the CPU of
every postgres process). It prints jobs/s (N / (last finished_at - due)) and the CPU per
job; the order of the binaries alternates from round to round.

A third part, BINARY@SLOTS@VARIANT, drops some of the jobs table's indexes after migrating
(`changed` or `lists`, see `nodes.INDEX_DROPS`): what a schema with fewer of them would buy.

Usage: [scripts/with-postgres] bench/drain_ab.py BINARY_A[@SLOTS[@VARIANT]],BINARY_B[@SLOTS[@VARIANT]] [ROUNDS] [N] [sqlite|postgres]
"""
import datetime
import http.client
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nodes  # noqa: E402

# BINARY, BINARY@SLOTS (the task slots, `--concurrency`; 256 unless given) or
# BINARY@SLOTS@VARIANT (indexes dropped).
binaries = []
for part in sys.argv[1].split(","):
    binary, slots, variant = (part.split("@") + ["", ""])[:3]
    binaries.append((os.path.abspath(binary), slots or "256", variant))
rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 4
count = int(sys.argv[3]) if len(sys.argv) > 3 else 10_000
store = sys.argv[4] if len(sys.argv) > 4 else "sqlite"
postgres = nodes.postgres_for(store)
nodes.check_variants(variant for _, _, variant in binaries)
work = tempfile.mkdtemp(prefix="agent-jobs-drain-ab-")


cpu_seconds = nodes.cpu_seconds
postgres_cpu_seconds = nodes.postgres_cpu_seconds


def query(url, location, sql):
    if store == "sqlite":
        return sqlite3.connect(location).execute(sql).fetchone()
    schema = url.split("search_path=")[1]
    output = subprocess.run(["psql", postgres, "-At", "-F", "|", "-c", sql], capture_output=True, text=True,
                            check=True, env={**os.environ, "PGOPTIONS": f"-c search_path={schema}"}).stdout
    return tuple(int(value) for value in output.strip().split("|"))


def create_all(port, token, due):
    at = datetime.datetime.fromtimestamp(due, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"

    def client(first):
        connection = http.client.HTTPConnection("127.0.0.1", port)
        for index in range(first, count, 8):
            body = json.dumps({
                "target_channel": {"org_id": "org123", "platform": "slack", "type": "channel", "code": f"C{index % 20}"},
                "job_type_id": "daily-report", "params": {"n": index}, "scheduled_at": at})
            connection.request("POST", "/services/agent-jobs", body,
                               {"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
            response = connection.getresponse()
            response.read()
            if response.status != 201:
                raise SystemExit(f"create failed: {response.status}")

    threads = [threading.Thread(target=client, args=(first,)) for first in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def drain(binary, slots, variant):
    url, location = nodes.fresh_database(work, postgres, store)
    subprocess.run([binary, "migrate", "--database", url], check=True, capture_output=True)
    nodes.drop_indexes(url, location, postgres, store, variant)
    process, port, token = nodes.start(binary, work, url, ["--concurrency", slots])
    try:
        due = time.time() + count / (1_500 if store == "sqlite" else 700) + 2
        create_all(port, token, due)
        if due - time.time() < 0.3:
            return "created too late for the due time (a busy machine): run again"
        while due - time.time() > 0.2:
            time.sleep(0.02)
        server, database = cpu_seconds(process.pid), postgres_cpu_seconds()
        unfinished = "SELECT COUNT(*) FROM jobs WHERE status NOT IN ('COMPLETED','FAILED','CANCELED')"
        while query(url, location, unfinished)[0] > 0:
            time.sleep(0.1)
        server, database = cpu_seconds(process.pid) - server, postgres_cpu_seconds() - database
        done, last = query(url, location, "SELECT COUNT(*), MAX(finished_at) FROM jobs WHERE status = 'COMPLETED'")
        return f"{done / (last / 1000 - due):,.0f} jobs/s, " + nodes.cpu_per_item(server, database, count, store, "job")
    finally:
        process.terminate()
        process.wait()


for round_number in range(rounds):
    for binary, slots, variant in binaries if round_number % 2 == 0 else binaries[::-1]:
        name = nodes.variant_name(binary, variant, f"@{slots}")
        print(f"{name} ({store}): {drain(binary, slots, variant)}", flush=True)
