//! The pathways recorded on a case (`domain::pathways`). The caller has applied the case's
//! visibility rule.

use chrono::{DateTime, Utc};
use sqlx::PgExecutor;
use uuid::Uuid;

#[derive(Clone, Debug, serde::Deserialize)]
pub struct PathwayRow {
    pub kind: String,
    pub record: serde_json::Value,
    pub version: i32,
    pub updated_by: String,
    pub updated_at: DateTime<Utc>,
}

/// A case's pathways (at most three rows, by the primary key).
pub async fn list(db: impl PgExecutor<'_>, case_id: Uuid) -> sqlx::Result<Vec<PathwayRow>> {
    sqlx::query_as!(
        PathwayRow,
        "SELECT p.kind, p.record, p.version, u.display_name AS updated_by, p.updated_at
         FROM case_pathways p JOIN users u ON u.id = p.updated_by
         WHERE p.case_id = $1 ORDER BY p.kind",
        case_id
    )
    .fetch_all(db)
    .await
}

/// Save a pathway's record: a new one when `version` is 0, else only if nobody has changed it
/// since `version`. False when someone else got there first.
pub async fn save(
    db: impl PgExecutor<'_>,
    case_id: Uuid,
    kind: &str,
    record: &serde_json::Value,
    version: i32,
    by: Uuid,
) -> sqlx::Result<bool> {
    let r = if version == 0 {
        sqlx::query!(
            "INSERT INTO case_pathways (case_id, kind, record, updated_by) VALUES ($1, $2, $3, $4)
             ON CONFLICT (case_id, kind) DO NOTHING",
            case_id,
            kind,
            record,
            by
        )
        .execute(db)
        .await?
    } else {
        sqlx::query!(
            "UPDATE case_pathways SET record = $3, version = version + 1, updated_by = $5, updated_at = now()
             WHERE case_id = $1 AND kind = $2 AND version = $4",
            case_id,
            kind,
            record,
            version,
            by
        )
        .execute(db)
        .await?
    };
    Ok(r.rows_affected() == 1)
}
