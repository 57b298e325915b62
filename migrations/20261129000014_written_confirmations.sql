-- Written confirmation to the person of an action about them is often sent after the action is
-- recorded: it is recorded later, once, here (employee_actions stays append-only).
CREATE TABLE employee_action_confirmations (
    action_id uuid PRIMARY KEY REFERENCES employee_actions (id),
    sent_at timestamptz NOT NULL,
    recorded_by uuid NOT NULL REFERENCES users (id),
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TRIGGER employee_action_confirmations_append_only BEFORE UPDATE OR DELETE ON employee_action_confirmations
    FOR EACH ROW EXECUTE FUNCTION haven_refuse_change();
GRANT SELECT, INSERT ON employee_action_confirmations TO haven_app;
