-- Team timeliness kept per team, kind of deadline and day (issue 10): a manager's dashboard sums
-- at most 90 rows a team and kind instead of counting every deadline met in 90 days (tens of
-- thousands in a large team). Kept by triggers in the same transaction as the change, so the
-- figures are exact; restricted cases are never in them (the dashboard adds those the viewer may
-- see from `deadlines` itself: they are few). Replaces counting on `deadlines_team_met`.
CREATE TABLE timeliness_days (
    team_id uuid NOT NULL REFERENCES teams (id),
    kind text NOT NULL,
    -- The London date the deadlines were met on.
    day date NOT NULL,
    in_time integer NOT NULL,
    met integer NOT NULL,
    PRIMARY KEY (team_id, kind, day)
);
-- The server reads the figures; only the triggers (as the owner) write them.
GRANT SELECT ON timeliness_days TO haven_app;

CREATE FUNCTION haven_timeliness_count(team uuid, k text, met_at timestamptz, due_at timestamptz, sign integer)
RETURNS void LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    IF met_at IS NULL THEN
        RETURN;
    END IF;
    INSERT INTO timeliness_days AS x (team_id, kind, day, in_time, met)
    VALUES (team, k, (met_at AT TIME ZONE 'Europe/London')::date,
            CASE WHEN met_at <= due_at THEN sign ELSE 0 END, sign)
    ON CONFLICT (team_id, kind, day)
    DO UPDATE SET in_time = x.in_time + EXCLUDED.in_time, met = x.met + EXCLUDED.met;
END $$;
REVOKE ALL ON FUNCTION haven_timeliness_count(uuid, text, timestamptz, timestamptz, integer) FROM PUBLIC;

-- A deadline met, moved or removed: take out what it counted, put in what it counts now. The
-- case's row is share-locked while its restriction is read, so a case being restricted at the
-- same moment waits for this (or this for it) and each sees the other's result.
CREATE FUNCTION haven_deadline_timeliness() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER
SET search_path = public, pg_temp AS $$
DECLARE
    c uuid := CASE WHEN TG_OP = 'DELETE' THEN OLD.case_id ELSE NEW.case_id END;
BEGIN
    IF (SELECT restricted FROM cases WHERE id = c FOR SHARE) THEN
        RETURN NULL;
    END IF;
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        PERFORM haven_timeliness_count(OLD.team_id, OLD.kind, OLD.met_at, OLD.due_at, -1);
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        PERFORM haven_timeliness_count(NEW.team_id, NEW.kind, NEW.met_at, NEW.due_at, 1);
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER deadlines_timeliness_insert AFTER INSERT ON deadlines
    FOR EACH ROW WHEN (NEW.met_at IS NOT NULL) EXECUTE FUNCTION haven_deadline_timeliness();
CREATE TRIGGER deadlines_timeliness_delete AFTER DELETE ON deadlines
    FOR EACH ROW WHEN (OLD.met_at IS NOT NULL) EXECUTE FUNCTION haven_deadline_timeliness();
CREATE TRIGGER deadlines_timeliness_update AFTER UPDATE OF met_at, due_at, team_id, kind, case_id ON deadlines
    FOR EACH ROW WHEN ((OLD.met_at, OLD.due_at, OLD.team_id, OLD.kind, OLD.case_id)
                       IS DISTINCT FROM (NEW.met_at, NEW.due_at, NEW.team_id, NEW.kind, NEW.case_id))
    EXECUTE FUNCTION haven_deadline_timeliness();

-- A case restricted (or no longer): its met deadlines leave (or rejoin) the team's figures.
CREATE FUNCTION haven_case_timeliness() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER
SET search_path = public, pg_temp AS $$
BEGIN
    PERFORM haven_timeliness_count(d.team_id, d.kind, d.met_at, d.due_at,
                                   CASE WHEN NEW.restricted THEN -1 ELSE 1 END)
    FROM deadlines d WHERE d.case_id = NEW.id AND d.met_at IS NOT NULL;
    RETURN NULL;
END $$;
CREATE TRIGGER cases_timeliness AFTER UPDATE OF restricted ON cases
    FOR EACH ROW WHEN (OLD.restricted IS DISTINCT FROM NEW.restricted)
    EXECUTE FUNCTION haven_case_timeliness();

INSERT INTO timeliness_days (team_id, kind, day, in_time, met)
SELECT d.team_id, d.kind, (d.met_at AT TIME ZONE 'Europe/London')::date,
       count(*) FILTER (WHERE d.met_at <= d.due_at), count(*)
FROM deadlines d JOIN cases c ON c.id = d.case_id
WHERE d.met_at IS NOT NULL AND NOT c.restricted
GROUP BY 1, 2, 3;

-- Nothing counts deadlines by team and date met any more.
DROP INDEX deadlines_team_met;
