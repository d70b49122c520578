#!/usr/bin/env python3
"""Entry written on one node -> seen on a stream held by another.

Two `serve` nodes share one PostgreSQL database (under `scripts/with-postgres`); without
PostgreSQL, one SQLite node plays both parts. A job waits (demo agent, `wait_for_event_minutes`)
while its stream is held open on node A; EVENTS events are POSTed one after another through
node B, and each is timed from just before its POST to the moment its `event` entry arrives on
the stream (client clock, both on this machine).

Usage: [scripts/with-postgres] bench/stream_lag.py PATH_TO_BINARY [EVENTS]
"""
import http.client
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import event_wake as wake  # noqa: E402  (its helpers; running it as a module runs nothing)
import nodes  # noqa: E402

binary = wake.binary
count = int(sys.argv[2]) if len(sys.argv) > 2 else 200
postgres = os.environ.get("AGENT_JOBS_TEST_POSTGRES_URL")

url, _ = nodes.fresh_database(wake.work, postgres, "postgres" if postgres else "sqlite", "lag")
a, a_port, token = wake.start(url, "all", True)
b, b_port, _ = (a, a_port, None) if not postgres else wake.start(url, "api", False)
try:
    body = {"target_channel": {"org_id": "org123", "platform": "slack", "type": "channel", "code": "C1"},
            "job_type_id": "daily-report", "config": {"max_follow_ups": 1},
            "params": {"demo": {"wait_for_event_minutes": 60, "sleep_ms": 86400000}}}
    job = wake.call(a_port, "POST", "/services/agent-jobs", token, body)["data"]["job_id"]
    connection = http.client.HTTPConnection("127.0.0.1", a_port, timeout=30)
    connection.request("GET", f"/services/agent-jobs/{job}/stream", headers={"Authorization": f"Bearer {token}"})
    stream = connection.getresponse()

    def next_event_id():
        kind = None
        while True:
            line = stream.readline().decode().rstrip("\n")
            if line.startswith("event: "):
                kind = line[7:]
            elif line.startswith("data: ") and kind == "event":
                return json.loads(line[6:])["event_id"]

    lags = []
    answers = []
    for _ in range(count):
        begun = time.monotonic()
        posted = wake.call(b_port, "POST", f"/services/agent-jobs/{job}/events", token, {"type": "ping"})
        answers.append((time.monotonic() - begun) * 1000)
        while next_event_id() != posted["data"]["event_id"]:
            pass
        lags.append((time.monotonic() - begun) * 1000)
        time.sleep(0.01)
    where = "across PostgreSQL nodes" if postgres else "one SQLite node"
    print(f"{where}: {count} events, POST -> on the stream p50 {wake.percentile(lags, 50):.1f} ms, "
          f"p99 {wake.percentile(lags, 99):.1f} ms, max {max(lags):.1f} ms "
          f"(the POST's own answer: p50 {wake.percentile(answers, 50):.1f} ms, p99 {wake.percentile(answers, 99):.1f} ms)")
finally:
    for process in {a, b}:
        process.terminate()
        process.wait()
