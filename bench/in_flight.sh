#!/usr/bin/env bash
# Agents in flight on one node: N jobs fall due at one instant and each agent holds its task
# for DELAY seconds. MODE http: a local agent (bench/slow_agent.py) answers each document
# after DELAY; MODE command: each task is a program (`sh` that notes its start, then sleeps).
# Reports how many the agents held at once and how soon after the due time they all had
# their documents, the server's RSS and CPU while they wait, and the due → start lag of 100
# demo jobs created meanwhile.
# Usage: bench/in_flight.sh PATH_TO_BINARY [N] [DELAY_SECONDS] [http|command]
set -euo pipefail
cd "$(dirname "$0")/.."
bin="$1"
count="${2:-10000}"
delay="${3:-30}"
mode="${4:-http}"
work="$(mktemp -d)"
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null; rm -rf "$work"' EXIT
ulimit -n "$(ulimit -Hn)"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'; }
agent_port=$(free_port)
port=$(free_port)
python3 bench/slow_agent.py "$agent_port" "$delay" &
pids+=($!)
db="sqlite://$work/bench.sqlite"
"$bin" migrate --database "$db" > /dev/null
"$bin" orgs create bench --database "$db" > /dev/null
token=$("$bin" tokens create --org bench --access services:write --database "$db")
if [ "$mode" = command ]; then
  mkdir -p "$work/starts"
  cat > "$work/agent.sh" <<AGENT
#!/bin/sh
date +%s.%N > "$work/starts/\$\$"
cat > /dev/null
sleep $delay
echo '{"status": "completed", "result": "ok"}'
AGENT
  chmod +x "$work/agent.sh"
  "$bin" job-types create slow --executor command --command "$work/agent.sh" --database "$db" \
    --default-config '{"max_time_to_complete": 60}' > /dev/null
else
  "$bin" job-types create slow --executor http --url "http://127.0.0.1:$agent_port/" --secret s --database "$db" \
    --default-config '{"max_time_to_complete": 60}' > /dev/null
fi
"$bin" job-types create quick --executor demo --database "$db" > /dev/null
"$bin" serve --port "$port" --concurrency $((count + 100)) --log-level warning --database "$db" \
  > "$work/serve.out" 2> "$work/serve.err" &
server=$!
pids+=($server)
for _ in $(seq 1 200); do curl -sf "http://127.0.0.1:$port/readyz" > /dev/null && break; sleep 0.05; done
python3 - "$port" "$agent_port" "$token" "$count" "$server" "$mode" "$work/starts" <<'PY'
import json, os, sys, time, threading, http.client, datetime
port, agent_port, token, count, server = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), sys.argv[5]
mode, starts = sys.argv[6], sys.argv[7]
due = time.time() + 15 + count / 1000
due_text = datetime.datetime.fromtimestamp(due, datetime.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
def creator(n, job_type, extra):
    connection = http.client.HTTPConnection("127.0.0.1", port)
    ids = []
    for _ in range(n):
        body = {"target_channel": {"org_id": "bench", "platform": "slack", "type": "channel", "code": "C1"},
                "job_type_id": job_type, **extra}
        connection.request("POST", "/services/agent-jobs", json.dumps(body),
                           {"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
        response = connection.getresponse()
        ids.append(json.loads(response.read())["data"]["job_id"])
    return ids
threads = [threading.Thread(target=creator, args=(count // 16, "slow", {"scheduled_at": due_text})) for _ in range(16)]
[t.start() for t in threads]; [t.join() for t in threads]
created = count // 16 * 16
def cpu_seconds():
    fields = open(f"/proc/{server}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / 100
def rss_mb():
    for line in open(f"/proc/{server}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
while time.time() < due + 2:
    time.sleep(0.05)
if mode == "command":
    arrivals = sorted(float(open(os.path.join(starts, name)).read()) for name in os.listdir(starts))
    arrived = [t for t in arrivals if t <= due + 2]
    stats = {"max_in_flight": len(arrivals), "arrived": len(arrived), "first": arrivals[0] if arrivals else due,
             "last": arrived[-1] if arrived else due}
else:
    agent = http.client.HTTPConnection("127.0.0.1", agent_port)
    agent.request("GET", "/stats"); stats = json.loads(agent.getresponse().read())
def arrivals_so_far():
    if mode == "command":
        return sorted(float(open(os.path.join(starts, name)).read() or due) for name in os.listdir(starts))
    agent = http.client.HTTPConnection("127.0.0.1", agent_port)
    agent.request("GET", "/stats"); now = json.loads(agent.getresponse().read())
    return [now["last"]] * now["arrived"]
# When did the last of them reach its agent?
while time.time() < due + 25:
    seen = arrivals_so_far()
    if len(seen) >= created:
        break
    time.sleep(0.1)
all_arrived = f"all {created} after {1000 * (seen[-1] - due):.0f} ms" if len(seen) >= created else f"{len(seen)} after 25 s"
# The server's CPU while every agent holds its task (nothing to do but renew leases).
cpu_before, wall_before = cpu_seconds(), time.time()
time.sleep(3)
idle_cpu = (cpu_seconds() - cpu_before) / (time.time() - wall_before)
# Other work while the agents hold their tasks: 100 demo jobs due now.
quick = creator(100, "quick", {})
time.sleep(2)
connection = http.client.HTTPConnection("127.0.0.1", port)
lags = []
for job_id in quick:
    connection.request("GET", f"/services/agent-jobs/{job_id}", headers={"Authorization": f"Bearer {token}"})
    job = json.loads(connection.getresponse().read())["data"]
    parse = lambda t: datetime.datetime.fromisoformat(t.replace("Z", "+00:00"))
    lags.append((parse(job["tasks"][0]["started_at"]) - parse(job["scheduled_at"])).total_seconds() * 1000)
lags.sort()

print(f"{created} {mode} jobs due at one instant, agent answers after the delay: agent held {stats['max_in_flight']} at once, "
      f"{stats['arrived']} arrived by due+2 s ({all_arrived}), first {1000 * ((stats['first'] or due) - due):.0f} ms and last "
      f"{1000 * ((stats['last'] or due) - due):.0f} ms after the due time; server RSS {rss_mb():.0f} MB, "
      f"CPU {100 * idle_cpu:.0f}% of a core while all wait; 100 demo jobs created then: due -> start p50 {lags[50]:.0f} ms, "
      f"p99 {lags[98]:.0f} ms")
PY
