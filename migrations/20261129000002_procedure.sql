-- The procedure after the referral (issue 7): the working-day calendar, the partnership's
-- settings, the decision on a referral, strategy discussions, Section 47 enquiries, conferences,
-- closure, and the deadlines derived from them.

-- Days an administrator adds to, or takes out of, the bank holidays computed by rule.
CREATE TABLE calendar_changes (
    day date PRIMARY KEY,
    kind text NOT NULL,
    name text NOT NULL DEFAULT '',
    added_by uuid NOT NULL REFERENCES users (id),
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT calendar_changes_kind_known CHECK (kind IN ('holiday', 'working')),
    CONSTRAINT calendar_changes_name_length CHECK (char_length(name) <= 100),
    CONSTRAINT calendar_changes_holiday_named CHECK (kind = 'working' OR char_length(name) >= 1)
);

-- The local safeguarding partnership's own rules.
CREATE TABLE partnership_settings (
    id smallint PRIMARY KEY DEFAULT 1,
    strategy_discussion_days integer NOT NULL DEFAULT 3,
    icpc_local_rule boolean NOT NULL DEFAULT true,
    updated_by uuid REFERENCES users (id),
    updated_at timestamptz NOT NULL DEFAULT now(),
    version integer NOT NULL DEFAULT 1,
    CONSTRAINT partnership_settings_single CHECK (id = 1),
    CONSTRAINT partnership_settings_days CHECK (strategy_discussion_days BETWEEN 0 AND 20)
);
INSERT INTO partnership_settings (id) VALUES (1);

-- The decision on a referral: proposed by a practitioner, approved (or sent back) by a manager.
CREATE TABLE referral_decisions (
    id uuid PRIMARY KEY,
    case_id uuid NOT NULL REFERENCES cases (id),
    outcome text NOT NULL,
    reasons text NOT NULL DEFAULT '',
    proposed_by uuid NOT NULL REFERENCES users (id),
    proposed_at timestamptz NOT NULL,
    status text NOT NULL DEFAULT 'proposed',
    reviewed_by uuid REFERENCES users (id),
    reviewed_at timestamptz,
    review_note text NOT NULL DEFAULT '',
    referrer_told_at timestamptz,
    referrer_told_by uuid REFERENCES users (id),
    referrer_told_how text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now(),
    version integer NOT NULL DEFAULT 1,
    CONSTRAINT referral_decisions_outcome_known CHECK (outcome IN ('strategy_discussion', 'single_assessment', 'lado', 'early_help', 'no_further_action')),
    CONSTRAINT referral_decisions_status_known CHECK (status IN ('proposed', 'approved', 'returned')),
    CONSTRAINT referral_decisions_reasons_length CHECK (char_length(reasons) <= 5000 AND char_length(review_note) <= 2000),
    CONSTRAINT referral_decisions_nfa_has_reasons CHECK (outcome <> 'no_further_action' OR char_length(reasons) >= 1),
    CONSTRAINT referral_decisions_not_own_approval CHECK (reviewed_by IS NULL OR reviewed_by <> proposed_by)
);
CREATE INDEX referral_decisions_case ON referral_decisions (case_id, created_at DESC);
CREATE UNIQUE INDEX referral_decisions_live ON referral_decisions (case_id) WHERE status <> 'returned';
CREATE INDEX referral_decisions_waiting ON referral_decisions (case_id) WHERE status = 'proposed';

