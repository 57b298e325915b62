-- Allocation: a manager gives a case to a practitioner in its team (the case's owner), and
-- supervision records about a case, readable by managers and the case worker only.
ALTER TABLE cases ADD COLUMN allocated_at timestamptz, ADD COLUMN allocated_by uuid REFERENCES users (id);

CREATE TABLE case_supervisions (
    id uuid PRIMARY KEY,
    case_id uuid NOT NULL REFERENCES cases (id),
    held_on date NOT NULL,
    discussion text NOT NULL,
    decisions text NOT NULL,
    actions text NOT NULL,
    recorded_by uuid NOT NULL REFERENCES users (id),
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT case_supervisions_text_length CHECK (
        char_length(discussion) BETWEEN 1 AND 10000 AND char_length(decisions) BETWEEN 1 AND 10000
        AND char_length(actions) <= 10000)
);
CREATE INDEX case_supervisions_case ON case_supervisions (case_id, held_on DESC, id DESC);
CREATE TRIGGER case_supervisions_append_only BEFORE UPDATE OR DELETE ON case_supervisions
    FOR EACH ROW EXECUTE FUNCTION haven_refuse_change();
GRANT SELECT, INSERT ON case_supervisions TO haven_app;
