//! Accounts: people who sign in to Haven, their role and their teams.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgExecutor};
use uuid::Uuid;

use crate::domain::{Email, Role};

#[derive(Clone, Debug)]
pub struct UserRow {
    pub id: Uuid,
    pub email: String,
    pub display_name: String,
    pub role: String,
    pub password_hash: Option<String>,
    pub totp_secret: Option<String>,
    pub totp_enabled_at: Option<DateTime<Utc>>,
    pub totp_last_step: Option<i64>,
    pub disabled_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub version: i32,
    pub totp_locked_at: Option<DateTime<Utc>>,
    pub must_enrol_second_factor: bool,
}

impl UserRow {
    pub fn role(&self) -> Role {
        // The column has a CHECK constraint on these codes.
        Role::parse(&self.role).unwrap_or(Role::Practitioner)
    }
    pub fn totp_enabled(&self) -> bool {
        self.totp_enabled_at.is_some() && self.totp_secret.is_some()
    }
}

pub async fn find_by_email(db: impl PgExecutor<'_>, email: &str) -> sqlx::Result<Option<UserRow>> {
    sqlx::query_as!(
        UserRow,
        "SELECT id, email, display_name, role, password_hash, totp_secret, totp_enabled_at,
                totp_last_step, disabled_at, created_at, version, totp_locked_at, must_enrol_second_factor
         FROM users WHERE email = $1",
        email
    )
    .fetch_optional(db)
    .await
}

pub async fn find(db: impl PgExecutor<'_>, id: Uuid) -> sqlx::Result<Option<UserRow>> {
    sqlx::query_as!(
        UserRow,
        "SELECT id, email, display_name, role, password_hash, totp_secret, totp_enabled_at,
                totp_last_step, disabled_at, created_at, version, totp_locked_at, must_enrol_second_factor
         FROM users WHERE id = $1",
        id
    )
    .fetch_optional(db)
    .await
}

/// Lock a user's row for the rest of the transaction (second-factor checks use it against replay).
pub async fn find_for_update(db: &mut PgConnection, id: Uuid) -> sqlx::Result<Option<UserRow>> {
    sqlx::query_as!(
        UserRow,
        "SELECT id, email, display_name, role, password_hash, totp_secret, totp_enabled_at,
                totp_last_step, disabled_at, created_at, version, totp_locked_at, must_enrol_second_factor
         FROM users WHERE id = $1 FOR UPDATE",
        id
    )
    .fetch_optional(db)
    .await
}

