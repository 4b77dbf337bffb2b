#!/usr/bin/env bash
# A throwaway PostgreSQL server for tests, chaos runs and benchmarks.
#
#   Scripts/postgres.sh -- COMMAND [ARGS...]
#
# Installs PostgreSQL from Debian's packages when missing, starts a new cluster in a temporary
# directory on a free loopback port (password authentication, a random password), runs COMMAND
# with LIFELINE_TEST_POSTGRES_URL set to it (the password in PGPASSWORD, never in the URL), and
# stops the cluster and removes its directory afterwards, whatever COMMAND's outcome. Also
# exported for COMMAND: LIFELINE_TEST_POSTGRES_DATA (the data directory) and
# LIFELINE_TEST_POSTGRES_CTL (a pg_ctl that runs as the cluster's owner), so a run can restart
# the server, and LIFELINE_TEST_POSTGRES_ROOT_CERT (the certificate the server offers for TLS,
# made for localhost for this run).
set -euo pipefail

if [ "${1:-}" != "--" ] || [ $# -lt 2 ]; then
  echo "usage: Scripts/postgres.sh -- COMMAND [ARGS...]" >&2
  exit 64
fi
shift

sudo_cmd=""
[ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
if [ -z "$bindir" ] || ! [ -x "$bindir/initdb" ]; then
  echo "installing postgresql" >&2
  $sudo_cmd apt-get update -qq
  $sudo_cmd apt-get install -y -qq postgresql >/dev/null
  bindir=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
fi

# PostgreSQL refuses to run as root: as root, the cluster belongs to the postgres user.
as_owner=()
if [ "$(id -u)" -eq 0 ]; then as_owner=(runuser -u postgres --); fi

dir=$(mktemp -d /tmp/lifeline-pg.XXXXXX)
chmod 700 "$dir"
[ ${#as_owner[@]} -gt 0 ] && chown postgres: "$dir"
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
password=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')
printf '%s\n' "$password" > "$dir/pwfile"
[ ${#as_owner[@]} -gt 0 ] && chown postgres: "$dir/pwfile"

ctl="$dir/pg_ctl"
printf '#!/bin/sh\nexec %s %s/pg_ctl -D %s -l %s/log -w "$@"\n' "${as_owner[*]}" "$bindir" "$dir/data" "$dir" > "$ctl"
chmod 755 "$ctl"

stop() {
  "$ctl" stop -m fast >/dev/null 2>&1 || true
  rm -rf "$dir"
}
trap stop EXIT

"${as_owner[@]}" "$bindir/initdb" -D "$dir/data" -U lifeline --pwfile="$dir/pwfile" --auth=scram-sha-256 \
  --encoding=UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; exit 1; }
rm -f "$dir/pwfile"
# TLS with a certificate made for this run, for localhost: clients may use it or not.
openssl req -new -x509 -days 2 -nodes -subj "/CN=localhost" -addext "subjectAltName=DNS:localhost" \
  -keyout "$dir/data/server.key" -out "$dir/data/server.crt" >/dev/null 2>&1
chmod 600 "$dir/data/server.key"
[ ${#as_owner[@]} -gt 0 ] && chown postgres: "$dir/data/server.key" "$dir/data/server.crt"
cp "$dir/data/server.crt" "$dir/root.crt" && chmod 644 "$dir/root.crt"
cat >> "$dir/data/postgresql.conf" <<EOF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$dir'
max_connections = 300
ssl = on
EOF
"$ctl" start >/dev/null || { cat "$dir/log" >&2; exit 1; }

export PGPASSWORD="$password"
"$bindir/createdb" -h 127.0.0.1 -p "$port" -U lifeline lifeline
export LIFELINE_TEST_POSTGRES_URL="postgres://lifeline@127.0.0.1:$port/lifeline"
export LIFELINE_TEST_POSTGRES_DATA="$dir/data"
export LIFELINE_TEST_POSTGRES_CTL="$ctl"
export LIFELINE_TEST_POSTGRES_ROOT_CERT="$dir/root.crt"
export PATH="$bindir:$PATH"
echo "postgres: a throwaway server at $LIFELINE_TEST_POSTGRES_URL" >&2

set +e
"$@"
status=$?
set -e
exit $status
