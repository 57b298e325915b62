-- The one rule for a restricted case (decision 010), in one place: visible to the LADO and to
-- the people with unrevoked access to it, and never to a Haven user who is the subject of an
-- allegation linked to it. Every query that reads cases uses it for restricted rows:
--     (c.restricted = false AND c.team_id = ANY(<viewer's teams>))
--     OR (c.restricted AND haven_sees_restricted_case(c.id, <viewer>, <viewer is a LADO>))
-- so a restricted case is in the lists, searches, counts and dashboards of the people who may
-- see it, and in nobody else's.
CREATE FUNCTION haven_sees_restricted_case(p_case uuid, p_viewer uuid, p_is_lado boolean)
RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    SELECT (p_is_lado
            OR EXISTS (SELECT 1 FROM record_access r
                       WHERE r.record_id = p_case AND r.user_id = p_viewer AND r.revoked_at IS NULL))
       AND NOT EXISTS (SELECT 1 FROM allegation_cases l JOIN allegations al ON al.id = l.allegation_id
                       WHERE l.case_id = p_case AND al.subject_user_id = p_viewer)
$$;
GRANT EXECUTE ON FUNCTION haven_sees_restricted_case(uuid, uuid, boolean) TO haven_app;