#[derive(Debug, thiserror::Error)]
pub enum CreateUserError {
    #[error("an account with this email address already exists")]
    EmailTaken,
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

pub async fn create(
    db: &mut PgConnection,
    email: &Email,
    display_name: &str,
    role: Role,
    password_hash: Option<&str>,
    team: Option<Uuid>,
) -> Result<Uuid, CreateUserError> {
    let id = Uuid::now_v7();
    let res = sqlx::query!(
        "INSERT INTO users (id, email, display_name, role, password_hash) VALUES ($1, $2, $3, $4, $5)",
        id,
        email.as_str(),
        display_name,
        role.code(),
        password_hash
    )
    .execute(&mut *db)
    .await;
    match res {
        Err(sqlx::Error::Database(e)) if e.constraint() == Some("users_email_unique") => {
            return Err(CreateUserError::EmailTaken);
        }
        Err(e) => return Err(e.into()),
        Ok(_) => {}
    }
    if let Some(team) = team {
        sqlx::query!(
            "INSERT INTO team_memberships (user_id, team_id) VALUES ($1, $2)",
            id,
            team
        )
        .execute(&mut *db)
        .await?;
    }
    Ok(id)
}

pub async fn set_password_hash(db: impl PgExecutor<'_>, id: Uuid, hash: &str) -> sqlx::Result<()> {
    sqlx::query!("UPDATE users SET password_hash = $2, updated_at = now(), version = version + 1 WHERE id = $1", id, hash)
        .execute(db)
        .await?;
    Ok(())
}

pub async fn disable(db: impl PgExecutor<'_>, id: Uuid) -> sqlx::Result<bool> {
    let r = sqlx::query!("UPDATE users SET disabled_at = now(), updated_at = now(), version = version + 1 WHERE id = $1 AND disabled_at IS NULL", id)
    .execute(db)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// Re-enable a disabled account. False if it was not disabled.
pub async fn enable(db: impl PgExecutor<'_>, id: Uuid) -> sqlx::Result<bool> {
    let r = sqlx::query!("UPDATE users SET disabled_at = NULL, updated_at = now(), version = version + 1 WHERE id = $1 AND disabled_at IS NOT NULL", id)
    .execute(db)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// Make a confirmed key the live second factor (replacing any earlier one).
pub async fn enable_totp(
    db: impl PgExecutor<'_>,
    id: Uuid,
    sealed_secret: &str,
    step: i64,
) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE users SET totp_secret = $2, totp_enabled_at = now(), totp_last_step = $3,
                totp_failures = 0, totp_locked_at = NULL, must_enrol_second_factor = false,
                updated_at = now(), version = version + 1
         WHERE id = $1",
        id,
        sealed_secret,
        step
    )
    .execute(db)
    .await?;
    Ok(())
}

/// A wrong code: count it, and lock the factor at `lock_after` wrong codes in a row.
/// Returns true when this failure locked it.
pub async fn record_totp_failure(
    db: impl PgExecutor<'_>,
    id: Uuid,
    lock_after: i32,
) -> sqlx::Result<bool> {
    let locked_now = sqlx::query_scalar!(
        r#"UPDATE users SET totp_failures = totp_failures + 1,
                totp_locked_at = CASE WHEN totp_locked_at IS NULL AND totp_failures + 1 >= $2 THEN now() ELSE totp_locked_at END
         WHERE id = $1
         RETURNING (totp_failures = $2) AS "locked_now!""#,
        id,
        lock_after
    )
    .fetch_one(db)
    .await?;
    Ok(locked_now)
}

/// A right recovery code: the wrong codes before it no longer count towards the lock.
pub async fn clear_totp_failures(db: impl PgExecutor<'_>, id: Uuid) -> sqlx::Result<()> {
    sqlx::query!("UPDATE users SET totp_failures = 0 WHERE id = $1", id)
        .execute(db)
        .await?;
    Ok(())
}

/// An administrator unlocks a locked second factor.
pub async fn unlock_totp(db: impl PgExecutor<'_>, id: Uuid) -> sqlx::Result<bool> {
    let r = sqlx::query!(
        "UPDATE users SET totp_failures = 0, totp_locked_at = NULL, updated_at = now(), version = version + 1
         WHERE id = $1 AND totp_locked_at IS NOT NULL",
        id
    )
    .execute(db)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// A right code: remember its time step (so it cannot be used again) and clear the failure count.
pub async fn record_totp_step(db: impl PgExecutor<'_>, id: Uuid, step: i64) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE users SET totp_last_step = $2, totp_failures = 0 WHERE id = $1",
        id,
        step
    )
    .execute(db)
    .await?;
    Ok(())
}

pub async fn replace_recovery_codes(
    db: &mut PgConnection,
    id: Uuid,
    hashes: &[Vec<u8>],
) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE recovery_codes SET used_at = now() WHERE user_id = $1 AND used_at IS NULL",
        id
    )
    .execute(&mut *db)
    .await?;
    for h in hashes {
        sqlx::query!(
            "INSERT INTO recovery_codes (id, user_id, code_hash) VALUES ($1, $2, $3)",
            Uuid::now_v7(),
            id,
            h
        )
        .execute(&mut *db)
        .await?;
    }
    Ok(())
}

/// Use up a recovery code; true if it was valid and unused.
pub async fn use_recovery_code(
    db: impl PgExecutor<'_>,
    id: Uuid,
    hash: &[u8],
) -> sqlx::Result<bool> {
    let r = sqlx::query!("UPDATE recovery_codes SET used_at = now() WHERE user_id = $1 AND code_hash = $2 AND used_at IS NULL", id, hash)
    .execute(db)
    .await?;
    Ok(r.rows_affected() == 1)
}

pub async fn unused_recovery_codes(db: impl PgExecutor<'_>, id: Uuid) -> sqlx::Result<i64> {
    sqlx::query_scalar!(
        r#"SELECT count(*) AS "count!" FROM recovery_codes WHERE user_id = $1 AND used_at IS NULL"#,
        id
    )
    .fetch_one(db)
    .await
}

// One-time set-password links ----------------------------------------------------------------
//
// One administrator asks for a link (a row with no token yet); a different administrator
// releases it, which makes the token and shows it to them once. Asking for a link, releasing
// one or using one retires every other open link for the person.

/// Why a link is being made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkKind {
    /// A new account's first password.
    NewAccount,
    /// A forgotten password: using the link also clears the second factor, which the person
    /// must then set up again themselves.
    Reset,
}

impl LinkKind {
    fn code(self) -> &'static str {
        match self {
            LinkKind::NewAccount => "new_account",
            LinkKind::Reset => "reset",
        }
    }
}

