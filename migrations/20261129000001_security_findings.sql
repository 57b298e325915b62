-- Fixes for the security test of the foundation (issue 5).

-- The server logs in as haven_app itself (it no longer connects as the owner and switches role),
-- so the role needs LOGIN. Roles are shared by the whole PostgreSQL server; a production owner
-- without CREATEROLE gets a notice and the DBA grants LOGIN (see README).
DO $$
BEGIN
    IF NOT (SELECT rolcanlogin FROM pg_roles WHERE rolname = 'haven_app') THEN
        BEGIN
            ALTER ROLE haven_app LOGIN;
        EXCEPTION
            WHEN insufficient_privilege THEN
                RAISE NOTICE 'could not give haven_app LOGIN: ask the DBA to run ALTER ROLE haven_app LOGIN PASSWORD ...';
            WHEN OTHERS THEN
                -- Another database on this server migrating at the same moment did it first.
                IF NOT (SELECT rolcanlogin FROM pg_roles WHERE rolname = 'haven_app') THEN
                    RAISE;
                END IF;
        END;
    END IF;
END
$$;

-- Setting up a second factor: the new key waits on the session that asked for it, apart from the
-- live key in users.totp_secret, and replaces it only when a code from it is confirmed.
ALTER TABLE sessions ADD COLUMN pending_totp_secret text;

-- Guessing second-factor codes: after 10 wrong codes in a row the factor locks until an
-- administrator unlocks it.
ALTER TABLE users ADD COLUMN totp_failures integer NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN totp_locked_at timestamptz;
-- After an administrator resets a password or second factor, the person must set up a new
-- second factor themselves before their session reaches anything.
ALTER TABLE users ADD COLUMN must_enrol_second_factor boolean NOT NULL DEFAULT false;

-- Set-password links. One administrator asks for a link; a different one releases it (only then
-- is a token made), so nobody can make a link for an account and use it themselves.
ALTER TABLE password_tokens ALTER COLUMN token_hash DROP NOT NULL;
ALTER TABLE password_tokens ALTER COLUMN expires_at DROP NOT NULL;
ALTER TABLE password_tokens ADD COLUMN kind text NOT NULL DEFAULT 'new_account';
ALTER TABLE password_tokens ADD COLUMN released_by uuid REFERENCES users (id);
ALTER TABLE password_tokens ADD COLUMN released_at timestamptz;
-- A newer link, or the use of any link, retires every other open link for the person.
ALTER TABLE password_tokens ADD COLUMN retired_at timestamptz;
-- Links made before this change were shown to the administrator who asked for them: retire any
-- still open.
UPDATE password_tokens SET released_at = created_at,
    retired_at = CASE WHEN used_at IS NULL THEN now() END;
ALTER TABLE password_tokens ADD CONSTRAINT password_tokens_kind_known CHECK (kind IN ('new_account', 'reset'));
ALTER TABLE password_tokens ADD CONSTRAINT password_tokens_released_has_token CHECK (
    (released_at IS NULL AND token_hash IS NULL) OR (released_at IS NOT NULL AND token_hash IS NOT NULL AND expires_at IS NOT NULL)
);
ALTER TABLE password_tokens ADD CONSTRAINT password_tokens_two_people CHECK (released_by IS NULL OR created_by IS NULL OR released_by <> created_by);
CREATE INDEX password_tokens_open ON password_tokens (user_id) WHERE used_at IS NULL AND retired_at IS NULL;
CREATE INDEX password_tokens_waiting ON password_tokens (created_at) WHERE released_at IS NULL AND used_at IS NULL AND retired_at IS NULL;

-- What a person is told about their own account's security (a password or second factor reset,
-- a locked second factor). Shown at their next sign-in until they have read it.
CREATE TABLE account_notices (
    id uuid PRIMARY KEY,
    user_id uuid NOT NULL REFERENCES users (id),
    kind text NOT NULL,
    actor_user_id uuid REFERENCES users (id),
    created_at timestamptz NOT NULL DEFAULT now(),
    seen_at timestamptz,
    CONSTRAINT account_notices_kind_known CHECK (kind IN (
        'password_reset_link', 'password_set', 'password_changed', 'second_factor_reset',
        'second_factor_changed', 'second_factor_removed', 'second_factor_locked', 'second_factor_unlocked'))
);
CREATE INDEX account_notices_user ON account_notices (user_id, created_at DESC);
CREATE INDEX account_notices_unseen ON account_notices (user_id) WHERE seen_at IS NULL;

-- The audit chain is now keyed: each row's hash is an HMAC under a key the database never holds
-- (derived from HAVEN_SECRET_KEY). Rows written before this migration keep their plain SHA-256
-- chain; `verify-audit` refuses a plain row after the first keyed one.
ALTER TABLE audit_events ADD COLUMN chain text NOT NULL DEFAULT 'sha256';
ALTER TABLE audit_events ADD CONSTRAINT audit_events_chain_known CHECK (chain IN ('sha256', 'hmac-sha256'));

GRANT SELECT, INSERT, UPDATE ON account_notices TO haven_app;
