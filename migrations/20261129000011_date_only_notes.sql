-- A note can be about a day without a known time: it sorts at the start of that day (London)
-- and shows the date alone.
ALTER TABLE case_notes ADD COLUMN occurred_time_known boolean NOT NULL DEFAULT true;
ALTER TABLE chronology_entries ADD COLUMN occurred_time_known boolean NOT NULL DEFAULT true;
