//! The append-only audit trail: writes in the caller's transaction, and chain verification.
//!
//! Every row carries the SHA-256 of the previous row's hash and its own canonical content.
//! Writers lock the single `audit_chain_head` row, so concurrent transactions queue up and the
//! chain never forks; the lock is released when the caller's transaction ends, so a rolled-back
//! change leaves no audit row and no gap.

use chrono::{DateTime, SubsecRound, Utc};
use serde_json::Value;
use sha2::{Digest, Sha256};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

/// Who did something, and from where.
#[derive(Clone, Debug, Default)]
pub struct Actor {
    pub user_id: Option<Uuid>,
    pub ip: Option<String>,
}

/// One thing to record.
#[derive(Clone, Debug)]
pub struct Event<'a> {
    pub action: &'a str,
    pub entity_type: &'a str,
    pub entity_id: Option<String>,
    pub case_id: Option<Uuid>,
    pub reason: Option<&'a str>,
    /// Structured facts about the event. Never narratives, passwords or tokens.
    pub details: Value,
}

impl<'a> Event<'a> {
    pub fn new(action: &'a str, entity_type: &'a str) -> Self {
        Event {
            action,
            entity_type,
            entity_id: None,
            case_id: None,
            reason: None,
            details: Value::Object(Default::default()),
        }
    }
    pub fn entity(mut self, id: impl ToString) -> Self {
        self.entity_id = Some(id.to_string());
        self
    }
    pub fn case(mut self, id: Uuid) -> Self {
        self.case_id = Some(id);
        self
    }
    pub fn details(mut self, details: Value) -> Self {
        self.details = details;
        self
    }
}

/// The fields of one audit row that its hash covers.
pub struct Fields<'a> {
    pub seq: i64,
    pub occurred_at: DateTime<Utc>,
    pub actor_user_id: Option<Uuid>,
    pub actor_ip: Option<&'a str>,
    pub action: &'a str,
    pub entity_type: &'a str,
    pub entity_id: Option<&'a str>,
    pub case_id: Option<Uuid>,
    pub reason: Option<&'a str>,
    pub details: &'a str,
}

impl Fields<'_> {
    /// The canonical bytes (a JSON array: unambiguous field boundaries).
    pub fn canonical(&self) -> Vec<u8> {
        serde_json::to_vec(&serde_json::json!([
            self.seq,
            self.occurred_at.timestamp_micros(),
            self.actor_user_id,
            self.actor_ip,
            self.action,
            self.entity_type,
            self.entity_id,
            self.case_id,
            self.reason,
            self.details
        ]))
        .expect("a JSON array of plain values always serialises")
    }
}

pub fn chain_hash(prev: &[u8], canonical: &[u8]) -> Vec<u8> {
    let mut h = Sha256::new();
    h.update(prev);
    h.update(canonical);
    h.finalize().to_vec()
}

/// Append an event in the caller's transaction.
pub async fn record(conn: &mut PgConnection, actor: &Actor, event: Event<'_>) -> sqlx::Result<i64> {
    let head = sqlx::query!("SELECT seq, hash FROM audit_chain_head WHERE id = 1 FOR UPDATE")
        .fetch_one(&mut *conn)
        .await?;
    let (head_seq, prev_hash) = (head.seq, head.hash);
    let seq = head_seq + 1;
    let occurred_at = Utc::now().trunc_subsecs(6);
    let details = event.details.to_string();
    let bytes = Fields {
        seq,
        occurred_at,
        actor_user_id: actor.user_id,
        actor_ip: actor.ip.as_deref(),
        action: event.action,
        entity_type: event.entity_type,
        entity_id: event.entity_id.as_deref(),
        case_id: event.case_id,
        reason: event.reason,
        details: &details,
    }
    .canonical();
    let hash = chain_hash(&prev_hash, &bytes);
    sqlx::query!("INSERT INTO audit_events (seq, occurred_at, actor_user_id, actor_ip, action, entity_type, entity_id, case_id, reason, details, prev_hash, hash)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)", seq, occurred_at, actor.user_id, actor.ip.as_deref(), event.action, event.entity_type, event.entity_id.as_deref(), event.case_id, event.reason, &details, &prev_hash, &hash)
    .execute(&mut *conn)
    .await?;
    sqlx::query!(
        "UPDATE audit_chain_head SET seq = $1, hash = $2 WHERE id = 1",
        seq,
        &hash
    )
    .execute(&mut *conn)
    .await?;
    Ok(seq)
}

