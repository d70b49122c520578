#!/usr/bin/env python3
"""Agents in flight on one node: N jobs fall due at one instant and each agent holds its task
for DELAY seconds. MODE http: a local agent (bench/slow_agent.py) answers each document after
DELAY; MODE command: each task is a program, one `sh` on its builtins alone: it reads its
document to the end, writes its pid to a FIFO this script reads (the arrival is timed here, on
receipt), and waits on a second FIFO that this script writes a line per agent to DELAY seconds
after the due time. Each program started costs its machine about a millisecond of CPU here
(the `exec`); the agent starts no other program, so that the figure is the server's.

Reports how many documents reached their agents by due + 2 s and when the last one did (and
the server's CPU per task until then), the server's RSS and CPU while every agent waits, and the due -> start lag meanwhile
of 100 demo jobs due at distinct instants 1 to 3 s ahead. The last line is one JSON object
(bench/all.py reads it).

Usage: [scripts/with-postgres] bench/in_flight.py PATH_TO_BINARY [N] [DELAY_SECONDS] [http|command] [sqlite|postgres]
"""
import datetime
import http.client
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nodes  # noqa: E402

binary = os.path.abspath(sys.argv[1])
count = int(sys.argv[2]) if len(sys.argv) > 2 else 10_000
delay = float(sys.argv[3]) if len(sys.argv) > 3 else 30
mode = sys.argv[4] if len(sys.argv) > 4 else "http"
store = sys.argv[5] if len(sys.argv) > 5 else "sqlite"
if mode not in ("http", "command") or store not in ("sqlite", "postgres"):
    raise SystemExit(__doc__)
postgres = os.environ.get("AGENT_JOBS_TEST_POSTGRES_URL")
if store == "postgres" and not postgres:
    raise SystemExit("postgres needs AGENT_JOBS_TEST_POSTGRES_URL (run under scripts/with-postgres)")
bench = os.path.dirname(os.path.abspath(__file__))
work = tempfile.mkdtemp(prefix="agent-jobs-in-flight-")
hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
children = []


def cli(*arguments):
    return subprocess.run([binary, *arguments, "--database", url], check=True, capture_output=True,
                          text=True).stdout.strip()


