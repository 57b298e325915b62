//! Server-side sessions. The browser holds a random token; the database holds its hash.

use chrono::{DateTime, Utc};
use sqlx::PgExecutor;
use uuid::Uuid;

/// A live session joined with the account and its teams, read on every request.
#[derive(Clone, Debug)]
pub struct SessionWithUser {
    pub session_id: Uuid,
    pub stage: String,
    pub csrf_token: String,
    pub created_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub user_id: Uuid,
    pub email: String,
    pub display_name: String,
    pub role: String,
    pub disabled_at: Option<DateTime<Utc>>,
    pub totp_enabled: bool,
    pub must_enrol: bool,
    pub team_ids: Vec<Uuid>,
    /// Security notices about the account the person has not read yet.
    pub unseen_notices: i64,
    /// Open deadlines due by `due_by` on the person's own cases, and on their teams' cases
    /// (counted up to 1000), for the navigation.
    pub due_mine: Option<i64>,
    pub due_team: Option<i64>,
    /// When the person last gave their password on this session (step-up).
    pub reauthenticated_at: DateTime<Utc>,
    /// The calendar's version (`calendar_version`), so a page can tell whether the calendar its
    /// instance holds is still the current one without reading it again.
    pub calendar_version: Uuid,
}

/// The session statement, with or without the navigation's counts (`counts: true` or `false`):
/// one text written once, sent as two statements, so the counts cost nothing on a request that
/// draws no navigation (a form that redirects) and a test can see which one a request sent.
macro_rules! find_live_statement {
    (counts: true, $db:expr, $hash:expr, $due_by:expr) => {
        find_live_statement!(@sql $db, [$hash, $due_by],
            r#"                (SELECT count(*) FROM (SELECT 1 FROM deadlines d WHERE d.owner_id = u.id AND d.met_at IS NULL AND d.ended_at IS NULL AND d.due_at <= $2
                    AND NOT EXISTS (SELECT 1 FROM cases r WHERE r.restricted AND r.id = d.case_id
                                    AND NOT haven_sees_restricted_case(r.id, u.id, u.role = 'lado'))
                    ORDER BY d.due_at LIMIT 100) t) AS "due_mine?",
                (SELECT count(*) FROM (SELECT 1 FROM team_memberships m
                    CROSS JOIN LATERAL (
                      SELECT 1 FROM deadlines d
                      WHERE d.team_id = m.team_id AND d.met_at IS NULL AND d.ended_at IS NULL AND d.due_at <= $2
                        AND NOT EXISTS (SELECT 1 FROM cases r WHERE r.restricted AND r.id = d.case_id
                                        AND NOT haven_sees_restricted_case(r.id, u.id, u.role = 'lado'))
                      ORDER BY d.due_at LIMIT 100) d
                    WHERE m.user_id = u.id AND u.role IN ('manager', 'lado')
                    LIMIT 100) t) AS "due_team?""#)
    };
    (counts: false, $db:expr, $hash:expr) => {
        find_live_statement!(@sql $db, [$hash],
            r#"                NULL::bigint AS "due_mine?", NULL::bigint AS "due_team?""#)
    };
    (@sql $db:expr, [$($arg:expr),+], $counts:tt) => {
        sqlx::query_as!(SessionWithUser, r#"SELECT s.id AS session_id, s.stage, s.csrf_token, s.created_at, s.last_seen_at, s.expires_at,
                u.id AS user_id, u.email, u.display_name, u.role, u.disabled_at,
                (u.totp_enabled_at IS NOT NULL AND u.totp_secret IS NOT NULL) AS "totp_enabled!",
                u.must_enrol_second_factor AS must_enrol,
                array(SELECT team_id FROM team_memberships m WHERE m.user_id = u.id) AS "team_ids!",
                (SELECT count(*) FROM account_notices n WHERE n.user_id = u.id AND n.seen_at IS NULL) AS "unseen_notices!",
"# + $counts + r#"
                , s.reauthenticated_at AS "reauthenticated_at!"
                , (SELECT v.version FROM calendar_version v WHERE v.id = 1) AS "calendar_version!"
         FROM sessions s JOIN users u ON u.id = s.user_id
         WHERE s.token_hash = $1 AND s.ended_at IS NULL"#, $($arg),+)
            .fetch_optional($db)
            .await
    };
}

/// The live session behind a token, with the person, their teams and, when `counts` is set, the
/// navigation's deadline counts (`due_mine`, `due_team`; `None` without them).
pub async fn find_live(
    db: impl PgExecutor<'_>,
    token_hash: &[u8],
    due_by: DateTime<Utc>,
    counts: bool,
) -> sqlx::Result<Option<SessionWithUser>> {
    // The navigation's counts stop at 100 (shown as "99+"), and each team's open deadlines are
    // walked in due order on its index so the count stops there too (a bitmap scan read all
    // 21,000 of the largest team's on every page: 3 ms; this reads 100: 0.1 ms).
    if counts {
        find_live_statement!(counts: true, db, token_hash, due_by)
    } else {
        find_live_statement!(counts: false, db, token_hash)
    }
}

pub struct NewSession<'a> {
    pub user_id: Uuid,
    pub token_hash: &'a [u8],
    pub csrf_token: &'a str,
    pub stage: &'a str,
    pub ip: Option<&'a str>,
    pub user_agent: Option<&'a str>,
    pub absolute: chrono::Duration,
    /// A new second-factor key (sealed) waiting to be confirmed, for a session that must set one up.
    pub pending_totp_secret: Option<&'a str>,
}