/// Record an event in a transaction of its own (for events with no other change, e.g. a failed sign-in).
pub async fn record_alone(pool: &PgPool, actor: &Actor, event: Event<'_>) -> sqlx::Result<i64> {
    let mut tx = pool.begin().await?;
    let seq = record(&mut tx, actor, event).await?;
    tx.commit().await?;
    Ok(seq)
}

/// The outcome of checking the chain.
#[derive(Debug, PartialEq, Eq)]
pub enum Verification {
    Intact { rows: i64 },
    Broken { seq: i64, problem: String },
}

struct Row {
    seq: i64,
    occurred_at: DateTime<Utc>,
    actor_user_id: Option<Uuid>,
    actor_ip: Option<String>,
    action: String,
    entity_type: String,
    entity_id: Option<String>,
    case_id: Option<Uuid>,
    reason: Option<String>,
    details: String,
    prev_hash: Vec<u8>,
    hash: Vec<u8>,
}

/// Walk the whole chain in pages of `batch` rows and report the first row that does not fit.
pub async fn verify(pool: &PgPool, batch: i64) -> sqlx::Result<Verification> {
    let mut expected_prev = vec![0u8; 32];
    let mut expected_seq = 1i64;
    loop {
        let rows: Vec<Row> = sqlx::query_as!(Row, "SELECT seq, occurred_at, actor_user_id, actor_ip, action, entity_type, entity_id, case_id, reason, details, prev_hash, hash
             FROM audit_events WHERE seq >= $1 ORDER BY seq LIMIT $2", expected_seq, batch)
        .fetch_all(pool)
        .await?;
        if rows.is_empty() {
            break;
        }
        for r in rows {
            if r.seq != expected_seq {
                return Ok(Verification::Broken {
                    seq: expected_seq,
                    problem: format!("row {expected_seq} is missing"),
                });
            }
            if r.prev_hash != expected_prev {
                return Ok(Verification::Broken {
                    seq: r.seq,
                    problem: "does not point at the row before it".into(),
                });
            }
            let bytes = Fields {
                seq: r.seq,
                occurred_at: r.occurred_at,
                actor_user_id: r.actor_user_id,
                actor_ip: r.actor_ip.as_deref(),
                action: &r.action,
                entity_type: &r.entity_type,
                entity_id: r.entity_id.as_deref(),
                case_id: r.case_id,
                reason: r.reason.as_deref(),
                details: &r.details,
            }
            .canonical();
            if chain_hash(&r.prev_hash, &bytes) != r.hash {
                return Ok(Verification::Broken {
                    seq: r.seq,
                    problem: "its content does not match its hash".into(),
                });
            }
            expected_prev = r.hash;
            expected_seq += 1;
        }
    }
    let head = sqlx::query!("SELECT seq, hash FROM audit_chain_head WHERE id = 1")
        .fetch_one(pool)
        .await?;
    let (head_seq, head_hash) = (head.seq, head.hash);
    if head_seq != expected_seq - 1 || head_hash != expected_prev {
        return Ok(Verification::Broken {
            seq: expected_seq,
            problem: format!(
                "the chain head says {head_seq} rows but {} were found",
                expected_seq - 1
            ),
        });
    }
    Ok(Verification::Intact {
        rows: expected_seq - 1,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields<'a>(
        action: &'a str,
        entity_type: &'a str,
        entity_id: Option<&'a str>,
        t: DateTime<Utc>,
    ) -> Fields<'a> {
        Fields {
            seq: 1,
            occurred_at: t,
            actor_user_id: None,
            actor_ip: None,
            action,
            entity_type,
            entity_id,
            case_id: None,
            reason: None,
            details: "{}",
        }
    }

    #[test]
    fn hash_changes_with_any_field() {
        let t = Utc::now();
        let a = fields("case.view", "case", Some("x"), t).canonical();
        let b = fields("case.view", "case", Some("y"), t).canonical();
        let prev = [0u8; 32];
        assert_ne!(chain_hash(&prev, &a), chain_hash(&prev, &b));
        assert_eq!(chain_hash(&prev, &a), chain_hash(&prev, &a));
    }

    #[test]
    fn field_boundaries_are_unambiguous() {
        let t = Utc::now();
        assert_ne!(
            fields("ab", "c", None, t).canonical(),
            fields("a", "bc", None, t).canonical()
        );
    }
}
