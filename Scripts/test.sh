#!/usr/bin/env bash
# Builds Lifeline and runs every test. Installs the SQLite headers first when they are missing.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! [ -f /usr/include/sqlite3.h ]; then
  echo "installing libsqlite3-dev"
  sudo_cmd=""
  [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  $sudo_cmd apt-get install -y -qq libsqlite3-dev
fi

swift build --build-tests
swift test --skip-build "$@"
# A small chaos run: jobs and servers while worker processes are killed at random.
LIFELINE_BIN=.build/debug/lifeline Scripts/chaos.sh --small
