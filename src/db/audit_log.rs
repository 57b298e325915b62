//! Reading the audit trail for people: "who has viewed or changed this case".

use chrono::{DateTime, Utc};
use sqlx::PgExecutor;
use uuid::Uuid;

#[derive(Clone, Debug)]
pub struct CaseAuditRow {
    pub seq: i64,
    pub occurred_at: DateTime<Utc>,
    pub actor_name: Option<String>,
    pub actor_role: Option<String>,
    pub actor_ip: Option<String>,
    pub action: String,
    pub reason: Option<String>,
}

/// A page of a case's audit events, newest first, before `before` (a sequence number) if given.
pub async fn for_case(
    db: impl PgExecutor<'_>,
    case_id: Uuid,
    before: Option<i64>,
    limit: i64,
) -> sqlx::Result<Vec<CaseAuditRow>> {
    sqlx::query_as!(CaseAuditRow, r#"SELECT a.seq, a.occurred_at, u.display_name AS "actor_name?", u.role AS "actor_role?", a.actor_ip, a.action, a.reason
         FROM audit_events a LEFT JOIN users u ON u.id = a.actor_user_id
         WHERE a.case_id = $1 AND ($2::bigint IS NULL OR a.seq < $2)
         ORDER BY a.seq DESC
         LIMIT $3"#, case_id, before, limit)
    .fetch_all(db)
    .await
}