/// Ask for a link for `user_id` (retiring any open one). `requested_by` is None from the
/// command line. Returns the request's id.
pub async fn request_password_link(
    db: &mut PgConnection,
    user_id: Uuid,
    requested_by: Option<Uuid>,
    kind: LinkKind,
) -> sqlx::Result<Uuid> {
    retire_password_links(&mut *db, user_id).await?;
    let id = Uuid::now_v7();
    sqlx::query!(
        "INSERT INTO password_tokens (id, user_id, created_by, kind) VALUES ($1, $2, $3, $4)",
        id,
        user_id,
        requested_by,
        kind.code()
    )
    .execute(&mut *db)
    .await?;
    Ok(id)
}

async fn retire_password_links(db: impl PgExecutor<'_>, user_id: Uuid) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE password_tokens SET retired_at = now()
         WHERE user_id = $1 AND used_at IS NULL AND retired_at IS NULL",
        user_id
    )
    .execute(db)
    .await?;
    Ok(())
}

/// A request waiting for a second administrator.
#[derive(Clone, Debug)]
pub struct WaitingLink {
    pub id: Uuid,
    pub user_id: Uuid,
    pub user_name: String,
    pub requested_by: Option<Uuid>,
    pub requested_by_name: Option<String>,
    pub kind: String,
    pub created_at: DateTime<Utc>,
}

/// The open request for one person, if any (locked, when releasing it).
pub async fn waiting_link_for(
    db: &mut PgConnection,
    user_id: Uuid,
) -> sqlx::Result<Option<WaitingLink>> {
    sqlx::query_as!(WaitingLink, r#"SELECT t.id, t.user_id, u.display_name AS user_name, t.created_by AS requested_by,
                r.display_name AS "requested_by_name?", t.kind, t.created_at
         FROM password_tokens t JOIN users u ON u.id = t.user_id LEFT JOIN users r ON r.id = t.created_by
         WHERE t.user_id = $1 AND t.released_at IS NULL AND t.used_at IS NULL AND t.retired_at IS NULL
           AND t.created_at > now() - interval '7 days'
         ORDER BY t.created_at DESC LIMIT 1
         FOR UPDATE OF t"#, user_id)
    .fetch_optional(db)
    .await
}

/// Every request waiting for a second administrator, oldest first (a handful at most).
pub async fn waiting_links(db: impl PgExecutor<'_>, limit: i64) -> sqlx::Result<Vec<WaitingLink>> {
    sqlx::query_as!(WaitingLink, r#"SELECT t.id, t.user_id, u.display_name AS user_name, t.created_by AS requested_by,
                r.display_name AS "requested_by_name?", t.kind, t.created_at
         FROM password_tokens t JOIN users u ON u.id = t.user_id LEFT JOIN users r ON r.id = t.created_by
         WHERE t.released_at IS NULL AND t.used_at IS NULL AND t.retired_at IS NULL
           AND t.created_at > now() - interval '7 days'
         ORDER BY t.created_at LIMIT $1"#, limit)
    .fetch_all(db)
    .await
}

/// Release a waiting request: store the token's hash and start its clock. The database refuses
/// (constraint `password_tokens_two_people`) if the releaser asked for it.
pub async fn release_password_link(
    db: impl PgExecutor<'_>,
    request_id: Uuid,
    released_by: Option<Uuid>,
    token_hash: &[u8],
    valid_for: chrono::Duration,
) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE password_tokens SET token_hash = $3, released_by = $2, released_at = now(),
                expires_at = now() + make_interval(secs => $4)
         WHERE id = $1",
        request_id,
        released_by,
        token_hash,
        valid_for.num_seconds() as f64
    )
    .execute(db)
    .await?;
    Ok(())
}

/// A live link: released, unused, not retired, unexpired, for an enabled account.
#[derive(Clone, Copy, Debug)]
pub struct LiveLink {
    pub id: Uuid,
    pub user_id: Uuid,
    pub kind: LinkKind,
}

/// The live set-password link with this token hash, locking it.
pub async fn live_password_token(
    db: &mut PgConnection,
    token_hash: &[u8],
) -> sqlx::Result<Option<LiveLink>> {
    sqlx::query!(
        "SELECT t.id, t.user_id, t.kind FROM password_tokens t JOIN users u ON u.id = t.user_id
         WHERE t.token_hash = $1 AND t.released_at IS NOT NULL AND t.used_at IS NULL
           AND t.retired_at IS NULL AND t.expires_at > now() AND u.disabled_at IS NULL
         FOR UPDATE OF t",
        token_hash
    )
    .fetch_optional(db)
    .await
    .map(|row| {
        row.map(|r| LiveLink {
            id: r.id,
            user_id: r.user_id,
            kind: if r.kind == "reset" {
                LinkKind::Reset
            } else {
                LinkKind::NewAccount
            },
        })
    })
}

