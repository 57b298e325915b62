-- EXPLAIN (ANALYZE, BUFFERS) of the dashboard queries, on the database bench/deadlines-at-scale.sql
-- filled. The queries are those in src/db/deadlines.rs and src/db/sessions.rs, with the largest
-- team (about 200,000 cases) and one of its case workers.
\set ON_ERROR_STOP on
-- Haven's `hot` pool keeps one generic plan a statement (decision 005); the prepared statements
-- below are planned the same way.
SET plan_cache_mode = force_generic_plan;
SELECT id AS big_team FROM teams WHERE name = 'Scale team 1' \gset
SELECT owner_id AS owner FROM cases WHERE team_id = :'big_team' GROUP BY owner_id ORDER BY count(*) DESC LIMIT 1 \gset
SELECT array_agg(id)::text AS two_teams FROM (SELECT id FROM teams WHERE name IN ('Scale team 1', 'Scale team 2')) t \gset

-- The teams' statement (db::deadlines::team_deadlines, exactly), prepared as the server's `hot`
-- pool runs it: Team work asks for the three parts (overdue, due today, due soon), 26 each, with
-- its risks, approvals and timeliness ($9 true); the open-deadlines list for one page ($9 false);
-- the approvals list and the risks list for one page (no ranges, no timeliness kinds, and only
-- the one part with a limit).
PREPARE team_open(uuid[], uuid, boolean, timestamptz[], timestamptz[], timestamptz, uuid, bigint,
                  boolean, bigint, bigint, text[], date, timestamptz, uuid, timestamptz, uuid) AS
SELECT
     (SELECT coalesce(json_agg(o ORDER BY o.section, o.due_at, o.id), '[]') FROM (
         SELECT (b.n - 1)::int AS section, d.id, d.case_id, d.reference, d.title, d.kind, d.child_name, d.due_at
         FROM unnest($4::timestamptz[], $5::timestamptz[]) WITH ORDINALITY AS b(lo, hi, n)
         CROSS JOIN LATERAL (
             SELECT CASE WHEN $6::timestamptz >= b.lo THEN $6 ELSE b.lo END AS due_at,
                    CASE WHEN $6::timestamptz >= b.lo THEN $7::uuid ELSE '00000000-0000-0000-0000-000000000000' END AS id) s
         CROSS JOIN LATERAL (
             SELECT x.id, x.case_id, c.reference, c.title, x.kind, p.full_name AS child_name, x.due_at
             FROM unnest($1::uuid[]) AS vt(team_id)
             CROSS JOIN LATERAL (
                 SELECT y.id, y.case_id, y.kind, y.person_id, y.due_at
                 FROM deadlines y
                 WHERE y.team_id = vt.team_id AND y.met_at IS NULL AND y.ended_at IS NULL
                   AND (y.due_at, y.id) > (s.due_at, s.id) AND y.due_at < b.hi
                   AND NOT EXISTS (SELECT 1 FROM cases r WHERE r.id = y.case_id AND r.restricted
                                   AND NOT haven_sees_restricted_case(r.id, $2, $3))
                 ORDER BY y.due_at, y.id
                 LIMIT $8) x
             JOIN cases c ON c.id = x.case_id
             LEFT JOIN case_people p ON p.id = x.person_id
             ORDER BY x.due_at, x.id
             LIMIT $8) d) o) AS deadlines,
     CASE WHEN $9::boolean AND $10::bigint > 0 THEN (SELECT coalesce(json_agg(r ORDER BY r.received_at DESC, r.id DESC), '[]') FROM (
         SELECT c.id, c.reference, c.title, c.received_at
         FROM unnest($1::uuid[]) AS vt(team_id)
         CROSS JOIN LATERAL (
             SELECT x.id, x.reference, x.title, x.received_at FROM cases x
             WHERE x.team_id = vt.team_id AND x.immediate_risk AND x.risk_acknowledged_at IS NULL
               AND x.status <> 'closed' AND (x.received_at, x.id) < ($16::timestamptz, $17::uuid)
               AND (x.restricted = false OR haven_sees_restricted_case(x.id, $2, $3))
             ORDER BY x.received_at DESC, x.id DESC LIMIT $10
         ) c
         ORDER BY c.received_at DESC, c.id DESC LIMIT $10) r) ELSE '[]' END AS risks,
     CASE WHEN $9 AND $11::bigint > 0 THEN (SELECT coalesce(json_agg(w ORDER BY w.proposed_at, w.id), '[]') FROM (
         SELECT p.id, c.id AS case_id, c.reference, c.title, p.what,
                coalesce((SELECT u.display_name FROM users u WHERE u.id = p.proposed_by), '') AS proposed_by_name, p.proposed_at
         FROM (
           SELECT q.id, q.case_id, q.what, q.proposed_by, q.proposed_at
           FROM unnest($1::uuid[]) AS vt(team_id)
           CROSS JOIN LATERAL (
             (SELECT d.id, d.case_id, 'decision' AS what, d.proposed_by, d.proposed_at
                FROM referral_decisions d
                WHERE d.team_id = vt.team_id AND d.status = 'proposed'
                  AND (d.proposed_at, d.id) > ($14::timestamptz, $15::uuid)
                  AND NOT EXISTS (SELECT 1 FROM cases r WHERE r.id = d.case_id AND r.restricted
                                  AND NOT haven_sees_restricted_case(r.id, $2, $3))
                ORDER BY d.proposed_at, d.id LIMIT $11)
             UNION ALL
             (SELECT e.id, e.case_id, 'outcome', e.proposed_by, e.proposed_at
                FROM section47_enquiries e
                WHERE e.team_id = vt.team_id AND e.outcome_status = 'proposed'
                  AND (e.proposed_at, e.id) > ($14::timestamptz, $15::uuid)
                  AND NOT EXISTS (SELECT 1 FROM cases r WHERE r.id = e.case_id AND r.restricted
                                  AND NOT haven_sees_restricted_case(r.id, $2, $3))
                ORDER BY e.proposed_at, e.id LIMIT $11)
             UNION ALL
             (SELECT x.id, x.case_id, 'closure', x.proposed_by, x.proposed_at
                FROM case_closures x
                WHERE x.team_id = vt.team_id AND x.status = 'proposed'
                  AND (x.proposed_at, x.id) > ($14::timestamptz, $15::uuid)
                  AND NOT EXISTS (SELECT 1 FROM cases r WHERE r.id = x.case_id AND r.restricted
                                  AND NOT haven_sees_restricted_case(r.id, $2, $3))
                ORDER BY x.proposed_at, x.id LIMIT $11)
           ) q
           ORDER BY q.proposed_at, q.id
           LIMIT $11) p
         JOIN cases c ON c.id = p.case_id) w) ELSE '[]' END AS waiting,
     CASE WHEN $9 AND cardinality($12::text[]) > 0 THEN (SELECT coalesce(json_agg(t), '[]') FROM (
         SELECT n.kind, sum(n.in_time)::bigint AS in_time, sum(n.met)::bigint AS met
         FROM (
             SELECT x.kind, x.in_time, x.met
             FROM timeliness_days x
             WHERE x.team_id = ANY($1::uuid[]) AND x.kind = ANY($12::text[]) AND x.day >= $13
             UNION ALL
             SELECT y.kind, y.in_time, y.met
             FROM timeliness_changes y
             WHERE y.team_id = ANY($1::uuid[]) AND y.kind = ANY($12::text[]) AND y.day >= $13
             UNION ALL
             SELECT d.kind, (d.met_at <= d.due_at)::int, 1
             FROM cases r JOIN deadlines d ON d.case_id = r.id
             WHERE r.restricted AND d.team_id = ANY($1::uuid[]) AND d.kind = ANY($12::text[])
               AND d.met_at IS NOT NULL AND (d.met_at AT TIME ZONE 'Europe/London')::date >= $13
               AND haven_sees_restricted_case(r.id, $2, $3)
         ) n
         GROUP BY n.kind) t) ELSE '[]' END AS timeliness;

