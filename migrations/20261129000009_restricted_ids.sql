-- Counts of deadlines leave out restricted cases with an anti-join on this small index (there
-- are few restricted cases), so the counts keep reading the deadlines' own indexes.
CREATE INDEX cases_restricted_ids ON cases (id) WHERE restricted;
