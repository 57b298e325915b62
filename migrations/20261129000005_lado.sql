-- The LADO path (issue 8): allegations against people who work with children, the same-day
-- escalation steps and their breaches, the evidence trail, documents, restricted access and
-- break-glass.

CREATE TABLE allegation_reference_counters (
    year integer PRIMARY KEY,
    last_number integer NOT NULL
);

CREATE TABLE allegations (
    id uuid PRIMARY KEY,
    reference text NOT NULL,
    owner_id uuid NOT NULL REFERENCES users (id),
    status text NOT NULL DEFAULT 'open',
    -- How the LADO heard of it.
    contact_kind text NOT NULL,
    contact_at timestamptz NOT NULL,
    contact_from text NOT NULL,
    source_case_id uuid REFERENCES cases (id),
    -- The adult concerned.
    subject_name text NOT NULL,
    subject_role text NOT NULL,
    subject_employer text NOT NULL,
    setting text NOT NULL,
    subject_user_id uuid REFERENCES users (id),
    subject_date_of_birth date,
    subject_scheme_age integer,
    -- The concern.
    concern_arose_at timestamptz NOT NULL,
    concern_how text NOT NULL,
    conduct text NOT NULL,
    harm_tests text[] NOT NULL DEFAULT '{}',
    threshold_met boolean,
    advice_given text NOT NULL DEFAULT '',
    case_manager text NOT NULL DEFAULT '',
    -- Who was told, when, and who decided.
    accused_told_at timestamptz,
    accused_told_decided_by text NOT NULL DEFAULT '',
    parents_told_at timestamptz,
    parents_told_decided_by text NOT NULL DEFAULT '',
    -- The outcome.
    outcome text,
    outcome_on date,
    outcome_reasons text NOT NULL DEFAULT '',
    resigned boolean NOT NULL DEFAULT false,
    settlement boolean NOT NULL DEFAULT false,
    child_referral_considered text NOT NULL DEFAULT '',
    dbs_referred_on date,
    dbs_referred_by text NOT NULL DEFAULT '',
    dbs_not_referred_reason text NOT NULL DEFAULT '',
    regulator_referral text NOT NULL DEFAULT '',
    review_on date,
    lado_file_retain_until date,
    created_by uuid NOT NULL REFERENCES users (id),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    version integer NOT NULL DEFAULT 1,
    CONSTRAINT allegations_reference_unique UNIQUE (reference),
    CONSTRAINT allegations_status_known CHECK (status IN ('open', 'advice_only', 'closed')),
    CONSTRAINT allegations_contact_known CHECK (contact_kind IN ('phone', 'email', 'in_person', 'section47')),
    CONSTRAINT allegations_setting_known CHECK (setting IN ('school', 'early_years', 'health', 'social_care', 'voluntary', 'faith', 'sport', 'other')),
    CONSTRAINT allegations_conduct_known CHECK (conduct IN ('at_work', 'outside_work', 'both')),
    CONSTRAINT allegations_harm_tests_known CHECK (harm_tests <@ ARRAY['harmed', 'offence', 'risk_of_harm', 'unsuitable']),
    CONSTRAINT allegations_threshold CHECK (threshold_met IS NULL OR (threshold_met = (cardinality(harm_tests) > 0))),
    CONSTRAINT allegations_outcome_known CHECK (outcome IS NULL OR outcome IN ('substantiated', 'malicious', 'false', 'unsubstantiated', 'unfounded')),
    CONSTRAINT allegations_outcome_dated CHECK ((outcome IS NULL) = (outcome_on IS NULL)),
    CONSTRAINT allegations_closed_has_outcome CHECK (status <> 'closed' OR outcome IS NOT NULL),
    CONSTRAINT allegations_scheme_age CHECK (subject_scheme_age IS NULL OR subject_scheme_age BETWEEN 50 AND 75),
    CONSTRAINT allegations_text_length CHECK (
        char_length(contact_from) BETWEEN 1 AND 500 AND char_length(subject_name) BETWEEN 1 AND 200
        AND char_length(subject_role) BETWEEN 1 AND 200 AND char_length(subject_employer) BETWEEN 1 AND 200
        AND char_length(concern_how) BETWEEN 1 AND 10000 AND char_length(advice_given) <= 10000
        AND char_length(case_manager) <= 500 AND char_length(outcome_reasons) <= 10000
        AND char_length(accused_told_decided_by) <= 500 AND char_length(parents_told_decided_by) <= 500
        AND char_length(child_referral_considered) <= 2000 AND char_length(dbs_referred_by) <= 500
        AND char_length(dbs_not_referred_reason) <= 2000 AND char_length(regulator_referral) <= 2000)
);
CREATE INDEX allegations_open ON allegations (contact_at DESC, id DESC) WHERE status IN ('open', 'advice_only');
CREATE INDEX allegations_source_case ON allegations (source_case_id) WHERE source_case_id IS NOT NULL;
CREATE INDEX allegations_contact_at ON allegations (contact_at);
CREATE INDEX allegations_review ON allegations (review_on) WHERE review_on IS NOT NULL;
CREATE INDEX allegations_subject_user ON allegations (subject_user_id) WHERE subject_user_id IS NOT NULL;

