"""What the benchmark scripts share: a free port, a fresh database (a SQLite file or a
PostgreSQL schema), and a `serve` process started on a free port, returned once it is ready
with its demo token."""
import os
import re
import socket
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
