"""What the benchmark scripts share: a free port, a fresh database (a SQLite file or a
PostgreSQL schema), the experiment of dropping some of the jobs table's indexes, the CPU
time of a process and of PostgreSQL, and a `serve` process started on a free port, returned
once it is ready with its demo token."""
import glob
import os
import re
import socket
import sqlite3
import subprocess
import time
import urllib.request
import uuid


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def fresh_database(work, postgres, store, prefix="bench"):
    """A new SQLite file in `work`, or a new schema on `postgres`: (the URL for `serve`, the
    location for bench/seed_jobs.py and bench/engine_bench.py)."""
    if store == "sqlite":
        path = os.path.join(work, f"{uuid.uuid4().hex}.sqlite")
        return f"sqlite://{path}", path
    schema = f"{prefix}_" + uuid.uuid4().hex[:12]
    subprocess.run(["psql", postgres, "-qc", f"CREATE SCHEMA {schema}"], check=True, capture_output=True)
    url = postgres + ("&" if "?" in postgres else "?") + f"search_path={schema}"
    return url, url


# Indexes of the jobs table an experiment may drop after migrating (`drop_indexes`), to
# measure what a schema with fewer of them would buy: "changed" are the list indexes whose
# columns a status change writes (on SQLite only those are touched by a transition; on
# PostgreSQL every index takes an entry, since such an update is never HOT), "lists" every
# list index (the lists then scan; only the claim's, the sweeps' and the keys' indexes stay).
INDEX_DROPS = {
    "": [],
    "changed": ["jobs_by_org_status_created", "jobs_by_org_status_scheduled", "jobs_by_org_updated"],
    "lists": ["jobs_by_org_created", "jobs_by_org_status_created", "jobs_by_org_scheduled",
              "jobs_by_org_status_scheduled", "jobs_by_org_updated", "jobs_by_org_type_created",
              "jobs_by_org_channel_created", "jobs_by_org_schedule_created"],
}


def check_variants(variants):
    """Exits naming the first of `variants` that `INDEX_DROPS` does not know."""
    for variant in variants:
        if variant not in INDEX_DROPS:
            raise SystemExit(f"unknown index variant {variant!r}: one of {', '.join(k for k in INDEX_DROPS if k)}")


def postgres_for(store):
    """The PostgreSQL URL of the environment (None on SQLite); exits when `store` needs one and
    there is none."""
    postgres = os.environ.get("AGENT_JOBS_TEST_POSTGRES_URL")
    if store == "postgres" and not postgres:
        raise SystemExit("postgres needs AGENT_JOBS_TEST_POSTGRES_URL (run under scripts/with-postgres)")
    return postgres


def drop_indexes(url, location, postgres, store, variant):
    """Drops the indexes of `INDEX_DROPS[variant]` from a migrated database."""
    check_variants([variant])
    for index in INDEX_DROPS[variant]:
        if store == "sqlite":
            with sqlite3.connect(location) as connection:
                connection.execute(f"DROP INDEX {index}")
        else:
            schema = url.split("search_path=")[1]
            subprocess.run(["psql", postgres, "-qc", f"DROP INDEX {index}"], check=True, capture_output=True,
                           env={**os.environ, "PGOPTIONS": f"-c search_path={schema}"})


def cpu_seconds(pid):
    """The user and system CPU seconds of process `pid` so far (0 once it is gone)."""
    try:
        fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except OSError:
        return 0.0


def postgres_cpu_seconds():
    """The CPU seconds of every `postgres` process on the machine so far."""
    total = 0.0
    for directory in glob.glob("/proc/[0-9]*"):
        try:
            if open(directory + "/comm").read().strip() == "postgres":
                total += cpu_seconds(directory.rsplit("/", 1)[1])
        except OSError:
            pass
    return total


def cpu_per_item(server, database, count, store, item):
    """The CPU figures of a run: `serve`'s seconds, and PostgreSQL's on that store, per item."""
    figures = f"serve {server / count * 1e6:.0f} µs CPU per {item}"
    if store == "postgres":
        figures += f", PostgreSQL {database / count * 1e6:.0f} µs"
    return figures


def variant_name(binary, variant, suffix=""):
    """How an A/B run names a binary (with its slots as `suffix`) and its index variant."""
    return os.path.basename(binary) + suffix + (f" without the {variant} indexes" if variant else "")


def start(binary, work, url, arguments, demo=True):
    """Starts `serve` on `url` with `arguments` (and `--demo`); returns (process, port, the
    demo token or None) once /readyz answers. Its output goes to a file in `work`."""
    port = free_port()
    out = open(os.path.join(work, f"serve-{port}.out"), "w+")
    process = subprocess.Popen(
        [binary, "serve", "--port", str(port), "--log-level", "warning", "--database", url]
        + (["--demo"] if demo else []) + arguments,
        stdout=out, stderr=subprocess.STDOUT)
    for _ in range(1200):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1)
            break
        except Exception:
            time.sleep(0.05)
    token = None
    for _ in range(200 if demo else 0):
        out.seek(0)
        match = re.search(r"AGENT_JOBS_DEMO_TOKEN=(\S+)", out.read())
        if match:
            token = match.group(1)
            break
        time.sleep(0.05)
    return process, port, token
