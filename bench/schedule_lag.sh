#!/usr/bin/env bash
# Schedules: from an occurrence's instant to its job's creation. S schedules firing every
# second for D seconds on one node (SQLite; and PostgreSQL when AGENT_JOBS_TEST_POSTGRES_URL
# is set, e.g. under scripts/with-postgres), then the lag of every job they created
# (created_at - scheduled_at; no jitter), at the API's 1 ms resolution.
# Usage: [scripts/with-postgres] bench/schedule_lag.sh PATH_TO_BINARY [SCHEDULES] [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
bin="$1"
schedules="${2:-50}"
seconds="${3:-20}"
work="$(mktemp -d)"
pid=""
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT

run_case() { # label database
  local label="$1" database="$2"
  local port
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
  "$bin" serve --demo --port "$port" --log-level warning --database "$database" > "$work/out" 2> "$work/err" &
  pid=$!
  for _ in $(seq 1 200); do curl -sf "http://127.0.0.1:$port/readyz" > /dev/null && break; sleep 0.05; done
  local token
  token="$(sed -n 's/^AGENT_JOBS_DEMO_TOKEN=//p' "$work/out")"
  python3 - "$port" "$token" "$schedules" "$seconds" "$label" <<'PY'
import json, sys, time, urllib.request, datetime
port, token, count, seconds, label = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
base = f"http://127.0.0.1:{port}"
def call(method, path, body=None):
    request = urllib.request.Request(base + path, method=method, data=None if body is None else json.dumps(body).encode(),
                                     headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    with urllib.request.urlopen(request) as response:
        text = response.read()
        return json.loads(text) if text else None
job = {"target_channel": {"org_id": "org123", "platform": "slack", "type": "channel", "code": "C1"},
       "job_type_id": "daily-report", "params": {"demo": {"sleep_ms": 5}}}
ids = [call("POST", "/services/agent-schedules", {"cron": "* * * * * *", "job": job})["data"]["schedule_id"]
       for _ in range(count)]
time.sleep(seconds)
for schedule_id in ids:
    call("PATCH", f"/services/agent-schedules/{schedule_id}", {"paused": True})
parse = lambda text: datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
lags = []
for schedule_id in ids:
    offset = 0
    while True:
        page = call("GET", f"/services/agent-jobs?schedule_id={schedule_id}&limit=200&offset={offset}")
        lags += [(parse(j["created_at"]) - parse(j["scheduled_at"])).total_seconds() * 1000 for j in page["data"]]
        offset += 200
        if offset >= page["meta"]["total"]:
            break
skipped = sum(call("GET", f"/services/agent-schedules/{i}")["data"]["skipped"] for i in ids)
lags.sort()
pick = lambda q: lags[min(len(lags) - 1, int(q * len(lags)))]
print(f"{label}: {count} schedules x {seconds} s: {len(lags)} jobs, {skipped} skipped; "
      f"occurrence -> created p50 {pick(0.5):.0f} ms, p99 {pick(0.99):.0f} ms, max {lags[-1]:.0f} ms")
PY
  kill "$pid"
  wait "$pid" 2>/dev/null || true
  pid=""
}

run_case "SQLite" "sqlite://$work/bench.sqlite"
if [ -n "${AGENT_JOBS_TEST_POSTGRES_URL:-}" ]; then
  schema="schedule_lag_$$"
  psql "$AGENT_JOBS_TEST_POSTGRES_URL" -qc "CREATE SCHEMA $schema"
  run_case "PostgreSQL" "$AGENT_JOBS_TEST_POSTGRES_URL?search_path=$schema"
fi
