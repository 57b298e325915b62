-- EXPLAIN (ANALYZE, BUFFERS) of name search (db::cases::search_people, the query exactly) on a
-- database filled by bench/deadlines-at-scale.sql and bench/people-at-scale.sql: the commonest
-- surname for the largest team and a small one, a full name, two letters, no match, and a
-- search of one person's own cases.
\set ON_ERROR_STOP on
-- The server keeps this statement's plan (`hot`): after five runs PostgreSQL may use one generic
-- plan for every search. See both: psql -v plans=force_generic_plan -f bench/explain-name-search.sql
\if :{?plans}
\else
\set plans force_custom_plan
\endif
SET plan_cache_mode = :plans;
SELECT id AS team1 FROM teams WHERE name = 'Scale team 1' \gset
SELECT id AS team7 FROM teams WHERE name = 'Scale team 7' \gset
SELECT owner_id AS owner FROM cases WHERE team_id = :'team7' GROUP BY owner_id ORDER BY count(*) DESC LIMIT 1 \gset
PREPARE search(uuid[], text, uuid, text, text, bigint, bigint, uuid, boolean, date) AS
WITH found AS (
               SELECT m.id, m.full_name, m.date_of_birth, m.case_id, m.dist, vt.ord, m.rn
               FROM unnest($1::uuid[]) WITH ORDINALITY AS vt(team_id, ord)
               CROSS JOIN LATERAL (
                   SELECT q.*, row_number() OVER () AS rn FROM (
                       (SELECT p.id, p.full_name, p.date_of_birth, p.case_id, $2 <<-> lower(p.full_name) AS dist
                        FROM case_people p
                        WHERE $3::uuid IS NULL AND $10::date IS NULL AND p.team_id = vt.team_id
                          AND $2 <% lower(p.full_name)
                          AND (($4::text IS NULL AND $5::text IS NULL)
                               OR EXISTS (SELECT 1 FROM cases f WHERE f.id = p.case_id
                                          AND ($4::text IS NULL OR f.status = $4)
                                          AND ($5::text IS NULL OR f.concern_kinds @> ARRAY[$5::text])))
                        ORDER BY $2 <<-> lower(p.full_name)
                        LIMIT $6::bigint + $7::bigint + 10)
                       UNION ALL
                       (SELECT p.id, p.full_name, p.date_of_birth, p.case_id, $2 <<-> lower(p.full_name) AS dist
                        FROM case_people p
                        WHERE $3::uuid IS NULL AND $10::date IS NOT NULL AND p.team_id = vt.team_id
                          AND p.date_of_birth = $10
                          AND $2 <% lower(p.full_name)
                          AND (($4::text IS NULL AND $5::text IS NULL)
                               OR EXISTS (SELECT 1 FROM cases f WHERE f.id = p.case_id
                                          AND ($4::text IS NULL OR f.status = $4)
                                          AND ($5::text IS NULL OR f.concern_kinds @> ARRAY[$5::text])))
                        ORDER BY $2 <<-> lower(p.full_name), p.id
                        LIMIT $6::bigint + $7::bigint + 10)
                   ) q
               ) m
               UNION ALL
               SELECT o.id, o.full_name, o.date_of_birth, o.case_id, o.dist, 1, row_number() OVER ()
               FROM (
                   (SELECT p.id, p.full_name, p.date_of_birth, p.case_id, $2 <<-> lower(p.full_name) AS dist
                    FROM case_people p
                    WHERE $3::uuid IS NOT NULL AND $10::date IS NULL AND p.owner_id = $3
                      AND p.team_id = ANY($1::uuid[])
                      AND $2 <% lower(p.full_name)
                      AND (($4::text IS NULL AND $5::text IS NULL)
                           OR EXISTS (SELECT 1 FROM cases f WHERE f.id = p.case_id
                                      AND ($4::text IS NULL OR f.status = $4)
                                      AND ($5::text IS NULL OR f.concern_kinds @> ARRAY[$5::text])))
                    ORDER BY $2 <<-> lower(p.full_name)
                    LIMIT $6::bigint + $7::bigint + 10)
                   UNION ALL
                   (SELECT p.id, p.full_name, p.date_of_birth, p.case_id, $2 <<-> lower(p.full_name) AS dist
                    FROM case_people p
                    WHERE $3::uuid IS NOT NULL AND $10::date IS NOT NULL AND p.team_id = ANY($1::uuid[])
                      AND p.date_of_birth = $10 AND p.owner_id = $3
                      AND $2 <% lower(p.full_name)
                      AND (($4::text IS NULL AND $5::text IS NULL)
                           OR EXISTS (SELECT 1 FROM cases f WHERE f.id = p.case_id
                                      AND ($4::text IS NULL OR f.status = $4)
                                      AND ($5::text IS NULL OR f.concern_kinds @> ARRAY[$5::text])))
                    ORDER BY $2 <<-> lower(p.full_name), p.id
                    LIMIT $6::bigint + $7::bigint + 10)
               ) o
               UNION ALL
               SELECT p.id, p.full_name, p.date_of_birth, p.case_id, $2 <<-> lower(p.full_name), 0,
                      row_number() OVER (ORDER BY p.id)
               FROM cases r JOIN case_people p ON p.case_id = r.id
               WHERE r.restricted AND NOT (r.team_id = ANY($1::uuid[]))
                 AND haven_sees_restricted_case(r.id, $8, $9)
                 AND $2 <% lower(p.full_name)
                 AND ($10::date IS NULL OR p.date_of_birth = $10)
                 AND ($3::uuid IS NULL OR r.owner_id = $3)
                 AND ($4::text IS NULL OR r.status = $4)
                 AND ($5::text IS NULL OR r.concern_kinds @> ARRAY[$5::text])
           )
           SELECT m.id AS person_id, m.full_name AS full_name, m.date_of_birth,
                  c.id, c.reference, c.team_id,
                  (SELECT t.name FROM teams t WHERE t.id = c.team_id) AS team_name,
                  c.owner_id, (SELECT u.display_name FROM users u WHERE u.id = c.owner_id) AS owner_name,
                  c.status, c.title, c.concern_kinds, c.immediate_risk, c.received_at, c.created_at,
                  c.updated_at, c.version, c.next_due_at, c.next_due_kind, c.restricted, c.allocated_at
           FROM found m
           JOIN cases c ON c.id = m.case_id
           WHERE (c.restricted = false OR haven_sees_restricted_case(c.id, $8, $9))
           ORDER BY m.dist, m.ord, m.rn
           OFFSET $6 LIMIT $7;
