#!/usr/bin/env python3
"""Times the job list's documented shapes against a running `agent-jobs serve` whose org holds
a million jobs (bench/seed_jobs.py), one request at a time: p50 and p99 of each over ROUNDS.

Usage: bench/list_shapes.py BASE_URL TOKEN [ROUNDS]
"""
import http.client
import json
import sys
import time
import urllib.parse

base, token = sys.argv[1], sys.argv[2]
rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 50
url = urllib.parse.urlparse(base)
connection = http.client.HTTPConnection(url.hostname, url.port)


def get(query):
    connection.request("GET", "/services/agent-jobs?" + query, headers={"Authorization": f"Bearer {token}"})
    response = connection.getresponse()
    body = response.read()
    if response.status != 200:
        raise SystemExit(f"{query}: {response.status} {body[:300]}")
    return json.loads(body)


# A cursor nine tenths deep (900,000 of a million jobs): the page before it names it.
waiting = get("status=WAITING&limit=1")["meta"]["total"]
depth = waiting * 9 // 10
deep = get(f"status=WAITING&offset={depth - 20}&limit=20")["meta"]["next_after"]
middle = get(f"sort=scheduled_at:asc&offset={waiting // 2}&limit=1")["data"][0]["scheduled_at"]
shapes = [
    "status=WAITING&sort=created_at:desc",
    "job_type_id=daily-report&status=WAITING,RUNNING&sort=scheduled_at:asc&limit=50",
    f"status=WAITING&offset={depth}&limit=20",
    f"status=WAITING&limit=20&after={deep}",
    f"scheduled_at_gte={middle}&sort=updated_at:desc",
    "sort=channel_code:asc,created_at:desc",
    "channel_code=C7&sort=created_at:desc",
    "status=COMPLETED,FAILED&sort=updated_at:desc",
    "status=FAILED&job_type_id=daily-report&limit=1",
    "sort=job_type_id:asc,scheduled_at:asc",
]
print("| query | p50 | p99 | total |")
print("|---|---|---|---|")
for query in shapes:
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        page = get(query)
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    total = f"{page['meta']['total']:,}" + ("" if page["meta"]["total_exact"] else " (capped)")
    shown = (query.replace(deep, "…") if deep else query).replace(middle, "T")
    print(f"| `{shown}` | {times[len(times) // 2]:.1f} ms | {times[min(len(times) - 1, int(len(times) * 0.99))]:.1f} ms "
          f"| {total} |", flush=True)
