-- Name search narrowed by a date of birth (the search form's optional field): for each of the
-- viewer's teams, the people born that day, then the closest names among them. Walking the
-- team's names closest first and keeping those born that day read every Smith of the largest
-- team before it knew there were no more (85 ms at a million cases, against about 1 ms this way;
-- docs/performance.md, ninth round). Only people whose date of birth is known are in it.
CREATE INDEX case_people_team_born ON case_people (team_id, date_of_birth)
    WHERE date_of_birth IS NOT NULL;
