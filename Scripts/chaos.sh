#!/usr/bin/env bash
# Chaos run: thousands of jobs and dozens of recovery servers going through failover, failback
# and test failover at once on two worker pools, while their processes, and now and then a
# pool's writer, are killed with SIGKILL at random. A tenth
# of the jobs run an external program that holds a lock file of its own while it runs, so a
# job running twice at the same time is caught. Then it checks: every job completed exactly
# once, no double run, none stuck, every server back in standby, no VM or disk left under
# infra/, the kept counts equal the jobs, and PRAGMA integrity_check ok. Prints a one-line verdict.
#
#   Scripts/chaos.sh            # 10,000 jobs, 40 servers with 4 MiB disks copied at 16 MiB/s
#   Scripts/chaos.sh --small    # 300 jobs, 4 small servers (what Scripts/test.sh runs)
#   Scripts/chaos.sh --postgres [--small]
#
# With --postgres the queue is in PostgreSQL (a throwaway server from Scripts/postgres.sh) and
# the two pools stand for two hosts, the second reaching the database through a TCP proxy. Beside
# the kills, the server is restarted with `pg_ctl restart -m immediate` mid-run, and the second
# pool is cut off (the proxy stopped) for longer than its lease, then let back; every event
# number must then appear once, in order.
#
# LIFELINE_BIN names the binary to test (default: a release build).
set -euo pipefail
cd "$(dirname "$0")/.."

jobs=10000 servers=40 disk=4MiB postgres=""
for arg in "$@"; do
  case "$arg" in
    --small) jobs=300 servers=4 disk=256KiB ;;
    --postgres) postgres=1 ;;
    *) echo "usage: Scripts/chaos.sh [--small] [--postgres]" >&2; exit 64 ;;
  esac
done
if [ -n "$postgres" ] && [ -z "${LIFELINE_TEST_POSTGRES_URL:-}" ]; then exec Scripts/postgres.sh -- "$0" "$@"; fi
export LIFELINE_SIM_THROUGHPUT=16MiB

if [ -z "${LIFELINE_BIN:-}" ]; then
  Scripts/build.sh
  LIFELINE_BIN=.build/release/lifeline
fi
bin=$(realpath "$LIFELINE_BIN")
home=$(mktemp -d /tmp/lifeline-chaos.XXXXXX)
export LIFELINE_HOME=$home LIFELINE_LOG_LEVEL=critical
started=$(date +%s)
proxy=""
cleanup() {
  [ -n "$proxy" ] && kill -CONT "$proxy" 2>/dev/null && kill -KILL "$proxy" 2>/dev/null && { wait "$proxy" 2>/dev/null || true; }
  stop_pools
  rm -rf "$home"
}
# A pool is one writer process claiming and recording for 2 processes that run the jobs. Each
# pool runs under a loop that starts it again when the killer kills its writer.
pools=()
keep_pool() {
  local n=$1
  while [ ! -e "$home/stopping" ]; do
    "$bin" worker --processes 2 --concurrency 16 --lease 2s 2>/dev/null &
    echo $! > "$home/writer-$n"
    wait $! && break
  done
  rm -f "$home/writer-$n"
}
any_alive() {
  for pid in "$@"; do kill -0 "$pid" 2>/dev/null && return 0; done
  return 1
}
stop_pools() {
  [ "${#pools[@]}" -gt 0 ] || return 0
  touch "$home/stopping"
  # Again until every loop is done: one may have started a writer just before the stop.
  while any_alive "${pools[@]}"; do
    for writer in "$home"/writer-*; do [ -e "$writer" ] && kill -TERM "$(cat "$writer")" 2>/dev/null; done
    sleep 0.5
  done
  for loop in "${pools[@]}"; do wait "$loop" 2>/dev/null || true; done
  pools=()
}
trap cleanup EXIT
[ -n "$postgres" ] && export LIFELINE_DATABASE_URL=$LIFELINE_TEST_POSTGRES_URL

# The external program: notes a double run when another copy holds its job's lock file.
mkdir "$home/runs"
cat > "$home/job.sh" <<'SH'
#!/bin/sh
exec 9>"$1/$2.lock"
flock -n 9 || echo "$2" >> "$1/double-runs"
sleep "$3"
SH
chmod 700 "$home/job.sh"