-- Strategy discussions: several per case. Drafted page by page, then recorded (final).
CREATE TABLE strategy_discussions (
    id uuid PRIMARY KEY,
    case_id uuid NOT NULL REFERENCES cases (id),
    held_at timestamptz,
    status text NOT NULL DEFAULT 'draft',
    decisions text NOT NULL DEFAULT '',
    absent_reason text NOT NULL DEFAULT '',
    family_decision text,
    family_decided_by text NOT NULL DEFAULT '',
    family_decided_at timestamptz,
    family_agreed text NOT NULL DEFAULT '',
    created_by uuid NOT NULL REFERENCES users (id),
    created_at timestamptz NOT NULL DEFAULT now(),
    recorded_by uuid REFERENCES users (id),
    recorded_at timestamptz,
    updated_at timestamptz NOT NULL DEFAULT now(),
    version integer NOT NULL DEFAULT 1,
    CONSTRAINT strategy_discussions_status_known CHECK (status IN ('draft', 'recorded')),
    CONSTRAINT strategy_discussions_family_known CHECK (family_decision IS NULL OR family_decision IN ('not_yet', 'tell_now', 'agreed_plan')),
    CONSTRAINT strategy_discussions_text_length CHECK (char_length(decisions) <= 20000 AND char_length(absent_reason) <= 2000
        AND char_length(family_decided_by) <= 500 AND char_length(family_agreed) <= 5000),
    CONSTRAINT strategy_discussions_recorded_complete CHECK (status = 'draft' OR (held_at IS NOT NULL AND recorded_at IS NOT NULL))
);
CREATE INDEX strategy_discussions_case ON strategy_discussions (case_id, created_at);

CREATE TABLE strategy_attendees (
    id uuid PRIMARY KEY,
    discussion_id uuid NOT NULL REFERENCES strategy_discussions (id),
    name text NOT NULL,
    agency text NOT NULL,
    role text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT strategy_attendees_agency_known CHECK (agency IN ('social_care', 'police', 'health', 'education', 'referrer', 'other')),
    CONSTRAINT strategy_attendees_role_known CHECK (role IN ('social_worker', 'manager', 'officer', 'practitioner', 'other')),
    CONSTRAINT strategy_attendees_name_length CHECK (char_length(name) BETWEEN 1 AND 200)
);
CREATE INDEX strategy_attendees_discussion ON strategy_attendees (discussion_id, created_at);

-- For each child: does a Section 47 enquiry start at this discussion?
CREATE TABLE strategy_child_decisions (
    discussion_id uuid NOT NULL REFERENCES strategy_discussions (id),
    person_id uuid NOT NULL REFERENCES case_people (id),
    section47 boolean NOT NULL,
    started_on date,
    kind text,
    PRIMARY KEY (discussion_id, person_id),
    CONSTRAINT strategy_child_decisions_kind_known CHECK (kind IS NULL OR kind IN ('single_agency', 'joint')),
    CONSTRAINT strategy_child_decisions_started CHECK (NOT section47 OR (started_on IS NOT NULL AND kind IS NOT NULL))
);

-- The thirteen considerations: an answer to each, and whether it shows a risk.
CREATE TABLE strategy_considerations (
    discussion_id uuid NOT NULL REFERENCES strategy_discussions (id),
    key text NOT NULL,
    answer text NOT NULL,
    risk boolean NOT NULL,
    PRIMARY KEY (discussion_id, key),
    CONSTRAINT strategy_considerations_answer_length CHECK (char_length(answer) BETWEEN 1 AND 5000)
);

CREATE TABLE strategy_actions (
    id uuid PRIMARY KEY,
    discussion_id uuid NOT NULL REFERENCES strategy_discussions (id),
    action text NOT NULL,
    owner text NOT NULL,
    due_on date NOT NULL,
    done_at timestamptz,
    done_by uuid REFERENCES users (id),
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT strategy_actions_text_length CHECK (char_length(action) BETWEEN 1 AND 2000 AND char_length(owner) BETWEEN 1 AND 200)
);
CREATE INDEX strategy_actions_discussion ON strategy_actions (discussion_id, created_at);

