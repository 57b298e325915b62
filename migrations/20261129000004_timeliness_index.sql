-- Timeliness compares when each deadline was met with when it was due: carry due_at in the index
-- so the count is an index-only scan (measured in docs/decisions/009).
DROP INDEX deadlines_team_met;
CREATE INDEX deadlines_team_met ON deadlines (team_id, kind, met_at) INCLUDE (due_at) WHERE met_at IS NOT NULL;
