#!/usr/bin/env bash
# Measure Haven against the reference page on the benchmark's database (bench/README.md):
# builds release binaries, makes the two bench accounts if missing, starts `haven serve` and the
# reference page on loopback, runs the load generator and stops both. Prints a Markdown table.
#   bench/run.sh                          # every scenario, 10 seconds each
#   BENCH_SECONDS=5 BENCH_ONLY="case page,reference page" bench/run.sh
#   (BENCH_PROFILE=dev measures the debug build: only for checking that the benchmark runs)
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/common.sh
APP_URL="${SERVER/\/\/postgres@/\/\/haven_app@}/$DB"
export BENCH_PASSWORD="${BENCH_PASSWORD:-bench horse battery staple}"
PORT="${BENCH_PORT:-8080}"
REF_PORT="${BENCH_REFERENCE_PORT:-8181}"
OUT="$(mktemp -d)"
HAVEN_BIN="${BENCH_HAVEN_BIN:-$BIN_DIR/haven}"

cargo build $CARGO_PROFILE --locked --bin haven --example bench-reference --example bench-load

if [ -z "$(psql "$URL" -Atc "SELECT 1 FROM cases WHERE reference LIKE 'SCL-%' LIMIT 1")" ]; then
  echo "$DB has no benchmark data: run bench/generate.sh first" >&2
  exit 1
fi
# A database made by an older commit gets the measured build's migrations first (the server below
# runs with HAVEN_MIGRATE=off, as the app's login, which may not change the schema). An older build
# (BENCH_HAVEN_BIN) refuses a database a newer one has migrated: make its copy before migrating.
DATABASE_URL="$URL" "$HAVEN_BIN" migrate ||
  echo "$HAVEN_BIN did not migrate $DB (already migrated by a newer build?): measuring the schema as it is" >&2
psql "$URL" -qc "CREATE EXTENSION IF NOT EXISTS pg_stat_statements" 2>/dev/null ||
  echo "pg_stat_statements is not loaded (shared_preload_libraries): statements a request will show as –" >&2

# Two bench accounts in the largest team; the practitioner takes over one colleague's caseload.
for who in practitioner manager; do
  email="bench-$who@example.org"
  if [ -z "$(psql "$URL" -Atc "SELECT 1 FROM users WHERE email = '$email'")" ]; then
    printf '%s\n' "$BENCH_PASSWORD" | DATABASE_URL="$URL" HAVEN_MIGRATE=off "$BIN_DIR/haven" create-user \
      --email "$email" --name "Bench $who" --role "$who" --team "Scale team 1" >/dev/null
  fi
done
psql "$URL" -q <<'SQL'
WITH me AS (SELECT id FROM users WHERE email = 'bench-practitioner@example.org'),
     colleague AS (SELECT u.id FROM users u JOIN team_memberships m ON m.user_id = u.id
                   JOIN teams t ON t.id = m.team_id
                   WHERE t.name = 'Scale team 1' AND u.email LIKE 'scale%' AND u.role = 'practitioner'
                   ORDER BY u.email LIMIT 1)
, moved AS (
  UPDATE cases SET owner_id = (SELECT id FROM me)
  WHERE owner_id = (SELECT id FROM colleague) AND NOT EXISTS (SELECT 1 FROM cases c JOIN me ON c.owner_id = me.id)
  RETURNING id)
UPDATE deadlines SET owner_id = (SELECT id FROM me) WHERE case_id IN (SELECT id FROM moved);
SQL
# The move rewrote 10,000 cases and 30,000 deadlines: vacuum them as autovacuum would in a running
# service (migration 0037), or every page pays for visiting the moved rows' heap pages to count
# the navigation's overdue deadlines (docs/performance.md, seventh round). Quick when nothing moved.
psql "$URL" -qc "VACUUM (ANALYZE) deadlines" -c "VACUUM (ANALYZE) cases"

DATABASE_URL="$URL" HAVEN_APP_DATABASE_URL="$APP_URL" HAVEN_MIGRATE=off HAVEN_LISTEN="127.0.0.1:$PORT" \
  HAVEN_PUBLIC_URL="http://127.0.0.1:$PORT" HAVEN_LOG=warn HAVEN_AUDIT_ANCHOR_FILE="$OUT/anchors.jsonl" \
  "$HAVEN_BIN" serve > "$OUT/haven.log" 2>&1 &
HAVEN_PID=$!
BENCH_REFERENCE_DATABASE_URL="$APP_URL" BENCH_REFERENCE_LISTEN="127.0.0.1:$REF_PORT" \
  "$BIN_DIR/examples/bench-reference" > "$OUT/reference.log" 2>&1 &
REF_PID=$!
trap 'status=$?; kill $HAVEN_PID $REF_PID 2>/dev/null || true
  if [ $status -ne 0 ]; then echo "Server log: $OUT/haven.log (last lines below)" >&2; tail -n 20 "$OUT/haven.log" >&2; fi' EXIT
for _ in $(seq 1 100); do
  if (echo > "/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && (echo > "/dev/tcp/127.0.0.1/$REF_PORT") 2>/dev/null; then break; fi
  sleep 0.2
done

BENCH_HAVEN="http://127.0.0.1:$PORT" BENCH_REFERENCE="http://127.0.0.1:$REF_PORT" BENCH_DATABASE_URL="$URL" \
  BENCH_HAVEN_PID="$HAVEN_PID" "$BIN_DIR/examples/bench-load"
echo
echo "Server log: $OUT/haven.log"