-- One Section 47 enquiry per child per case, started at a recorded discussion. Its outcome is
-- proposed, then approved (or sent back) by a manager.
CREATE TABLE section47_enquiries (
    id uuid PRIMARY KEY,
    case_id uuid NOT NULL REFERENCES cases (id),
    person_id uuid NOT NULL REFERENCES case_people (id),
    started_by uuid NOT NULL REFERENCES strategy_discussions (id),
    started_on date NOT NULL,
    kind text NOT NULL,
    outcome text,
    outcome_reasons text NOT NULL DEFAULT '',
    child_in_need_plan boolean NOT NULL DEFAULT false,
    lado_handover boolean NOT NULL DEFAULT false,
    harmful_sexual_behaviour boolean NOT NULL DEFAULT false,
    outcome_status text NOT NULL DEFAULT 'open',
    proposed_by uuid REFERENCES users (id),
    proposed_at timestamptz,
    reviewed_by uuid REFERENCES users (id),
    reviewed_at timestamptz,
    review_note text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    version integer NOT NULL DEFAULT 1,
    CONSTRAINT section47_enquiries_one_per_child UNIQUE (case_id, person_id),
    CONSTRAINT section47_enquiries_kind_known CHECK (kind IN ('single_agency', 'joint')),
    CONSTRAINT section47_enquiries_outcome_known CHECK (outcome IS NULL OR outcome IN ('not_substantiated', 'substantiated_no_continuing_risk', 'likely_significant_harm')),
    CONSTRAINT section47_enquiries_status_known CHECK (outcome_status IN ('open', 'proposed', 'approved')),
    CONSTRAINT section47_enquiries_outcome_when_proposed CHECK (outcome_status = 'open' OR outcome IS NOT NULL),
    CONSTRAINT section47_enquiries_nfa_has_reasons CHECK (outcome IS NULL OR outcome = 'likely_significant_harm' OR char_length(outcome_reasons) >= 1),
    CONSTRAINT section47_enquiries_text_length CHECK (char_length(outcome_reasons) <= 5000 AND char_length(review_note) <= 2000),
    CONSTRAINT section47_enquiries_not_own_approval CHECK (reviewed_by IS NULL OR reviewed_by <> proposed_by)
);
CREATE INDEX section47_enquiries_waiting ON section47_enquiries (case_id) WHERE outcome_status = 'proposed';

-- Child protection conferences (initial and review), per child.
CREATE TABLE child_protection_conferences (
    id uuid PRIMARY KEY,
    case_id uuid NOT NULL REFERENCES cases (id),
    person_id uuid NOT NULL REFERENCES case_people (id),
    kind text NOT NULL,
    held_at timestamptz NOT NULL,
    chair text NOT NULL,
    plan boolean NOT NULL,
    category text,
    lead_social_worker text NOT NULL DEFAULT '',
    core_group text NOT NULL DEFAULT '',
    recorded_by uuid NOT NULL REFERENCES users (id),
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT cp_conferences_kind_known CHECK (kind IN ('initial', 'review')),
    CONSTRAINT cp_conferences_category_known CHECK (category IS NULL OR category IN ('neglect', 'physical_abuse', 'sexual_abuse', 'emotional_abuse', 'multiple')),
    CONSTRAINT cp_conferences_plan_has_category CHECK (plan = (category IS NOT NULL)),
    CONSTRAINT cp_conferences_text_length CHECK (char_length(chair) BETWEEN 1 AND 200 AND char_length(lead_social_worker) <= 200 AND char_length(core_group) <= 2000)
);
CREATE INDEX cp_conferences_case ON child_protection_conferences (case_id, held_at);

