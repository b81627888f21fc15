#!/usr/bin/env bash
# The scale profile's streaming replica (docker-compose.yml): on its first start, an
# empty data directory is filled with pg_basebackup from the primary, -R writing
# standby.signal and primary_conninfo (with application_name, the name that
# synchronous_standby_names may list); then PostgreSQL runs as a hot standby. Later
# starts only run it. The password comes from PGPASSWORD (compose's environment), which
# the standby's WAL receiver reads as well.
set -euo pipefail
: "${PGDATA:?}" "${PRIMARY_HOST:?}" "${STANDBY_NAME:?}" "${PGPASSWORD:?}"
if [ ! -s "$PGDATA/PG_VERSION" ]; then
    mkdir -p "$PGDATA"
    chmod 700 "$PGDATA"
    until pg_isready -q -h "$PRIMARY_HOST" -U ledger -d ledger; do
        echo "waiting for $PRIMARY_HOST" >&2
        sleep 1
    done
    pg_basebackup -D "$PGDATA" -X stream -c fast -R --progress \
        -d "host=$PRIMARY_HOST port=5432 user=ledger application_name=$STANDBY_NAME"
fi
exec postgres -D "$PGDATA" -c hba_file=/etc/ledger/pg_hba.conf -c hot_standby=on
