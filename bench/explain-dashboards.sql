-- EXPLAIN (ANALYZE, BUFFERS) of the dashboard queries, on the database bench/deadlines-at-scale.sql
-- filled. The queries are those in src/db/deadlines.rs and src/db/sessions.rs, with the largest
-- team (about 200,000 cases) and one of its case workers.
\set ON_ERROR_STOP on
SET plan_cache_mode = force_generic_plan;  -- as Haven's `hot` pool runs them (decision 005)
SELECT id AS big_team FROM teams WHERE name = 'Scale team 1' \gset
SELECT owner_id AS owner FROM cases WHERE team_id = :'big_team' GROUP BY owner_id ORDER BY count(*) DESC LIMIT 1 \gset
SELECT array_agg(id)::text AS two_teams FROM (SELECT id FROM teams WHERE name IN ('Scale team 1', 'Scale team 2')) t \gset

\echo 'Team work: the 25 most urgent of each part (overdue, due today, due in 5 working days), two teams (one with 200,000 cases)'
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF)
WITH cursor AS (SELECT '-infinity'::timestamptz AS due_at, '00000000-0000-0000-0000-000000000000'::uuid AS id)
SELECT (b.n - 1)::int AS section, d.id, d.case_id, d.reference, d.title, d.kind, d.child_name, d.due_at
FROM unnest(ARRAY['1900-01-01', now(), date_trunc('day', now()) + interval '1 day']::timestamptz[],
            ARRAY[now(), date_trunc('day', now()) + interval '1 day', now() + interval '7 days']::timestamptz[]) WITH ORDINALITY AS b(lo, hi, n)
CROSS JOIN cursor
CROSS JOIN LATERAL (
    SELECT CASE WHEN cursor.due_at >= b.lo THEN cursor.due_at ELSE b.lo END AS due_at,
           CASE WHEN cursor.due_at >= b.lo THEN cursor.id ELSE '00000000-0000-0000-0000-000000000000' END AS id) s
CROSS JOIN LATERAL (
    SELECT x.id, x.case_id, c.reference, c.title, x.kind, p.full_name AS child_name, x.due_at
    FROM unnest(:'two_teams'::uuid[]) AS vt(team_id)
    CROSS JOIN LATERAL (
        SELECT * FROM deadlines y
        WHERE y.team_id = vt.team_id AND y.met_at IS NULL AND y.ended_at IS NULL
          AND (y.due_at, y.id) > (s.due_at, s.id) AND y.due_at < b.hi
        ORDER BY y.due_at, y.id
        LIMIT 26) x
    JOIN cases c ON c.id = x.case_id LEFT JOIN case_people p ON p.id = x.person_id
    WHERE c.restricted = false
    ORDER BY x.due_at, x.id
    LIMIT 26) d
ORDER BY b.n, d.due_at, d.id;

\echo 'My work: one case worker, the same three parts'
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF)
SELECT (b.n - 1)::int AS section, d.*
FROM unnest(ARRAY['1900-01-01', now(), date_trunc('day', now()) + interval '1 day']::timestamptz[],
            ARRAY[now(), date_trunc('day', now()) + interval '1 day', now() + interval '7 days']::timestamptz[]) WITH ORDINALITY AS b(lo, hi, n)
CROSS JOIN LATERAL (
    SELECT x.id, x.case_id, c.reference, c.title, x.kind, p.full_name AS child_name, x.due_at
    FROM deadlines x JOIN cases c ON c.id = x.case_id LEFT JOIN case_people p ON p.id = x.person_id
    WHERE x.owner_id = :'owner' AND x.met_at IS NULL AND x.ended_at IS NULL
      AND x.due_at >= b.lo AND x.due_at < b.hi
      AND c.restricted = false AND c.team_id = ANY(:'two_teams'::uuid[])
    ORDER BY x.due_at, x.id
    LIMIT 26) d
ORDER BY b.n, d.due_at, d.id;

\echo 'The navigation counts (part of every signed-in request)'
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF)
SELECT (SELECT count(*) FROM deadlines d WHERE d.owner_id = :'owner' AND d.met_at IS NULL AND d.ended_at IS NULL AND d.due_at <= now()),
       (SELECT count(*) FROM (SELECT 1 FROM deadlines d JOIN team_memberships m ON m.team_id = d.team_id AND m.user_id = :'owner'
            WHERE d.met_at IS NULL AND d.ended_at IS NULL AND d.due_at <= now() LIMIT 1000) t);

\echo 'Timeliness over 90 days, two teams: the kept days (timeliness_days, decision 009), not a count of deadlines'
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF)
SELECT t.kind, sum(t.in_time), sum(t.met)
FROM unnest(:'two_teams'::uuid[]) AS vt(team_id)
JOIN timeliness_days t ON t.team_id = vt.team_id AND t.kind IN ('referral_decision', 'icpc') AND t.day >= current_date - 89
GROUP BY t.kind;
