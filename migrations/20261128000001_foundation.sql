-- Haven's foundation: accounts, sessions, the audit trail, referrals, cases and their chronology.
--
-- Migrations run as the database owner. The application itself works as the
-- role `haven_app` (it switches to it on every pooled connection), which gets
-- only the privileges granted below: in particular it may only INSERT into
-- the audit trail and into append-only case records.

DO $$
BEGIN
    CREATE ROLE haven_app NOLOGIN;
EXCEPTION
    WHEN duplicate_object OR unique_violation THEN NULL;
END
$$;

-- Teams ---------------------------------------------------------------------
CREATE TABLE teams (
    id uuid PRIMARY KEY,
    name text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT teams_name_unique UNIQUE (name),
    CONSTRAINT teams_name_length CHECK (char_length(name) BETWEEN 1 AND 200)
);

-- Users ---------------------------------------------------------------------
CREATE TABLE users (
    id uuid PRIMARY KEY,
    email text NOT NULL,
    display_name text NOT NULL,
    role text NOT NULL,
    password_hash text,
    totp_secret text,
    totp_enabled_at timestamptz,
    totp_last_step bigint,
    disabled_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    version integer NOT NULL DEFAULT 1,
    CONSTRAINT users_role_known CHECK (role IN ('practitioner', 'manager', 'lado', 'admin')),
    CONSTRAINT users_email_lowercase CHECK (email = lower(email)),
    CONSTRAINT users_email_length CHECK (char_length(email) BETWEEN 3 AND 254)
);
CREATE UNIQUE INDEX users_email_unique ON users (email);
CREATE INDEX users_list_order ON users (display_name, id);

CREATE TABLE team_memberships (
    user_id uuid NOT NULL REFERENCES users (id),
    team_id uuid NOT NULL REFERENCES teams (id),
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, team_id)
);
CREATE INDEX team_memberships_team ON team_memberships (team_id);

