#!/usr/bin/env bash
# The ceiling under the case page on this machine, measured with pgbench on the benchmark's
# database (bench/generate.sh): transactions a second at 32 clients for
#   1. the reference page's read (one primary-key lookup, nothing written);
#   2. what a case view must write and nothing else: one audit row of the size a view's is,
#      with the audit table's indexes, committed (synchronous_commit on, as Haven runs);
#   3. the same with synchronous_commit off, to show how much of (2) is the commit's flush;
#   4. what a note must write and nothing else, at 64 clients as the note writers run: the
#      idempotency key, the note, its chronology entry and its audit row, in one statement,
#      committed (as `db::cases::write_note` does, less its checks and foreign keys);
#   5. the same with synchronous_commit off;
#   6. a note as Haven sends it, at Haven's pool size (10 clients): the session's statement
#      (`db::sessions::find_live` without the navigation's counts, as a form post sends it) for
#      the bench practitioner's live session, then the note's own
#      statement (`db::cases::write_note`: visibility, idempotency key, note, chronology entry,
#      audit row, the earlier result), the copies now carrying the real tables' foreign keys and
#      trigger, one generic plan each as Haven keeps; plus one small statement that picks the case
#      and makes the new rows' identifiers, measured alone and taken out. Copies start empty and no
#      sealer runs (both make it a little cheaper than Haven's); needs a bench/run.sh run first
#      (its sign-in). Copied from the two functions: keep in step.
# The rows go to scratch copies of the tables (same columns and indexes), dropped at the end:
# the audit trail and the casework are not touched. Nothing else should run while it measures.
#   bench/ceiling.sh            # BENCH_SECONDS (10), BENCH_CONCURRENCY (32), BENCH_DB as run.sh
#   BENCH_NOTE_KEYS=1 bench/ceiling.sh   # and what the note's keys and unread index cost
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/common.sh
secs="${BENCH_SECONDS:-10}"
clients="${BENCH_CONCURRENCY:-32}"
work="$(mktemp -d)"
scratch="bench_ceiling_audit, bench_ceiling_chronology, bench_ceiling_notes, bench_ceiling_submissions, bench_ceiling_team_cases"
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
  CREATE TABLE bench_ceiling_notes (LIKE case_notes INCLUDING DEFAULTS INCLUDING INDEXES INCLUDING CONSTRAINTS);
  CREATE TABLE bench_ceiling_chronology (LIKE chronology_entries INCLUDING DEFAULTS INCLUDING INDEXES INCLUDING CONSTRAINTS);
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

