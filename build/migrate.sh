#!/bin/sh
# migrate.sh - apply the numbered migrations in sql/ that are not yet applied.
#
# usage: build/migrate.sh SQLDIR   (connection from PGHOST/PGPORT/PGDATABASE/
#                                   PGUSER as for psql)
# Each migration runs in one transaction together with its row in
# schema_migrations, so a failed migration leaves nothing behind. A session
# advisory lock keeps two concurrent runs from applying the same file.
set -eu
dir=${1:?usage: migrate.sh SQLDIR}
export PGOPTIONS="${PGOPTIONS:-} -c client_min_messages=warning"
PSQL="psql -X -q -v ON_ERROR_STOP=1 --no-psqlrc"

$PSQL -c "CREATE TABLE IF NOT EXISTS schema_migrations (
            version text PRIMARY KEY,
            applied_at timestamptz NOT NULL DEFAULT now())" >/dev/null

for f in "$dir"/[0-9][0-9][0-9]_*.sql; do
    [ -e "$f" ] || continue
    v=$(basename "$f" .sql)
    # the version goes into SQL below: allow only what migration names use
    case "$v" in
    *[!A-Za-z0-9_]*) echo "migrate: bad migration name $v" >&2; exit 1 ;;
    esac
    done_already=$($PSQL -At -c "SELECT 1 FROM schema_migrations WHERE version = '$v'")
    [ -n "$done_already" ] && continue
    echo "migrate: applying $v"
    $PSQL --single-transaction \
        -c "SELECT pg_advisory_xact_lock(7243001)" \
        -f "$f" \
        -c "INSERT INTO schema_migrations (version) VALUES ('$v')" >/dev/null
done
