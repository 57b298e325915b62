-- Case lists can put cases with a child at immediate risk first (issue 9): the same index
-- shapes as the newest-first lists, with the risk flag leading.
CREATE INDEX cases_team_risk_order ON cases (team_id, immediate_risk DESC, received_at DESC, id DESC);
CREATE INDEX cases_owner_risk_order ON cases (owner_id, immediate_risk DESC, received_at DESC, id DESC);
