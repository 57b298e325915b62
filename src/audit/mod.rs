//! The append-only audit trail: writes in the caller's transaction, chain verification, and
//! anchors (signed chain heads kept outside the database).
//!
//! Every row carries a MAC of its own content, and every seal a MAC of the previous seal's hash
//! and its row's MAC: HMAC-SHA256 under keys derived from `HAVEN_SECRET_KEY`, which the database
//! never holds. Someone who controls the database can delete or change rows, but cannot re-chain
//! what is left: `verify` finds the first row that does not fit. Removing the newest rows (and fixing
//! the head) leaves a shorter chain that still fits, so the server also writes signed *anchors*
//! (the head's sequence number and hash, MAC'd with another derived key) to a file outside the
//! database at intervals; `verify` checks each anchored row is still there with the same hash.
//! Rows written before keying (plain SHA-256, `chain = 'sha256'`) prove nothing against someone
//! who controls the database (they could rewrite them all), so `verify` accepts them only up to
//! a row number the operator states (`--accept-unkeyed-until`), recorded when they upgraded.
//! Threat model: docs/decisions/002.
//!
//! Writers take no lock: each audited transaction inserts its row, MAC'd, in its own transaction
//! (a rolled-back change leaves no row). A sealer, one at a time under an advisory lock, chains
//! the rows of finished transactions into `audit_seals` shortly after; `verify` checks the sealed
//! chain and the unsealed tail. Design and proof: docs/decisions/012.

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
pub struct ChainKey(Arc<([u8; 32], [u8; 32], [u8; 32])>);

impl ChainKey {
    pub fn from_secret(secret: &[u8; 32]) -> ChainKey {
        ChainKey(Arc::new((
            keys::derive(secret, "audit chain v1"),
            keys::derive(secret, "audit anchor v1"),
            keys::derive(secret, "audit entry v1"),
        )))
    }
    fn chain(&self) -> &[u8; 32] {
        &self.0.0
    }
    fn anchor(&self) -> &[u8; 32] {
        &self.0.1
    }
    fn entry(&self) -> &[u8; 32] {
        &self.0.2
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

/// An event made ready to insert: its identifier, time, details and MAC, all fixed by the writer
/// (the database adds only the row number and the transaction id). Statements that read and
/// record in one go (the case page) bind these in their own INSERT.
pub struct Prepared {
    pub event_id: Uuid,
    pub occurred_at: DateTime<Utc>,
    pub actor_user_id: Option<Uuid>,
    pub actor_ip: Option<String>,
    pub action: String,
    pub entity_type: String,
    pub entity_id: Option<String>,
    pub case_id: Option<Uuid>,
    pub reason: Option<String>,
    pub details: String,
    pub mac: Vec<u8>,
}

/// Fix an event's content and compute its MAC (no database access).
pub fn prepare(key: &ChainKey, actor: &Actor, event: Event<'_>) -> Prepared {
    // Time-ordered (a millisecond timestamp, then a counter and random bits): each new row's
    // entry in the unique index lands beside the last one's, where a random identifier touched
    // a random page of an index of millions (a page written whole to the WAL the first time
    // after each checkpoint, and one more page to keep cached).
    let event_id = Uuid::now_v7();
    let occurred_at = Utc::now().trunc_subsecs(6);
    let details = event.details.to_string();
    let mac = entry_mac(
        key,
        event_id,
        &Fields {
            seq: 0,
            occurred_at,
            actor_user_id: actor.user_id,
            actor_ip: actor.ip.as_deref(),
            action: event.action,
            entity_type: event.entity_type,
            entity_id: event.entity_id.as_deref(),
            case_id: event.case_id,
            reason: event.reason,
            details: &details,
        },
    );
    Prepared {
        event_id,
        occurred_at,
        actor_user_id: actor.user_id,
        actor_ip: actor.ip.clone(),
        action: event.action.to_owned(),
        entity_type: event.entity_type.to_owned(),
        entity_id: event.entity_id,
        case_id: event.case_id,
        reason: event.reason.map(str::to_owned),
        details,
        mac: mac.to_vec(),
    }
}

/// The MAC a writer puts on its row: the event's identifier and every field but the row number
/// (which the database assigns). Someone who can insert rows but lacks the key cannot make one.
pub fn entry_mac(key: &ChainKey, event_id: Uuid, f: &Fields<'_>) -> [u8; 32] {
    let bytes = serde_json::to_vec(&serde_json::json!([
        event_id,
        f.occurred_at.timestamp_micros(),
        f.actor_user_id,
        f.actor_ip,
        f.action,
        f.entity_type,
        f.entity_id,
        f.case_id,
        f.reason,
        f.details
    ]))
    .expect("a JSON array of plain values always serialises");
    keys::mac(key.entry(), &[&bytes])
}

/// What a seal's link covers: its position, the row it seals and that row's MAC (which covers
/// the row's content).
pub fn seal_canonical(position: i64, seq: i64, mac: &[u8]) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!([position, seq, hex::encode(mac)]))
        .expect("a JSON array of plain values always serialises")
}

