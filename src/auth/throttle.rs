//! Sign-in throttling, counted in PostgreSQL so every app instance applies the same limits.
//!
//! Three limits, checked before a password is even looked at:
//! - one account from one address: 10 failures in 15 minutes;
//! - one address, any accounts: 50 failures in 15 minutes (stops one machine spraying guesses);
//! - one account from anywhere: 100 failures in an hour (the ASVS ceiling).
//!
//! Someone who knows an address can slow down only that account, and only by failing from many
//! addresses; the account's owner always sees the same message as for a wrong password, plus a
//! hint to wait, so the throttle does not reveal whether an account exists.

use sqlx::{PgConnection, PgExecutor};

pub const PAIR_LIMIT: i64 = 10;
pub const IP_LIMIT: i64 = 50;
pub const ACCOUNT_LIMIT_PER_HOUR: i64 = 100;

/// The key failures are counted under: the address as typed, normalised (whether or not it exists).
pub fn account_key(typed_email: &str) -> String {
    typed_email
        .trim()
        .to_lowercase()
        .chars()
        .take(254)
        .collect()
}

pub async fn is_throttled(db: impl PgExecutor<'_>, account: &str, ip: &str) -> sqlx::Result<bool> {
    let c = sqlx::query!(
        r#"SELECT
            (SELECT count(*) FROM sign_in_failures WHERE account_key = $1 AND ip = $2 AND created_at > now() - interval '15 minutes') AS "pair!",
            (SELECT count(*) FROM sign_in_failures WHERE ip = $2 AND created_at > now() - interval '15 minutes') AS "by_ip!",
            (SELECT count(*) FROM sign_in_failures WHERE account_key = $1 AND created_at > now() - interval '1 hour') AS "by_account!""#,
        account,
        ip
    )
    .fetch_one(db)
    .await?;
    Ok(c.pair >= PAIR_LIMIT || c.by_ip >= IP_LIMIT || c.by_account >= ACCOUNT_LIMIT_PER_HOUR)
}

/// Count a failure. Failures older than a day no longer matter to any limit, so this account's
/// old ones are removed at the same time (an indexed delete), keeping the table small.
pub async fn record_failure(db: &mut PgConnection, account: &str, ip: &str) -> sqlx::Result<()> {
    sqlx::query!(
        "DELETE FROM sign_in_failures WHERE account_key = $1 AND created_at < now() - interval '1 day'",
        account
    )
    .execute(&mut *db)
    .await?;
    sqlx::query!(
        "INSERT INTO sign_in_failures (account_key, ip) VALUES ($1, $2)",
        account,
        ip
    )
    .execute(&mut *db)
    .await?;
    Ok(())
}

/// After a success, this address's failures for the account stop counting.
pub async fn clear(db: impl PgExecutor<'_>, account: &str, ip: &str) -> sqlx::Result<()> {
    sqlx::query!(
        "DELETE FROM sign_in_failures WHERE account_key = $1 AND ip = $2",
        account,
        ip
    )
    .execute(db)
    .await?;
    Ok(())
}