pub async fn create(db: impl PgExecutor<'_>, s: NewSession<'_>) -> sqlx::Result<Uuid> {
    let id = Uuid::now_v7();
    sqlx::query!("INSERT INTO sessions (id, user_id, token_hash, csrf_token, stage, ip, user_agent, expires_at, pending_totp_secret)
         VALUES ($1, $2, $3, $4, $5, $6, $7, now() + make_interval(secs => $8), $9)", id, s.user_id, s.token_hash, s.csrf_token, s.stage, s.ip, s.user_agent.map(|ua| ua.chars().take(200).collect::<String>()), s.absolute.num_seconds() as f64, s.pending_totp_secret)
    .execute(db)
    .await?;
    Ok(id)
}

/// Move a session to a new stage under a new token (rotation after each sign-in step).
pub async fn advance(
    db: impl PgExecutor<'_>,
    session_id: Uuid,
    token_hash: &[u8],
    csrf_token: &str,
    stage: &str,
) -> sqlx::Result<()> {
    sqlx::query!("UPDATE sessions SET token_hash = $2, csrf_token = $3, stage = $4, last_seen_at = now(), reauthenticated_at = now(), pending_totp_secret = NULL WHERE id = $1 AND ended_at IS NULL", session_id, token_hash, csrf_token, stage)
    .execute(db)
    .await?;
    Ok(())
}

/// The person has just given their password (and code) again on this session.
pub async fn reauthenticated(db: impl PgExecutor<'_>, session_id: Uuid) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE sessions SET reauthenticated_at = now() WHERE id = $1 AND ended_at IS NULL",
        session_id
    )
    .execute(db)
    .await?;
    Ok(())
}

/// Keep a new second-factor key (sealed) on this session until a code from it is confirmed.
pub async fn set_pending_totp(
    db: impl PgExecutor<'_>,
    session_id: Uuid,
    sealed: Option<&str>,
) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE sessions SET pending_totp_secret = $2 WHERE id = $1 AND ended_at IS NULL",
        session_id,
        sealed
    )
    .execute(db)
    .await?;
    Ok(())
}

/// The key waiting on this session, if any (sealed).
pub async fn pending_totp(
    db: impl PgExecutor<'_>,
    session_id: Uuid,
) -> sqlx::Result<Option<String>> {
    let row = sqlx::query_scalar!(
        "SELECT pending_totp_secret FROM sessions WHERE id = $1 AND ended_at IS NULL",
        session_id
    )
    .fetch_optional(db)
    .await?;
    Ok(row.flatten())
}

pub async fn touch(db: impl PgExecutor<'_>, session_id: Uuid) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE sessions SET last_seen_at = now() WHERE id = $1",
        session_id
    )
    .execute(db)
    .await?;
    Ok(())
}

pub async fn end(db: impl PgExecutor<'_>, session_id: Uuid, reason: &str) -> sqlx::Result<bool> {
    let r = sqlx::query!("UPDATE sessions SET ended_at = now(), ended_reason = $2 WHERE id = $1 AND ended_at IS NULL", session_id, reason)
        .execute(db)
        .await?;
    Ok(r.rows_affected() == 1)
}

/// End one of a user's own sessions (the user id is part of the check).
pub async fn end_own(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
    session_id: Uuid,
) -> sqlx::Result<bool> {
    let r = sqlx::query!("UPDATE sessions SET ended_at = now(), ended_reason = 'ended_by_user' WHERE id = $1 AND user_id = $2 AND ended_at IS NULL", session_id, user_id)
    .execute(db)
    .await?;
    Ok(r.rows_affected() == 1)
}

pub async fn end_all_for_user(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
    reason: &str,
) -> sqlx::Result<u64> {
    let r = sqlx::query!("UPDATE sessions SET ended_at = now(), ended_reason = $2 WHERE user_id = $1 AND ended_at IS NULL", user_id, reason)
        .execute(db)
        .await?;
    Ok(r.rows_affected())
}

/// End every session of the person but this one (after they change their password).
pub async fn end_all_others(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
    keep: Uuid,
    reason: &str,
) -> sqlx::Result<u64> {
    let r = sqlx::query!("UPDATE sessions SET ended_at = now(), ended_reason = $3 WHERE user_id = $1 AND id <> $2 AND ended_at IS NULL", user_id, keep, reason)
        .execute(db)
        .await?;
    Ok(r.rows_affected())
}

#[derive(Debug)]
pub struct SessionListRow {
    pub id: Uuid,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub created_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
}

/// A user's live sessions, newest first (a person has a handful at most).
pub async fn live_for_user(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
) -> sqlx::Result<Vec<SessionListRow>> {
    sqlx::query_as!(
        SessionListRow,
        "SELECT id, ip, user_agent, created_at, last_seen_at FROM sessions
         WHERE user_id = $1 AND ended_at IS NULL AND expires_at > now()
         ORDER BY created_at DESC LIMIT 100",
        user_id
    )
    .fetch_all(db)
    .await
}
