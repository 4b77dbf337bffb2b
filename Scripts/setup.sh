#!/usr/bin/env bash
# Installs what building Lifeline needs beyond the Swift toolchain: the SQLite headers.
set -euo pipefail
if ! [ -f /usr/include/sqlite3.h ]; then
  echo "installing libsqlite3-dev" >&2
  sudo_cmd=""
  [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  $sudo_cmd apt-get install -y -qq libsqlite3-dev
fi
