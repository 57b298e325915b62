//! Forms posted after their sender's session timed out, held for that person until they sign in
//! again (at most one each, for an hour).

use chrono::{DateTime, Utc};
use sqlx::PgExecutor;
use uuid::Uuid;

/// How long a held form waits for its sender.
pub const HOLD_FOR: chrono::Duration = chrono::Duration::hours(1);

pub struct HeldForm {
    pub path: String,
    pub body: String,
    pub held_at: DateTime<Utc>,
}

/// Hold a form for its sender, replacing any form held before.
pub async fn hold(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
    path: &str,
    body: &str,
) -> sqlx::Result<()> {
    sqlx::query!(
        "INSERT INTO held_forms (user_id, path, body, expires_at) VALUES ($1, $2, $3, now() + $4::interval)
         ON CONFLICT (user_id) DO UPDATE
           SET path = EXCLUDED.path, body = EXCLUDED.body, held_at = now(), expires_at = EXCLUDED.expires_at",
        user_id,
        path,
        body,
        sqlx::postgres::types::PgInterval::try_from(HOLD_FOR).unwrap_or_default()
    )
    .execute(db)
    .await?;
    Ok(())
}

/// The form held for this person, if it has not expired.
pub async fn find(db: impl PgExecutor<'_>, user_id: Uuid) -> sqlx::Result<Option<HeldForm>> {
    sqlx::query_as!(
        HeldForm,
        "SELECT path, body, held_at FROM held_forms WHERE user_id = $1 AND expires_at > now()",
        user_id
    )
    .fetch_optional(db)
    .await
}

/// Forget the form held for this person (sent, discarded or expired). With `path`, only if it
/// was held for that address.
pub async fn forget(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
    path: Option<&str>,
) -> sqlx::Result<()> {
    sqlx::query!(
        "DELETE FROM held_forms WHERE user_id = $1 AND ($2::text IS NULL OR path = $2 OR expires_at <= now())",
        user_id,
        path
    )
    .execute(db)
    .await?;
    Ok(())
}

/// Delete every held form past its hour (run with the server's 30-second sweep).
pub async fn purge_expired(db: impl PgExecutor<'_>) -> sqlx::Result<u64> {
    Ok(
        sqlx::query!("DELETE FROM held_forms WHERE expires_at <= now()")
            .execute(db)
            .await?
            .rows_affected(),
    )
}
