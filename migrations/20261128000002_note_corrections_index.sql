-- The chronology marks a note that a later note corrects; find those corrections by index.
CREATE INDEX case_notes_corrects ON case_notes (corrects_note_id) WHERE corrects_note_id IS NOT NULL;
