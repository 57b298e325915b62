-- Team work shows the 25 longest-waiting proposals and links to a list of them all, paged by
-- key (issue 10): the oldest first, continuing after the last one shown by (proposed_at, id).
-- The per-team partial indexes of 0028 gain the id, so a page starts its scan at the cursor
-- itself rather than at the cursor's time and reading on past every proposal made at that
-- instant. Each new index is built beside the old one (a build blocks writes to its table, not
-- reads), and the old ones are dropped and replaced by name only at the end, so the exclusive
-- locks a drop takes are held for the last moment of the migration only.
CREATE INDEX referral_decisions_team_waiting_key ON referral_decisions (team_id, proposed_at, id)
    WHERE status = 'proposed';
CREATE INDEX section47_enquiries_team_waiting_key ON section47_enquiries (team_id, proposed_at, id)
    WHERE outcome_status = 'proposed';
CREATE INDEX case_closures_team_waiting_key ON case_closures (team_id, proposed_at, id)
    WHERE status = 'proposed';
DROP INDEX referral_decisions_team_waiting;
ALTER INDEX referral_decisions_team_waiting_key RENAME TO referral_decisions_team_waiting;
DROP INDEX section47_enquiries_team_waiting;
ALTER INDEX section47_enquiries_team_waiting_key RENAME TO section47_enquiries_team_waiting;
DROP INDEX case_closures_team_waiting;
ALTER INDEX case_closures_team_waiting_key RENAME TO case_closures_team_waiting;
