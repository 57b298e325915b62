-- Team timeliness without shared counters in people's transactions (a review of migration 0025).
--
-- 0025 had each met, moved or removed deadline update its (team, kind, day) row in
-- timeliness_days inside the change's own transaction. Two transactions touching the same team's
-- rows in different orders (a recomputed case meets its decision then its conference; a case
-- restricted at the same moment walks its deadlines in another order) deadlocked, and PostgreSQL
-- rolled one of them back: it could be the restriction. Now each change only appends a row to
-- timeliness_changes (no row is ever updated by two transactions), and the server folds those
-- rows into timeliness_days every few seconds, one instance at a time, in a transaction of its
-- own. The dashboard adds the rows not folded yet.
--
-- Also: the trigger functions could be attached by the server's login to a table of its own
-- (PUBLIC had EXECUTE, and SECURITY DEFINER then wrote any figures it liked); and a deadline
-- moved from one case to another only checked the new case's restriction.
CREATE TABLE timeliness_changes (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    team_id uuid NOT NULL,
    kind text NOT NULL,
    day date NOT NULL,
    in_time integer NOT NULL,
    met integer NOT NULL
);
CREATE INDEX timeliness_changes_team ON timeliness_changes (team_id, kind, day) INCLUDE (in_time, met);
GRANT SELECT ON timeliness_changes TO haven_app;

CREATE OR REPLACE FUNCTION haven_timeliness_count(team uuid, k text, met_at timestamptz, due_at timestamptz, sign integer)
RETURNS void LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    IF met_at IS NULL THEN
        RETURN;
    END IF;
    INSERT INTO timeliness_changes (team_id, kind, day, in_time, met)
    VALUES (team, k, (met_at AT TIME ZONE 'Europe/London')::date,
            CASE WHEN met_at <= due_at THEN sign ELSE 0 END, sign);
END $$;

-- Each side is counted only if its own case is not restricted (the case's row share-locked while
-- its restriction is read, so a restriction at the same moment waits or is waited for).
CREATE OR REPLACE FUNCTION haven_deadline_timeliness() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER
SET search_path = public, pg_temp AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE')
       AND NOT coalesce((SELECT restricted FROM cases WHERE id = OLD.case_id FOR SHARE), false) THEN
        PERFORM haven_timeliness_count(OLD.team_id, OLD.kind, OLD.met_at, OLD.due_at, -1);
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE')
       AND NOT coalesce((SELECT restricted FROM cases WHERE id = NEW.case_id FOR SHARE), false) THEN
        PERFORM haven_timeliness_count(NEW.team_id, NEW.kind, NEW.met_at, NEW.due_at, 1);
    END IF;
    RETURN NULL;
END $$;

-- Fold the changes into the kept figures: everything committed so far, in one statement. Only
-- one instance at a time (an advisory lock; the others skip), so timeliness_days rows are only
-- ever written here and by no person's transaction. Returns how many changes were folded.
CREATE FUNCTION haven_fold_timeliness() RETURNS bigint LANGUAGE plpgsql SECURITY DEFINER
SET search_path = public, pg_temp AS $$
DECLARE
    folded bigint;
BEGIN
    IF NOT pg_try_advisory_xact_lock(hashtext('haven: fold timeliness')) THEN
        RETURN 0;
    END IF;
    WITH gone AS (
        DELETE FROM timeliness_changes RETURNING team_id, kind, day, in_time, met
    ), summed AS (
        SELECT team_id, kind, day, sum(in_time)::integer AS in_time, sum(met)::integer AS met,
               count(*) AS n
        FROM gone GROUP BY team_id, kind, day
    ), kept AS (
        INSERT INTO timeliness_days AS x (team_id, kind, day, in_time, met)
        SELECT team_id, kind, day, in_time, met FROM summed
        ON CONFLICT (team_id, kind, day)
        DO UPDATE SET in_time = x.in_time + EXCLUDED.in_time, met = x.met + EXCLUDED.met
    )
    SELECT coalesce(sum(n), 0) INTO folded FROM summed;
    RETURN folded;
END $$;

-- Only the tables' own triggers call these; the server may ask for a fold, nothing else.
REVOKE ALL ON FUNCTION haven_deadline_timeliness() FROM PUBLIC;
REVOKE ALL ON FUNCTION haven_case_timeliness() FROM PUBLIC;
REVOKE ALL ON FUNCTION haven_timeliness_count(uuid, text, timestamptz, timestamptz, integer) FROM PUBLIC;
REVOKE ALL ON FUNCTION haven_fold_timeliness() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION haven_fold_timeliness() TO haven_app;