# Jobs: no-ops, short sleeps and external programs, in one batch.
python3 -c "
import json, random
random.seed(7)
for i in range($jobs):
    if i % 10 == 5:
        print(json.dumps({'kind': 'exec', 'args': {'argv': ['$home/job.sh', '$home/runs', 'job%d' % i, '%.2f' % random.uniform(0.05, 0.5)]}}))
    else:
        print('{\"kind\": \"noop\"}' if i % 3 else '{\"args\": {\"ms\": %d}}' % random.randint(1, 100))
" > "$home/jobs.jsonl"
"$bin" enqueue sleep --batch "$home/jobs.jsonl" >/dev/null
for i in $(seq 1 "$servers"); do "$bin" server create "s$i" --disk-size "$disk" >/dev/null; done

# An action's command fails while PostgreSQL restarts: it is tried again under the same
# idempotency key, so an action that did commit is not applied twice.
tries=1
if [ -n "$postgres" ]; then
  tries=10
  port=${LIFELINE_TEST_POSTGRES_URL##*:}; port=${port%%/*}
  python3 Scripts/lib/tcp_proxy.py 127.0.0.1 "$port" > "$home/proxy-port" &
  proxy=$!
  until [ -s "$home/proxy-port" ]; do sleep 0.05; done
  keep_pool 1 2>/dev/null & pools+=($!)
  LIFELINE_DATABASE_URL=${LIFELINE_TEST_POSTGRES_URL/:$port\//:$(head -1 "$home/proxy-port")/} keep_pool 2 2>/dev/null & pools+=($!)
  # The disruptions: a server crash and restart, then the second host cut off for 5 s.
  (
    sleep 3
    "$LIFELINE_TEST_POSTGRES_CTL" restart -m immediate >/dev/null 2>&1 && echo "server restarted" >> "$home/disruptions"
    sleep 3
    kill -STOP "$proxy"; sleep 5; kill -CONT "$proxy" && echo "host 2 cut off for 5s" >> "$home/disruptions"
  ) &
  disruptor=$!
else
  keep_pool 1 2>/dev/null & pools+=($!)
  keep_pool 2 2>/dev/null & pools+=($!)
fi

# The killer: every 0 to 3 s (1.5 s on average), SIGKILL a random process that runs jobs, or
# one time in four a pool's writer, while the servers move.
touch "$home/killing"
(
  kills=0 writer_kills=0
  while [ -e "$home/killing" ]; do
    sleep "$(( RANDOM % 3 )).$(( RANDOM % 10 ))5"
    writers=$(cat "$home"/writer-* 2>/dev/null | paste -sd,)
    [ -n "$writers" ] || continue
    writer=$(( RANDOM % 4 == 0 ))
    if [ "$writer" -eq 1 ]; then
      victim=$(echo "$writers" | tr , '\n' | shuf -n 1)
    else
      # A pool's processes are its writer's children.
      victim=$(pgrep -P "$writers" 2>/dev/null | shuf -n 1 || true)
    fi
    [ -n "$victim" ] && kill -9 "$victim" 2>/dev/null && kills=$((kills + 1)) writer_kills=$((writer_kills + writer))
  done
  echo "$kills $writer_kills" > "$home/kills"
) &
killer=$!

# Each server goes through both workflows; every action waits for the server to rest.
attempt() {
  local n=0
  until "$@" >/dev/null 2>&1; do
    n=$((n + 1)); [ "$n" -ge "$tries" ] && return 1; sleep 1
  done
}
drive() {
  local s=$1
  attempt "$bin" server wait "$s" --state standby --timeout 300s &&
  for action in failover failback confirm-failback test-failover stop-test; do
    attempt "$bin" server "$action" "$s" --idempotency-key "$s-$action" --wait --timeout 300s || return 1
  done
}
failed_drives=0
pids=()
for i in $(seq 1 "$servers"); do drive "s$i" & pids+=($!); done
for pid in "${pids[@]}"; do wait "$pid" || failed_drives=$((failed_drives + 1)); done
rm "$home/killing"
wait "$killer"
if [ -n "$postgres" ]; then wait "$disruptor"; echo "chaos: $(paste -sd, "$home/disruptions" 2>/dev/null) during the run"; fi
kills=$(cat "$home/kills")

# Let the pool finish the rest, then stop it.
for _ in $(seq 1 600); do
  # Its note that more jobs match goes to a file, which is shown if the command fails.
  left=$("$bin" jobs list --state available --state scheduled --state retryable --state running --limit 1 --json 2>"$home/left.err" | wc -l) ||
    { cat "$home/left.err" >&2; exit 1; }
  [ "$left" -eq 0 ] && break
  sleep 0.5
done
stop_pools

"$bin" jobs list --limit 100000000 --json > "$home/jobs.json"
"$bin" events --type completed --json > "$home/completed.json"
"$bin" server list --json > "$home/servers.json"
"$bin" events --json > "$home/events.json"
"$bin" stats --json > "$home/stats.json"
double_runs=0
[ -f "$home/runs/double-runs" ] && double_runs=$(wc -l < "$home/runs/double-runs")
python3 - "$home" "${postgres:-0}" "$jobs" "$servers" ${kills} "$failed_drives" "$double_runs" "$(( $(date +%s) - started ))" <<'PY'
import json, os, sqlite3, sys
home, postgres, jobs, servers, kills, writer_kills, failed_drives, double_runs, seconds = sys.argv[1], *map(int, sys.argv[2:])
load = lambda name: [json.loads(line) for line in open(os.path.join(home, name))]
all_jobs, completions, server_rows = load("jobs.json"), load("completed.json"), load("servers.json")
per_job = {}
for event in completions:
    per_job[event["job"]] = per_job.get(event["job"], 0) + 1
completed = [j for j in all_jobs if j["state"] == "completed"]
stuck = [j["id"] for j in all_jobs if j["state"] != "completed"]
twice = [job for job, n in per_job.items() if n != 1]
standby = [s for s in server_rows if s["state"] == "standby"]
leaks = []
for root, dirs, files in os.walk(os.path.join(home, "infra", "servers")):
    leaks += [os.path.join(root, f) for f in files if f in ("vm.json", "test-vm.json", "mount", "workload") or "hot" in root]
# The kept counts (triggers and statements) through every kill agree with the jobs themselves.
listed = {}
for j in all_jobs:
    listed.setdefault(j["queue"], {}).setdefault(j["state"], 0)
    listed[j["queue"]][j["state"]] += 1
kept = {queue: {state: n for state, n in states.items() if n} for queue, states in json.load(open(os.path.join(home, "stats.json")))["counts"].items()}
counts = "ok" if kept == listed else "drift"
if postgres:
    # Every event number once, in order: no event of a restarted or cut-off host lost or repeated.
    seqs = [event["seq"] for event in load("events.json")]
    integrity = "ok" if all(a < b for a, b in zip(seqs, seqs[1:])) else "events-out-of-order"
else:
    integrity = sqlite3.connect(f"file:{home}/lifeline.db?mode=ro", uri=True).execute("PRAGMA integrity_check").fetchone()[0]
ok = (not stuck and not twice and len(per_job) == len(completed) and len(standby) == servers
      and not leaks and integrity == "ok" and counts == "ok" and failed_drives == 0 and len(all_jobs) >= jobs and double_runs == 0)
print(f"chaos{' (postgres, 2 hosts)' if postgres else ''}: {'PASS' if ok else 'FAIL'} jobs={len(all_jobs)} completed={len(completed)} "
      f"completed-twice={len(twice)} double-runs={double_runs} stuck={len(stuck)} servers={len(standby)}/{servers} standby "
      f"failed-drives={failed_drives} kills={kills} (writers {writer_kills}) leaked-files={len(leaks)} integrity={integrity} counts={counts} in {seconds}s")
if leaks: print("leaked:", *leaks[:5])
if counts != "ok": print("counts kept:", kept, "counts listed:", listed)
for job in [j for j in all_jobs if j["state"] != "completed"][:10]:
    print("stuck:", json.dumps({k: job.get(k) for k in ("id", "kind", "queue", "state", "attempt", "max_attempts", "server", "errors")}))
sys.exit(0 if ok else 1)
PY
