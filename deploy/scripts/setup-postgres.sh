#!/bin/sh
# One-shot: create Temporal's two databases and bring their schemas to this image's version.
# Safe to re-run (existing databases are kept; update-schema applies only what is missing).
set -eu
ep="${POSTGRES_SEEDS:?}"
tool() { temporal-sql-tool --plugin postgres12 --ep "$ep" -u "$POSTGRES_USER" -p "${DB_PORT:-5432}" "$@"; }

echo "waiting for PostgreSQL at $ep"
until nc -z "$ep" "${DB_PORT:-5432}"; do sleep 1; done

for db in temporal temporal_visibility; do
  tool --db "$db" create || echo "database $db exists"
done
tool --db temporal setup-schema -v 0.0 || true
tool --db temporal update-schema -d /etc/temporal/schema/postgresql/v12/temporal/versioned
tool --db temporal_visibility setup-schema -v 0.0 || true
tool --db temporal_visibility update-schema -d /etc/temporal/schema/postgresql/v12/visibility/versioned
echo "Temporal schema ready"