-- Child cases an allegation is linked to.
CREATE TABLE allegation_cases (
    allegation_id uuid NOT NULL REFERENCES allegations (id),
    case_id uuid NOT NULL REFERENCES cases (id),
    linked_by uuid NOT NULL REFERENCES users (id),
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (allegation_id, case_id)
);
CREATE INDEX allegation_cases_case ON allegation_cases (case_id);

-- Access to restricted records: people the LADO names, and approved break-glass requests.
CREATE TABLE record_access (
    id uuid PRIMARY KEY,
    record_kind text NOT NULL,
    record_id uuid NOT NULL,
    user_id uuid NOT NULL REFERENCES users (id),
    via text NOT NULL,
    granted_by uuid REFERENCES users (id),
    reason text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now(),
    revoked_at timestamptz,
    CONSTRAINT record_access_kind_known CHECK (record_kind IN ('allegation', 'case')),
    CONSTRAINT record_access_via_known CHECK (via IN ('named', 'break_glass'))
);
CREATE INDEX record_access_lookup ON record_access (record_id, user_id) WHERE revoked_at IS NULL;

-- Break-glass: a request to open a restricted record, with a reason; the LADO approves it first
-- (or, where the partnership allows, an urgent one opens at once and is reviewed after).
CREATE TABLE break_glass_requests (
    id uuid PRIMARY KEY,
    record_kind text NOT NULL,
    record_id uuid NOT NULL,
    user_id uuid NOT NULL REFERENCES users (id),
    reason text NOT NULL,
    urgent boolean NOT NULL DEFAULT false,
    status text NOT NULL DEFAULT 'pending',
    decided_by uuid REFERENCES users (id),
    decided_at timestamptz,
    reviewed_by uuid REFERENCES users (id),
    reviewed_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT break_glass_kind_known CHECK (record_kind IN ('allegation', 'case')),
    CONSTRAINT break_glass_status_known CHECK (status IN ('pending', 'approved', 'refused', 'opened_urgently')),
    CONSTRAINT break_glass_reason_length CHECK (char_length(reason) BETWEEN 1 AND 2000)
);
CREATE INDEX break_glass_pending ON break_glass_requests (created_at) WHERE status = 'pending';
CREATE INDEX break_glass_unreviewed ON break_glass_requests (created_at) WHERE reviewed_at IS NULL AND status IN ('approved', 'opened_urgently');

-- The escalation steps: each a timestamped record of who did it and when.
CREATE TABLE escalation_steps (
    allegation_id uuid NOT NULL REFERENCES allegations (id),
    step text NOT NULL,
    due_at timestamptz,
    done_at timestamptz,
    done_by text,
    route text,
    notes text NOT NULL DEFAULT '',
    recorded_by uuid REFERENCES users (id),
    recorded_at timestamptz,
    -- Set when the allegation closes with the step still undone: its clock stops.
    ended_at timestamptz,
    PRIMARY KEY (allegation_id, step),
    CONSTRAINT escalation_steps_known CHECK (step IN ('tell_manager', 'secure_device', 'contact_lado', 'contact_police', 'immediate_actions', 'procedures_followed')),
    CONSTRAINT escalation_steps_route_known CHECK (route IS NULL OR route IN ('line_manager', 'next_senior_manager', 'whistleblowing')),
    CONSTRAINT escalation_steps_done_whole CHECK ((done_at IS NULL) = (done_by IS NULL)),
    CONSTRAINT escalation_steps_text_length CHECK (char_length(coalesce(done_by, '')) <= 200 AND char_length(notes) <= 2000)
);
CREATE INDEX escalation_steps_due ON escalation_steps (due_at) WHERE done_at IS NULL AND ended_at IS NULL AND due_at IS NOT NULL;

