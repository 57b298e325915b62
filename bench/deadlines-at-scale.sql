-- Fill a scratch database with 1,000,000 fictional cases and 3,000,000 deadlines, to measure
-- the dashboard queries (docs/decisions/009). Run on an empty, migrated database only:
--   DATABASE_URL=postgres://postgres@127.0.0.1:5432/haven_scale cargo run -- migrate
--   psql postgres://postgres@127.0.0.1:5432/haven_scale -f bench/deadlines-at-scale.sql
-- (add `-v cases=20000` for fewer cases, as the smoke run in CI does; teams and staff stay).
-- Every name here is made up.
\set ON_ERROR_STOP on
\if :{?cases}
\else
  \set cases 1000000
\endif
DO $$ BEGIN
  IF EXISTS (SELECT 1 FROM cases) THEN RAISE EXCEPTION 'this database already has cases: use an empty one'; END IF;
END $$;

INSERT INTO teams (id, name)
SELECT gen_random_uuid(), 'Scale team ' || g FROM generate_series(1, 30) g;

-- 600 practitioners and managers, 20 a team.
INSERT INTO users (id, email, display_name, role)
SELECT gen_random_uuid(), 'scale' || g || '@example.org', 'Scale person ' || g,
       CASE WHEN g % 10 = 0 THEN 'manager' ELSE 'practitioner' END
FROM generate_series(1, 600) g;
INSERT INTO team_memberships (user_id, team_id)
SELECT u.id, t.id
FROM (SELECT id, row_number() OVER (ORDER BY email) AS n FROM users WHERE email LIKE 'scale%') u
JOIN (SELECT id, row_number() OVER (ORDER BY name) AS n FROM teams WHERE name LIKE 'Scale team%') t
  ON t.n = (u.n - 1) / 20 + 1;

-- A million cases, skewed: team 1 has about a fifth of them.
CREATE TEMP TABLE scale_people AS
SELECT m.user_id, m.team_id, row_number() OVER (ORDER BY m.team_id, m.user_id) AS n
FROM team_memberships m JOIN users u ON u.id = m.user_id WHERE u.email LIKE 'scale%';
CREATE TEMP TABLE team_order AS
SELECT id, row_number() OVER (ORDER BY name) AS n FROM teams WHERE name LIKE 'Scale team%';

INSERT INTO cases (id, reference, team_id, owner_id, title, concern_kinds, immediate_risk, received_at, created_at, status)
SELECT gen_random_uuid(),
       'SCL-' || lpad(g::text, 7, '0'),
       p.team_id, p.user_id,
       'Child ' || g,
       ARRAY['grooming'],
       g % 50 = 0,
       now() - (g % 700) * interval '1 day',
       now() - (g % 700) * interval '1 day',
       CASE WHEN g % 4 = 0 THEN 'closed' ELSE 'open' END
FROM generate_series(1, :cases) g
JOIN team_order t ON t.n = CASE WHEN g % 5 = 0 THEN 1 ELSE 2 + (g % 29) END
-- Each team's cases spread over all 20 of its members (by g / 5: team 1 has every fifth case,
-- so by g % 20 only 4 of its members got any, 50,000 cases each, and 4 of every other team's
-- got none).
JOIN scale_people p ON p.team_id = t.id AND p.n % 20 = (g / 5) % 20;

-- Three deadlines a case: most met, some open, due from 60 days ago to 60 days ahead. Loaded
-- with the per-row timeliness trigger off and the kept figures filled once afterwards, exactly
-- as migration 20261129000025 fills them (2.8 million trigger calls would add minutes).
ALTER TABLE deadlines DISABLE TRIGGER deadlines_timeliness_insert;
INSERT INTO deadlines (id, case_id, team_id, owner_id, kind, seq, started_by, started_at, due_at, met_at)
SELECT gen_random_uuid(), c.id, c.team_id, c.owner_id, k.kind, 0, 'the referral', c.received_at,
       now() + ((hashtext(c.id::text || k.kind) % 60)) * interval '1 day',
       CASE WHEN abs(hashtext(k.kind || c.id::text)) % 100 < 93 THEN c.received_at + interval '1 day' END
FROM cases c
CROSS JOIN (VALUES ('referral_decision'), ('single_assessment'), ('strategy_discussion')) AS k(kind);
ALTER TABLE deadlines ENABLE TRIGGER deadlines_timeliness_insert;
INSERT INTO timeliness_days (team_id, kind, day, in_time, met)
SELECT d.team_id, d.kind, (d.met_at AT TIME ZONE 'Europe/London')::date,
       count(*) FILTER (WHERE d.met_at <= d.due_at), count(*)
FROM deadlines d JOIN cases c ON c.id = d.case_id
WHERE d.met_at IS NOT NULL AND NOT c.restricted
GROUP BY 1, 2, 3;

ANALYZE;
SELECT (SELECT count(*) FROM cases) AS cases, (SELECT count(*) FROM deadlines) AS deadlines,
       (SELECT count(*) FROM deadlines WHERE met_at IS NULL) AS open_deadlines;