/// Append an event in the caller's transaction: one INSERT, no lock. The row is sealed into the
/// chain by [`seal`] once the transaction has finished.
pub async fn record(
    conn: &mut PgConnection,
    key: &ChainKey,
    actor: &Actor,
    event: Event<'_>,
) -> sqlx::Result<i64> {
    let p = prepare(key, actor, event);
    sqlx::query_scalar!("INSERT INTO audit_events (occurred_at, actor_user_id, actor_ip, action, entity_type, entity_id, case_id, reason, details, event_id, mac)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING seq", p.occurred_at, p.actor_user_id, p.actor_ip, p.action, p.entity_type, p.entity_id, p.case_id, p.reason, p.details, p.event_id, p.mac)
    .fetch_one(&mut *conn)
    .await
}

/// Record an event in a transaction of its own (for events with no other change, e.g. a failed sign-in).
pub async fn record_alone(
    pool: &PgPool,
    key: &ChainKey,
    actor: &Actor,
    event: Event<'_>,
) -> sqlx::Result<i64> {
    let mut conn = pool.acquire().await?;
    record(&mut conn, key, actor, event).await
}

// The sealer ------------------------------------------------------------------------------------

/// The advisory lock only one sealer holds at a time (any instance may be the one).
pub const SEALER_LOCK: i64 = 0x4841_5645_4e53_4541; // "HAVENSEA"

struct Unsealed {
    seq: i64,
    xid: String,
    occurred_at: DateTime<Utc>,
    actor_user_id: Option<Uuid>,
    actor_ip: Option<String>,
    action: String,
    entity_type: String,
    entity_id: Option<String>,
    case_id: Option<Uuid>,
    reason: Option<String>,
    details: String,
    event_id: Option<Uuid>,
    mac: Option<Vec<u8>>,
}

impl Unsealed {
    fn fields(&self) -> Fields<'_> {
        Fields {
            seq: self.seq,
            occurred_at: self.occurred_at,
            actor_user_id: self.actor_user_id,
            actor_ip: self.actor_ip.as_deref(),
            action: &self.action,
            entity_type: &self.entity_type,
            entity_id: self.entity_id.as_deref(),
            case_id: self.case_id,
            reason: self.reason.as_deref(),
            details: &self.details,
        }
    }
    fn mac_is_genuine(&self, key: &ChainKey) -> bool {
        match (self.event_id, &self.mac) {
            (Some(id), Some(mac)) => {
                subtle::ConstantTimeEq::ct_eq(&entry_mac(key, id, &self.fields())[..], &mac[..])
                    .into()
            }
            _ => false,
        }
    }
}

