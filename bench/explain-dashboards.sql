-- EXPLAIN (ANALYZE, BUFFERS) of the dashboard queries, on the database bench/deadlines-at-scale.sql
-- filled. The queries are those in src/db/deadlines.rs and src/db/sessions.rs, with the largest
-- team (about 200,000 cases) and one of its case workers.
\set ON_ERROR_STOP on
SET plan_cache_mode = force_custom_plan;
SELECT id AS big_team FROM teams WHERE name = 'Scale team 1' \gset
SELECT owner_id AS owner FROM cases WHERE team_id = :'big_team' GROUP BY owner_id ORDER BY count(*) DESC LIMIT 1 \gset
SELECT array_agg(id)::text AS two_teams FROM (SELECT id FROM teams WHERE name IN ('Scale team 1', 'Scale team 2')) t \gset

\echo 'Team work: open deadlines due in the next 5 working days, two teams (one with 200,000 cases)'
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF)
SELECT d.id, d.case_id, c.reference, c.title, d.kind, p.full_name, d.started_by, d.due_at, d.local_due_at, d.met_at, d.met_by, d.ended_at, d.late_reason
FROM unnest(:'two_teams'::uuid[]) AS vt(team_id)
CROSS JOIN LATERAL (
    SELECT * FROM deadlines x
    WHERE x.team_id = vt.team_id AND x.met_at IS NULL AND x.ended_at IS NULL AND x.due_at < now() + interval '7 days'
    ORDER BY x.due_at, x.id
    LIMIT 200
) d
JOIN cases c ON c.id = d.case_id LEFT JOIN case_people p ON p.id = d.person_id
WHERE c.restricted = false
ORDER BY d.due_at, d.id
LIMIT 200;

\echo 'My work: one case worker'
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF)
SELECT d.id, d.case_id, c.reference, c.title, d.kind, p.full_name, d.started_by, d.due_at
FROM deadlines d JOIN cases c ON c.id = d.case_id LEFT JOIN case_people p ON p.id = d.person_id
WHERE d.owner_id = :'owner' AND d.met_at IS NULL AND d.ended_at IS NULL AND d.due_at < now() + interval '7 days'
  AND c.restricted = false AND c.team_id = ANY(:'two_teams'::uuid[])
ORDER BY d.due_at, d.id
LIMIT 200;

\echo 'The navigation counts (part of every signed-in request)'
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF)
SELECT (SELECT count(*) FROM deadlines d WHERE d.owner_id = :'owner' AND d.met_at IS NULL AND d.ended_at IS NULL AND d.due_at <= now()),
       (SELECT count(*) FROM (SELECT 1 FROM deadlines d JOIN team_memberships m ON m.team_id = d.team_id AND m.user_id = :'owner'
            WHERE d.met_at IS NULL AND d.ended_at IS NULL AND d.due_at <= now() LIMIT 1000) t);

\echo 'Timeliness over 90 days, two teams'
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF)
SELECT count(*) FILTER (WHERE d.met_at <= d.due_at), count(*)
FROM unnest(:'two_teams'::uuid[]) AS vt(team_id)
JOIN deadlines d ON d.team_id = vt.team_id AND d.kind = 'referral_decision' AND d.met_at >= now() - interval '90 days';
