-- People recorded properly (issue 9): the facts a conference or a court expects about each child
-- and adult, and how each adult is related to each child. Every column has a default so existing
-- cases read as "not recorded"; changes are made with the row's version (optimistic locking).
ALTER TABLE case_people
    ADD COLUMN sex text NOT NULL DEFAULT '',
    ADD COLUMN gender text NOT NULL DEFAULT '',
    ADD COLUMN ethnicity text NOT NULL DEFAULT '',
    ADD COLUMN first_language text NOT NULL DEFAULT '',
    ADD COLUMN interpreter text NOT NULL DEFAULT '',
    ADD COLUMN send text NOT NULL DEFAULT '',
    ADD COLUMN send_details text NOT NULL DEFAULT '',
    ADD COLUMN address text NOT NULL DEFAULT '',
    ADD COLUMN nhs_number text NOT NULL DEFAULT '',
    ADD COLUMN protection_plan text NOT NULL DEFAULT '',
    ADD COLUMN looked_after text NOT NULL DEFAULT '',
    ADD COLUMN employer text NOT NULL DEFAULT '',
    ADD COLUMN job_role text NOT NULL DEFAULT '',
    ADD COLUMN police_refs text NOT NULL DEFAULT '',
    ADD CONSTRAINT case_people_sex_known CHECK (sex IN ('', 'female', 'male', 'indeterminate', 'not_known')),
    ADD CONSTRAINT case_people_answers_known CHECK (
        interpreter IN ('', 'yes', 'no', 'not_known')
        AND protection_plan IN ('', 'yes', 'no', 'not_known')
        AND looked_after IN ('', 'yes', 'no', 'not_known')),
    ADD CONSTRAINT case_people_send_known CHECK (send IN ('', 'none', 'sen_support', 'ehc_plan', 'disability', 'not_known')),
    -- Ten digits; the check digit is verified by the application before it gets here.
    ADD CONSTRAINT case_people_nhs_digits CHECK (nhs_number ~ '^([0-9]{10})?$'),
    ADD CONSTRAINT case_people_text_lengths CHECK (
        char_length(gender) <= 100 AND char_length(first_language) <= 100
        AND char_length(send_details) <= 1000 AND char_length(address) <= 500
        AND char_length(employer) <= 200 AND char_length(job_role) <= 200
        AND char_length(police_refs) <= 500 AND char_length(ethnicity) <= 4),
    -- A known date of birth gives the age; an estimate is kept only when the date is not known.
    ADD CONSTRAINT case_people_one_age CHECK (date_of_birth IS NULL OR age_estimate IS NULL);

-- Adults may be of any age; children stay under 18.
ALTER TABLE case_people DROP CONSTRAINT case_people_age_range;
ALTER TABLE case_people ADD CONSTRAINT case_people_age_range CHECK (
    age_estimate IS NULL
    OR (kind = 'child' AND age_estimate BETWEEN 0 AND 17)
    OR (kind = 'adult' AND age_estimate BETWEEN 0 AND 120));

-- How an adult is related to each child on the same case (a father to one child may be a
-- step-father to another).
CREATE TABLE person_relationships (
    adult_id uuid NOT NULL REFERENCES case_people (id),
    child_id uuid NOT NULL REFERENCES case_people (id),
    relationship text NOT NULL,
    PRIMARY KEY (adult_id, child_id),
    CONSTRAINT person_relationships_known CHECK (relationship IN (
        'parent', 'step_parent', 'carer', 'relative', 'sibling', 'household', 'family_friend',
        'professional', 'online_contact', 'none_known', 'not_known'))
);
CREATE INDEX person_relationships_child ON person_relationships (child_id);
GRANT SELECT, INSERT, UPDATE, DELETE ON person_relationships TO haven_app;

-- Earlier involvement (and name search by person): trigram similarity on people's names, ordered
-- by distance with the GiST index, so the closest matches come first without reading them all.
CREATE INDEX case_people_name_trgm ON case_people USING gist (lower(full_name) gist_trgm_ops);