\echo 'smith, the largest team (200,000 cases)'
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) EXECUTE search(ARRAY[:'team1']::uuid[], 'smith', NULL, NULL, NULL, 0, 26, :'owner', false, NULL);
\echo 'smith, a team of 27,000 cases'
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) EXECUTE search(ARRAY[:'team7']::uuid[], 'smith', NULL, NULL, NULL, 0, 26, :'owner', false, NULL);
\echo 'smith, one person''s own cases'
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) EXECUTE search(ARRAY[:'team7']::uuid[], 'smith', :'owner', NULL, NULL, 0, 26, :'owner', false, NULL);
\echo 'a full name'
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) EXECUTE search(ARRAY[:'team7']::uuid[], 'olivia bennett', NULL, NULL, NULL, 0, 26, :'owner', false, NULL);
\echo 'two letters'
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) EXECUTE search(ARRAY[:'team7']::uuid[], 'li', NULL, NULL, NULL, 0, 26, :'owner', false, NULL);
\echo 'no match'
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) EXECUTE search(ARRAY[:'team7']::uuid[], 'zebedee quarterfield', NULL, NULL, NULL, 0, 26, :'owner', false, NULL);
\echo 'smith, the largest team, the fifth page'
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) EXECUTE search(ARRAY[:'team1']::uuid[], 'smith', NULL, NULL, NULL, 100, 26, :'owner', false, NULL);
-- Narrowed by a date of birth (the search form's optional field): one Smith's, in the largest
-- team and in one person's own cases. The people born that day are read from
-- case_people_team_born and sorted by closeness (walking the names closest first and keeping
-- those born that day read every Smith in the team: 85 ms, docs/performance.md, ninth round).
SELECT p.date_of_birth AS dob1 FROM case_people p WHERE p.team_id = :'team1' AND lower(p.full_name) LIKE '% smith'
  AND p.date_of_birth IS NOT NULL ORDER BY p.id LIMIT 1 \gset
SELECT p.date_of_birth AS dob7 FROM case_people p WHERE p.owner_id = :'owner' AND lower(p.full_name) LIKE '% smith'
  AND p.date_of_birth IS NOT NULL ORDER BY p.id LIMIT 1 \gset
\echo 'smith, the largest team, narrowed by a date of birth'
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) EXECUTE search(ARRAY[:'team1']::uuid[], 'smith', NULL, NULL, NULL, 0, 26, :'owner', false, :'dob1');
\echo 'smith, one person''s own cases, narrowed by a date of birth'
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) EXECUTE search(ARRAY[:'team7']::uuid[], 'smith', :'owner', NULL, NULL, 0, 26, :'owner', false, :'dob7');