tps=""
run() { # name, script, extra PGOPTIONS, clients; leaves the rate in $tps
  tps=""
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
# 6. A note as Haven sends it, for the bench practitioner's live session.
session=$(psql "$URL" -Atc "SELECT encode(s.token_hash, 'hex') FROM sessions s JOIN users u ON u.id = s.user_id
  WHERE u.email = 'bench-practitioner@example.org' AND s.stage = 'active' AND s.ended_at IS NULL
    AND s.expires_at > now() + interval '1 hour' ORDER BY s.created_at DESC LIMIT 1")
if [ -z "$session" ]; then
  echo "(no live session of bench-practitioner@example.org: run bench/run.sh first for the note as Haven sends it)" >&2
else
  me=$(psql "$URL" -Atc "SELECT id FROM users WHERE email = 'bench-practitioner@example.org'")
  team=$(psql "$URL" -Atc "SELECT team_id FROM team_memberships WHERE user_id = '$me' LIMIT 1")
  psql "$URL" -qc "SET client_min_messages = warning;
    ALTER TABLE bench_ceiling_submissions ADD FOREIGN KEY (user_id) REFERENCES users (id);
    ALTER TABLE bench_ceiling_notes ADD FOREIGN KEY (case_id) REFERENCES cases (id),
      ADD FOREIGN KEY (created_by) REFERENCES users (id),
      ADD FOREIGN KEY (corrects_note_id) REFERENCES bench_ceiling_notes (id);
    CREATE TRIGGER bench_ceiling_correction_same_case BEFORE INSERT ON bench_ceiling_notes
      FOR EACH ROW EXECUTE FUNCTION haven_correction_same_case();
    ALTER TABLE bench_ceiling_chronology ADD FOREIGN KEY (case_id) REFERENCES cases (id),
      ADD FOREIGN KEY (note_id) REFERENCES bench_ceiling_notes (id),
      ADD FOREIGN KEY (recorded_by) REFERENCES users (id);
    DROP TABLE IF EXISTS bench_ceiling_team_cases;
    CREATE TABLE bench_ceiling_team_cases AS SELECT row_number() OVER () AS n, id FROM (
      SELECT id FROM cases WHERE team_id = '$team' AND NOT restricted AND reference LIKE 'SCL-%'
      ORDER BY md5(id::text) LIMIT 5000) s;
    ALTER TABLE bench_ceiling_team_cases ADD PRIMARY KEY (n);
    ANALYZE bench_ceiling_team_cases;"
  tn=$(psql "$URL" -Atc "SELECT count(*) FROM bench_ceiling_team_cases")
  # pgbench takes ":name" for a variable even inside a string: no colon below may touch a letter
  # but the variables'. Identifiers as Haven makes them: time-ordered (UUIDv7-like) for the rows,
  # random for the form's key.
  v7="(lpad(to_hex((extract(epoch FROM clock_timestamp()) * 1000)::bigint), 12, '0') || substr(md5(random()::text), 1, 20))::uuid"
  cat > "$work/haven-note.sql" <<EOF
\set n random(1, $tn)
SELECT id AS cid, gen_random_uuid() AS fk, $v7 AS nid, $v7 AS eid, $v7 AS evid FROM bench_ceiling_team_cases WHERE n = :n \gset
SELECT s.id AS session_id, s.stage, s.csrf_token, s.created_at, s.last_seen_at, s.expires_at, \
  u.id AS user_id, u.email, u.display_name, u.role, u.disabled_at, \
  (u.totp_enabled_at IS NOT NULL AND u.totp_secret IS NOT NULL) AS totp_enabled, \
  u.must_enrol_second_factor AS must_enrol, \
  array(SELECT team_id FROM team_memberships m WHERE m.user_id = u.id) AS team_ids, \
  (SELECT count(*) FROM account_notices n WHERE n.user_id = u.id AND n.seen_at IS NULL) AS unseen_notices, \
  NULL::bigint AS due_mine, NULL::bigint AS due_team, \
  s.reauthenticated_at, (SELECT v.version FROM calendar_version v WHERE v.id = 1) AS calendar_version \
FROM sessions s JOIN users u ON u.id = s.user_id \
WHERE s.token_hash = decode('$session', 'hex') AND s.ended_at IS NULL;
WITH v AS ( \
  SELECT c.id FROM cases c \
  WHERE c.id = :cid::uuid AND ( \
      (c.restricted = false AND c.team_id = ANY(ARRAY['$team']::uuid[])) \
      OR (c.restricted AND haven_sees_restricted_case(c.id, '$me'::uuid, false))) \
    AND (NULL::uuid IS NULL OR EXISTS (SELECT 1 FROM bench_ceiling_notes k WHERE k.id = NULL::uuid AND k.case_id = :cid::uuid)) \
), claim AS ( \
  INSERT INTO bench_ceiling_submissions (key, user_id, result_location) \
  SELECT :fk::uuid, '$me'::uuid, '/cases/x#chronology' FROM v \
  ON CONFLICT (key) DO NOTHING \
  RETURNING key \
), note AS ( \
  INSERT INTO bench_ceiling_notes (id, case_id, body, occurred_at, corrects_note_id, created_by, occurred_time_known) \
  SELECT :nid::uuid, :cid::uuid, 'Telephone call with the school about attendance, reference 1234567.', now(), NULL::uuid, '$me'::uuid, true FROM claim \
  RETURNING id \
), entry AS ( \
  INSERT INTO bench_ceiling_chronology (id, case_id, occurred_at, kind, summary, note_id, recorded_by, occurred_time_known) \
  SELECT :eid::uuid, :cid::uuid, now(), 'note', 'Case note', note.id, '$me'::uuid, true FROM note \
  RETURNING id \
), logged AS ( \
  INSERT INTO bench_ceiling_audit (occurred_at, actor_user_id, actor_ip, action, entity_type, entity_id, case_id, reason, details, event_id, mac) \
  SELECT now(), '$me'::uuid, '127.0.0.1', 'case.note_add', 'case_note', :nid::text, :cid::uuid, NULL, '{"corrects": null}', :evid::uuid, decode(repeat('ab', 32), 'hex') FROM note \
  RETURNING seq \
) \
SELECT EXISTS (SELECT 1 FROM v) AS found, EXISTS (SELECT 1 FROM claim) AS claimed, \
       (SELECT count(*) FROM entry) + (SELECT count(*) FROM logged) AS written, \
       (SELECT s.result_location FROM bench_ceiling_submissions s WHERE s.key = :fk::uuid AND s.user_id = '$me'::uuid) AS earlier;
EOF
  # Haven keeps one generic plan for both statements (its `hot` pool).
  generic="-c plan_cache_mode=force_generic_plan"
  # As many connections as Haven's pool holds (HAVEN_DB_MAX_CONNECTIONS, 10 by default): 64 writers
  # share them, so PostgreSQL runs at most that many notes at once.
  pool="${BENCH_POOL:-10}"
  run "a note as Haven sends it (its two statements, foreign keys), committed" "$work/haven-note.sql" "$generic" "$pool"
  both=$tps
  head -n 2 "$work/haven-note.sql" > "$work/pick.sql"
  run "of which picking the case and the new rows' identifiers (pgbench's step, not Haven's)" "$work/pick.sql" "$generic" "$pool"
  pick=$tps
  printf '| %s | %s | %s |\n' "the note's two statements alone (the two above, the pick's time taken out)" "$pool" \
    "$(awk -v a="$both" -v b="$pick" 'BEGIN { printf "%d", 1 / (1 / a - 1 / b) }')"
  # BENCH_NOTE_KEYS=1: what the note's keys and its unread index cost (docs/performance.md, ninth
  # round). Three rounds of three runs, alternating: as Haven has them; without the notes' index
  # on (case_id, created_at), which no statement reads; and also without the chronology entry's
  # foreign keys to its case and author, which repeat the note's own.
  if [ "${BENCH_NOTE_KEYS:-0}" = 1 ]; then
    idx=$(psql "$URL" -Atc "SELECT indexrelid::regclass FROM pg_index WHERE indrelid = 'bench_ceiling_notes'::regclass
      AND pg_get_indexdef(indexrelid) LIKE '%(case_id, created_at)%'")
    fkc=$(psql "$URL" -Atc "SELECT conname FROM pg_constraint WHERE conrelid = 'bench_ceiling_chronology'::regclass
      AND pg_get_constraintdef(oid) LIKE '%(case_id) REFERENCES cases%'")
    fkr=$(psql "$URL" -Atc "SELECT conname FROM pg_constraint WHERE conrelid = 'bench_ceiling_chronology'::regclass
      AND pg_get_constraintdef(oid) LIKE '%(recorded_by)%'")
    # Each with pgbench's step (the pick, measured above) taken out, as the row above.
    alone() { printf '| %s | %s | %s |\n' "$1, the pick taken out" "$pool" \
      "$(awk -v a="$tps" -v b="$pick" 'BEGIN { printf "%d", 1 / (1 / a - 1 / b) }')"; }
    for round in 1 2 3; do
      run "round $round: the note's two statements, every key and index" "$work/haven-note.sql" "$generic" "$pool"
      alone "round $round: every key and index"
      psql "$URL" -qc "DROP INDEX $idx"
      run "round $round: without the notes' (case_id, created_at) index" "$work/haven-note.sql" "$generic" "$pool"
      alone "round $round: without the index"
      psql "$URL" -qc "ALTER TABLE bench_ceiling_chronology DROP CONSTRAINT $fkc, DROP CONSTRAINT $fkr"
      run "round $round: also without the entry's keys to its case and author" "$work/haven-note.sql" "$generic" "$pool"
      alone "round $round: also without the entry's two keys"
      psql "$URL" -qc "CREATE INDEX $idx ON bench_ceiling_notes (case_id, created_at);
        ALTER TABLE bench_ceiling_chronology ADD CONSTRAINT $fkc FOREIGN KEY (case_id) REFERENCES cases (id),
          ADD CONSTRAINT $fkr FOREIGN KEY (recorded_by) REFERENCES users (id)"
    done
  fi
fi
psql "$URL" -qc "SET client_min_messages = warning; DROP TABLE IF EXISTS bench_ceiling_cases; DROP SEQUENCE IF EXISTS bench_ceiling_seq CASCADE"
