-- Name search: longer trigram signatures in the two GiST indexes it walks.
--
-- With the default 12-byte signature, an index page's summary of many names has nearly every
-- bit set, so proving that no more names are close enough walked most of a team's or a
-- worker's part of the index: a rare surname across a team of 200,000 cases read 1,853 buffers
-- (16.6 ms), and in one worker's 10,000 cases 362 (4 ms), with the index in memory (bench data,
-- docs/performance.md, sixth round). With 64 bytes the summaries rule out most pages: 292
-- buffers (3.3 ms) and 78 (0.8 ms); a common surname costs the same as before (81 and 106
-- buffers); each index is about a tenth larger.
--
-- Dropped, then built again, in this migration's transaction: reads and writes of case_people
-- wait for about a minute at a million cases. Run it in a quiet hour (`haven migrate`).
DROP INDEX case_people_team_name;
CREATE INDEX case_people_team_name ON case_people
    USING gist (team_id, lower(full_name) gist_trgm_ops (siglen = 64));
DROP INDEX case_people_owner_name;
CREATE INDEX case_people_owner_name ON case_people
    USING gist (owner_id, lower(full_name) gist_trgm_ops (siglen = 64));
