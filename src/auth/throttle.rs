//! Sign-in throttling, counted in PostgreSQL so every app instance applies the same limits.
//!
//! Three limits for passwords:
//! - one account from one address: 10 failures in 15 minutes;
//! - one address, any accounts: 50 failures in 15 minutes (stops one machine spraying guesses);
//! - one account from anywhere: 100 failures in an hour (the ASVS ceiling).
//!
//! Second-factor codes use the same limits under the key `second-factor:<account id>`.
//!
//! **Atomic under concurrency.** An attempt is counted *before* its password or code is checked:
//! [`reserve`] takes transaction-scoped advisory locks on the account key and the address, counts,
//! and (if under every limit) inserts the attempt as a failure, all in one transaction. A right
//! answer then removes the attempt again ([`forgive`]). So sixty parallel guesses against a limit
//! of ten check exactly ten passwords, whatever the timing.
//!
//! **Addresses.** IPv4 addresses count one by one; IPv6 addresses count by their /64 network,
//! because one machine is usually given a whole /64 and can rotate through it freely.
//!
//! Someone who knows an address can slow down only that account, and only by failing from many
//! addresses; the account's owner always sees the same message as for a wrong password, plus a
//! hint to wait, so the throttle does not reveal whether an account exists.

use std::net::IpAddr;

use sqlx::{PgExecutor, PgPool};

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

/// The address failures are counted under: an IPv4 address itself, an IPv6 address's /64.
pub fn address_key(ip: Option<&str>) -> String {
    match ip.and_then(|i| i.parse::<IpAddr>().ok()) {
        Some(IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let net = ipnet::Ipv6Net::new(v6, 64)
                    .map(|n| n.trunc())
                    .unwrap_or_else(|_| ipnet::Ipv6Net::from(v6));
                net.to_string()
            }
        },
        Some(IpAddr::V4(v4)) => v4.to_string(),
        None => "unknown".to_owned(),
    }
}

/// An attempt that has been counted: forgive it if the answer turns out right.
#[derive(Debug, Clone, Copy)]
pub struct Attempt(i64);

/// Count an attempt before checking it. `None` means a limit is reached: check nothing.
pub async fn reserve(pool: &PgPool, account: &str, address: &str) -> sqlx::Result<Option<Attempt>> {
    let mut tx = pool.begin().await?;
    // Always the account first, then the address: a fixed order, so two attempts never deadlock.
    sqlx::query!(
        "SELECT pg_advisory_xact_lock(hashtextextended('throttle:account:' || $1, 0)),
                pg_advisory_xact_lock(hashtextextended('throttle:address:' || $2, 0))",
        account,
        address
    )
    .execute(&mut *tx)
    .await?;
    let c = sqlx::query!(
        r#"SELECT
            (SELECT count(*) FROM sign_in_failures WHERE account_key = $1 AND ip = $2 AND created_at > now() - interval '15 minutes') AS "pair!",
            (SELECT count(*) FROM sign_in_failures WHERE ip = $2 AND created_at > now() - interval '15 minutes') AS "by_ip!",
            (SELECT count(*) FROM sign_in_failures WHERE account_key = $1 AND created_at > now() - interval '1 hour') AS "by_account!""#,
        account,
        address
    )
    .fetch_one(&mut *tx)
    .await?;
    if c.pair >= PAIR_LIMIT || c.by_ip >= IP_LIMIT || c.by_account >= ACCOUNT_LIMIT_PER_HOUR {
        tx.rollback().await?;
        return Ok(None);
    }
    // Failures older than a day no longer matter to any limit: drop this account's (indexed).
    sqlx::query!(
        "DELETE FROM sign_in_failures WHERE account_key = $1 AND created_at < now() - interval '1 day'",
        account
    )
    .execute(&mut *tx)
    .await?;
    let id = sqlx::query_scalar!(
        "INSERT INTO sign_in_failures (account_key, ip) VALUES ($1, $2) RETURNING id",
        account,
        address
    )
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Some(Attempt(id)))
}

/// The attempt was right: it is not a failure, and this address's earlier failures for the
/// account stop counting.
pub async fn forgive(
    db: impl PgExecutor<'_>,
    attempt: Attempt,
    account: &str,
    address: &str,
) -> sqlx::Result<()> {
    sqlx::query!(
        "DELETE FROM sign_in_failures WHERE id = $1 OR (account_key = $2 AND ip = $3)",
        attempt.0,
        account,
        address
    )
    .execute(db)
    .await?;
    Ok(())
}

/// The attempt was never checked (the password gate was full): it does not count at all.
pub async fn forget(db: impl PgExecutor<'_>, attempt: Attempt) -> sqlx::Result<()> {
    sqlx::query!("DELETE FROM sign_in_failures WHERE id = $1", attempt.0)
        .execute(db)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_addresses_count_by_their_64() {
        assert_eq!(
            address_key(Some("2001:db8:1:2:aaaa::1")),
            address_key(Some("2001:db8:1:2:ffff:1:2:3"))
        );
        assert_eq!(
            address_key(Some("2001:db8:1:2:aaaa::1")),
            "2001:db8:1:2::/64"
        );
        assert_ne!(
            address_key(Some("2001:db8:1:2::1")),
            address_key(Some("2001:db8:1:3::1"))
        );
        assert_eq!(address_key(Some("203.0.113.7")), "203.0.113.7");
        assert_eq!(address_key(Some("::ffff:203.0.113.7")), "203.0.113.7");
        assert_eq!(address_key(None), "unknown");
        assert_eq!(address_key(Some("nonsense")), "unknown");
    }
}
