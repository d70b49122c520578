#!/usr/bin/env python3
"""Instructions per create and per task, counted by callgrind: the repeatable profile.

Runs a release `serve --demo` under `valgrind --tool=callgrind` with counting off, on a fresh
SQLite database and (when AGENT_JOBS_TEST_POSTGRES_URL is set, as `scripts/with-postgres`
does) a fresh PostgreSQL schema, warms it up, then counts exactly:

  create    N creates, one at a time over one keep-alive connection, of the API page's
            example job scheduled in 2031 (nothing runs): instructions per create
  task      N jobs due at once, created beforehand and counted from their due time until
            the last is COMPLETED (claim, the demo executor's run, the recorded outcome):
            instructions per task

Instruction counts do not depend on what else the machine does, so two builds compare in
any hour (timed figures on these two shared cores vary twofold). The counts cover every
thread of `serve`, not the kernel (nor PostgreSQL's own processes). For each part it prints
the split by where the code comes from (SQLite, the Swift runtime, libc, NIO, ours …) and the
costliest functions, both exclusive: an async function resumes on a new stack, so callgrind's
inclusive figures do not follow `await`s. `--keep` leaves the profiles in the work directory
for `callgrind_annotate --tree=caller FILE`.

Usage: [scripts/with-postgres] bench/callgrind.py PATH_TO_RELEASE_BINARY [N] [--keep]
Needs valgrind (callgrind_control, callgrind_annotate), strip, python3. The binary is copied
and stripped of its debug info first (valgrind 3.19 cannot read Swift 6.3's); symbols stay.
"""
import datetime as dt
import http.client
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nodes  # noqa: E402

arguments = [a for a in sys.argv[1:] if not a.startswith("--")]
binary = os.path.abspath(arguments[0]) if arguments else None
count = int(arguments[1]) if len(arguments) > 1 else 200
keep = "--keep" in sys.argv
work = tempfile.mkdtemp(prefix="agent-jobs-callgrind-")
postgres = os.environ.get("AGENT_JOBS_TEST_POSTGRES_URL")
stores = ["sqlite"] + (["postgres"] if postgres else [])
WARM_UP = 50


def example_job(scheduled_at):
    return json.dumps({
        "target_channel": {"org_id": "org123", "platform": "slack", "type": "channel", "code": "C123456",
                           "data": {"channel_id": "C123456", "team_id": "T123456"}},
        "job_type_id": "daily-report",
        "config": {"max_follow_ups": 3, "max_task_retries": 2, "task_retry_interval": 5,
                   "max_time_to_complete": 60, "profile_id": "profile123"},
        "params": {"report_type": "daily", "include_metrics": True},
        "scheduled_at": scheduled_at})


