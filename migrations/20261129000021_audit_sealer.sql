-- The audit trail without a global lock (docs/decisions/012).
--
-- Writers no longer lock `audit_chain_head`: each audited transaction inserts its row with a
-- number from a sequence, the transaction's own id (`xid`), a random `event_id` and a MAC of its
-- content under a key the database never holds. A sealer (one at a time, under an advisory lock)
-- then chains the rows of finished transactions into `audit_seals`, in the order of
-- (transaction id, row number), and moves the head. Rows written before this migration keep their
-- links: each becomes the seal at the position equal to its row number.

-- Rows are numbered by a sequence (gaps where a transaction rolled back; order is the seals').
CREATE SEQUENCE audit_events_seq AS bigint OWNED BY audit_events.seq;
SELECT setval('audit_events_seq', COALESCE((SELECT max(seq) FROM audit_events), 0) + 1, false);
ALTER TABLE audit_events ALTER COLUMN seq SET DEFAULT nextval('audit_events_seq');

-- New rows: the writing transaction, the writer's identifier for the event and its MAC.
-- (Added without defaults first so existing rows are not rewritten; they are sealed below.)
ALTER TABLE audit_events ADD COLUMN xid xid8;
ALTER TABLE audit_events ALTER COLUMN xid SET DEFAULT pg_current_xact_id();
ALTER TABLE audit_events ADD COLUMN event_id uuid;
ALTER TABLE audit_events ADD COLUMN mac bytea;
ALTER TABLE audit_events ALTER COLUMN prev_hash DROP NOT NULL;
ALTER TABLE audit_events ALTER COLUMN hash DROP NOT NULL;
ALTER TABLE audit_events ALTER COLUMN chain SET DEFAULT 'sealed-v1';
ALTER TABLE audit_events DROP CONSTRAINT audit_events_chain_known;
ALTER TABLE audit_events ADD CONSTRAINT audit_events_chain_known CHECK (
    (chain IN ('sha256', 'hmac-sha256') AND prev_hash IS NOT NULL AND hash IS NOT NULL)
    OR (chain = 'sealed-v1' AND xid IS NOT NULL AND event_id IS NOT NULL AND mac IS NOT NULL)
);
-- A copy of a genuine row (same identifier, same MAC) cannot be inserted a second time.
CREATE UNIQUE INDEX audit_events_event_id ON audit_events (event_id);
-- The sealer reads the rows after its horizon in this order.
CREATE INDEX audit_events_unsealed ON audit_events (xid, seq);

-- The chain: one seal per row, numbered without gaps, each linked to the one before.
CREATE TABLE audit_seals (
    position bigint PRIMARY KEY,
    seq bigint NOT NULL UNIQUE REFERENCES audit_events (seq),
    prev_hash bytea NOT NULL,
    hash bytea NOT NULL,
    sealed_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO audit_seals (position, seq, prev_hash, hash)
SELECT seq, seq, prev_hash, hash FROM audit_events ORDER BY seq;

CREATE TRIGGER audit_seals_append_only BEFORE UPDATE OR DELETE ON audit_seals
    FOR EACH ROW EXECUTE FUNCTION haven_refuse_change();
CREATE TRIGGER audit_seals_no_truncate BEFORE TRUNCATE ON audit_seals
    FOR EACH STATEMENT EXECUTE FUNCTION haven_refuse_change();

-- The head now belongs to the sealer: the last seal (seq is its position) and the last sealed
-- row's (transaction id, row number), after which the next run starts.
ALTER TABLE audit_chain_head ADD COLUMN sealed_xid xid8 NOT NULL DEFAULT '0';
ALTER TABLE audit_chain_head ADD COLUMN sealed_seq bigint NOT NULL DEFAULT 0;

GRANT SELECT, INSERT ON audit_seals TO haven_app;
GRANT USAGE ON SEQUENCE audit_events_seq TO haven_app;
