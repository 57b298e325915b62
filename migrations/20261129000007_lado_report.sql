-- The LADO's annual figures read allegations by when their outcome was dated, as well as by
-- when the contact was made (allegations_contact_at).
CREATE INDEX allegations_outcome_on ON allegations (outcome_on) WHERE outcome_on IS NOT NULL;
