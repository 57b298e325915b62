-- The calendar's version becomes a random token rather than a count (a review of 0027): after a
-- failover to a standby that had not received the last change, or a restore to an earlier
-- point, a count could come round to the same number again for a different calendar, and an
-- instance holding the lost calendar would take it for current. A new random token on every
-- change cannot repeat.
ALTER TABLE calendar_version ALTER COLUMN version DROP DEFAULT;
ALTER TABLE calendar_version ALTER COLUMN version TYPE uuid USING gen_random_uuid();
ALTER TABLE calendar_version ALTER COLUMN version SET DEFAULT gen_random_uuid();

CREATE OR REPLACE FUNCTION haven_calendar_changed() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER
SET search_path = public, pg_temp AS $$
BEGIN
    UPDATE calendar_version SET version = gen_random_uuid() WHERE id = 1;
    RETURN NULL;
END $$;
REVOKE ALL ON FUNCTION haven_calendar_changed() FROM PUBLIC;
