//! Teams: the unit that owns cases and that managers look after.

use chrono::{DateTime, Utc};
use sqlx::PgExecutor;
use uuid::Uuid;

#[derive(Clone, Debug)]
pub struct TeamRow {
    pub id: Uuid,
    pub name: String,
    pub created_at: DateTime<Utc>,
}

pub async fn all(db: impl PgExecutor<'_>) -> sqlx::Result<Vec<TeamRow>> {
    // Teams are few (a local authority has tens), so the whole list is fine here.
    sqlx::query_as!(
        TeamRow,
        "SELECT id, name, created_at FROM teams ORDER BY name LIMIT 1000"
    )
    .fetch_all(db)
    .await
}

pub async fn find(db: impl PgExecutor<'_>, id: Uuid) -> sqlx::Result<Option<TeamRow>> {
    sqlx::query_as!(
        TeamRow,
        "SELECT id, name, created_at FROM teams WHERE id = $1",
        id
    )
    .fetch_optional(db)
    .await
}

pub async fn find_by_name(db: impl PgExecutor<'_>, name: &str) -> sqlx::Result<Option<TeamRow>> {
    sqlx::query_as!(
        TeamRow,
        "SELECT id, name, created_at FROM teams WHERE name = $1",
        name
    )
    .fetch_optional(db)
    .await
}

/// Create a team; `None` if the name is taken.
pub async fn create(db: impl PgExecutor<'_>, name: &str) -> sqlx::Result<Option<Uuid>> {
    let id = Uuid::now_v7();
    match sqlx::query!("INSERT INTO teams (id, name) VALUES ($1, $2)", id, name)
        .execute(db)
        .await
    {
        Ok(_) => Ok(Some(id)),
        Err(sqlx::Error::Database(e)) if e.constraint() == Some("teams_name_unique") => Ok(None),
        Err(e) => Err(e),
    }
}

pub async fn names_for_user(db: impl PgExecutor<'_>, user_id: Uuid) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar!("SELECT t.name FROM team_memberships m JOIN teams t ON t.id = m.team_id WHERE m.user_id = $1 ORDER BY t.name", user_id)
    .fetch_all(db)
    .await
}

/// The names of these teams, by name.
pub async fn names(db: impl PgExecutor<'_>, ids: &[Uuid]) -> sqlx::Result<Vec<(Uuid, String)>> {
    let rows = sqlx::query!(
        "SELECT id, name FROM teams WHERE id = ANY($1::uuid[]) ORDER BY name",
        ids
    )
    .fetch_all(db)
    .await?;
    Ok(rows.into_iter().map(|r| (r.id, r.name)).collect())
}
