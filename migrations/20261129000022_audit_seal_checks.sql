-- Tighten the audit trail's sealer tables (review of decision 012).
--
-- A seal's position starts at 1: a seal the server's login slipped in at position 0 or below
-- would otherwise sit outside the chain that `verify-audit` walks.
ALTER TABLE audit_seals ADD CONSTRAINT audit_seals_position_positive CHECK (position >= 1);

-- Rows of the old, locked chain carry no transaction id. A server from before the sealer, still
-- running while this version migrates, would write such rows with one (the column's default) and
-- move the head without a seal: refuse them, so it fails loudly instead of breaking the chain.
-- (Stop every instance before migrating: README.)
ALTER TABLE audit_events DROP CONSTRAINT audit_events_chain_known;
ALTER TABLE audit_events ADD CONSTRAINT audit_events_chain_known CHECK (
    (chain IN ('sha256', 'hmac-sha256') AND prev_hash IS NOT NULL AND hash IS NOT NULL AND xid IS NULL)
    OR (chain = 'sealed-v1' AND xid IS NOT NULL AND event_id IS NOT NULL AND mac IS NOT NULL)
);
