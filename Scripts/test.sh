#!/usr/bin/env bash
# Builds Lifeline and runs every test: on SQLite, and on a throwaway PostgreSQL server
# (Scripts/postgres.sh, which installs PostgreSQL when missing). Installs the SQLite headers
# first when they are missing.
set -euo pipefail
cd "$(dirname "$0")/.."

Scripts/setup.sh

swift build --build-tests
Scripts/postgres.sh -- swift test --skip-build "$@"
# A small chaos run: jobs and servers while worker processes are killed at random.
LIFELINE_BIN=.build/debug/lifeline Scripts/chaos.sh --small
