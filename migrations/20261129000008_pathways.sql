-- The procedure's other pathways on a case (Prevent, nudes and semi-nudes, harmful sexual
-- behaviour by a child): one record of each per case, checked by the application
-- (domain::pathways), changed with optimistic locking. Every change is in the chronology.
CREATE TABLE case_pathways (
    case_id uuid NOT NULL REFERENCES cases (id),
    kind text NOT NULL,
    record jsonb NOT NULL,
    version integer NOT NULL DEFAULT 1,
    updated_by uuid NOT NULL REFERENCES users (id),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (case_id, kind),
    CONSTRAINT case_pathways_kind_known CHECK (kind IN ('prevent', 'nudes', 'hsb')),
    CONSTRAINT case_pathways_record_size CHECK (pg_column_size(record) <= 65536)
);
GRANT SELECT, INSERT, UPDATE ON case_pathways TO haven_app;
