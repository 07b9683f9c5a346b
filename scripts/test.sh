#!/usr/bin/env bash
# The test suite: once on SQLite, then the database tests again on PostgreSQL when one is
# configured (THREADLINE_TEST_POSTGRES_URL) or answers on 127.0.0.1:5432.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
# One pytest worker per core (pytest-xdist); each worker migrates its own database.
WORKERS="${TEST_WORKERS:-auto}"

echo "== tests on SQLite"
$PY -m pytest -n "$WORKERS" "$@"

pg_url="${THREADLINE_TEST_POSTGRES_URL:-}"
if [ -z "$pg_url" ]; then
  if $PY - <<'PYEOF'
import socket, sys
try:
    socket.create_connection(("127.0.0.1", 5432), timeout=1).close()
except OSError:
    sys.exit(1)
PYEOF
  then
    pg_url="postgresql://postgres@127.0.0.1:5432/postgres"
  fi
fi

if [ -z "$pg_url" ]; then
  echo "== PostgreSQL: none configured or reachable on 127.0.0.1:5432; database tests ran on SQLite only"
  exit 0
fi
echo "== database tests on PostgreSQL (${pg_url%%@*}@...)"
THREADLINE_TEST_DATABASE_URL="$pg_url" $PY -m pytest -n "$WORKERS" -m db "$@"
