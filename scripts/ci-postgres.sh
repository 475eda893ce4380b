#!/usr/bin/env bash
# Install and start a local PostgreSQL for the server's storage tests, then
# print the line to export. Needs root (CI runs as root). Idempotent.
#
#   eval "$(bash scripts/ci-postgres.sh | tail -n 1)"
#   uv run --all-packages pytest server/tests -q
set -euo pipefail

DB_USER=${CHAOSIQ_PG_USER:-chaosiq}
DB_PASS=${CHAOSIQ_PG_PASSWORD:-chaosiq}
DB_NAME=${CHAOSIQ_PG_DB:-chaosiq_test}
PORT=${CHAOSIQ_PG_PORT:-5432}

log() { echo "ci-postgres: $*" >&2; }

if ! command -v pg_ctlcluster >/dev/null 2>&1 || ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
    log "installing postgresql with apt"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq postgresql >&2
fi

VERSION=$(ls /usr/lib/postgresql | sort -V | tail -n 1)
CLUSTER=main
if ! pg_lsclusters -h 2>/dev/null | awk '{print $1" "$2}' | grep -qx "$VERSION $CLUSTER"; then
    log "creating cluster $VERSION/$CLUSTER"
    pg_createcluster "$VERSION" "$CLUSTER" --port "$PORT" >&2
fi
if ! pg_lsclusters -h | awk -v v="$VERSION" -v c="$CLUSTER" '$1==v && $2==c {print $4}' | grep -q online; then
    log "starting cluster $VERSION/$CLUSTER"
    pg_ctlcluster "$VERSION" "$CLUSTER" start >&2 || service postgresql start >&2
fi
PORT=$(pg_lsclusters -h | awk -v v="$VERSION" -v c="$CLUSTER" '$1==v && $2==c {print $3}')

# Wait for readiness with a deadline (no sleep-and-hope).
for _ in $(seq 1 100); do
    if su postgres -c "pg_isready -q -p $PORT"; then break; fi
    sleep 0.1
done
su postgres -c "pg_isready -p $PORT" >&2

psql_admin() { su postgres -c "psql -v ON_ERROR_STOP=1 -q -p $PORT -tAc \"$1\""; }

if [ "$(psql_admin "SELECT 1 FROM pg_roles WHERE rolname='$DB_USER'")" != "1" ]; then
    psql_admin "CREATE ROLE $DB_USER LOGIN PASSWORD '$DB_PASS'"
fi
if [ "$(psql_admin "SELECT 1 FROM pg_database WHERE datname='$DB_NAME'")" != "1" ]; then
    psql_admin "CREATE DATABASE $DB_NAME OWNER $DB_USER"
fi
# Benchmarks use a second database so they never touch the test one.
if [ "$(psql_admin "SELECT 1 FROM pg_database WHERE datname='${DB_NAME}_bench'")" != "1" ]; then
    psql_admin "CREATE DATABASE ${DB_NAME}_bench OWNER $DB_USER"
fi

log "PostgreSQL $VERSION ready on 127.0.0.1:$PORT"
echo "export CHAOSIQ_TEST_DATABASE_URL=postgresql+psycopg://$DB_USER:$DB_PASS@127.0.0.1:$PORT/$DB_NAME"
