#!/bin/sh
# An agent that converses: it reports progress, asks the channel a question, sleeps until the
# answer arrives as an event (or a day passes), and completes with it. Needs curl and jq.
set -eu
doc=$(cat)
url=$(printf '%s' "$doc" | jq -r .progress_url)
token=$(printf '%s' "$doc" | jq -r .progress_token)
progress() {
  curl -sf -X POST "$url" -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
    -d "$(jq -cn --arg message "$1" '{message: $message}')" > /dev/null
}
answer=$(printf '%s' "$doc" | jq -r '[.events[] | select(.type == "answer") | .data.choice] | last // empty')
if [ -z "$answer" ]; then
  progress "asking the channel which report it wants"
  # ... post the question in the channel here ...
  echo '{"status": "follow_up", "wait_for_event": true, "after_minutes": 1440, "result": "asked: daily or weekly?"}'
else
  progress "writing the $answer report"
  # ... write and post the report here ...
  jq -cn --arg answer "$answer" '{status: "completed", result: ("posted the " + $answer + " report")}'
fi
