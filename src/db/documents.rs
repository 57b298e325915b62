//! Documents on a case or an allegation. The caller has already applied the record's visibility
//! rule; these queries only ever read documents of the record they are given.

use chrono::{DateTime, Utc};
use sqlx::PgExecutor;
use uuid::Uuid;

/// Whose document it is.
#[derive(Clone, Copy, Debug)]
pub enum Owner {
    Case(Uuid),
    Allegation(Uuid),
}

impl Owner {
    fn ids(self) -> (Option<Uuid>, Option<Uuid>) {
        match self {
            Owner::Case(id) => (Some(id), None),
            Owner::Allegation(id) => (None, Some(id)),
        }
    }
}

pub struct NewDocument<'a> {
    pub owner: Owner,
    pub file_name: &'a str,
    pub content_type: &'a str,
    pub description: &'a str,
    pub body: &'a [u8],
    pub sha256: &'a [u8],
    pub by: Uuid,
}

pub async fn insert(db: impl PgExecutor<'_>, d: NewDocument<'_>) -> sqlx::Result<Uuid> {
    let id = Uuid::now_v7();
    let (case_id, allegation_id) = d.owner.ids();
    sqlx::query!(
        "INSERT INTO documents (id, case_id, allegation_id, filename, content_type, size_bytes, sha256, body, uploaded_by, description)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        id,
        case_id,
        allegation_id,
        d.file_name,
        d.content_type,
        d.body.len() as i32,
        d.sha256,
        d.body,
        d.by,
        d.description
    )
    .execute(db)
    .await?;
    Ok(id)
}

#[derive(Clone, Debug, serde::Deserialize)]
pub struct DocumentRow {
    pub id: Uuid,
    pub filename: String,
    pub content_type: String,
    pub size_bytes: i32,
    pub description: String,
    pub uploaded_by: String,
    pub created_at: DateTime<Utc>,
}

/// A record's documents, newest first, without their contents (each owner its own query, so
/// each reads its own index).
pub async fn list(
    db: impl PgExecutor<'_>,
    owner: Owner,
    limit: i64,
) -> sqlx::Result<Vec<DocumentRow>> {
    match owner {
        Owner::Case(id) => {
            sqlx::query_as!(
                DocumentRow,
                "SELECT d.id, d.filename, d.content_type, d.size_bytes, d.description, u.display_name AS uploaded_by, d.created_at
                 FROM documents d JOIN users u ON u.id = d.uploaded_by
                 WHERE d.case_id = $1 ORDER BY d.created_at DESC, d.id DESC LIMIT $2",
                id,
                limit
            )
            .fetch_all(db)
            .await
        }
        Owner::Allegation(id) => {
            sqlx::query_as!(
                DocumentRow,
                "SELECT d.id, d.filename, d.content_type, d.size_bytes, d.description, u.display_name AS uploaded_by, d.created_at
                 FROM documents d JOIN users u ON u.id = d.uploaded_by
                 WHERE d.allegation_id = $1 ORDER BY d.created_at DESC, d.id DESC LIMIT $2",
                id,
                limit
            )
            .fetch_all(db)
            .await
        }
    }
}

pub struct DocumentBody {
    pub filename: String,
    pub content_type: String,
    pub body: Vec<u8>,
}

/// One document of this record, with its contents.
pub async fn fetch(
    db: impl PgExecutor<'_>,
    owner: Owner,
    id: Uuid,
) -> sqlx::Result<Option<DocumentBody>> {
    let (case_id, allegation_id) = owner.ids();
    sqlx::query_as!(
        DocumentBody,
        "SELECT filename, content_type, body FROM documents
         WHERE id = $1 AND (case_id = $2 OR allegation_id = $3)",
        id,
        case_id,
        allegation_id
    )
    .fetch_optional(db)
    .await
}
