-- "Waiting for a manager's approval" read per team (issue 10). Team work listed every proposal
-- waiting in the whole region and kept those of the manager's teams: with a region's thousands
-- of decisions, outcomes and closures waiting at once, every view of the dashboard would have
-- read all of them. Each proposal now carries its case's team, set on insert and moved with the
-- case (as case_people and deadlines do), and a partial index per kind keeps each team's waiting
-- proposals in the order they were made, so the dashboard reads only the oldest few of its own
-- teams'. The timeliness figures get a covering index so the 90 days of a team are read from the
-- index alone, not from a heap page each.
ALTER TABLE referral_decisions ADD COLUMN team_id uuid REFERENCES teams (id);
ALTER TABLE section47_enquiries ADD COLUMN team_id uuid REFERENCES teams (id);
ALTER TABLE case_closures ADD COLUMN team_id uuid REFERENCES teams (id);
UPDATE referral_decisions x SET team_id = c.team_id FROM cases c WHERE c.id = x.case_id;
UPDATE section47_enquiries x SET team_id = c.team_id FROM cases c WHERE c.id = x.case_id;
UPDATE case_closures x SET team_id = c.team_id FROM cases c WHERE c.id = x.case_id;
ALTER TABLE referral_decisions ALTER COLUMN team_id SET NOT NULL;
ALTER TABLE section47_enquiries ALTER COLUMN team_id SET NOT NULL;
ALTER TABLE case_closures ALTER COLUMN team_id SET NOT NULL;

-- A proposal's team is always its case's: whatever an insert or update says, the case decides.
CREATE FUNCTION haven_proposal_team() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    SELECT team_id INTO NEW.team_id FROM cases WHERE id = NEW.case_id;
    RETURN NEW;
END $$;
CREATE TRIGGER referral_decisions_team BEFORE INSERT OR UPDATE OF case_id, team_id ON referral_decisions
    FOR EACH ROW EXECUTE FUNCTION haven_proposal_team();
CREATE TRIGGER section47_enquiries_team BEFORE INSERT OR UPDATE OF case_id, team_id ON section47_enquiries
    FOR EACH ROW EXECUTE FUNCTION haven_proposal_team();
CREATE TRIGGER case_closures_team BEFORE INSERT OR UPDATE OF case_id, team_id ON case_closures
    FOR EACH ROW EXECUTE FUNCTION haven_proposal_team();

-- A case that moves team takes its people and its proposals with it.
CREATE OR REPLACE FUNCTION haven_case_team_moved() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE case_people SET team_id = NEW.team_id, owner_id = NEW.owner_id WHERE case_id = NEW.id;
    IF OLD.team_id IS DISTINCT FROM NEW.team_id THEN
        UPDATE referral_decisions SET team_id = NEW.team_id WHERE case_id = NEW.id;
        UPDATE section47_enquiries SET team_id = NEW.team_id WHERE case_id = NEW.id;
        UPDATE case_closures SET team_id = NEW.team_id WHERE case_id = NEW.id;
    END IF;
    RETURN NULL;
END $$;

CREATE INDEX referral_decisions_team_waiting ON referral_decisions (team_id, proposed_at)
    WHERE status = 'proposed';
CREATE INDEX section47_enquiries_team_waiting ON section47_enquiries (team_id, proposed_at)
    WHERE outcome_status = 'proposed';
CREATE INDEX case_closures_team_waiting ON case_closures (team_id, proposed_at)
    WHERE status = 'proposed';

CREATE INDEX timeliness_days_covering ON timeliness_days (team_id, kind, day) INCLUDE (in_time, met);
