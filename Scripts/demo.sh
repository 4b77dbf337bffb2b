#!/usr/bin/env bash
# A walk through Lifeline on the embedded default queue (./queue): enqueue jobs, run a worker
# pool until the queue drains, and inspect what happened.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! [ -f /usr/include/sqlite3.h ]; then
  sudo_cmd=""
  [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq && $sudo_cmd apt-get install -y -qq libsqlite3-dev
fi
swift build -c release --product lifeline >/dev/null
lifeline() { .build/release/lifeline "$@"; }
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

say "enqueue a few jobs"
lifeline enqueue sleep --args '{"ms": 800}' --queue stages
lifeline enqueue flaky --args '{"fail_times": 2}' --backoff 200ms
lifeline enqueue exec --args '{"argv": ["uname", "-sr"]}' --idempotency-key demo-uname-$$
lifeline enqueue exec --args '{"argv": ["uname", "-sr"]}' --idempotency-key demo-uname-$$
lifeline enqueue exec --args '{"argv": ["false"]}' --max-attempts 2 --backoff 100ms

say "a pool of 2 worker processes drains the queue"
LIFELINE_LOG_LEVEL=warning lifeline worker --processes 2 --concurrency 4 --drain

say "jobs"
lifeline jobs list --limit 5
say "the failed job, in full"
lifeline jobs show "$(lifeline jobs list --failed --limit 1 --json | sed -n 's/.*"id":\([0-9]*\).*/\1/p' | head -1)"
say "the last events"
lifeline events --after "$(( $(lifeline events --json | wc -l) - 6 ))"