/// Seal up to `limit` rows of finished transactions into the chain, in (transaction id, row
/// number) order, after the head's last sealed row; returns how many. Returns 0 at once if another
/// sealer (in this or another instance) holds the lock.
///
/// Which rows are final: the statement that reads them also takes, from its own snapshot, the
/// oldest transaction id still running in this database (transactions of other databases on the
/// server, known from `pg_locks` before the snapshot, are left out). Every transaction below it
/// has committed or rolled back, so its rows are all visible now or will never exist; rows of
/// later transactions wait for a later run. Sealing in transaction-id order therefore never needs
/// to go back: docs/decisions/012.
pub async fn seal(pool: &PgPool, key: &ChainKey, limit: i64) -> sqlx::Result<usize> {
    let mut tx = pool.begin().await?;
    let locked: bool = sqlx::query_scalar!(
        r#"SELECT pg_try_advisory_xact_lock($1) AS "locked!""#,
        SEALER_LOCK
    )
    .fetch_one(&mut *tx)
    .await?;
    if !locked {
        return Ok(0);
    }
    let head = sqlx::query!(
        r#"SELECT seq, hash, sealed_xid::text AS "sealed_xid!", sealed_seq,
                  pg_current_xact_id()::text AS "now_xid!"
           FROM audit_chain_head WHERE id = 1 FOR UPDATE"#
    )
    .fetch_one(&mut *tx)
    .await?;
    if xid_number(&head.now_xid) < xid_number(&head.sealed_xid) {
        // Transaction ids went backwards: the database was restored from a logical dump or
        // copied by logical replication. Nothing written since can be placed after the head.
        tracing::error!(
            sealed_xid = %head.sealed_xid,
            now_xid = %head.now_xid,
            "audit rows cannot be sealed: this database's transaction ids are below the chain's head (restored from a logical dump?); see docs/decisions/012"
        );
        return Ok(0);
    }
    // Transactions running in other databases on the same server can never write here; they
    // must not hold the seal back (a long batch job elsewhere would stall it). Read before the
    // snapshot below, so anything that starts after is treated as ours.
    let elsewhere: Vec<String> = sqlx::query_scalar!(
        r#"SELECT l.transactionid::text AS "xid!"
           FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
           WHERE l.locktype = 'transactionid' AND l.mode = 'ExclusiveLock' AND l.granted
             AND l.transactionid IS NOT NULL
             AND a.datid IS NOT NULL
             AND a.datid <> (SELECT oid FROM pg_database WHERE datname = current_database())
           UNION ALL
           SELECT p.transaction::text AS "xid!" FROM pg_prepared_xacts p
           WHERE p.database <> current_database()"#
    )
    .fetch_all(&mut *tx)
    .await?;
    let rows = sqlx::query_as!(
        Unsealed,
        r#"WITH snap AS (SELECT pg_current_snapshot() AS s),
                horizon AS (
                  SELECT LEAST(pg_snapshot_xmax(s),
                               (SELECT min(x) FROM pg_snapshot_xip(s) x
                                WHERE (x::text::numeric % 4294967296)::text <> ALL($4::text[]))) AS hi
                  FROM snap)
           SELECT e.seq, e.xid::text AS "xid!", e.occurred_at, e.actor_user_id, e.actor_ip, e.action, e.entity_type,
                  e.entity_id, e.case_id, e.reason, e.details, e.event_id, e.mac
           FROM audit_events e, horizon
           WHERE e.xid < horizon.hi
             AND (e.xid, e.seq) > ($1::text::xid8, $2::bigint)
           ORDER BY e.xid, e.seq
           LIMIT $3"#,
        head.sealed_xid,
        head.sealed_seq,
        limit,
        &elsewhere
    )
    .fetch_all(&mut *tx)
    .await?;
    let Some(last) = rows.last() else {
        return Ok(0);
    };
    let (last_xid, last_seq) = (last.xid.clone(), last.seq);
    let mut prev = head.hash;
    let mut position = head.seq;
    let (mut positions, mut seqs, mut prevs, mut hashes) = (
        Vec::with_capacity(rows.len()),
        Vec::with_capacity(rows.len()),
        Vec::with_capacity(rows.len()),
        Vec::with_capacity(rows.len()),
    );
    for r in &rows {
        if !r.mac_is_genuine(key) {
            // Sealed all the same (the chain must not stall on it); verify-audit names the row.
            tracing::error!(
                seq = r.seq,
                "an audit row does not carry a genuine MAC: it was not written by Haven"
            );
        }
        position += 1;
        let mac = r.mac.as_deref().unwrap_or_default();
        let hash = keyed_hash(key, &prev, &seal_canonical(position, r.seq, mac));
        positions.push(position);
        seqs.push(r.seq);
        prevs.push(std::mem::replace(&mut prev, hash.clone()));
        hashes.push(hash);
    }
    sqlx::query!(
        "INSERT INTO audit_seals (position, seq, prev_hash, hash)
         SELECT * FROM UNNEST($1::bigint[], $2::bigint[], $3::bytea[], $4::bytea[])",
        &positions,
        &seqs,
        &prevs,
        &hashes
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query!(
        "UPDATE audit_chain_head SET seq = $1, hash = $2, sealed_xid = $3::text::xid8, sealed_seq = $4 WHERE id = 1",
        position,
        &prev,
        last_xid,
        last_seq
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(rows.len())
}

/// A transaction id (`xid8` as text) as a number; 0 if unreadable.
fn xid_number(text: &str) -> u64 {
    text.parse().unwrap_or(0)
}

/// Seal until nothing final is left (in batches of `batch`); returns how many were sealed.
pub async fn seal_all(pool: &PgPool, key: &ChainKey, batch: i64) -> sqlx::Result<usize> {
    let mut total = 0;
    loop {
        let n = seal(pool, key, batch).await?;
        total += n;
        if (n as i64) < batch {
            return Ok(total);
        }
    }
}

/// The outcome of checking the chain.
#[derive(Debug, PartialEq, Eq)]
pub enum Verification {
    /// `rows` sealed rows chain and match their anchors; `unsealed` newer rows (of transactions
    /// still running when the sealer last ran) carry genuine MACs.
    Intact {
        rows: i64,
        unsealed: i64,
        anchors: usize,
    },
    /// `seq` is the row number in `audit_events` (or, for a missing seal, its position).
    Broken { seq: i64, problem: String },
}

struct SealedRow {
    position: i64,
    prev_hash: Vec<u8>,
    hash: Vec<u8>,
    entry: Option<Unsealed>,
    chain: Option<String>,
}

/// Check the whole trail in one consistent snapshot, in pages of `batch` rows, and report the
/// first row that does not fit:
/// - the chain of seals: positions without gaps, each linked to the one before with the key,
///   each pointing at its row, whose content matches its MAC; anchored positions unchanged;
/// - the head: at the last seal, and every row of a transaction before its horizon sealed;
/// - the unsealed tail: every newer row carries a genuine MAC.
///
/// Rows from before keying (plain SHA-256, `chain = 'sha256'`) are accepted only up to row
/// `unkeyed_until` (0: none); rows from before the sealer are sealed at their own row number.
pub async fn verify(
    pool: &PgPool,
    key: &ChainKey,
    anchors: &[Anchor],
    unkeyed_until: i64,
    batch: i64,
) -> sqlx::Result<Verification> {
    let anchored: std::collections::HashMap<i64, &[u8]> =
        anchors.iter().map(|a| (a.seq, a.hash.as_slice())).collect();
    let mut tx = pool.begin().await?;
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        .execute(&mut *tx)
        .await?;
    let head = sqlx::query!(
        r#"SELECT seq, hash, sealed_xid::text AS "sealed_xid!", sealed_seq FROM audit_chain_head WHERE id = 1"#
    )
    .fetch_one(&mut *tx)
    .await?;
    // Every seal lies on the chain that is walked: none before its start or past the head.
    if let Some(stray) = sqlx::query_scalar!(
        "SELECT seq FROM audit_seals WHERE position < 1 OR position > $1 ORDER BY position LIMIT 1",
        head.seq
    )
    .fetch_optional(&mut *tx)
    .await?
    {
        return Ok(Verification::Broken {
            seq: stray,
            problem: "has a seal outside the chain (before its start or past its head)".to_owned(),
        });
    }
    let mut expected_prev = vec![0u8; 32];
    let mut expected_position = 1i64;
    // The sealer seals in (transaction id, row number) order, so the rows sealed by it come in
    // that order along the chain, and the last of them is where the head says sealing stopped.
    let mut last_sealed: Option<(u64, i64)> = None;
    loop {
        let rows = sqlx::query!(
            r#"SELECT s.position, s.prev_hash, s.hash, e.seq AS "seq?", e.xid::text AS "xid?", e.occurred_at AS "occurred_at?",
                      e.actor_user_id, e.actor_ip, e.action AS "action?", e.entity_type AS "entity_type?", e.entity_id, e.case_id,
                      e.reason, e.details AS "details?", e.event_id, e.mac, e.chain AS "chain?"
               FROM audit_seals s LEFT JOIN audit_events e ON e.seq = s.seq
               WHERE s.position >= $1 ORDER BY s.position LIMIT $2"#,
            expected_position,
            batch
        )
        .fetch_all(&mut *tx)
        .await?;
        if rows.is_empty() {
            break;
        }
        for r in rows {
            let row = SealedRow {
                position: r.position,
                prev_hash: r.prev_hash,
                hash: r.hash,
                chain: r.chain,
                entry: match (r.seq, r.occurred_at, r.action, r.entity_type, r.details) {
                    (
                        Some(seq),
                        Some(occurred_at),
                        Some(action),
                        Some(entity_type),
                        Some(details),
                    ) => Some(Unsealed {
                        seq,
                        xid: r.xid.unwrap_or_default(),
                        occurred_at,
                        actor_user_id: r.actor_user_id,
                        actor_ip: r.actor_ip,
                        action,
                        entity_type,
                        entity_id: r.entity_id,
                        case_id: r.case_id,
                        reason: r.reason,
                        details,
                        event_id: r.event_id,
                        mac: r.mac,
                    }),
                    _ => None,
                },
            };
            if row.position != expected_position {
                return Ok(Verification::Broken {
                    seq: expected_position,
                    problem: format!("the seal at position {expected_position} is missing"),
                });
            }
            let Some(entry) = &row.entry else {
                return Ok(Verification::Broken {
                    seq: row.position,
                    problem: format!("the row sealed at position {} is missing", row.position),
                });
            };
            let broken = |problem: &str| {
                Ok(Verification::Broken {
                    seq: entry.seq,
                    problem: problem.to_owned(),
                })
            };
            if row.prev_hash != expected_prev {
                return broken("its seal does not point at the seal before it");
            }
            let expected = match row.chain.as_deref() {
                Some("sealed-v1") => {
                    if !entry.mac_is_genuine(key) {
                        return broken(
                            "its content does not match its MAC (changed, or written without the key)",
                        );
                    }
                    let order = (xid_number(&entry.xid), entry.seq);
                    if last_sealed.is_some_and(|before| order <= before) {
                        return broken(
                            "is sealed out of the order the sealer seals in (its transaction id or row number was changed)",
                        );
                    }
                    last_sealed = Some(order);
                    keyed_hash(
                        key,
                        &row.prev_hash,
                        &seal_canonical(
                            row.position,
                            entry.seq,
                            entry.mac.as_deref().unwrap_or_default(),
                        ),
                    )
                }
                // Rows from before the sealer were sealed at their own number, with their own link.
                Some(KEYED) if entry.seq == row.position => {
                    keyed_hash(key, &row.prev_hash, &entry.fields().canonical())
                }
                Some("sha256") if entry.seq == row.position && entry.seq <= unkeyed_until => {
                    chain_hash(&row.prev_hash, &entry.fields().canonical())
                }
                Some("sha256") if entry.seq == row.position => {
                    return broken(
                        "is not keyed: written before Haven keyed its audit chain, or rewritten without the key. If the rows up to this one predate your upgrade, verify with --accept-unkeyed-until and the last such row",
                    );
                }
                _ => return broken("is sealed at a position its kind of row cannot have"),
            };
            if !bool::from(subtle::ConstantTimeEq::ct_eq(&expected[..], &row.hash[..])) {
                return broken(
                    "its seal does not match its content (changed, or re-chained without the key)",
                );
            }
            if let Some(h) = anchored.get(&row.position)
                && *h != row.hash.as_slice()
            {
                return broken("differs from the anchor written outside the database");
            }
            expected_prev = row.hash;
            expected_position += 1;
        }
    }
    let last = expected_position - 1;
    if let Some(a) = anchors
        .iter()
        .filter(|a| a.seq > last)
        .min_by_key(|a| a.seq)
    {
        return Ok(Verification::Broken {
            seq: last + 1,
            problem: format!(
                "an anchor written at {} shows the chain reached position {}, but it now ends at {last}: rows were removed",
                a.at, a.seq
            ),
        });
    }
    if head.seq != last || head.hash != expected_prev {
        return Ok(Verification::Broken {
            seq: expected_position,
            problem: format!(
                "the chain head says {} rows are sealed but {last} were found",
                head.seq
            ),
        });
    }
    if last_sealed.unwrap_or((0, 0)) != (xid_number(&head.sealed_xid), head.sealed_seq) {
        return Ok(Verification::Broken {
            seq: head.sealed_seq,
            problem: format!(
                "the chain head says sealing stopped after row {} of transaction {}, which is not the last row sealed",
                head.sealed_seq, head.sealed_xid
            ),
        });
    }
    // Every row up to the head's horizon must be sealed: one that is not was slipped in with an
    // old transaction id, or its seal was removed.
    let unsealed_old = sqlx::query_scalar!(
        r#"SELECT e.seq FROM audit_events e
           WHERE (e.xid IS NULL OR (e.xid, e.seq) <= ($1::text::xid8, $2::bigint))
             AND NOT EXISTS (SELECT 1 FROM audit_seals s WHERE s.seq = e.seq)
           ORDER BY e.seq LIMIT 1"#,
        head.sealed_xid,
        head.sealed_seq
    )
    .fetch_optional(&mut *tx)
    .await?;
    if let Some(seq) = unsealed_old {
        return Ok(Verification::Broken {
            seq,
            problem: "was never sealed, though it is older than the last sealed row (inserted with an old transaction id, or its seal was removed)".to_owned(),
        });
    }
    // The unsealed tail: rows the sealer has not reached yet must still be genuine.
    let mut unsealed = 0i64;
    let (mut after_xid, mut after_seq) = (head.sealed_xid, head.sealed_seq);
    loop {
        let rows = sqlx::query_as!(
            Unsealed,
            r#"SELECT e.seq, e.xid::text AS "xid!", e.occurred_at, e.actor_user_id, e.actor_ip, e.action, e.entity_type,
                      e.entity_id, e.case_id, e.reason, e.details, e.event_id, e.mac
               FROM audit_events e
               WHERE (e.xid, e.seq) > ($1::text::xid8, $2::bigint)
               ORDER BY e.xid, e.seq LIMIT $3"#,
            after_xid,
            after_seq,
            batch
        )
        .fetch_all(&mut *tx)
        .await?;
        let Some(last) = rows.last() else { break };
        (after_xid, after_seq) = (last.xid.clone(), last.seq);
        for r in &rows {
            if !r.mac_is_genuine(key) {
                return Ok(Verification::Broken {
                    seq: r.seq,
                    problem: "is not sealed yet, and its content does not match its MAC (changed, or written without the key)".to_owned(),
                });
            }
            unsealed += 1;
        }
    }
    tx.commit().await?;
    Ok(Verification::Intact {
        rows: last,
        unsealed,
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

    #[test]
    fn prepared_events_carry_time_ordered_identifiers() {
        let key = ChainKey::from_secret(&[3; 32]);
        let actor = Actor {
            user_id: None,
            ip: None,
        };
        let ids: Vec<Uuid> = (0..50)
            .map(|_| prepare(&key, &actor, Event::new("case.view", "case")).event_id)
            .collect();
        // UUIDv7: new rows' index entries meet at one end of `audit_events_event_id`.
        assert!(ids.iter().all(|id| id.get_version_num() == 7));
        assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
    }
}
