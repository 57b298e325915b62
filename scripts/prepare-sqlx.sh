#!/usr/bin/env bash
# Regenerate .sqlx/ (the query data sqlx's compile-time checked macros use offline), or with
# --check, fail if it is out of date. Run after changing any query or migration, and commit.
# Needs PostgreSQL on 127.0.0.1:5432 and sqlx-cli 0.9
# (cargo install sqlx-cli --version 0.9.0 --no-default-features --features postgres).
set -euo pipefail
cd "$(dirname "$0")/.."
mode=()
if [ "${1:-}" = "--check" ]; then mode=(--check); fi
server="${HAVEN_TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432}"
db="haven_sqlx_prepare_$$"
psql "$server/postgres" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)"
trap 'psql "$server/postgres" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true' EXIT
# sqlx-cli creates and migrates a scratch database (the app cannot: its build may need this very data).
DATABASE_URL="$server/$db" sqlx database create
DATABASE_URL="$server/$db" sqlx migrate run --source migrations >/dev/null
DATABASE_URL="$server/$db" SQLX_OFFLINE=false cargo sqlx prepare "${mode[@]}" -- --all-targets