def created_jobs(port, token, n, job_type, extra):
    """Creates n jobs over one keep-alive connection; returns their ids."""
    connection = http.client.HTTPConnection("127.0.0.1", port)
    ids = []
    for index in range(n):
        body = {"target_channel": {"org_id": "bench", "platform": "slack", "type": "channel", "code": "C1"},
                "job_type_id": job_type, **(extra(index) if callable(extra) else extra)}
        connection.request("POST", "/services/agent-jobs", json.dumps(body),
                           {"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
        response = connection.getresponse()
        ids.append(json.loads(response.read())["data"]["job_id"])
    return ids


def process_stat(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    rss = next(int(line.split()[1]) / 1024 for line in open(f"/proc/{pid}/status") if line.startswith("VmRSS:"))
    return cpu, rss


class ProgramArrivals:
    """The command agents' FIFOs: `arrived` gets a pid line from each agent that has read its
    document (timed on receipt, by a thread); `release` holds every agent until `release_all`."""

    def __init__(self, directory):
        self.arrived, self.release = os.path.join(directory, "arrived"), os.path.join(directory, "release")
        os.mkfifo(self.arrived)
        os.mkfifo(self.release)
        # Opened for reading and writing: neither open waits for the other end, and neither
        # FIFO ever reads as ended while this script runs.
        self.arrived_fd = os.open(self.arrived, os.O_RDWR)
        self.release_fd = os.open(self.release, os.O_RDWR)
        self.times = []
        threading.Thread(target=self.read, daemon=True).start()

    def read(self):
        pending = b""
        while True:
            pending += os.read(self.arrived_fd, 65536)
            now = time.time()
            *lines, pending = pending.split(b"\n")
            self.times.extend(now for _ in lines)

    def release_all(self, count):
        os.write(self.release_fd, b"\n" * count)


def agent_arrivals(agent_port, starts):
    """command: the instants (Unix seconds) at which agents reported their document read, so
    far, sorted; http: the agent's /stats (how many documents arrived, the last arrival, the
    most held at once)."""
    if mode == "command":
        return sorted(starts.times)
    agent = http.client.HTTPConnection("127.0.0.1", agent_port)
    agent.request("GET", "/stats")
    stats = json.loads(agent.getresponse().read())
    return stats


try:
    url, _ = nodes.fresh_database(work, postgres, store, prefix="inflight")
    cli("migrate")
    cli("orgs", "create", "bench")
    token = cli("tokens", "create", "--org", "bench", "--access", "services:write")
    agent_port = nodes.free_port()
    starts = None
    if mode == "command":
        starts = ProgramArrivals(work)
        script = os.path.join(work, "agent.sh")
        with open(script, "w") as f:
            # dash reads its `read` input a byte at a time, so one line of the release FIFO
            # releases one agent.
            f.write(f"#!/bin/sh\nwhile read -r _; do :; done\necho $$ > '{starts.arrived}'\n"
                    f"read -r _ < '{starts.release}'\n"
                    "echo '{\"status\": \"completed\", \"result\": \"ok\"}'\n")
        os.chmod(script, 0o755)
        cli("job-types", "create", "slow", "--executor", "command", "--command", script,
            "--default-config", '{"max_time_to_complete": 60}')
    else:
        children.append(subprocess.Popen([sys.executable, os.path.join(bench, "slow_agent.py"), str(agent_port),
                                          str(delay)]))
        cli("job-types", "create", "slow", "--executor", "http", "--url", f"http://127.0.0.1:{agent_port}/",
            "--secret", "s", "--default-config", '{"max_time_to_complete": 60}')
    cli("job-types", "create", "quick", "--executor", "demo")
    server, port, _ = nodes.start(binary, work, url, ["--concurrency", str(count + 100)], demo=False)
    children.append(server)

    due = time.time() + 15 + count / 1000
    due_text = datetime.datetime.fromtimestamp(due, datetime.timezone.utc).isoformat(
        timespec="milliseconds").replace("+00:00", "Z")
    # Sixteen connections create the jobs, the first count % 16 of them one more each.
    threads = [threading.Thread(target=created_jobs, args=(port, token, count // 16 + (index < count % 16), "slow",
                                                           {"scheduled_at": due_text})) for index in range(16)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    created = count
    if time.time() > due - 1:
        raise SystemExit("the creates took longer than planned; the due time has passed")
    # The server's CPU from just before the due time until every document is delivered.
    time.sleep(max(0, due - 0.3 - time.time()))
    burst_cpu_before, _ = process_stat(server.pid)
    if mode == "command":
        release = threading.Timer(max(0, due + delay - time.time()), starts.release_all, args=(created,))
        release.daemon = True
        release.start()
    while time.time() < due + 2:
        time.sleep(0.05)
    if mode == "command":
        by_due_2 = sum(1 for t in agent_arrivals(agent_port, starts) if t <= due + 2)
    else:
        by_due_2 = agent_arrivals(agent_port, starts)["arrived"]
    # When did the last of them reach its agent?
    last = None
    while time.time() < due + 25:
        if mode == "command":
            seen = agent_arrivals(agent_port, starts)
            if len(seen) >= created:
                last = seen[-1]
        else:
            stats = agent_arrivals(agent_port, starts)
            if stats["arrived"] >= created:
                last = stats["last"]
        if last:
            break
        time.sleep(0.1)
    burst_cpu = process_stat(server.pid)[0] - burst_cpu_before
    # The server's CPU while every agent holds its task (nothing to do but renew leases).
    cpu_before, _ = process_stat(server.pid)
    wall_before = time.time()
    time.sleep(3)
    cpu_after, rss = process_stat(server.pid)
    idle_cpu = (cpu_after - cpu_before) / (time.time() - wall_before)
    # Other work while the agents hold their tasks: 100 demo jobs due at distinct instants 1 to
    # 3 s ahead, created beforehand (as `engine_bench.py lag` does), so that the lag measured is
    # due -> start and not a create's own commit.
    first_due = time.time() + 1

    def iso(t):
        return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).isoformat(
            timespec="milliseconds").replace("+00:00", "Z")

    quick = created_jobs(port, token, 100, "quick", lambda index: {"scheduled_at": iso(first_due + 0.02 * index)})
    if time.time() > first_due:
        raise SystemExit("the 100 other jobs took longer than a second to create")
    time.sleep(max(0, first_due + 3 - time.time()))
    connection = http.client.HTTPConnection("127.0.0.1", port)
    lags = []
    for job_id in quick:
        connection.request("GET", f"/services/agent-jobs/{job_id}", headers={"Authorization": f"Bearer {token}"})
        job = json.loads(connection.getresponse().read())["data"]

        def parse(text):
            return datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))

        lags.append((parse(job["tasks"][0]["started_at"]) - parse(job["scheduled_at"])).total_seconds() * 1000)
    lags.sort()
    figures = {
        "store": store, "mode": mode, "jobs": created, "by_due_plus_2s": by_due_2,
        "all_by_ms": round(1000 * (last - due)) if last else None,
        "burst_cpu_us_per_task": round(1e6 * burst_cpu / created), "rss_mb": round(rss), "idle_cpu_percent": round(100 * idle_cpu),
        "other_p50_ms": round(lags[50]), "other_p99_ms": round(lags[98]),
    }
    print(f"{created} {mode} agents on {store}: {by_due_2} had their document by due + 2 s, "
          + (f"all by due + {figures['all_by_ms']} ms" if last else "not all within 25 s")
          + f" ({figures['burst_cpu_us_per_task']} us of server CPU per task until then)"
          + f"; server RSS {figures['rss_mb']} MB, {figures['idle_cpu_percent']}% of a core while all wait; "
          + f"100 demo jobs meanwhile: due -> start p50 {figures['other_p50_ms']} ms, p99 {figures['other_p99_ms']} ms")
    print(json.dumps(figures))
finally:
    for child in children:
        child.terminate()
    for child in children:
        try:
            child.wait(timeout=10)
        except subprocess.TimeoutExpired:
            child.kill()
    shutil.rmtree(work, ignore_errors=True)