/// Use a link: it is spent, and every other open link for the person is retired.
pub async fn use_password_token(db: &mut PgConnection, link: LiveLink) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE password_tokens SET used_at = now() WHERE id = $1",
        link.id
    )
    .execute(&mut *db)
    .await?;
    retire_password_links(&mut *db, link.user_id).await
}

// Lists for administrators ---------------------------------------------------------------------

#[derive(Debug)]
pub struct UserListRow {
    pub id: Uuid,
    pub email: String,
    pub display_name: String,
    pub role: String,
    pub disabled_at: Option<DateTime<Utc>>,
    pub totp_enabled_at: Option<DateTime<Utc>>,
    pub teams: Vec<String>,
}

/// A page of users ordered by name, after the user `after` if given (an opaque cursor: no names in URLs).
pub async fn list(
    db: impl PgExecutor<'_>,
    after: Option<Uuid>,
    limit: i64,
) -> sqlx::Result<Vec<UserListRow>> {
    sqlx::query_as!(UserListRow, r#"SELECT u.id, u.email, u.display_name, u.role, u.disabled_at, u.totp_enabled_at,
                array(SELECT t.name FROM team_memberships m JOIN teams t ON t.id = m.team_id
                      WHERE m.user_id = u.id ORDER BY t.name) AS "teams!"
         FROM users u
         WHERE ($1::uuid IS NULL OR (u.display_name, u.id) > (SELECT a.display_name, a.id FROM users a WHERE a.id = $1))
         ORDER BY u.display_name, u.id
         LIMIT $2"#, after, limit)
    .fetch_all(db)
    .await
}

#[derive(Debug, thiserror::Error)]
pub enum AccessChangeError {
    /// Someone changed the account since the form was shown.
    #[error("the account was changed by someone else")]
    Stale,
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// Set an account's role and teams, if nobody has changed the account since `version`.
pub async fn update_access(
    db: &mut PgConnection,
    id: Uuid,
    version: i32,
    role: Role,
    teams: &[Uuid],
) -> Result<(), AccessChangeError> {
    let updated = sqlx::query!(
        "UPDATE users SET role = $3, updated_at = now(), version = version + 1 WHERE id = $1 AND version = $2",
        id,
        version,
        role.code()
    )
    .execute(&mut *db)
    .await?;
    if updated.rows_affected() != 1 {
        return Err(AccessChangeError::Stale);
    }
    sqlx::query!(
        "DELETE FROM team_memberships WHERE user_id = $1 AND NOT (team_id = ANY($2::uuid[]))",
        id,
        teams
    )
    .execute(&mut *db)
    .await?;
    sqlx::query!(
        "INSERT INTO team_memberships (user_id, team_id) SELECT $1, t FROM unnest($2::uuid[]) AS t
         ON CONFLICT DO NOTHING",
        id,
        teams
    )
    .execute(&mut *db)
    .await?;
    Ok(())
}

/// Team ids an account belongs to.
pub async fn team_ids(db: impl PgExecutor<'_>, id: Uuid) -> sqlx::Result<Vec<Uuid>> {
    sqlx::query_scalar!(
        "SELECT team_id FROM team_memberships WHERE user_id = $1",
        id
    )
    .fetch_all(db)
    .await
}

/// Turn off an account's second factor and spend its recovery codes: the person turned it off
/// themselves (`must_enrol` false), or an administrator reset it or a reset link was used
/// (`must_enrol` true: the person sets up a new one, themselves, at their next sign-in).
pub async fn reset_second_factor(
    db: &mut PgConnection,
    id: Uuid,
    must_enrol: bool,
) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE users SET totp_secret = NULL, totp_enabled_at = NULL, totp_last_step = NULL,
                totp_failures = 0, totp_locked_at = NULL, must_enrol_second_factor = $2,
                updated_at = now(), version = version + 1
         WHERE id = $1",
        id,
        must_enrol
    )
    .execute(&mut *db)
    .await?;
    sqlx::query!(
        "UPDATE recovery_codes SET used_at = now() WHERE user_id = $1 AND used_at IS NULL",
        id
    )
    .execute(&mut *db)
    .await?;
    Ok(())
}