def iso(seconds):
    return dt.datetime.fromtimestamp(seconds, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


class Profiled:
    """`serve` under callgrind, counting off until `count()`."""

    def __init__(self, name, store):
        stripped = os.path.join(work, "agent-jobs")
        if not os.path.exists(stripped):
            shutil.copy(binary, stripped)
            subprocess.run(["strip", "-g", stripped], check=True)
        name = f"{store}-{name}"
        self.output = os.path.join(work, f"{name}.callgrind")
        url, self.database = nodes.fresh_database(work, postgres, store, prefix="callgrind")
        self.port = nodes.free_port()
        self.log = open(os.path.join(work, f"{name}.log"), "w+")
        self.process = subprocess.Popen(
            ["valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={self.output}",
             stripped, "serve", "--port", str(self.port), "--log-level", "warning",
             "--database", url, "--demo", "--concurrency", "256"],
            stdout=self.log, stderr=subprocess.STDOUT)
        for _ in range(600):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{self.port}/readyz", timeout=5)
                break
            except Exception:
                if self.process.poll() is not None:
                    raise SystemExit(f"serve under valgrind exited; see {self.log.name}")
                time.sleep(0.2)
        self.token = None
        for _ in range(300):
            self.log.seek(0)
            match = re.search(r"AGENT_JOBS_DEMO_TOKEN=(\S+)", self.log.read())
            if match:
                self.token = match.group(1)
                break
            time.sleep(0.1)
        if not self.token:
            raise SystemExit(f"no demo token; see {self.log.name}")
        self.connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)

    def create(self, scheduled_at):
        self.connection.request("POST", "/services/agent-jobs", example_job(scheduled_at),
                                {"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"})
        response = self.connection.getresponse()
        body = response.read()
        if response.status != 201:
            raise SystemExit(f"create answered {response.status}: {body[:200]!r}")

    def control(self, *flags):
        """Runs a callgrind_control command. valgrind takes it when one of `serve`'s threads
        next runs, so `serve` is kept awake with `/healthz` until the command has been taken
        (an idle `serve` took it only at its next timer, once in the middle of a claim)."""
        command = subprocess.Popen(["callgrind_control", *flags, str(self.process.pid)],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        while command.poll() is None:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=10).read()
            except Exception:
                pass
            time.sleep(0.02)
        if command.returncode != 0:
            raise SystemExit(f"callgrind_control {' '.join(flags)} failed")

    def count_on(self):
        self.control("--zero")
        self.control("--instr=on")

    def count_off(self):
        """Stops counting and writes the profile; returns its file."""
        self.control("--instr=off")
        before = set(os.listdir(work))
        self.control("--dump")
        for _ in range(100):
            dumps = sorted(set(os.listdir(work)) - before)
            if dumps:
                time.sleep(0.5)
                return os.path.join(work, dumps[-1])
            time.sleep(0.1)
        raise SystemExit("callgrind wrote no dump")

    def unfinished(self):
        sql = "SELECT COUNT(*) FROM jobs WHERE status NOT IN ('COMPLETED','FAILED','CANCELED')"
        if self.database.startswith("postgres"):
            # psql takes the schema as an option, not as the URL's `search_path`.
            url, _, schema = self.database.partition("?search_path=")
            return int(subprocess.run(["psql", url, "-Atc", sql], capture_output=True, text=True, check=True,
                                      env={**os.environ, "PGOPTIONS": f"-c search_path={schema}"}).stdout.strip())
        import sqlite3
        db = sqlite3.connect(self.database)
        try:
            return db.execute(sql).fetchone()[0]
        finally:
            db.close()

    def stop(self):
        self.connection.close()
        self.process.terminate()
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


AREAS = [
    # (area, test on the object file, test on the symbol)
    ("SQLite", lambda o, f: "libsqlite3" in o, None),
    ("Swift runtime (retain/release, metadata, tasks)",
     lambda o, f: "libswiftCore" in o or "libswift_Concurrency" in o, None),
    ("libc (malloc, memcpy, locks)", lambda o, f: "libc.so" in o or "ld-linux" in o, None),
    ("libdispatch", lambda o, f: "libdispatch" in o, None),
    ("Foundation", lambda o, f: "Foundation" in o, None),
    ("the kernel's share is not counted", lambda o, f: False, None),
    ("postgres-nio and its connection pool", None,
     lambda f: re.match(r"\$s\d+(PostgresNIO|_ConnectionPoolModule)", f) is not None),
    ("NIO", None, lambda f: re.match(r"\$s\d*NIO|\$s\d+_NIO|c_nio_", f) is not None),
    ("swift-http-types", None, lambda f: re.match(r"\$s\d+(HTTPTypes|NIOHTTPTypes)", f) is not None),
    ("Hummingbird", None, lambda f: re.match(r"\$s\d+Hummingbird", f) is not None),
    ("GRDB", None, lambda f: f.startswith("$s4GRDB")),
    ("OpenAPI runtime and generated types", None,
     lambda f: re.match(r"\$s\d+(OpenAPIRuntime|AgentJobsAPIGenerated|OpenAPIHummingbird)", f) is not None),
    ("swift-crypto / BoringSSL", None, lambda f: "Crypto" in f or "BoringSSL" in f),
    ("swift-log, metrics", None, lambda f: re.match(r"\$s\d+(Logging|CoreMetrics|Metrics|Prometheus)", f) is not None),
    ("ours (AgentJobs*)", None, lambda f: re.match(r"\$s\d+AgentJobs|\$s\d+agent_jobs", f) is not None),
    ("standard library specialized in the binary", None, lambda f: f.startswith("$ss") or f.startswith("$sS")),
]


