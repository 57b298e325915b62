-- A correction is always a note of the same case as the note it corrects. The app has only
-- ever written them so (`db::cases::write_note` checks it), and the case page now relies on it,
-- reading a case's corrections from their own index (0033); the database now refuses any other.
CREATE FUNCTION haven_correction_same_case() RETURNS trigger LANGUAGE plpgsql
SET search_path = public, pg_temp AS $$
BEGIN
    IF NEW.corrects_note_id IS NOT NULL AND NOT EXISTS (
        SELECT 1 FROM case_notes n WHERE n.id = NEW.corrects_note_id AND n.case_id = NEW.case_id
    ) THEN
        RAISE EXCEPTION 'a correction must be a note of the same case as the note it corrects'
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER case_notes_correction_same_case BEFORE INSERT ON case_notes
    FOR EACH ROW EXECUTE FUNCTION haven_correction_same_case();