-- The same for one case worker's cases (db::deadlines::open_in_ranges, the owner's branch, exactly).
PREPARE owner_open(uuid, timestamptz[], timestamptz[], timestamptz, uuid, uuid[], uuid, boolean, bigint) AS
SELECT (b.n - 1)::int AS "section!", d.id AS "id!", d.case_id AS "case_id!", d.reference AS "reference!",
       d.title AS "title!", d.kind AS "kind!", d.child_name AS "child_name?", d.due_at AS "due_at!"
FROM unnest($2::timestamptz[], $3::timestamptz[]) WITH ORDINALITY AS b(lo, hi, n)
CROSS JOIN LATERAL (
    SELECT CASE WHEN $4::timestamptz >= b.lo THEN $4 ELSE b.lo END AS due_at,
           CASE WHEN $4::timestamptz >= b.lo THEN $5::uuid ELSE '00000000-0000-0000-0000-000000000000' END AS id) s
CROSS JOIN LATERAL (
    SELECT x.id, x.case_id, c.reference, c.title, x.kind, p.full_name AS child_name, x.due_at
    FROM deadlines x JOIN cases c ON c.id = x.case_id LEFT JOIN case_people p ON p.id = x.person_id
    WHERE x.owner_id = $1 AND x.met_at IS NULL AND x.ended_at IS NULL
      AND (x.due_at, x.id) > (s.due_at, s.id) AND x.due_at < b.hi
      AND ((c.restricted = false AND c.team_id = ANY($6::uuid[])) OR (c.restricted AND haven_sees_restricted_case(c.id, $7, $8)))
    ORDER BY x.due_at, x.id
    LIMIT $9) d
ORDER BY b.n, d.due_at, d.id;

