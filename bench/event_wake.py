#!/usr/bin/env python3
"""Event -> next task start: how soon an event wakes a follow-up that waits for it.

Each of JOBS jobs runs the demo agent with `wait_for_event_minutes: 60`: its first task
answers `follow_up` with `wait_for_event` and the job sleeps (for an hour, were nothing to
come). Once every job sleeps, one event per job is POSTed, spaced SPACING_MS apart (latency,
not throughput). The figure per job is the follow-up task's `started_at` minus the event's
`created_at`, both stamped by the store's clock (the database's on PostgreSQL), so client
timing plays no part.

  sqlite     one `serve --demo` node
  postgres   (when AGENT_JOBS_TEST_POSTGRES_URL is set, as `scripts/with-postgres` does) two
             nodes: the events go to a `--role api` node, the tasks run on a `--role worker`
             node, so every wake crosses nodes (NOTIFY)

Usage: [scripts/with-postgres] bench/event_wake.py PATH_TO_BINARY [JOBS] [SPACING_MS]
"""
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nodes  # noqa: E402

binary = os.path.abspath(sys.argv[1])
jobs = int(sys.argv[2]) if len(sys.argv) > 2 else 200
spacing = (int(sys.argv[3]) if __name__ == "__main__" and len(sys.argv) > 3 else 20) / 1000
work = tempfile.mkdtemp(prefix="agent-jobs-wake-")
postgres = os.environ.get("AGENT_JOBS_TEST_POSTGRES_URL")


def call(port, method, path, token, body=None):
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}", method=method, data=json.dumps(body).encode() if body is not None else None,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)


def start(url, role, demo):
    """A `serve --role ROLE --concurrency 64` node: (process, port, demo token or None)."""
    return nodes.start(binary, work, url, ["--role", role, "--concurrency", "64"], demo)


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def run(store):
    url, _ = nodes.fresh_database(work, postgres, store, "wake")
    subprocess.run([binary, "migrate", "--database", url], check=True, capture_output=True)
    if store == "sqlite":
        api, api_port, token = start(url, "all", True)
        processes = [api]
    else:
        api, api_port, token = start(url, "api", True)
        worker, _, _ = start(url, "worker", False)
        processes = [api, worker]
    try:
        body = {"target_channel": {"org_id": "org123", "platform": "slack", "type": "channel", "code": "C1"},
                "job_type_id": "daily-report", "config": {"max_follow_ups": 2},
                "params": {"demo": {"wait_for_event_minutes": 60}}}
        ids = [call(api_port, "POST", "/services/agent-jobs", token, body)["data"]["job_id"] for _ in range(jobs)]
        for job_id in ids:
            for _ in range(1200):
                tasks = call(api_port, "GET", f"/services/agent-jobs/{job_id}", token)["data"]["tasks"]
                if tasks and tasks[0]["status"] == "COMPLETED":
                    break
                time.sleep(0.05)
        for job_id in ids:
            call(api_port, "POST", f"/services/agent-jobs/{job_id}/events", token, {"type": "answer"})
            time.sleep(spacing)
        lags = []
        for job_id in ids:
            for _ in range(1200):
                job = call(api_port, "GET", f"/services/agent-jobs/{job_id}", token)["data"]
                if job["job_status"] == "COMPLETED":
                    break
                time.sleep(0.05)
            event_at = parse(job["events"][0]["created_at"])
            started = parse(job["tasks"][1]["started_at"])
            lags.append((started - event_at) * 1000)
        print(f"{store:9} {jobs} events: event -> follow-up start p50 {percentile(lags, 50):.0f} ms, "
              f"p90 {percentile(lags, 90):.0f} ms, p99 {percentile(lags, 99):.0f} ms, max {max(lags):.0f} ms")
    finally:
        for process in processes:
            process.terminate()
            process.wait()


def parse(text):
    from datetime import datetime
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


if __name__ == "__main__":
    run("sqlite")
    if postgres:
        run("postgres")
