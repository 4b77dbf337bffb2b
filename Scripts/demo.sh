#!/usr/bin/env bash
# A full failover and failback of one recovery server on the embedded default queue
# (./queue): a worker pool runs every stage on the simulated infrastructure, whose disk copies
# are throttled so the stages take visible time. It leaves the queue behind for the README's
# and --help's examples: server web-1 at rest in standby, and a nightly backup job that
# failed for good on queue `nightly`.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "building…"
Scripts/build.sh
bin=.build/release/lifeline
lifeline() { "$bin" "$@"; }
# Headings in bold on a terminal only, and never with NO_COLOR.
if [ -t 1 ] && [ -z "${NO_COLOR:-}" ]; then bold=$'\033[1m' plain=$'\033[0m'; else bold="" plain=""; fi
step() { printf '\n%s%s %s%s\n' "$bold" "$(date +%H:%M:%S)" "$*" "$plain"; }

server=web-1
export LIFELINE_SIM_THROUGHPUT=${LIFELINE_SIM_THROUGHPUT:-96MiB}

step "starting a pool of 2 worker processes"
LIFELINE_LOG_LEVEL=warning "$bin" worker --processes 2 --concurrency 8 --lease 5s &
pool=$!
cleanup() { kill -TERM "$pool" 2>/dev/null || true; wait "$pool" 2>/dev/null || true; }
trap cleanup EXIT

# The transitions each step made, printed after it, so they stay under their heading.
# (Until the pool has created the database, there are none.)
newest() { { "$bin" events --after "$1" --json 2>/dev/null || true; } | tail -n 1 | sed -n 's/.*"seq":\([0-9]*\).*/\1/p'; }
last=$(newest 0)
last=${last:-0}
transitions() {
  lifeline events --after "$last" --server "$server" --type state_changed
  local seq
  seq=$(newest "$last")
  last=${seq:-$last}
}
act() { lifeline server "$@" --wait; transitions; }

if lifeline server show "$server" >/dev/null 2>&1; then
  step "$server is there from an earlier run"
  lifeline server wait "$server" --state standby --timeout 10m
else
  step "create $server (2 disks of 128 MiB)"
  act create "$server" --machine web-1 --disks 2 --disk-size 128MiB
fi
step "failover: start from the latest recovery point, switch the workload, finalize the disks"
act failover "$server"
step "failback: power off and back up to cloud storage"
act failback "$server"
step "cancel-failback: power on again"
act cancel-failback "$server"
step "failback again"
act failback "$server"
step "confirm-failback: release cloud resources"
act confirm-failback "$server"
step "test failover, then stop the test"
act test-failover "$server"
act stop-test "$server"

step "a nightly backup whose share is gone fails its 3 attempts and is discarded"
lifeline enqueue exec --queue nightly --max-attempts 3 --backoff 100ms \
  --args '{"argv": ["cp", "/srv/db/db.dump", "/mnt/backup/"]}'
lifeline worker --queues nightly --drain 2>/dev/null
lifeline jobs list --queue nightly

step "history of $server"
lifeline server history "$server"
step "stopping the worker pool"
cleanup
trap - EXIT
step "done: $server rests in standby; see lifeline server show $server, or the dashboard: lifeline serve"
