-- Add the casework of a scale database made by bench/deadlines-at-scale.sql and
-- bench/people-at-scale.sql: one referral a case, two notes a case, and ten chronology entries a
-- case (the referral, the two notes, and seven steps of the procedure), about 13 million rows.
-- Every name and word here is made up.
--   psql postgres://postgres@127.0.0.1:5432/haven_scale -f bench/casework-at-scale.sql
\set ON_ERROR_STOP on
DO $$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM cases WHERE reference LIKE 'SCL-%') THEN RAISE EXCEPTION 'run bench/deadlines-at-scale.sql first'; END IF;
  IF EXISTS (SELECT 1 FROM cases WHERE reference NOT LIKE 'SCL-%') THEN RAISE EXCEPTION 'this database holds cases the benchmark did not make: use a fresh scale database'; END IF;
  IF EXISTS (SELECT 1 FROM referrals) OR EXISTS (SELECT 1 FROM case_notes) THEN RAISE EXCEPTION 'this database already has casework'; END IF;
END $$;

INSERT INTO referrals (id, case_id, referrer_name, referrer_role, referrer_agency, referrer_contact,
                       received_at, taken_by, account, immediate_risk, immediate_risk_details,
                       works_with_children, work_details, created_at)
SELECT gen_random_uuid(), c.id, 'Referrer ' || right(c.reference, 4), 'Designated safeguarding lead',
       'Scale Academy ' || (abs(hashtext(c.reference)) % 400), '01632 960 ' || lpad((abs(hashtext(c.reference)) % 1000)::text, 3, '0'),
       c.received_at, c.owner_id,
       'The school saw messages on the child''s tablet from an adult they met in an online game. '
         || 'The adult asked for photographs and to meet at the weekend. Case ' || c.reference || '.',
       c.immediate_risk, CASE WHEN c.immediate_risk THEN 'A meeting is planned for Saturday' ELSE '' END,
       'unknown', '', c.created_at
FROM cases c;

-- Two notes a case, a day and a week after the referral.
CREATE TEMP TABLE scale_notes AS
SELECT gen_random_uuid() AS id, c.id AS case_id, c.owner_id,
       c.received_at + k.after AS occurred_at,
       CASE k.n WHEN 1 THEN 'Spoke to the designated safeguarding lead; the tablet is with the police. '
                ELSE 'Visited the child at home with a police colleague; the child was calm and spoke about the game. ' END
         || 'Next step agreed with the manager.' AS body
FROM cases c
CROSS JOIN (VALUES (1, interval '1 day'), (2, interval '7 days')) AS k(n, after);
INSERT INTO case_notes (id, case_id, body, occurred_at, created_by, created_at)
SELECT id, case_id, body, occurred_at, owner_id, occurred_at FROM scale_notes;

-- Ten chronology entries a case: the referral, the two notes and seven steps.
INSERT INTO chronology_entries (id, case_id, occurred_at, kind, summary, note_id, recorded_by, recorded_at)
SELECT gen_random_uuid(), c.id, c.received_at, 'referral',
       'Referral received from Scale Academy: grooming', NULL, c.owner_id, c.received_at
FROM cases c;
INSERT INTO chronology_entries (id, case_id, occurred_at, kind, summary, note_id, recorded_by, recorded_at)
SELECT gen_random_uuid(), n.case_id, n.occurred_at, 'note', left(n.body, 120), n.id, n.owner_id, n.occurred_at
FROM scale_notes n;
INSERT INTO chronology_entries (id, case_id, occurred_at, kind, summary, note_id, recorded_by, recorded_at)
SELECT gen_random_uuid(), c.id, c.received_at + s.after, s.kind, s.summary, NULL, c.owner_id, c.received_at + s.after
FROM cases c
CROSS JOIN (VALUES
  (interval '2 hours', 'decision', 'Decision on the referral: strategy discussion needed'),
  (interval '1 day', 'strategy', 'Strategy discussion held with police and health'),
  (interval '1 day 2 hours', 'section47', 'Section 47 enquiry started'),
  (interval '3 days', 'police', 'Police seized the tablet for examination'),
  (interval '5 days', 'section47', 'Child seen alone at school'),
  (interval '10 days', 'milestone', 'Single assessment completed'),
  (interval '14 days', 'conference', 'Initial child protection conference booked')) AS s(after, kind, summary);

ANALYZE referrals;
ANALYZE case_notes;
ANALYZE chronology_entries;
SELECT (SELECT count(*) FROM referrals) AS referrals, (SELECT count(*) FROM case_notes) AS notes,
       (SELECT count(*) FROM chronology_entries) AS chronology_entries;
