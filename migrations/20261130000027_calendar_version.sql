-- A version number for the calendar's administrator changes, so a page can use the calendar an
-- instance already holds instead of reading every change again (issue 10: one statement fewer on
-- the lists, the dashboards and the LADO's pages).
--
-- The session's statement, which every signed-in request runs anyway, reads this number; an
-- instance keeps the calendar it last read with the number it was read at, and reads it again
-- when the numbers differ. A change through any instance (or by hand in psql) bumps the number
-- in the change's own transaction, so every instance sees it on its next request.
CREATE TABLE calendar_version (
    id smallint PRIMARY KEY DEFAULT 1,
    version bigint NOT NULL DEFAULT 1,
    CONSTRAINT calendar_version_single CHECK (id = 1)
);
INSERT INTO calendar_version (id) VALUES (1);
GRANT SELECT ON calendar_version TO haven_app;

-- Only this trigger writes the number: the server's login reads it and nothing more.
CREATE FUNCTION haven_calendar_changed() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER
SET search_path = public, pg_temp AS $$
BEGIN
    UPDATE calendar_version SET version = version + 1 WHERE id = 1;
    RETURN NULL;
END $$;
REVOKE ALL ON FUNCTION haven_calendar_changed() FROM PUBLIC;

CREATE TRIGGER calendar_changes_version
AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON calendar_changes
FOR EACH STATEMENT EXECUTE FUNCTION haven_calendar_changed();
