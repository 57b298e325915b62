-- Team work shows the 25 newest unacknowledged immediate risks and links to a list of them all,
-- paged by key (issue 10): newest first, continuing after the last one shown by (received_at,
-- id). Before, it showed up to 50 with no way to the 51st. The index gains the id, so a page
-- starts its scan at the cursor itself. It holds only open cases with a risk nobody has
-- acknowledged, so it is small at any size.
DROP INDEX cases_risk_unacknowledged;
CREATE INDEX cases_risk_unacknowledged ON cases (team_id, received_at DESC, id DESC)
    WHERE immediate_risk AND risk_acknowledged_at IS NULL AND status <> 'closed';