CREATE TABLE core_group_meetings (
    id uuid PRIMARY KEY,
    case_id uuid NOT NULL REFERENCES cases (id),
    person_id uuid NOT NULL REFERENCES case_people (id),
    held_at timestamptz NOT NULL,
    recorded_by uuid NOT NULL REFERENCES users (id),
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX core_group_meetings_case ON core_group_meetings (case_id, held_at);

-- Simple recorded events the clocks depend on: the single assessment completed, the LADO told.
CREATE TABLE case_milestones (
    id uuid PRIMARY KEY,
    case_id uuid NOT NULL REFERENCES cases (id),
    kind text NOT NULL,
    happened_at timestamptz NOT NULL,
    details text NOT NULL DEFAULT '',
    recorded_by uuid NOT NULL REFERENCES users (id),
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT case_milestones_kind_known CHECK (kind IN ('assessment_completed', 'lado_told')),
    CONSTRAINT case_milestones_details_length CHECK (char_length(details) <= 2000)
);
CREATE INDEX case_milestones_case ON case_milestones (case_id, kind, happened_at);

-- Closing a case: proposed, approved (or sent back) by a manager.
CREATE TABLE case_closures (
    id uuid PRIMARY KEY,
    case_id uuid NOT NULL REFERENCES cases (id),
    reason text NOT NULL,
    proposed_by uuid NOT NULL REFERENCES users (id),
    proposed_at timestamptz NOT NULL,
    status text NOT NULL DEFAULT 'proposed',
    reviewed_by uuid REFERENCES users (id),
    reviewed_at timestamptz,
    review_note text NOT NULL DEFAULT '',
    CONSTRAINT case_closures_status_known CHECK (status IN ('proposed', 'approved', 'returned')),
    CONSTRAINT case_closures_reason_length CHECK (char_length(reason) BETWEEN 1 AND 5000 AND char_length(review_note) <= 2000),
    CONSTRAINT case_closures_not_own_approval CHECK (reviewed_by IS NULL OR reviewed_by <> proposed_by)
);
CREATE UNIQUE INDEX case_closures_live ON case_closures (case_id) WHERE status = 'proposed';

-- Deadlines, derived by domain::deadlines from the events above and stored so dashboards read
-- an index. team_id and owner_id are copied from the case for those indexes.
CREATE TABLE deadlines (
    id uuid PRIMARY KEY,
    case_id uuid NOT NULL REFERENCES cases (id),
    team_id uuid NOT NULL REFERENCES teams (id),
    owner_id uuid NOT NULL REFERENCES users (id),
    kind text NOT NULL,
    person_id uuid REFERENCES case_people (id),
    seq integer NOT NULL DEFAULT 0,
    started_by text NOT NULL,
    started_at timestamptz NOT NULL,
    due_at timestamptz NOT NULL,
    local_due_at timestamptz,
    met_at timestamptz,
    met_by text,
    ended_at timestamptz,
    late_reason text,
    late_reason_by uuid REFERENCES users (id),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT deadlines_kind_known CHECK (kind IN ('referral_decision', 'referrer_told', 'strategy_discussion', 'icpc', 'core_group', 'review_conference', 'single_assessment', 'lado_informed')),
    CONSTRAINT deadlines_late_reason_length CHECK (late_reason IS NULL OR char_length(late_reason) BETWEEN 1 AND 2000)
);
CREATE UNIQUE INDEX deadlines_identity ON deadlines (case_id, kind, coalesce(person_id, '00000000-0000-0000-0000-000000000000'::uuid), seq);
-- Open deadlines, most urgent first, per team and per case worker.
CREATE INDEX deadlines_team_open ON deadlines (team_id, due_at) WHERE met_at IS NULL AND ended_at IS NULL;
CREATE INDEX deadlines_owner_open ON deadlines (owner_id, due_at) WHERE met_at IS NULL AND ended_at IS NULL;
-- Timeliness: what was met, per team, kind and when.
CREATE INDEX deadlines_team_met ON deadlines (team_id, kind, met_at) WHERE met_at IS NOT NULL;

-- The next open deadline, on the case row itself, so lists show it without a query per row.
ALTER TABLE cases ADD COLUMN next_due_at timestamptz;
ALTER TABLE cases ADD COLUMN next_due_kind text;

GRANT SELECT, INSERT, DELETE ON calendar_changes TO haven_app;
GRANT SELECT, UPDATE ON partnership_settings TO haven_app;
GRANT SELECT, INSERT, UPDATE ON referral_decisions, strategy_discussions, section47_enquiries,
    case_closures, deadlines, strategy_actions TO haven_app;
GRANT SELECT, INSERT, DELETE ON strategy_attendees, strategy_child_decisions, strategy_considerations TO haven_app;
GRANT DELETE ON strategy_actions, deadlines TO haven_app;
GRANT SELECT, INSERT ON child_protection_conferences, core_group_meetings, case_milestones TO haven_app;
