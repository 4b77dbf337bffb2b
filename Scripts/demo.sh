#!/usr/bin/env bash
# A full failover and failback of one recovery server on the embedded default queue
# (./queue): a worker pool runs every stage on the simulated infrastructure, whose disk copies
# are throttled so the stages take visible time.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "building…"
Scripts/build.sh
bin=.build/release/lifeline
lifeline() { "$bin" "$@"; }
step() { printf '\n\033[1m%s %s\033[0m\n' "$(date +%H:%M:%S)" "$*"; }

server="web-$(date +%s)"
export LIFELINE_SIM_THROUGHPUT=${LIFELINE_SIM_THROUGHPUT:-96MiB}

step "starting a pool of 2 worker processes"
LIFELINE_LOG_LEVEL=warning "$bin" worker --processes 2 --concurrency 8 --lease 5s &
pool=$!
# Each transition, as it happens.
"$bin" events --follow --server "$server" --type state_changed &
follower=$!
cleanup() { kill "$follower" 2>/dev/null || true; kill -TERM "$pool" 2>/dev/null || true; wait "$pool" 2>/dev/null || true; }
trap cleanup EXIT

step "create $server (2 disks of 128 MiB)"
lifeline server create "$server" --machine demo-machine --disks 2 --disk-size 128MiB --wait
step "failover: start from the latest recovery point, switch the workload, finalize the disks"
lifeline server failover "$server" --wait
step "failback: power off and back up to cloud storage"
lifeline server failback "$server" --wait
step "cancel-failback: power on again"
lifeline server cancel-failback "$server" --wait
step "failback again"
lifeline server failback "$server" --wait
step "confirm-failback: release cloud resources"
lifeline server confirm-failback "$server" --wait
step "test failover, then stop the test"
lifeline server test-failover "$server" --wait
lifeline server stop-test "$server" --wait
step "delete $server (its VM files and cloud backups go with it)"
lifeline server delete "$server" --wait
sleep 0.5

step "history of $server"
lifeline server history "$server"
step "stopping the worker pool"
cleanup
trap - EXIT
step "done"
