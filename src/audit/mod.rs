//! The append-only audit trail: writes in the caller's transaction, chain verification, and
//! anchors (signed chain heads kept outside the database).
//!
//! Every row carries a MAC of the previous row's hash and its own canonical content: an
//! HMAC-SHA256 under a key derived from `HAVEN_SECRET_KEY`, which the database never holds.
//! Someone who controls the database can delete or change rows, but cannot re-chain what is
//! left: `verify` finds the first row that does not fit. Removing the newest rows (and fixing
//! the head) leaves a shorter chain that still fits, so the server also writes signed *anchors*
//! (the head's sequence number and hash, MAC'd with another derived key) to a file outside the
//! database at intervals; `verify` checks each anchored row is still there with the same hash.
//! Rows written before keying (plain SHA-256, `chain = 'sha256'`) prove nothing against someone
//! who controls the database (they could rewrite them all), so `verify` accepts them only up to
//! a row number the operator states (`--accept-unkeyed-until`), recorded when they upgraded.
//! Threat model: docs/decisions/002.
//!
//! Writers lock the single `audit_chain_head` row, so concurrent transactions queue up and the
//! chain never forks; the lock is released when the caller's transaction ends, so a rolled-back
//! change leaves no audit row and no gap.

use std::io::Write;
use std::sync::Arc;

use chrono::{DateTime, SubsecRound, Utc};
use serde_json::Value;
use sha2::{Digest, Sha256};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::auth::keys;

/// The keys of the audit trail, derived from `HAVEN_SECRET_KEY`: one chains rows, one signs
/// anchors. Cheap to clone.
#[derive(Clone)]
pub struct ChainKey(Arc<([u8; 32], [u8; 32])>);

impl ChainKey {
    pub fn from_secret(secret: &[u8; 32]) -> ChainKey {
        ChainKey(Arc::new((
            keys::derive(secret, "audit chain v1"),
            keys::derive(secret, "audit anchor v1"),
        )))
    }
    fn chain(&self) -> &[u8; 32] {
        &self.0.0
    }
    fn anchor(&self) -> &[u8; 32] {
        &self.0.1
    }
}

impl std::fmt::Debug for ChainKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ChainKey([redacted])")
    }
}

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

/// The plain SHA-256 link of rows written before the chain was keyed (`chain = 'sha256'`).
pub fn chain_hash(prev: &[u8], canonical: &[u8]) -> Vec<u8> {
    let mut h = Sha256::new();
    h.update(prev);
    h.update(canonical);
    h.finalize().to_vec()
}

/// The keyed link of every row written now (`chain = 'hmac-sha256'`).
pub fn keyed_hash(key: &ChainKey, prev: &[u8], canonical: &[u8]) -> Vec<u8> {
    keys::mac(key.chain(), &[prev, canonical]).to_vec()
}

pub const KEYED: &str = "hmac-sha256";

