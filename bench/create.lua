-- wrk script: POST /services/agent-jobs with the API page's example body, scheduled in 2031
-- (nothing runs), or due at once with DUE_NOW=1 (the demo executor completes it).
-- Usage: TOKEN=aj_... [DUE_NOW=1] wrk -t2 -c32 -d20s --latency -s bench/create.lua http://127.0.0.1:8080
wrk.method = "POST"
wrk.path = "/services/agent-jobs"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("TOKEN")
local scheduled = os.getenv("DUE_NOW") and "" or [[, "scheduled_at": "2031-12-31T09:00:00Z"]]
wrk.body = [[{"target_channel": {"org_id": "org123", "platform": "slack", "type": "channel", "code": "C123456",
  "data": {"channel_id": "C123456", "team_id": "T123456"}}, "job_type_id": "daily-report",
  "config": {"max_follow_ups": 3, "max_task_retries": 2, "task_retry_interval": 5, "max_time_to_complete": 60,
  "profile_id": "profile123"}, "params": {"report_type": "daily", "include_metrics": true}]] .. scheduled .. "}"

done = function(summary, latency, requests)
  io.write(string.format("requests/s: %.0f\n", summary.requests / (summary.duration / 1e6)))
  io.write(string.format("p50: %.2f ms  p99: %.2f ms\n", latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