-- Breaches: a step with a clock not done in time. Append-only: completing the step late never
-- removes one.
CREATE TABLE allegation_breaches (
    allegation_id uuid NOT NULL REFERENCES allegations (id),
    step text NOT NULL,
    due_at timestamptz NOT NULL,
    detected_at timestamptz NOT NULL,
    acknowledged_by uuid REFERENCES users (id),
    PRIMARY KEY (allegation_id, step)
);
CREATE INDEX allegation_breaches_unacknowledged ON allegation_breaches (detected_at DESC) WHERE acknowledged_by IS NULL;
CREATE TRIGGER allegation_breaches_append_only BEFORE DELETE ON allegation_breaches
    FOR EACH ROW EXECUTE FUNCTION haven_refuse_change();

-- The allegation's own chronology. Append-only.
CREATE TABLE allegation_events (
    id uuid PRIMARY KEY,
    allegation_id uuid NOT NULL REFERENCES allegations (id),
    occurred_at timestamptz NOT NULL,
    kind text NOT NULL,
    summary text NOT NULL,
    recorded_by uuid REFERENCES users (id),
    recorded_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX allegation_events_order ON allegation_events (allegation_id, occurred_at DESC, id DESC);
CREATE TRIGGER allegation_events_append_only BEFORE UPDATE OR DELETE ON allegation_events
    FOR EACH ROW EXECUTE FUNCTION haven_refuse_change();

CREATE TABLE allegation_meetings (
    id uuid PRIMARY KEY,
    allegation_id uuid NOT NULL REFERENCES allegations (id),
    kind text NOT NULL,
    held_at timestamptz NOT NULL,
    notes text NOT NULL DEFAULT '',
    recorded_by uuid NOT NULL REFERENCES users (id),
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT allegation_meetings_kind_known CHECK (kind IN ('initial_evaluation', 'strategy', 'review')),
    CONSTRAINT allegation_meetings_notes_length CHECK (char_length(notes) <= 10000)
);
CREATE INDEX allegation_meetings_order ON allegation_meetings (allegation_id, held_at);

CREATE TABLE allegation_strands (
    allegation_id uuid NOT NULL REFERENCES allegations (id),
    strand text NOT NULL,
    status text NOT NULL DEFAULT 'not_started',
    owner text NOT NULL DEFAULT '',
    updated_at timestamptz NOT NULL DEFAULT now(),
    version integer NOT NULL DEFAULT 1,
    PRIMARY KEY (allegation_id, strand),
    CONSTRAINT allegation_strands_known CHECK (strand IN ('police', 'employer', 'social_care')),
    CONSTRAINT allegation_strands_status_known CHECK (status IN ('not_started', 'in_progress', 'concluded', 'not_needed')),
    CONSTRAINT allegation_strands_owner_length CHECK (char_length(owner) <= 200)
);

-- Immediate actions about the employee (suspension and its alternatives).
CREATE TABLE employee_actions (
    id uuid PRIMARY KEY,
    allegation_id uuid NOT NULL REFERENCES allegations (id),
    action text NOT NULL,
    alternatives text NOT NULL,
    rationale text NOT NULL,
    agreed_by text NOT NULL,
    agreed_at timestamptz NOT NULL,
    police_view text NOT NULL,
    written_confirmation_at timestamptz,
    named_contact text NOT NULL,
    recorded_by uuid NOT NULL REFERENCES users (id),
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT employee_actions_known CHECK (action IN ('suspension', 'redeployment', 'no_action', 'other')),
    CONSTRAINT employee_actions_text_length CHECK (char_length(alternatives) <= 5000 AND char_length(rationale) BETWEEN 1 AND 5000
        AND char_length(agreed_by) BETWEEN 1 AND 500 AND char_length(police_view) <= 5000 AND char_length(named_contact) <= 500)
);

-- The evidence trail: devices, who had access to them, and custody events. Append-only.
CREATE TABLE evidence_items (
    id uuid PRIMARY KEY,
    allegation_id uuid NOT NULL REFERENCES allegations (id),
    description text NOT NULL,
    location text NOT NULL,
    secured_by text NOT NULL,
    secured_at timestamptz NOT NULL,
    recorded_by uuid NOT NULL REFERENCES users (id),
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT evidence_items_text_length CHECK (char_length(description) BETWEEN 1 AND 1000 AND char_length(location) BETWEEN 1 AND 500 AND char_length(secured_by) BETWEEN 1 AND 200)
);
CREATE TABLE evidence_access (
    id uuid PRIMARY KEY,
    item_id uuid NOT NULL REFERENCES evidence_items (id),
    person text NOT NULL,
    details text NOT NULL DEFAULT '',
    recorded_by uuid NOT NULL REFERENCES users (id),
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT evidence_access_text_length CHECK (char_length(person) BETWEEN 1 AND 200 AND char_length(details) <= 1000)
);
CREATE TABLE custody_events (
    id uuid PRIMARY KEY,
    item_id uuid NOT NULL REFERENCES evidence_items (id),
    kind text NOT NULL,
    happened_at timestamptz NOT NULL,
    by_person text NOT NULL,
    to_person text NOT NULL DEFAULT '',
    details text NOT NULL DEFAULT '',
    recorded_by uuid NOT NULL REFERENCES users (id),
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT custody_events_kind_known CHECK (kind IN ('handed_to_police', 'returned', 'destroyed', 'moved')),
    CONSTRAINT custody_events_text_length CHECK (char_length(by_person) BETWEEN 1 AND 200 AND char_length(to_person) <= 200 AND char_length(details) <= 1000)
);
CREATE INDEX evidence_items_allegation ON evidence_items (allegation_id, secured_at);
CREATE INDEX evidence_access_item ON evidence_access (item_id, created_at);
CREATE INDEX custody_events_item ON custody_events (item_id, happened_at);
CREATE TRIGGER evidence_items_append_only BEFORE UPDATE OR DELETE ON evidence_items FOR EACH ROW EXECUTE FUNCTION haven_refuse_change();
CREATE TRIGGER evidence_access_append_only BEFORE UPDATE OR DELETE ON evidence_access FOR EACH ROW EXECUTE FUNCTION haven_refuse_change();
CREATE TRIGGER custody_events_append_only BEFORE UPDATE OR DELETE ON custody_events FOR EACH ROW EXECUTE FUNCTION haven_refuse_change();

-- Documents (never images or video), stored in the database.
CREATE TABLE documents (
    id uuid PRIMARY KEY,
    allegation_id uuid REFERENCES allegations (id),
    case_id uuid REFERENCES cases (id),
    filename text NOT NULL,
    content_type text NOT NULL,
    size_bytes integer NOT NULL,
    sha256 bytea NOT NULL,
    body bytea NOT NULL,
    uploaded_by uuid NOT NULL REFERENCES users (id),
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT documents_owner CHECK ((allegation_id IS NULL) <> (case_id IS NULL)),
    CONSTRAINT documents_size CHECK (size_bytes BETWEEN 1 AND 10485760 AND octet_length(body) = size_bytes),
    CONSTRAINT documents_type_known CHECK (content_type IN ('application/pdf', 'text/plain',
        'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
        'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
        'application/vnd.oasis.opendocument.text', 'application/msword')),
    CONSTRAINT documents_filename_length CHECK (char_length(filename) BETWEEN 1 AND 200)
);
CREATE INDEX documents_allegation ON documents (allegation_id, created_at) WHERE allegation_id IS NOT NULL;
CREATE INDEX documents_case ON documents (case_id, created_at) WHERE case_id IS NOT NULL;

-- Step-up: when the person last gave their password (and code) on this session.
ALTER TABLE sessions ADD COLUMN reauthenticated_at timestamptz;
UPDATE sessions SET reauthenticated_at = created_at;
ALTER TABLE sessions ALTER COLUMN reauthenticated_at SET DEFAULT now();

-- The partnership's LADO settings.
ALTER TABLE partnership_settings ADD COLUMN urgent_break_glass boolean NOT NULL DEFAULT false;
ALTER TABLE partnership_settings ADD COLUMN lado_file_retention_years integer NOT NULL DEFAULT 25;
ALTER TABLE partnership_settings ADD CONSTRAINT partnership_settings_retention CHECK (lado_file_retention_years BETWEEN 1 AND 100);

CREATE INDEX section47_lado_handover ON section47_enquiries (case_id) WHERE lado_handover;
CREATE INDEX cases_restricted ON cases (created_at DESC, id DESC) WHERE restricted;

GRANT SELECT, INSERT, UPDATE ON allegation_reference_counters, allegations, escalation_steps,
    allegation_strands, break_glass_requests, record_access TO haven_app;
GRANT SELECT, INSERT ON allegation_cases, allegation_events, allegation_meetings, employee_actions,
    evidence_items, evidence_access, custody_events, documents TO haven_app;
GRANT SELECT, INSERT, UPDATE ON allegation_breaches TO haven_app;
