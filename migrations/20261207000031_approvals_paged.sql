-- Team work shows the 25 longest-waiting proposals and links to a list of them all, paged by
-- key (issue 10): the oldest first, continuing after the last one shown by (proposed_at, id).
-- The per-team partial indexes of 0028 gain the id, so a page starts its scan at the cursor
-- itself rather than at the cursor's time and reading on past every proposal made at that
-- instant. They hold only proposals still waiting, so rebuilding them is quick at any size.
DROP INDEX referral_decisions_team_waiting;
CREATE INDEX referral_decisions_team_waiting ON referral_decisions (team_id, proposed_at, id)
    WHERE status = 'proposed';
DROP INDEX section47_enquiries_team_waiting;
CREATE INDEX section47_enquiries_team_waiting ON section47_enquiries (team_id, proposed_at, id)
    WHERE outcome_status = 'proposed';
DROP INDEX case_closures_team_waiting;
CREATE INDEX case_closures_team_waiting ON case_closures (team_id, proposed_at, id)
    WHERE status = 'proposed';
