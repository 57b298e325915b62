//! Password hashing with Argon2id (the `argon2` crate's defaults: m=19456 KiB, t=2, p=1, the floor Haven accepts).

use std::sync::OnceLock;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params};

fn hasher() -> Argon2<'static> {
    Argon2::default()
}

/// Hash a password. CPU-heavy: call through `hash_blocking` on request paths.
pub fn hash(password: &str) -> anyhow::Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    hasher()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| anyhow::anyhow!("password hashing failed: {e}"))
}

/// Check a password against a stored hash. A malformed hash never matches.
pub fn verify(stored: &str, password: &str) -> bool {
    match PasswordHash::new(stored) {
        Ok(parsed) => hasher()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

/// True when a stored hash is weaker than today's target and should be replaced at sign-in.
pub fn needs_rehash(stored: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(stored) else {
        return true;
    };
    if parsed.algorithm != Algorithm::Argon2id.ident() {
        return true;
    }
    let Ok(params) = Params::try_from(&parsed) else {
        return true;
    };
    let target = Params::default();
    params.m_cost() < target.m_cost()
        || params.t_cost() < target.t_cost()
        || params.p_cost() < target.p_cost()
}

/// A hash of a random password, checked when the account does not exist so that the
/// answer takes as long as for a real account.
pub fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| {
        let random = uuid::Uuid::new_v4().to_string();
        hash(&random).unwrap_or_default()
    })
}

pub async fn hash_blocking(password: String) -> anyhow::Result<String> {
    tokio::task::spawn_blocking(move || hash(&password)).await?
}

pub async fn verify_blocking(stored: String, password: String) -> bool {
    tokio::task::spawn_blocking(move || verify(&stored, &password))
        .await
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_with_argon2id_at_least_at_the_floor() {
        let h = hash("lantern orchard pebble").unwrap();
        assert!(h.starts_with("$argon2id$"));
        let parsed = PasswordHash::new(&h).unwrap();
        let p = Params::try_from(&parsed).unwrap();
        assert!(p.m_cost() >= 19456 && p.t_cost() >= 2 && p.p_cost() >= 1);
        assert!(verify(&h, "lantern orchard pebble"));
        assert!(!verify(&h, "lantern orchard pebbles"));
        assert!(!needs_rehash(&h));
    }

    #[test]
    fn weak_hashes_are_flagged_for_rehash() {
        let weak = Argon2::new(
            Algorithm::Argon2id,
            argon2::Version::V0x13,
            Params::new(4096, 1, 1, None).unwrap(),
        );
        let salt = SaltString::generate(&mut OsRng);
        let h = weak
            .hash_password(b"lantern orchard pebble", &salt)
            .unwrap()
            .to_string();
        assert!(verify(&h, "lantern orchard pebble"));
        assert!(needs_rehash(&h));
        assert!(needs_rehash("not a hash"));
        assert!(!verify("not a hash", "anything"));
    }
}
