//! Referral drafts: what a practitioner has typed so far, kept between the one-question pages.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use sqlx::{PgConnection, PgExecutor};
use uuid::Uuid;

use crate::domain::{ConcernKind, Relationship, WorksWithChildren};

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Referrer {
    pub name: String,
    pub role: String,
    pub agency: String,
    pub contact: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Received {
    pub at: DateTime<Utc>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct ChildDraft {
    pub name: String,
    /// A `domain::people::Sex` code, or "" when not given (drafts saved before it existed too).
    #[serde(default)]
    pub sex: String,
    pub date_of_birth: Option<NaiveDate>,
    pub age_estimate: Option<i32>,
    pub school: String,
    pub household: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AdultDraft {
    pub name: String,
    pub relationship: Relationship,
    pub household: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Risk {
    pub immediate: bool,
    pub details: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Work {
    pub works_with_children: WorksWithChildren,
    pub details: String,
}

/// Everything a referral records. Each part is `None` (or empty) until its page is answered.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct ReferralDraft {
    pub referrer: Option<Referrer>,
    pub received: Option<Received>,
    #[serde(default)]
    pub children: Vec<ChildDraft>,
    #[serde(default)]
    pub children_done: bool,
    #[serde(default)]
    pub adults: Vec<AdultDraft>,
    #[serde(default)]
    pub adults_done: bool,
    #[serde(default)]
    pub concerns: Vec<ConcernKind>,
    pub account: Option<String>,
    pub risk: Option<Risk>,
    pub work: Option<Work>,
}

#[derive(Clone, Debug)]
pub struct DraftRow {
    pub id: Uuid,
    pub team_id: Uuid,
    pub data: ReferralDraft,
    pub submitted_case_id: Option<Uuid>,
}

struct RawRow {
    id: Uuid,
    team_id: Uuid,
    data: sqlx::types::Json<ReferralDraft>,
    submitted_case_id: Option<Uuid>,
}

impl From<RawRow> for DraftRow {
    fn from(r: RawRow) -> Self {
        DraftRow {
            id: r.id,
            team_id: r.team_id,
            data: r.data.0,
            submitted_case_id: r.submitted_case_id,
        }
    }
}

pub async fn create(db: impl PgExecutor<'_>, user_id: Uuid, team_id: Uuid) -> sqlx::Result<Uuid> {
    let id = Uuid::now_v7();
    sqlx::query!(
        "INSERT INTO referral_drafts (id, user_id, team_id) VALUES ($1, $2, $3)",
        id,
        user_id,
        team_id
    )
    .execute(db)
    .await?;
    Ok(id)
}

/// A draft belongs to the person who started it; anyone else gets nothing.
pub async fn find_own(
    db: impl PgExecutor<'_>,
    id: Uuid,
    user_id: Uuid,
) -> sqlx::Result<Option<DraftRow>> {
    let row: Option<RawRow> = sqlx::query_as!(RawRow, r#"SELECT id, team_id, data AS "data: sqlx::types::Json<ReferralDraft>", submitted_case_id FROM referral_drafts WHERE id = $1 AND user_id = $2"#, id, user_id)
    .fetch_optional(db)
    .await?;
    Ok(row.map(Into::into))
}

pub async fn find_own_for_update(
    db: &mut PgConnection,
    id: Uuid,
    user_id: Uuid,
) -> sqlx::Result<Option<DraftRow>> {
    let row: Option<RawRow> = sqlx::query_as!(RawRow, r#"SELECT id, team_id, data AS "data: sqlx::types::Json<ReferralDraft>", submitted_case_id FROM referral_drafts WHERE id = $1 AND user_id = $2 FOR UPDATE"#, id, user_id)
    .fetch_optional(db)
    .await?;
    Ok(row.map(Into::into))
}

/// Save the answers of `user_id`'s draft `id` and append `event`'s audit row, in one statement
/// (one round trip and its own transaction: the row is written if and only if the draft is, and
/// a draft submitted meanwhile, or someone else's, is neither saved nor recorded). Returns
/// whether it was saved.
pub async fn save_audited(
    db: impl PgExecutor<'_>,
    id: Uuid,
    user_id: Uuid,
    data: &ReferralDraft,
    event: &crate::audit::Prepared,
) -> sqlx::Result<bool> {
    sqlx::query_scalar!(
        r#"WITH saved AS (
             UPDATE referral_drafts SET data = $3, updated_at = now()
             WHERE id = $1 AND user_id = $2 AND submitted_case_id IS NULL
             RETURNING id
           ), logged AS (
             INSERT INTO audit_events (occurred_at, actor_user_id, actor_ip, action, entity_type, entity_id, case_id, reason, details, event_id, mac)
             SELECT $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14 FROM saved
             RETURNING seq
           )
           SELECT EXISTS (SELECT 1 FROM logged) AS "saved!""#,
        id,
        user_id,
        sqlx::types::Json(data) as _,
        event.occurred_at,
        event.actor_user_id,
        event.actor_ip,
        event.action,
        event.entity_type,
        event.entity_id,
        event.case_id,
        event.reason,
        event.details,
        event.event_id,
        event.mac
    )
    .fetch_one(db)
    .await
}

pub async fn mark_submitted(db: impl PgExecutor<'_>, id: Uuid, case_id: Uuid) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE referral_drafts SET submitted_case_id = $2, updated_at = now() WHERE id = $1",
        id,
        case_id
    )
    .execute(db)
    .await?;
    Ok(())
}

/// A person's unfinished referrals, most recently touched first.
#[derive(Clone, Debug)]
pub struct OpenDraft {
    pub id: Uuid,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub data: sqlx::types::Json<ReferralDraft>,
}

pub async fn open_for_user(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
    limit: i64,
) -> sqlx::Result<Vec<OpenDraft>> {
    sqlx::query_as!(OpenDraft, r#"SELECT id, created_at, updated_at, data AS "data: sqlx::types::Json<ReferralDraft>" FROM referral_drafts
         WHERE user_id = $1 AND submitted_case_id IS NULL
         ORDER BY updated_at DESC LIMIT $2"#, user_id, limit)
    .fetch_all(db)
    .await
}