CREATE TABLE recovery_codes (
    id uuid PRIMARY KEY,
    user_id uuid NOT NULL REFERENCES users (id),
    code_hash bytea NOT NULL,
    used_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX recovery_codes_user ON recovery_codes (user_id) WHERE used_at IS NULL;

-- One-time links that let a person choose their own password.
CREATE TABLE password_tokens (
    id uuid PRIMARY KEY,
    user_id uuid NOT NULL REFERENCES users (id),
    token_hash bytea NOT NULL,
    created_by uuid REFERENCES users (id),
    expires_at timestamptz NOT NULL,
    used_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT password_tokens_hash_unique UNIQUE (token_hash)
);

-- Sessions --------------------------------------------------------------------
-- stage: 'totp' (password accepted, second factor outstanding), 'enrol' (must
-- set up a second factor first), 'active' (fully signed in).
CREATE TABLE sessions (
    id uuid PRIMARY KEY,
    user_id uuid NOT NULL REFERENCES users (id),
    token_hash bytea NOT NULL,
    csrf_token text NOT NULL,
    stage text NOT NULL,
    ip text,
    user_agent text,
    created_at timestamptz NOT NULL DEFAULT now(),
    last_seen_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    ended_at timestamptz,
    ended_reason text,
    CONSTRAINT sessions_token_unique UNIQUE (token_hash),
    CONSTRAINT sessions_stage_known CHECK (stage IN ('totp', 'enrol', 'active'))
);
CREATE INDEX sessions_user_live ON sessions (user_id, created_at DESC) WHERE ended_at IS NULL;

-- Sign-in throttling lives here so that every app instance sees the same counts.
CREATE TABLE sign_in_failures (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_key text NOT NULL,
    ip text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX sign_in_failures_account ON sign_in_failures (account_key, created_at);
CREATE INDEX sign_in_failures_ip ON sign_in_failures (ip, created_at);

-- Audit trail -----------------------------------------------------------------
CREATE TABLE audit_events (
    seq bigint PRIMARY KEY,
    occurred_at timestamptz NOT NULL,
    actor_user_id uuid,
    actor_ip text,
    action text NOT NULL,
    entity_type text NOT NULL,
    entity_id text,
    case_id uuid,
    reason text,
    details text NOT NULL,
    prev_hash bytea NOT NULL,
    hash bytea NOT NULL
);
CREATE INDEX audit_events_case ON audit_events (case_id, seq DESC) WHERE case_id IS NOT NULL;
CREATE INDEX audit_events_actor ON audit_events (actor_user_id, seq DESC);

-- The head of the chain: one row, locked by every writer so the chain never forks.
CREATE TABLE audit_chain_head (
    id smallint PRIMARY KEY DEFAULT 1,
    seq bigint NOT NULL,
    hash bytea NOT NULL,
    CONSTRAINT audit_chain_head_single CHECK (id = 1)
);
INSERT INTO audit_chain_head (id, seq, hash) VALUES (1, 0, '\x0000000000000000000000000000000000000000000000000000000000000000');

CREATE FUNCTION haven_refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;

CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION haven_refuse_change();
CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
    FOR EACH STATEMENT EXECUTE FUNCTION haven_refuse_change();

-- Idempotency keys for forms, so a double submit creates one record.
CREATE TABLE form_submissions (
    key uuid PRIMARY KEY,
    user_id uuid NOT NULL REFERENCES users (id),
    result_location text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- Referrals and cases -------------------------------------------------------------
CREATE TABLE referral_drafts (
    id uuid PRIMARY KEY,
    user_id uuid NOT NULL REFERENCES users (id),
    team_id uuid NOT NULL REFERENCES teams (id),
    data jsonb NOT NULL DEFAULT '{}',
    submitted_case_id uuid,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX referral_drafts_user ON referral_drafts (user_id, updated_at DESC) WHERE submitted_case_id IS NULL;

CREATE TABLE case_reference_counters (
    year integer PRIMARY KEY,
    last_number integer NOT NULL
);

CREATE TABLE cases (
    id uuid PRIMARY KEY,
    reference text NOT NULL,
    team_id uuid NOT NULL REFERENCES teams (id),
    owner_id uuid NOT NULL REFERENCES users (id),
    status text NOT NULL DEFAULT 'open',
    title text NOT NULL,
    concern_kinds text[] NOT NULL,
    immediate_risk boolean NOT NULL,
    restricted boolean NOT NULL DEFAULT false,
    search_names text NOT NULL DEFAULT '',
    received_at timestamptz NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    version integer NOT NULL DEFAULT 1,
    CONSTRAINT cases_reference_unique UNIQUE (reference),
    CONSTRAINT cases_status_known CHECK (status IN ('open', 'strategy', 'section47', 'closed')),
    CONSTRAINT cases_title_length CHECK (char_length(title) BETWEEN 1 AND 200),
    CONSTRAINT cases_concerns_present CHECK (cardinality(concern_kinds) >= 1)
);
-- Lists are ordered newest first and paginated by (created_at, id).
CREATE INDEX cases_team_order ON cases (team_id, created_at DESC, id DESC);
CREATE INDEX cases_owner_order ON cases (owner_id, created_at DESC, id DESC);
CREATE INDEX cases_concerns ON cases USING gin (concern_kinds);

CREATE TABLE referrals (
    id uuid PRIMARY KEY,
    case_id uuid NOT NULL REFERENCES cases (id),
    referrer_name text NOT NULL,
    referrer_role text NOT NULL,
    referrer_agency text NOT NULL,
    referrer_contact text NOT NULL,
    received_at timestamptz NOT NULL,
    taken_by uuid NOT NULL REFERENCES users (id),
    account text NOT NULL,
    immediate_risk boolean NOT NULL,
    immediate_risk_details text NOT NULL DEFAULT '',
    works_with_children text NOT NULL,
    work_details text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT referrals_works_known CHECK (works_with_children IN ('yes', 'no', 'unknown'))
);
CREATE INDEX referrals_case ON referrals (case_id);

CREATE TABLE case_people (
    id uuid PRIMARY KEY,
    case_id uuid NOT NULL REFERENCES cases (id),
    kind text NOT NULL,
    full_name text NOT NULL,
    date_of_birth date,
    age_estimate integer,
    school text NOT NULL DEFAULT '',
    household text NOT NULL DEFAULT '',
    relationship text,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    version integer NOT NULL DEFAULT 1,
    CONSTRAINT case_people_kind_known CHECK (kind IN ('child', 'adult')),
    CONSTRAINT case_people_relationship_known CHECK (
        (kind = 'child' AND relationship IS NULL)
        OR (kind = 'adult' AND relationship IN ('alleged', 'parent_carer', 'household_member'))
    ),
    CONSTRAINT case_people_age_range CHECK (age_estimate IS NULL OR age_estimate BETWEEN 0 AND 17)
);
CREATE INDEX case_people_case ON case_people (case_id, kind, created_at);

-- Case notes are append-only: a correction is a new note pointing at the old one.
CREATE TABLE case_notes (
    id uuid PRIMARY KEY,
    case_id uuid NOT NULL REFERENCES cases (id),
    body text NOT NULL,
    occurred_at timestamptz NOT NULL,
    corrects_note_id uuid REFERENCES case_notes (id),
    created_by uuid NOT NULL REFERENCES users (id),
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT case_notes_body_length CHECK (char_length(body) BETWEEN 1 AND 20000)
);
CREATE INDEX case_notes_case ON case_notes (case_id, created_at);
CREATE TRIGGER case_notes_append_only BEFORE UPDATE OR DELETE ON case_notes
    FOR EACH ROW EXECUTE FUNCTION haven_refuse_change();

-- The chronology: one timeline of significant events per case.
CREATE TABLE chronology_entries (
    id uuid PRIMARY KEY,
    case_id uuid NOT NULL REFERENCES cases (id),
    occurred_at timestamptz NOT NULL,
    kind text NOT NULL,
    summary text NOT NULL,
    note_id uuid REFERENCES case_notes (id),
    recorded_by uuid NOT NULL REFERENCES users (id),
    recorded_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX chronology_entries_case_order ON chronology_entries (case_id, occurred_at DESC, id DESC);
CREATE TRIGGER chronology_entries_append_only BEFORE UPDATE OR DELETE ON chronology_entries
    FOR EACH ROW EXECUTE FUNCTION haven_refuse_change();

-- Privileges of the application role ---------------------------------------------
GRANT SELECT, INSERT, UPDATE ON teams, users, team_memberships, recovery_codes,
    password_tokens, sessions, referral_drafts, case_reference_counters, cases,
    case_people TO haven_app;
GRANT DELETE ON team_memberships, referral_drafts TO haven_app;
GRANT SELECT, INSERT, DELETE ON sign_in_failures TO haven_app;
GRANT SELECT, INSERT ON audit_events, form_submissions, referrals, case_notes,
    chronology_entries TO haven_app;
GRANT SELECT, UPDATE ON audit_chain_head TO haven_app;

-- Name search on case lists (people's names, lower-cased) uses trigram matching.
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE INDEX cases_search_names ON cases USING gin (search_names gin_trgm_ops);
