#!/usr/bin/env bash
# End-to-end jobs/s with 1, 2 and 3 worker processes, on PostgreSQL and on SQLite, plus the
# cross-node lag (created on the API node, run by a worker node) on PostgreSQL.
# Each case: one `serve --demo --role api` node that takes the creates, K `serve --role
# worker --concurrency 64` nodes, N jobs due at one instant (bench/engine_bench.py).
# Usage: scripts/with-postgres bench/multinode.sh PATH_TO_RELEASE_BINARY [N]
set -euo pipefail
cd "$(dirname "$0")/.."
bin="$1"
count="${2:-10000}"
work="$(mktemp -d)"
pids=()
stop_nodes() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  pids=()
}
trap 'stop_nodes; rm -rf "$work"' EXIT

start_node() { # port role database [extra…]
  local port="$1" role="$2" database="$3"
  shift 3
  "$bin" serve --port "$port" --role "$role" --concurrency 64 --log-level warning --database "$database" "$@" \
    > "$work/$port.out" 2> "$work/$port.err" &
  pids+=($!)
  for _ in $(seq 1 200); do
    curl -sf "http://127.0.0.1:$port/readyz" > /dev/null && return 0
    sleep 0.05
  done
  cat "$work/$port.err" >&2
  return 1
}

database_for() { # kind case
  if [ "$1" = postgres ]; then
    psql "$AGENT_JOBS_TEST_POSTGRES_URL" -qc "CREATE SCHEMA bench_$2" > /dev/null
    echo "$AGENT_JOBS_TEST_POSTGRES_URL?search_path=bench_$2"
  else
    echo "$work/bench_$2.sqlite"
  fi
}

run_case() { # kind workers mode
  local kind="$1" workers="$2" mode="$3" name="${1}_${2}_${3//-/_}"
  local location url
  location="$(database_for "$kind" "$name")"
  if [ "$kind" = postgres ]; then url="$location"; else url="sqlite://$location"; fi
  "$bin" migrate --database "$url" > /dev/null
  start_node 9100 api "$url" --demo
  local token
  token="$(sed -n 's/^AGENT_JOBS_DEMO_TOKEN=//p' "$work/9100.out")"
  for i in $(seq 1 "$workers"); do start_node "$((9100 + i))" worker "$url"; done
  echo "== $kind, $workers worker process(es), $mode"
  python3 bench/engine_bench.py "$mode" http://127.0.0.1:9100 "$token" "$location" "$([ "$mode" = throughput ] && echo "$count" || echo 600)"
  stop_nodes
}

for kind in postgres sqlite; do
  for workers in 1 2 3; do run_case "$kind" "$workers" throughput; done
done
run_case postgres 1 lag-now
run_case postgres 1 lag
