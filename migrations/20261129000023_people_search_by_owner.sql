-- Name search in one's own cases that stays fast however many cases a person holds (issue 10):
-- each person also carries their case's owner, and a GiST index holds (owner, name trigrams), so
-- "My cases" search walks only that worker's names in order of closeness instead of the whole
-- team's, checking each against the case's owner (docs/performance.md).
ALTER TABLE case_people ADD COLUMN owner_id uuid REFERENCES users (id);
UPDATE case_people p SET owner_id = c.owner_id FROM cases c WHERE c.id = p.case_id;
ALTER TABLE case_people ALTER COLUMN owner_id SET NOT NULL;

-- A person's team and owner are always their case's: set on insert, and moved with the case.
CREATE OR REPLACE FUNCTION haven_person_team() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    SELECT team_id, owner_id INTO NEW.team_id, NEW.owner_id FROM cases WHERE id = NEW.case_id;
    RETURN NEW;
END $$;
DROP TRIGGER case_people_team ON case_people;
CREATE TRIGGER case_people_team BEFORE INSERT OR UPDATE OF case_id, team_id, owner_id ON case_people
    FOR EACH ROW EXECUTE FUNCTION haven_person_team();

CREATE OR REPLACE FUNCTION haven_case_team_moved() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE case_people SET team_id = NEW.team_id, owner_id = NEW.owner_id WHERE case_id = NEW.id;
    RETURN NULL;
END $$;
DROP TRIGGER cases_team_moved ON cases;
CREATE TRIGGER cases_team_moved AFTER UPDATE OF team_id, owner_id ON cases
    FOR EACH ROW WHEN (OLD.team_id IS DISTINCT FROM NEW.team_id OR OLD.owner_id IS DISTINCT FROM NEW.owner_id)
    EXECUTE FUNCTION haven_case_team_moved();

CREATE INDEX case_people_owner_name ON case_people USING gist (owner_id, lower(full_name) gist_trgm_ops);
