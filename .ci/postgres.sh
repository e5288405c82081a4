#!/usr/bin/env bash
# Install and start a local PostgreSQL with a 'loopline_test' database for the store tests.
set -euo pipefail
if ! command -v pg_ctlcluster >/dev/null 2>&1; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
fi
version=$(ls /usr/lib/postgresql | sort -n | tail -n 1)
pg_ctlcluster "$version" main start 2>/dev/null || true
for _ in $(seq 30); do pg_isready -q -h 127.0.0.1 && break; sleep 1; done
pg_isready -h 127.0.0.1
psql_do() { su postgres -c "psql -v ON_ERROR_STOP=1 -qtAc \"$1\""; }
[ "$(psql_do "SELECT 1 FROM pg_roles WHERE rolname='loopline'")" = 1 ] ||
  psql_do "CREATE USER loopline WITH PASSWORD 'loopline' CREATEDB"
[ "$(psql_do "SELECT 1 FROM pg_database WHERE datname='loopline_test'")" = 1 ] ||
  psql_do "CREATE DATABASE loopline_test OWNER loopline"
