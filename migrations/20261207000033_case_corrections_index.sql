-- The case page marks each note in its chronology window that a later note corrects. It asked
-- the corrections index once for every entry shown (two buffers each, 200 for a window of 100);
-- now it reads the case's corrections once, from this index (a correction is always a note of
-- the same case as the note it corrects), and looks each entry up in that short list.
CREATE INDEX case_notes_case_corrections ON case_notes (case_id) INCLUDE (corrects_note_id)
    WHERE corrects_note_id IS NOT NULL;