def summary(dump, per):
    """(instructions per item, [(area, instructions per item)], [(instructions per item, function)]):
    exclusive costs, the only ones callgrind attributes right across `await`s (an async
    function resumes on a new stack, so its callers' inclusive figures are not its own)."""
    output = subprocess.run(["callgrind_annotate", "--threshold=100", dump],
                            capture_output=True, text=True, check=True).stdout
    total = int(re.search(r"^([\d,]+) \(100\.0%\)\s+PROGRAM TOTALS", output, re.M).group(1).replace(",", ""))
    functions = []
    areas = {}
    for line in output.splitlines():
        match = re.match(r"^\s*([\d,]+) \(\s*[\d.]+%\)\s+(\S+?):(.*?)(?: \[(.*)\])?$", line)
        if not match or "PROGRAM TOTALS" in line:
            continue
        instructions = int(match.group(1).replace(",", ""))
        function, obj = match.group(3).split("'")[0], match.group(4) or ""
        functions.append((instructions / per, function))
        area = "other (the binary's C parts, unattributed)"
        for name, on_object, on_symbol in AREAS:
            if (on_object and on_object(obj, function)) or (on_symbol and "agent-jobs" in obj and on_symbol(function)):
                area = name
                break
        areas[area] = areas.get(area, 0) + instructions / per
    return total / per, sorted(areas.items(), key=lambda a: -a[1]), functions


def demangle(names):
    output = subprocess.run(["swift", "demangle", "--simplified", "--compact"], input="\n".join(names),
                            capture_output=True, text=True).stdout.splitlines()
    return output if len(output) == len(names) else names


def show(name, per_item, areas, functions, top):
    print(f"{name}: {per_item:,.0f} instructions each")
    for area, instructions in areas:
        print(f"  {100 * instructions / per_item:5.1f}%  {instructions:>10,.0f}  {area}")
    print(f"  the {top} costliest functions (exclusive):")
    shown = functions[:top]
    for (instructions, _), label in zip(shown, demangle([f for _, f in shown])):
        print(f"  {100 * instructions / per_item:5.1f}%  {instructions:>10,.0f}  {label[:140]}")


def profile(store):
    """(create summary, task summary, idle instructions/s, seconds counted for the tasks)."""
    server = Profiled("create", store)
    try:
        for _ in range(WARM_UP):
            server.create("2031-12-31T09:00:00Z")
        server.count_on()
        for _ in range(count):
            server.create("2031-12-31T09:00:00Z")
        dump = server.count_off()
    finally:
        server.stop()
    create = summary(dump, count)

    server = Profiled("task", store)
    try:
        # Warm the engine with a few jobs that run at once.
        for _ in range(WARM_UP):
            server.create(iso(time.time()))
        while server.unfinished() > 0:
            time.sleep(0.2)
        # What the engine's timers cost while nothing is due, per second, to take off below.
        server.count_on()
        idle_from = time.time()
        time.sleep(3)
        idle_dump = server.count_off()
        idle_per_second = summary(idle_dump, 1)[0] / (time.time() - idle_from)
        # Jobs due together, created beforehand (a create takes tens of ms under callgrind).
        due = time.time() + 8 + count * 0.15
        for _ in range(count):
            server.create(iso(due))
        if time.time() > due - 1:
            raise SystemExit("creating took longer than planned; try a smaller N")
        while time.time() < due - 3:
            time.sleep(0.05)
        server.count_on()
        counted_from = time.time()
        if counted_from > due - 0.5:
            raise SystemExit("counting started too close to the due time; try again")
        deadline = time.time() + 600
        while server.unfinished() > 0:
            if time.time() > deadline:
                raise SystemExit("the jobs did not finish")
            time.sleep(0.2)
        dump = server.count_off()
        counted_seconds = time.time() - counted_from
    finally:
        server.stop()
    return create, summary(dump, count), idle_per_second, counted_seconds


def main():
    if not binary:
        raise SystemExit(__doc__)
    top = int(os.environ.get("TOP", "25"))
    totals = []
    for store in stores:
        create, task, idle_per_second, counted_seconds = profile(store)
        idle_share = idle_per_second * counted_seconds / count
        print(f"== {store}")
        show("create", *create, top)
        print()
        show("task (claim, the demo executor's run, outcome; the idle timers while counting included)", *task, top)
        print()
        print(f"idle timers: {idle_per_second:,.0f} instructions/s, {counted_seconds:.1f} s counted for the tasks")
        print()
        totals.append(f"{store}: instructions per create: {create[0]:,.0f}; per task: {task[0] - idle_share:,.0f} "
                      f"({task[0]:,.0f} less the idle timers' share) (N={count})")
    print("\n".join(totals))
    print(f"profiles: {work}" if keep else "")
    if not keep:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