/// Append an event in the caller's transaction.
pub async fn record(
    conn: &mut PgConnection,
    key: &ChainKey,
    actor: &Actor,
    event: Event<'_>,
) -> sqlx::Result<i64> {
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
    let hash = keyed_hash(key, &prev_hash, &bytes);
    sqlx::query!("INSERT INTO audit_events (seq, occurred_at, actor_user_id, actor_ip, action, entity_type, entity_id, case_id, reason, details, prev_hash, hash, chain)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)", seq, occurred_at, actor.user_id, actor.ip.as_deref(), event.action, event.entity_type, event.entity_id.as_deref(), event.case_id, event.reason, &details, &prev_hash, &hash, KEYED)
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
pub async fn record_alone(
    pool: &PgPool,
    key: &ChainKey,
    actor: &Actor,
    event: Event<'_>,
) -> sqlx::Result<i64> {
    let mut tx = pool.begin().await?;
    let seq = record(&mut tx, key, actor, event).await?;
    tx.commit().await?;
    Ok(seq)
}

/// The outcome of checking the chain.
#[derive(Debug, PartialEq, Eq)]
pub enum Verification {
    Intact { rows: i64, anchors: usize },
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
    chain: String,
}

/// Walk the whole chain in pages of `batch` rows and report the first row that does not fit,
/// including rows the `anchors` (already checked with [`read_anchors`]) say were there.
/// Unkeyed rows are accepted only up to row `unkeyed_until` (0: none).
pub async fn verify(
    pool: &PgPool,
    key: &ChainKey,
    anchors: &[Anchor],
    unkeyed_until: i64,
    batch: i64,
) -> sqlx::Result<Verification> {
    let anchored: std::collections::HashMap<i64, &[u8]> =
        anchors.iter().map(|a| (a.seq, a.hash.as_slice())).collect();
    let mut expected_prev = vec![0u8; 32];
    let mut expected_seq = 1i64;
    loop {
        let rows: Vec<Row> = sqlx::query_as!(Row, "SELECT seq, occurred_at, actor_user_id, actor_ip, action, entity_type, entity_id, case_id, reason, details, prev_hash, hash, chain
             FROM audit_events WHERE seq >= $1 ORDER BY seq LIMIT $2", expected_seq, batch)
        .fetch_all(pool)
        .await?;
        if rows.is_empty() {
            break;
        }
        for r in rows {
            let broken = |problem: &str| {
                Ok(Verification::Broken {
                    seq: r.seq,
                    problem: problem.to_owned(),
                })
            };
            if r.seq != expected_seq {
                return Ok(Verification::Broken {
                    seq: expected_seq,
                    problem: format!("row {expected_seq} is missing"),
                });
            }
            if r.prev_hash != expected_prev {
                return broken("does not point at the row before it");
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
            let expected = match r.chain.as_str() {
                KEYED => keyed_hash(key, &r.prev_hash, &bytes),
                // Plain rows are only those the operator says predate keying.
                _ if r.seq <= unkeyed_until => chain_hash(&r.prev_hash, &bytes),
                _ => {
                    return broken(
                        "is not keyed: written before Haven keyed its audit chain, or rewritten without the key. If the rows up to this one predate your upgrade, verify with --accept-unkeyed-until and the last such row",
                    );
                }
            };
            if !bool::from(subtle::ConstantTimeEq::ct_eq(&expected[..], &r.hash[..])) {
                return broken(
                    "its content does not match its hash (changed, or re-chained without the key)",
                );
            }
            if let Some(h) = anchored.get(&r.seq)
                && *h != r.hash.as_slice()
            {
                return broken("differs from the anchor written outside the database");
            }
            expected_prev = r.hash;
            expected_seq += 1;
        }
    }
    let last = expected_seq - 1;
    if let Some(a) = anchors
        .iter()
        .filter(|a| a.seq > last)
        .min_by_key(|a| a.seq)
    {
        return Ok(Verification::Broken {
            seq: last + 1,
            problem: format!(
                "an anchor written at {} shows the chain reached row {}, but it now ends at row {last}: rows were removed",
                a.at, a.seq
            ),
        });
    }
    let head = sqlx::query!("SELECT seq, hash FROM audit_chain_head WHERE id = 1")
        .fetch_one(pool)
        .await?;
    let (head_seq, head_hash) = (head.seq, head.hash);
    if head_seq != last || head_hash != expected_prev {
        return Ok(Verification::Broken {
            seq: expected_seq,
            problem: format!("the chain head says {head_seq} rows but {last} were found"),
        });
    }
    Ok(Verification::Intact {
        rows: last,
        anchors: anchors.len(),
    })
}

// Anchors ---------------------------------------------------------------------------------------

/// A signed statement, kept outside the database, that the chain reached row `seq` with `hash`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Anchor {
    pub seq: i64,
    pub hash: Vec<u8>,
    pub at: DateTime<Utc>,
}

impl Anchor {
    fn mac(&self, key: &ChainKey) -> [u8; 32] {
        keys::mac(
            key.anchor(),
            &[
                &self.seq.to_be_bytes(),
                &self.hash,
                &self.at.timestamp_micros().to_be_bytes(),
            ],
        )
    }

    /// One line of the anchor file (JSON).
    pub fn to_line(&self, key: &ChainKey) -> String {
        serde_json::json!({
            "seq": self.seq,
            "hash": hex::encode(&self.hash),
            "at": self.at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
            "mac": hex::encode(self.mac(key)),
        })
        .to_string()
    }
}

/// The chain's head as it stands (committed), as an anchor.
pub async fn current_anchor(pool: &PgPool) -> sqlx::Result<Anchor> {
    let head = sqlx::query!("SELECT seq, hash FROM audit_chain_head WHERE id = 1")
        .fetch_one(pool)
        .await?;
    Ok(Anchor {
        seq: head.seq,
        hash: head.hash,
        at: Utc::now().trunc_subsecs(6),
    })
}

/// Append an anchor to the file (created if missing). One short line per write, so writers in
/// several processes never interleave within a line.
pub fn append_anchor(
    path: &std::path::Path,
    key: &ChainKey,
    anchor: &Anchor,
) -> std::io::Result<()> {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    writeln!(f, "{}", anchor.to_line(key))?;
    f.sync_data()
}

/// Read and check an anchor file. A line that is not a genuine anchor (wrong MAC, unreadable) is
/// an error naming its line: someone edited the file, or it was signed with another key.
pub fn read_anchors(text: &str, key: &ChainKey) -> Result<Vec<Anchor>, String> {
    let mut out = Vec::new();
    for (i, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let bad = || format!("anchor line {} is not a genuine Haven anchor", i + 1);
        let v: Value = serde_json::from_str(line).map_err(|_| bad())?;
        let anchor = Anchor {
            seq: v["seq"].as_i64().ok_or_else(bad)?,
            hash: hex::decode(v["hash"].as_str().ok_or_else(bad)?).map_err(|_| bad())?,
            at: v["at"]
                .as_str()
                .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
                .ok_or_else(bad)?
                .with_timezone(&Utc),
        };
        let mac = hex::decode(v["mac"].as_str().ok_or_else(bad)?).map_err(|_| bad())?;
        if !bool::from(subtle::ConstantTimeEq::ct_eq(
            &anchor.mac(key)[..],
            &mac[..],
        )) {
            return Err(bad());
        }
        out.push(anchor);
    }
    Ok(out)
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
    fn keyed_links_need_the_key_and_anchors_their_own() {
        let t = Utc::now();
        let a = fields("case.view", "case", Some("x"), t).canonical();
        let k1 = ChainKey::from_secret(&[1; 32]);
        let k2 = ChainKey::from_secret(&[2; 32]);
        let prev = [0u8; 32];
        assert_ne!(keyed_hash(&k1, &prev, &a), keyed_hash(&k2, &prev, &a));
        assert_ne!(keyed_hash(&k1, &prev, &a), chain_hash(&prev, &a));
        let anchor = Anchor {
            seq: 7,
            hash: vec![9; 32],
            at: t.trunc_subsecs(6),
        };
        let line = anchor.to_line(&k1);
        assert_eq!(read_anchors(&line, &k1).unwrap(), vec![anchor.clone()]);
        assert!(read_anchors(&line, &k2).is_err(), "another key's anchor");
        let moved = line.replace("\"seq\":7", "\"seq\":8");
        assert!(read_anchors(&moved, &k1).is_err(), "an edited anchor");
        assert!(read_anchors("not json", &k1).is_err());
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
