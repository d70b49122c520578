-- wrk script: the dashboard query of the benchmark.
-- Usage: TOKEN=aj_... wrk -t2 -c4 -d20s --latency -s bench/list.lua http://127.0.0.1:8080
wrk.method = "GET"
wrk.path = "/services/agent-jobs?status=WAITING&sort=created_at:desc&limit=20"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("TOKEN")

done = function(summary, latency, requests)
  io.write(string.format("requests/s: %.0f\n", summary.requests / (summary.duration / 1e6)))
  io.write(string.format("p50: %.2f ms  p99: %.2f ms\n", latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
