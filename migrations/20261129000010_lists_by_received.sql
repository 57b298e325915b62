-- Case lists are newest first by when the referral was received (not when it was typed in):
-- the same index shapes as before, on received_at.
DROP INDEX cases_team_order;
DROP INDEX cases_owner_order;
CREATE INDEX cases_team_order ON cases (team_id, received_at DESC, id DESC);
CREATE INDEX cases_owner_order ON cases (owner_id, received_at DESC, id DESC);
