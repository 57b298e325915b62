-- A breach is a fact: once recorded, only its acknowledgement may be added.
CREATE FUNCTION haven_breach_only_acknowledged() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.allegation_id IS DISTINCT FROM OLD.allegation_id
       OR NEW.step IS DISTINCT FROM OLD.step
       OR NEW.due_at IS DISTINCT FROM OLD.due_at
       OR NEW.detected_at IS DISTINCT FROM OLD.detected_at
       OR OLD.acknowledged_by IS NOT NULL THEN
        RAISE EXCEPTION 'a recorded breach cannot be changed, only acknowledged once';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER allegation_breaches_fixed BEFORE UPDATE ON allegation_breaches
    FOR EACH ROW EXECUTE FUNCTION haven_breach_only_acknowledged();
