//! Fill a scale database's audit trail with millions of genuine rows (bench/README.md): views,
//! list views and notes by the scale staff on the scale cases over the last two years, each with
//! the MAC Haven itself would write, then seal them all with Haven's own sealer, so
//! `haven verify-audit` passes on the result. Refuses a database with cases it did not make.
//!
//!   HAVEN_SECRET_KEY=<the key the bench server uses> BENCH_AUDIT_ROWS=5000000 \
//!   BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/haven_scale \
//!   cargo run --release --example bench-audit-trail

use chrono::{Duration, SubsecRound, Utc};
use haven::audit::{self, ChainKey, Fields};
use rand::Rng;
use sqlx::PgPool;
use uuid::Uuid;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let url = std::env::var("BENCH_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/haven_scale".to_owned());
    let host = url.split('@').nth(1).unwrap_or_default();
    if !(host.starts_with("127.0.0.1") || host.starts_with("localhost")) {
        anyhow::bail!("BENCH_DATABASE_URL must be on loopback");
    }
    let rows: usize = std::env::var("BENCH_AUDIT_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5_000_000);
    let secret_hex = std::env::var("HAVEN_SECRET_KEY")
        .map_err(|_| anyhow::anyhow!("set HAVEN_SECRET_KEY to the key the bench server uses"))?;
    let secret: [u8; 32] = hex::decode(secret_hex.trim())?
        .try_into()
        .map_err(|_| anyhow::anyhow!("HAVEN_SECRET_KEY must be 64 hexadecimal characters"))?;
    let key = ChainKey::from_secret(&secret);
    let pool = PgPool::connect(&url).await?;
    let foreign: i64 =
        sqlx::query_scalar("SELECT count(*) FROM cases WHERE reference NOT LIKE 'SCL-%'")
            .fetch_one(&pool)
            .await?;
    if foreign > 0 {
        anyhow::bail!(
            "this database holds cases the benchmark did not make: use a fresh scale database"
        );
    }
    let cases: Vec<(Uuid, Uuid)> =
        sqlx::query_as("SELECT id, owner_id FROM cases WHERE reference LIKE 'SCL-%' ORDER BY id")
            .fetch_all(&pool)
            .await?;
    if cases.is_empty() {
        anyhow::bail!("run bench/deadlines-at-scale.sql first");
    }
    let now = Utc::now().trunc_subsecs(6);
    let mut rng = rand::thread_rng();
    let batch = 10_000;
    let started = std::time::Instant::now();
    let mut written = 0;
    while written < rows {
        let n = batch.min(rows - written);
        let mut cols = Cols::default();
        for i in 0..n {
            let (case, owner) = cases[rng.gen_range(0..cases.len())];
            // Older rows first, as a trail grows: spread over two years up to now.
            let age = (rows - written - i) as i64 * 63_072_000 / rows as i64;
            let at = now - Duration::seconds(age);
            let (action, details) = match rng.gen_range(0..10) {
                0 => ("case.note", "{}".to_owned()),
                1 => (
                    "case.list",
                    format!("{{\"scope\":\"mine\",\"cases\":[\"{case}\"]}}"),
                ),
                _ => ("case.view", "{}".to_owned()),
            };
            let event_id = Uuid::now_v7();
            let case_id = (action != "case.list").then_some(case);
            let entity_id = case_id.map(|c| c.to_string());
            let mac = audit::entry_mac(
                &key,
                event_id,
                &Fields {
                    seq: 0,
                    occurred_at: at,
                    actor_user_id: Some(owner),
                    actor_ip: Some("127.0.0.1"),
                    action,
                    entity_type: "case",
                    entity_id: entity_id.as_deref(),
                    case_id,
                    reason: None,
                    details: &details,
                },
            );
            cols.at.push(at);
            cols.actor.push(owner);
            cols.action.push(action.to_owned());
            cols.entity.push(entity_id);
            cols.case.push(case_id);
            cols.details.push(details);
            cols.event.push(event_id);
            cols.mac.push(mac.to_vec());
        }
        sqlx::query(
            "INSERT INTO audit_events (occurred_at, actor_user_id, actor_ip, action, entity_type, entity_id, case_id, details, event_id, mac)
             SELECT at, actor, '127.0.0.1', action, 'case', entity, kase, details, event, mac
             FROM UNNEST($1::timestamptz[], $2::uuid[], $3::text[], $4::text[], $5::uuid[], $6::text[], $7::uuid[], $8::bytea[])
                  AS t(at, actor, action, entity, kase, details, event, mac)",
        )
        .bind(&cols.at)
        .bind(&cols.actor)
        .bind(&cols.action)
        .bind(&cols.entity)
        .bind(&cols.case)
        .bind(&cols.details)
        .bind(&cols.event)
        .bind(&cols.mac)
        .execute(&pool)
        .await?;
        written += n;
        if written % 500_000 == 0 || written == rows {
            eprintln!("{written} audit rows written ({:.0?})", started.elapsed());
        }
    }
    let sealed = audit::seal_all(&pool, &key, 5_000).await?;
    eprintln!("{sealed} rows sealed ({:.0?})", started.elapsed());
    sqlx::query("ANALYZE audit_events").execute(&pool).await?;
    sqlx::query("ANALYZE audit_seals").execute(&pool).await?;
    Ok(())
}

#[derive(Default)]
struct Cols {
    at: Vec<chrono::DateTime<Utc>>,
    actor: Vec<Uuid>,
    action: Vec<String>,
    entity: Vec<Option<String>>,
    case: Vec<Option<Uuid>>,
    details: Vec<String>,
    event: Vec<Uuid>,
    mac: Vec<Vec<u8>>,
}
