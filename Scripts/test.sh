#!/usr/bin/env bash
# Builds Lifeline and runs every test: on SQLite, and on a throwaway PostgreSQL server
# (Scripts/postgres.sh, which installs PostgreSQL when missing). Installs the SQLite headers
# and, when missing, Chromium (for the dashboard's browser test) and libfaketime (for workers
# whose clocks are wrong).
set -euo pipefail
cd "$(dirname "$0")/.."

Scripts/setup.sh
missing=()
command -v chromium >/dev/null || missing+=(chromium)
compgen -G "/usr/lib/*/faketime/libfaketime.so.1" >/dev/null || missing+=(faketime)
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing ${missing[*]} (for the dashboard's browser test and the clock tests)" >&2
  sudo_cmd=""
  [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${missing[@]}" >/dev/null
fi

swift build --build-tests
# Swift Testing starts every test at once; on two cores that left 50-60 threads runnable, and
# PostgreSQL's backends answered connections after their 5 s timeout. Six at a time takes no
# longer here and keeps them in time.
export SWT_EXPERIMENTAL_MAXIMUM_PARALLELIZATION_WIDTH="${SWT_EXPERIMENTAL_MAXIMUM_PARALLELIZATION_WIDTH:-6}"
Scripts/postgres.sh -- swift test --skip-build "$@"
# A small chaos run: jobs and servers while worker processes are killed at random.
LIFELINE_BIN=.build/debug/lifeline Scripts/chaos.sh --small
