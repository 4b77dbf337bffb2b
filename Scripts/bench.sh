#!/usr/bin/env bash
# Lifeline's benchmark, side by side with the raw-SQLite floor and a peer queue (huey on
# SQLite), in one run on this machine. Builds what it needs into .build-bench/.
#
#   Scripts/bench.sh            # full sizes (100k jobs per scenario, a 1M backlog): several minutes
#   Scripts/bench.sh --quick    # small sizes, for a smoke test
#   Scripts/bench.sh --postgres [--quick]   # the PostgreSQL rows, beside pgbench and pgqueuer
#
# Run as root, the copy scenario drops the machine's whole page cache before each copy, so
# that every copy reads from the disk; otherwise it says that it cannot.
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ " $* " == *" --postgres "* ]]; then
  if [ -z "${LIFELINE_TEST_POSTGRES_URL:-}" ]; then exec Scripts/postgres.sh -- "$0" "$@"; fi
  Scripts/build.sh
  if ! [ -x .build-bench/venv-pg/bin/python ]; then
    python3 -m venv .build-bench/venv-pg
    .build-bench/venv-pg/bin/pip install -q pgqueuer asyncpg
  fi
  exec python3 Scripts/bench/postgres_bench.py "$(realpath .build/release/lifeline)" "$PWD/.build-bench/venv-pg/bin/python" \
    "$PWD/.build-bench/postgres-results.json" "$@"
fi

mkdir -p .build-bench
echo "building lifeline (release), the floor and the peer…" >&2
Scripts/build.sh
gcc -O2 -o .build-bench/floor Scripts/bench/floor.c -lsqlite3
if ! [ -x .build-bench/venv/bin/python ]; then
  python3 -m venv .build-bench/venv
  .build-bench/venv/bin/pip install -q huey
fi
python3 Scripts/bench/bench.py "$(realpath .build/release/lifeline)" "$(realpath .build-bench/floor)" \
  "$PWD/.build-bench/venv/bin/python" "$PWD/.build-bench/results.json" "$@"
