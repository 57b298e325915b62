-- Proposals waiting for a manager's approval, for a scale database made by the other bench/*.sql
-- files: a decision on the referral proposed on one open case in 50 (about 15,000 in the region,
-- 3,000 of them in the largest team) and a closure on one in 200, so Team work's "Waiting for a
-- manager's approval" is measured with a region's worth waiting (issue 10). Made-up words only.
--   psql postgres://postgres@127.0.0.1:5432/haven_scale -f bench/approvals-at-scale.sql
\set ON_ERROR_STOP on
DO $$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM cases WHERE reference LIKE 'SCL-%') THEN RAISE EXCEPTION 'run bench/deadlines-at-scale.sql first'; END IF;
  IF EXISTS (SELECT 1 FROM cases WHERE reference NOT LIKE 'SCL-%') THEN RAISE EXCEPTION 'this database holds cases the benchmark did not make: use a fresh scale database'; END IF;
  IF EXISTS (SELECT 1 FROM referral_decisions) OR EXISTS (SELECT 1 FROM case_closures) THEN RAISE EXCEPTION 'this database already has proposals'; END IF;
END $$;

-- The team on each row comes from its case (the tables' triggers, migration 0028).
INSERT INTO referral_decisions (id, case_id, outcome, reasons, proposed_by, proposed_at)
SELECT gen_random_uuid(), c.id, 'single_assessment', 'The adult asked the child for photographs.',
       c.owner_id, c.received_at + interval '3 hours'
FROM cases c
WHERE c.status <> 'closed' AND c.reference LIKE 'SCL-%' AND abs(hashtext(c.reference)) % 50 = 7;

INSERT INTO case_closures (id, case_id, reason, proposed_by, proposed_at)
SELECT gen_random_uuid(), c.id, 'The work agreed at the strategy discussion is finished.',
       c.owner_id, c.received_at + interval '40 days'
FROM cases c
WHERE c.status <> 'closed' AND c.reference LIKE 'SCL-%' AND abs(hashtext(c.reference)) % 200 = 11;

ANALYZE referral_decisions;
ANALYZE case_closures;
SELECT (SELECT count(*) FROM referral_decisions) AS decisions_waiting,
       (SELECT count(*) FROM case_closures) AS closures_waiting;
