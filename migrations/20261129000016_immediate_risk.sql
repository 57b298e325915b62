-- A child at immediate risk: the police contact is recorded, and the case stays at the top of
-- its team's managers' work until one of them acknowledges it.
ALTER TABLE cases ADD COLUMN risk_acknowledged_at timestamptz, ADD COLUMN risk_acknowledged_by uuid REFERENCES users (id);
CREATE INDEX cases_risk_unacknowledged ON cases (team_id, received_at DESC)
    WHERE immediate_risk AND risk_acknowledged_at IS NULL;

CREATE TABLE police_contacts (
    id uuid PRIMARY KEY,
    case_id uuid NOT NULL REFERENCES cases (id),
    contacted_at timestamptz NOT NULL,
    officer text NOT NULL,
    reference text NOT NULL,
    recorded_by uuid NOT NULL REFERENCES users (id),
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT police_contacts_text_length CHECK (
        char_length(officer) BETWEEN 1 AND 200 AND char_length(reference) <= 100)
);
CREATE INDEX police_contacts_case ON police_contacts (case_id, contacted_at);
CREATE TRIGGER police_contacts_append_only BEFORE UPDATE OR DELETE ON police_contacts
    FOR EACH ROW EXECUTE FUNCTION haven_refuse_change();
GRANT SELECT, INSERT ON police_contacts TO haven_app;