SELECT ARRAY['1900-01-01', now(), date_trunc('day', now()) + interval '1 day']::timestamptz[] AS los,
       ARRAY[now(), date_trunc('day', now()) + interval '1 day', now() + interval '7 days']::timestamptz[] AS his \gset

\echo 'Team work: the 25 most urgent of each part, two teams (one with 200,000 cases), with risks, approvals and timeliness'
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF)
EXECUTE team_open(:'two_teams', :'owner', false, :'los', :'his', NULL, NULL, 26,
                  true, 26, 26, ARRAY['referral_decision', 'icpc'], current_date - 89, '1900-01-01', '00000000-0000-0000-0000-000000000000', '9999-12-31', 'ffffffff-ffff-ffff-ffff-ffffffffffff');

\echo 'The open-deadlines list, all of them, a page deep in (after the 1,000th)'
SELECT due_at AS after_due, id AS after_id FROM deadlines
WHERE team_id = :'big_team' AND met_at IS NULL AND ended_at IS NULL ORDER BY due_at, id OFFSET 999 LIMIT 1 \gset
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF)
EXECUTE team_open(:'two_teams', :'owner', false, ARRAY['1900-01-01']::timestamptz[], ARRAY['9999-12-31']::timestamptz[],
                  :'after_due', :'after_id', 51, false, 0, 0, ARRAY[]::text[], NULL, '1900-01-01', '00000000-0000-0000-0000-000000000000', '9999-12-31', 'ffffffff-ffff-ffff-ffff-ffffffffffff');

\echo 'The approvals list, one page of 50 after the 500th proposal waiting in the two teams'
SELECT proposed_at AS after_at, id AS after_pid FROM (
  SELECT proposed_at, id FROM referral_decisions WHERE status = 'proposed' AND team_id = ANY(:'two_teams')
  UNION ALL SELECT proposed_at, id FROM case_closures WHERE status = 'proposed' AND team_id = ANY(:'two_teams')) w
ORDER BY proposed_at, id OFFSET 499 LIMIT 1 \gset
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF)
EXECUTE team_open(:'two_teams', :'owner', false, ARRAY[]::timestamptz[], ARRAY[]::timestamptz[], NULL, NULL, 0,
                  true, 0, 51, ARRAY[]::text[], '1970-01-01', :'after_at', :'after_pid', '9999-12-31', 'ffffffff-ffff-ffff-ffff-ffffffffffff');

\echo 'The risks list, its first page of 50 in the two teams'
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF)
EXECUTE team_open(:'two_teams', :'owner', false, ARRAY[]::timestamptz[], ARRAY[]::timestamptz[], NULL, NULL, 0,
                  true, 51, 0, ARRAY[]::text[], '1970-01-01', '1900-01-01', '00000000-0000-0000-0000-000000000000', '9999-12-31', 'ffffffff-ffff-ffff-ffff-ffffffffffff');

\echo 'My work: one case worker, the same three parts'
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF)
EXECUTE owner_open(:'owner', :'los', :'his', NULL, NULL, :'two_teams', :'owner', false, 26);

\echo 'The navigation counts of a manager of the largest team (db::sessions::find_live, part of every signed-in GET)'
SELECT u.id AS mgr FROM users u JOIN team_memberships m ON m.user_id = u.id
WHERE m.team_id = :'big_team' AND u.role = 'manager' ORDER BY u.email LIMIT 1 \gset
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF)
SELECT (SELECT count(*) FROM (SELECT 1 FROM deadlines d WHERE d.owner_id = u.id AND d.met_at IS NULL AND d.ended_at IS NULL AND d.due_at <= now()
       AND NOT EXISTS (SELECT 1 FROM cases r WHERE r.restricted AND r.id = d.case_id
       AND NOT haven_sees_restricted_case(r.id, u.id, u.role = 'lado'))
       ORDER BY d.due_at LIMIT 100) t) AS due_mine,
       (SELECT count(*) FROM (SELECT 1 FROM team_memberships m
       CROSS JOIN LATERAL (
       SELECT 1 FROM deadlines d
       WHERE d.team_id = m.team_id AND d.met_at IS NULL AND d.ended_at IS NULL AND d.due_at <= now()
       AND NOT EXISTS (SELECT 1 FROM cases r WHERE r.restricted AND r.id = d.case_id
       AND NOT haven_sees_restricted_case(r.id, u.id, u.role = 'lado'))
       ORDER BY d.due_at LIMIT 100) d
       WHERE m.user_id = u.id AND u.role IN ('manager', 'lado')
       LIMIT 100) t) AS due_team
FROM users u WHERE u.id = :'mgr';

\echo 'Timeliness over 90 days, two teams: the kept days (timeliness_days, decision 009), not a count of deadlines'
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF)
SELECT t.kind, sum(t.in_time), sum(t.met)
FROM unnest(:'two_teams'::uuid[]) AS vt(team_id)
JOIN timeliness_days t ON t.team_id = vt.team_id AND t.kind IN ('referral_decision', 'icpc') AND t.day >= current_date - 89
GROUP BY t.kind;
