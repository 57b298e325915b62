-- The open-deadline indexes carry the columns their readers need (issue 10), so the navigation's
-- counts, which every signed-in request runs, and the dashboards' scans of each team's and each
-- case worker's open deadlines read the index alone. Before, a manager's every request visited
-- the table's page of each of the 100 deadlines it counted (about 100 buffers a request) just to
-- learn each deadline's case for the restricted-case check.
DROP INDEX deadlines_team_open;
CREATE INDEX deadlines_team_open ON deadlines (team_id, due_at, id) INCLUDE (case_id, kind, person_id)
    WHERE met_at IS NULL AND ended_at IS NULL;
DROP INDEX deadlines_owner_open;
CREATE INDEX deadlines_owner_open ON deadlines (owner_id, due_at, id) INCLUDE (case_id, kind, person_id)
    WHERE met_at IS NULL AND ended_at IS NULL;

-- An index-only scan skips the table only for pages vacuum has marked all-visible: deadlines
-- change all day (recomputed, met, moved), so vacuum them after 2% of their rows change rather
-- than PostgreSQL's default 20% (at a million cases, 60,000 changes rather than 600,000).
ALTER TABLE deadlines SET (autovacuum_vacuum_scale_factor = 0.02, autovacuum_vacuum_insert_scale_factor = 0.02);
