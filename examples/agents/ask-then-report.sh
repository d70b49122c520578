#!/bin/sh
# A command agent that asks the channel once, then reports.
# First task: it has no earlier tasks, so it asks and answers follow_up; the service runs a
# follow-up task after ASK_AFTER_MINUTES (default 30). That task sees the first one in
# previous_tasks and completes. Its job type needs max_follow_ups >= 1.
doc=$(cat)
after=${ASK_AFTER_MINUTES:-30}
case "$doc" in
  *'"previous_tasks":[]'*) echo "{\"status\": \"follow_up\", \"result\": \"asked the channel\", \"after_minutes\": $after}" ;;
  *) echo '{"status": "completed", "result": "report posted"}' ;;
esac
