//! What a person is told about their own account's security: a reset password or second
//! factor, a locked second factor. Shown to them when they next sign in, until read.

use chrono::{DateTime, Utc};
use sqlx::PgExecutor;
use uuid::Uuid;

/// The kinds of notice (the column has a CHECK constraint on these codes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NoticeKind {
    PasswordResetLink,
    PasswordSet,
    PasswordChanged,
    SecondFactorReset,
    SecondFactorChanged,
    SecondFactorRemoved,
    SecondFactorLocked,
    SecondFactorUnlocked,
}

impl NoticeKind {
    pub fn code(self) -> &'static str {
        match self {
            NoticeKind::PasswordResetLink => "password_reset_link",
            NoticeKind::PasswordSet => "password_set",
            NoticeKind::PasswordChanged => "password_changed",
            NoticeKind::SecondFactorReset => "second_factor_reset",
            NoticeKind::SecondFactorChanged => "second_factor_changed",
            NoticeKind::SecondFactorRemoved => "second_factor_removed",
            NoticeKind::SecondFactorLocked => "second_factor_locked",
            NoticeKind::SecondFactorUnlocked => "second_factor_unlocked",
        }
    }

    /// What the person reads.
    pub fn words(code: &str) -> &'static str {
        match code {
            "password_reset_link" => {
                "An administrator made a link to set a new password for your account."
            }
            "password_set" => "A new password was set for your account from a set-password link.",
            "password_changed" => "Your password was changed.",
            "second_factor_reset" => {
                "An administrator turned off your security codes. You set up new ones at your next sign-in."
            }
            "second_factor_changed" => {
                "Your security codes were set up on a new authenticator app."
            }
            "second_factor_removed" => "Your security codes were turned off.",
            "second_factor_locked" => "Your security codes were locked after too many wrong codes.",
            "second_factor_unlocked" => "An administrator unlocked your security codes.",
            _ => "Your account's security settings changed.",
        }
    }
}

pub async fn add(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
    kind: NoticeKind,
    actor: Option<Uuid>,
) -> sqlx::Result<()> {
    sqlx::query!(
        "INSERT INTO account_notices (id, user_id, kind, actor_user_id) VALUES ($1, $2, $3, $4)",
        Uuid::now_v7(),
        user_id,
        kind.code(),
        actor
    )
    .execute(db)
    .await?;
    Ok(())
}

#[derive(Clone, Debug)]
pub struct NoticeRow {
    pub kind: String,
    pub created_at: DateTime<Utc>,
    pub actor_name: Option<String>,
    pub seen_at: Option<DateTime<Utc>>,
}

/// A person's most recent notices, newest first.
pub async fn recent(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
    limit: i64,
) -> sqlx::Result<Vec<NoticeRow>> {
    sqlx::query_as!(
        NoticeRow,
        r#"SELECT n.kind, n.created_at, u.display_name AS "actor_name?", n.seen_at
           FROM account_notices n LEFT JOIN users u ON u.id = n.actor_user_id
           WHERE n.user_id = $1 ORDER BY n.created_at DESC LIMIT $2"#,
        user_id,
        limit
    )
    .fetch_all(db)
    .await
}

/// The person has read their notices.
pub async fn mark_seen(db: impl PgExecutor<'_>, user_id: Uuid) -> sqlx::Result<u64> {
    let r = sqlx::query!(
        "UPDATE account_notices SET seen_at = now() WHERE user_id = $1 AND seen_at IS NULL",
        user_id
    )
    .execute(db)
    .await?;
    Ok(r.rows_affected())
}
