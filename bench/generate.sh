#!/usr/bin/env bash
# Make the benchmark's database: a fresh PostgreSQL database filled with fictional data at the
# scale of a region (bench/README.md). Refuses a database that already exists.
#   bench/generate.sh            # haven_scale on 127.0.0.1:5432
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/common.sh

if psql "$SERVER/postgres" -Atc "SELECT 1 FROM pg_database WHERE datname = '$DB'" | grep -q 1; then
  echo "The database $DB already exists. The benchmark only fills a fresh one: drop it first (dropdb -h 127.0.0.1 -U postgres $DB)." >&2
  exit 1
fi
cargo build --release --locked --bin haven --example bench-audit-trail
psql "$SERVER/postgres" -qc "CREATE DATABASE $DB"
DATABASE_URL="$URL" target/release/haven migrate
t0=$(date +%s)
psql "$URL" -q -f bench/deadlines-at-scale.sql   # 30 teams, 600 staff, 1,000,000 cases, 3,000,000 deadlines
psql "$URL" -q -f bench/people-at-scale.sql      # 2.5 million people, one in 50 a Smith
psql "$URL" -q -f bench/casework-at-scale.sql    # referrals, 2 million notes, 10 million chronology entries
psql "$URL" -q -f bench/approvals-at-scale.sql    # 15,000 decisions and 3,700 closures waiting for a manager
BENCH_DATABASE_URL="$URL" target/release/examples/bench-audit-trail   # 5 million audit rows, sealed
psql "$URL" -qc "VACUUM ANALYZE"
echo "Filled $DB in $(( $(date +%s) - t0 )) seconds."
