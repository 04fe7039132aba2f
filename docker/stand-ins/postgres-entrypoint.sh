#!/bin/sh
# The stand-in PostgreSQL's start: on an empty data directory, create the cluster with POSTGRES_USER (the
# superuser) and POSTGRES_PASSWORD, and the database POSTGRES_DB, as the official image does; then serve.
set -eu
: "${POSTGRES_PASSWORD:?POSTGRES_PASSWORD must be set}"
user="${POSTGRES_USER:-postgres}"
database="${POSTGRES_DB:-$user}"
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  password_file="$(mktemp)"
  printf '%s' "$POSTGRES_PASSWORD" >"$password_file"
  initdb --pgdata "$PGDATA" --username "$user" --pwfile "$password_file" --encoding UTF8 \
    --auth-local trust --auth-host scram-sha-256 >/dev/null
  rm -f "$password_file"
  echo "host all all all scram-sha-256" >>"$PGDATA/pg_hba.conf"
  pg_ctl --pgdata "$PGDATA" --options "-c listen_addresses=''" --wait start >/dev/null
  if [ "$database" != "postgres" ]; then
    createdb --username "$user" "$database"
  fi
  pg_ctl --pgdata "$PGDATA" --mode fast --wait stop >/dev/null
fi
exec postgres -D "$PGDATA" -c listen_addresses='*' "$@"
