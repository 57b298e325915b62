#!/usr/bin/env bash
# Make the benchmark's database: a fresh PostgreSQL database filled with fictional data at the
# scale of a region (bench/README.md). Refuses a database that already exists.
#   bench/generate.sh                                   # haven_scale on 127.0.0.1:5432, 1,000,000 cases
#   BENCH_DB=haven_small BENCH_CASES=20000 bench/generate.sh   # a small one (as bench/smoke.sh does)
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/common.sh
CASES="${BENCH_CASES:-1000000}"
case "$CASES" in
  '' | *[!0-9]*) echo "BENCH_CASES must be a whole number of cases" >&2; exit 1 ;;
esac
CASES=$((10#$CASES))   # "020000" is twenty thousand, not octal
if [ "$CASES" -lt 1000 ]; then
  echo "BENCH_CASES must be at least 1000 (30 teams of 20 staff need cases to share)" >&2
  exit 1
fi

if psql "$SERVER/postgres" -Atc "SELECT 1 FROM pg_database WHERE datname = '$DB'" | grep -q 1; then
  echo "The database $DB already exists. The benchmark only fills a fresh one: drop it first (dropdb -h 127.0.0.1 -U postgres $DB)." >&2
  exit 1
fi
cargo build $CARGO_PROFILE --locked --bin haven --example bench-audit-trail
psql "$SERVER/postgres" -qc "CREATE DATABASE $DB"
DATABASE_URL="$URL" "$BIN_DIR/haven" migrate
t0=$(date +%s)
psql "$URL" -q -v cases="$CASES" -f bench/deadlines-at-scale.sql   # 30 teams, 600 staff, the cases (1,000,000), 3 deadlines each
psql "$URL" -q -f bench/people-at-scale.sql      # 2.5 people a case, one in 50 a Smith
psql "$URL" -q -f bench/casework-at-scale.sql    # a referral, 2 notes and 10 chronology entries a case
psql "$URL" -q -f bench/approvals-at-scale.sql   # decisions and closures waiting for a manager (15,000 and 3,700 of a million)
BENCH_DATABASE_URL="$URL" BENCH_AUDIT_ROWS="${BENCH_AUDIT_ROWS:-$((CASES * 5))}" \
  "$BIN_DIR/examples/bench-audit-trail"   # 5 audit rows a case (5 million), sealed
psql "$URL" -qc "VACUUM ANALYZE"
echo "Filled $DB with $CASES cases in $(( $(date +%s) - t0 )) seconds."
