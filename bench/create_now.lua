-- wrk script: POST /services/agent-jobs, jobs due at once (the demo executor completes them).
-- Usage: TOKEN=aj_... wrk -t2 -c32 -d20s --latency -s bench/create_now.lua http://127.0.0.1:8080
wrk.method = "POST"
wrk.path = "/services/agent-jobs"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("TOKEN")
wrk.body = [[{"target_channel": {"org_id": "org123", "platform": "slack", "type": "channel", "code": "C123456",
  "data": {"channel_id": "C123456", "team_id": "T123456"}}, "job_type_id": "daily-report",
  "params": {"report_type": "daily", "include_metrics": true}}]]

done = function(summary, latency, requests)
  io.write(string.format("requests/s: %.0f\n", summary.requests / (summary.duration / 1e6)))
  io.write(string.format("p50: %.2f ms  p99: %.2f ms\n", latency:percentile(50) / 1000, latency:percentile(99) / 1000))
  io.write(string.format("requests: %d\n", summary.requests))
end
