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

/// The gate every Argon2 operation on a request path passes through.
///
/// Each hash or verification holds about 19 MiB while it runs, and anonymous people can ask for
/// them (sign-in, set-password links). So at most `workers` run at once (about one per core),
/// at most `queue` more wait for a turn, and anyone beyond that is told at once to come back
/// later (a 503 page with `Retry-After`) rather than queued without limit. A waiting request
/// gives up after `max_wait`. Memory under a flood is therefore bounded by `workers` hashes.
pub struct Gate {
    permits: std::sync::Arc<tokio::sync::Semaphore>,
    /// Running plus waiting may not pass this.
    capacity: usize,
    admitted: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    max_wait: std::time::Duration,
    running: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    most_running: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

/// The gate is full: the caller should answer 503 with `Retry-After`.
#[derive(Debug, thiserror::Error)]
#[error("too many password checks at once")]
pub struct Busy;

/// Takes one back off a counter when dropped, however the holder ends (even cancelled).
struct Held(std::sync::Arc<std::sync::atomic::AtomicUsize>);

impl Drop for Held {
    fn drop(&mut self) {
        self.0.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    }
}

impl Gate {
    pub fn new(workers: usize, queue: usize, max_wait: std::time::Duration) -> Gate {
        Gate {
            permits: std::sync::Arc::new(tokio::sync::Semaphore::new(workers.max(1))),
            capacity: workers.max(1) + queue,
            admitted: Default::default(),
            max_wait,
            running: Default::default(),
            most_running: Default::default(),
        }
    }

    /// One worker per core, and a queue of eight per worker.
    pub fn for_this_machine() -> Gate {
        let cores = std::thread::available_parallelism().map_or(2, usize::from);
        Gate::new(cores, cores * 8, std::time::Duration::from_secs(10))
    }

    /// The most operations that ever ran at once through this gate (for tests and the bench).
    pub fn most_running(&self) -> usize {
        self.most_running.load(std::sync::atomic::Ordering::SeqCst)
    }

    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, Busy> {
        use std::sync::atomic::Ordering::SeqCst;
        // Claim a place first and check after, so the count and the claim are one atomic step.
        let place = Held(self.admitted.clone());
        if self.admitted.fetch_add(1, SeqCst) >= self.capacity {
            return Err(Busy);
        }
        let permit = tokio::time::timeout(self.max_wait, self.permits.clone().acquire_owned())
            .await
            .map_err(|_| Busy)?
            .map_err(|_| Busy)?;
        let (running, most) = (self.running.clone(), self.most_running.clone());
        // The permit and the place move into the blocking task: if this request is cancelled
        // (the person gave up, or the request timed out) the hash still counts until it ends.
        tokio::task::spawn_blocking(move || {
            let now = running.fetch_add(1, SeqCst) + 1;
            most.fetch_max(now, SeqCst);
            let running = Held(running);
            let out = work();
            drop(running);
            drop((permit, place));
            out
        })
        .await
        .map_err(|_| Busy)
    }

    pub async fn hash(&self, password: String) -> Result<anyhow::Result<String>, Busy> {
        self.run(move || hash(&password)).await
    }

    pub async fn verify(&self, stored: String, password: String) -> Result<bool, Busy> {
        self.run(move || verify(&stored, &password)).await
    }
}

/// Hash outside any gate: for the command line, where one person runs one command.
pub async fn hash_blocking(password: String) -> anyhow::Result<String> {
    tokio::task::spawn_blocking(move || hash(&password)).await?
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

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn the_gate_runs_at_most_its_workers_and_turns_away_past_its_queue() {
        let gate = std::sync::Arc::new(Gate::new(2, 3, std::time::Duration::from_secs(30)));
        let stored = hash("lantern orchard pebble").unwrap();
        let mut tasks = Vec::new();
        for _ in 0..12 {
            let (gate, stored) = (gate.clone(), stored.clone());
            tasks.push(tokio::spawn(async move {
                gate.verify(stored, "lantern orchard pebble".into()).await
            }));
        }
        let mut ok = 0;
        let mut busy = 0;
        for t in tasks {
            match t.await.unwrap() {
                Ok(true) => ok += 1,
                Ok(false) => panic!("a right password failed"),
                Err(Busy) => busy += 1,
            }
        }
        assert!(
            gate.most_running() <= 2,
            "ran {} at once",
            gate.most_running()
        );
        // Two running and three waiting at most: everyone else is turned away at once.
        assert!((2..=5).contains(&ok), "{ok} went through");
        assert_eq!(ok + busy, 12);
        // Once the burst is over the gate lets people through again.
        assert!(
            gate.verify(stored, "lantern orchard pebble".into())
                .await
                .unwrap()
        );
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
