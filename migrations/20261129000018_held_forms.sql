-- Nothing typed is lost (issue 9): a form posted after the person's session timed out is held
-- here, for that person only and for an hour, until they sign in again and send or discard it.
-- One per person (the latest); never in a URL or a cookie.
CREATE TABLE held_forms (
    user_id uuid PRIMARY KEY REFERENCES users (id),
    path text NOT NULL,
    body text NOT NULL,
    held_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    CONSTRAINT held_forms_sizes CHECK (char_length(path) <= 300 AND octet_length(body) <= 2097152)
);
GRANT SELECT, INSERT, UPDATE, DELETE ON held_forms TO haven_app;
