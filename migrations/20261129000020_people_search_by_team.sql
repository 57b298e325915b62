-- Name search that stays fast at any size (issue 10): each person carries their case's team,
-- and one GiST index holds (team, name trigrams), so a search walks, for each of the viewer's
-- teams, only that team's names in order of closeness (k-nearest-neighbour), reading a page of
-- index entries even for the commonest surname (docs/performance.md).
CREATE EXTENSION IF NOT EXISTS btree_gist;
ALTER TABLE case_people ADD COLUMN team_id uuid REFERENCES teams (id);
UPDATE case_people p SET team_id = c.team_id FROM cases c WHERE c.id = p.case_id;
ALTER TABLE case_people ALTER COLUMN team_id SET NOT NULL;

-- A person's team is always their case's: set on insert, and moved with the case.
CREATE FUNCTION haven_person_team() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.team_id := (SELECT team_id FROM cases WHERE id = NEW.case_id);
    RETURN NEW;
END $$;
CREATE TRIGGER case_people_team BEFORE INSERT OR UPDATE OF case_id, team_id ON case_people
    FOR EACH ROW EXECUTE FUNCTION haven_person_team();
CREATE FUNCTION haven_case_team_moved() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE case_people SET team_id = NEW.team_id WHERE case_id = NEW.id;
    RETURN NULL;
END $$;
CREATE TRIGGER cases_team_moved AFTER UPDATE OF team_id ON cases
    FOR EACH ROW WHEN (OLD.team_id IS DISTINCT FROM NEW.team_id)
    EXECUTE FUNCTION haven_case_team_moved();

CREATE INDEX case_people_team_name ON case_people USING gist (team_id, lower(full_name) gist_trgm_ops);
