#!/usr/bin/env bash
# The ceiling under the case page on this machine, measured with pgbench on the benchmark's
# database (bench/generate.sh): transactions a second at 32 clients for
#   1. the reference page's read (one primary-key lookup, nothing written);
#   2. what a case view must write and nothing else: one audit row of the size a view's is,
#      with the audit table's indexes, committed (synchronous_commit on, as Haven runs);
#   3. the same with synchronous_commit off, to show how much of (2) is the commit's flush;
#   4. what a note must write and nothing else, at 64 clients as the note writers run: the
#      idempotency key, the note, its chronology entry and its audit row, in one statement,
#      committed (as `db::cases::write_note` does, less its checks and foreign keys).
# The rows go to scratch copies of the tables (same columns and indexes), dropped at the end:
# the audit trail and the casework are not touched. Nothing else should run while it measures.
#   bench/ceiling.sh            # BENCH_SECONDS (10), BENCH_CONCURRENCY (32), BENCH_DB as run.sh
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/common.sh
secs="${BENCH_SECONDS:-10}"
clients="${BENCH_CONCURRENCY:-32}"
work="$(mktemp -d)"
scratch="bench_ceiling_audit, bench_ceiling_notes, bench_ceiling_chronology, bench_ceiling_submissions"
trap 'rm -rf "$work"; psql "$URL" -qc "DROP TABLE IF EXISTS $scratch" >/dev/null 2>&1 || true' EXIT

if [ "$(psql "$URL" -Atc "SELECT count(*) > 0 FROM (SELECT 1 FROM cases WHERE reference LIKE 'SCL-%' LIMIT 1) s")" != t ]; then
  echo "$DB holds no cases bench/generate.sh made: run it first (this script only measures its database)" >&2
  exit 1
fi
psql "$URL" -qc "SET client_min_messages = warning; DROP TABLE IF EXISTS bench_ceiling_audit;
  CREATE TABLE bench_ceiling_audit (LIKE audit_events INCLUDING DEFAULTS INCLUDING INDEXES);
  ALTER TABLE bench_ceiling_audit ALTER COLUMN seq DROP DEFAULT;
  CREATE SEQUENCE IF NOT EXISTS bench_ceiling_seq;
  ALTER TABLE bench_ceiling_audit ALTER COLUMN seq SET DEFAULT nextval('bench_ceiling_seq');
  DROP TABLE IF EXISTS bench_ceiling_notes, bench_ceiling_chronology, bench_ceiling_submissions;
  CREATE TABLE bench_ceiling_notes (LIKE case_notes INCLUDING DEFAULTS INCLUDING INDEXES);
  CREATE TABLE bench_ceiling_chronology (LIKE chronology_entries INCLUDING DEFAULTS INCLUDING INDEXES);
  CREATE TABLE bench_ceiling_submissions (LIKE form_submissions INCLUDING DEFAULTS INCLUDING INDEXES);
  DROP TABLE IF EXISTS bench_ceiling_cases;
  CREATE TABLE bench_ceiling_cases AS SELECT row_number() OVER () AS n, id, owner_id FROM cases TABLESAMPLE SYSTEM (1) LIMIT 5000;
  ALTER TABLE bench_ceiling_cases ADD PRIMARY KEY (n);
  ANALYZE bench_ceiling_cases;"
n=$(psql "$URL" -Atc "SELECT count(*) FROM bench_ceiling_cases")

cat > "$work/read.sql" <<EOF
\set n random(1, $n)
SELECT reference, title, status, received_at FROM cases WHERE id = (SELECT id FROM bench_ceiling_cases WHERE n = :n);
EOF
# A case view's audit row: the same columns, a details text and a MAC of the sizes Haven writes.
cat > "$work/write.sql" <<EOF
\set n random(1, $n)
INSERT INTO bench_ceiling_audit (occurred_at, actor_user_id, actor_ip, action, entity_type, entity_id, case_id, reason, details, event_id, mac)
SELECT now(), owner_id, '127.0.0.1', 'case.view', 'case', id::text, id, NULL,
       '{"window": {"from": null, "oldest_first": false}}', gen_random_uuid(), decode(repeat('ab', 32), 'hex')
FROM bench_ceiling_cases WHERE n = :n;
EOF

cat > "$work/note.sql" <<EOF
\set n random(1, $n)
WITH c AS (SELECT id, owner_id FROM bench_ceiling_cases WHERE n = :n),
claim AS (INSERT INTO bench_ceiling_submissions (key, user_id, result_location)
          SELECT gen_random_uuid(), owner_id, '/cases/' || id FROM c RETURNING key),
note AS (INSERT INTO bench_ceiling_notes (id, case_id, body, occurred_at, created_by, occurred_time_known)
         SELECT gen_random_uuid(), c.id, repeat('A fictional note of a visit. ', 8), now(), c.owner_id, true FROM c, claim RETURNING id, case_id, created_by),
entry AS (INSERT INTO bench_ceiling_chronology (id, case_id, occurred_at, kind, summary, note_id, recorded_by, occurred_time_known)
          SELECT gen_random_uuid(), case_id, now(), 'note', 'A fictional note of a visit.', id, created_by, true FROM note RETURNING id)
INSERT INTO bench_ceiling_audit (occurred_at, actor_user_id, actor_ip, action, entity_type, entity_id, case_id, reason, details, event_id, mac)
SELECT now(), created_by, '127.0.0.1', 'note.add', 'note', id::text, case_id, NULL, '{"kind": "note"}', gen_random_uuid(), decode(repeat('ab', 32), 'hex')
FROM note;
EOF

run() { # name, script, extra PGOPTIONS, clients
  local tps=""
  tps=$(PGOPTIONS="${3:-}" pgbench -n -M prepared -c "${4:-$clients}" -j 2 -T "$secs" -f "$2" "$URL" 2>"$work/err" |
        awk '/^tps = / { printf "%d", $3 }') || true
  [ -n "$tps" ] || { cat "$work/err" >&2; exit 1; }
  printf '| %s | %s | %s |\n' "$1" "${4:-$clients}" "$tps"
}
echo "| what ($secs s each) | clients | transactions a second |"
echo "| --- | ---: | ---: |"
run "the reference page's read" "$work/read.sql"
run "a view's audit row, committed" "$work/write.sql"
run "a view's audit row, synchronous_commit off" "$work/write.sql" "-c synchronous_commit=off"
run "a note's four rows, committed" "$work/note.sql" "" 64
run "a note's four rows, synchronous_commit off" "$work/note.sql" "-c synchronous_commit=off" 64
psql "$URL" -qc "SET client_min_messages = warning; DROP TABLE IF EXISTS bench_ceiling_cases; DROP SEQUENCE IF EXISTS bench_ceiling_seq CASCADE"
