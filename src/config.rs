//! Typed settings, read once from the environment at start-up.

use std::net::SocketAddr;
use std::time::Duration;

use url::Url;

/// A value that must never reach a log line or a page.
#[derive(Clone)]
pub struct Secret<T>(T);

impl<T> Secret<T> {
    pub fn new(value: T) -> Self {
        Secret(value)
    }
    pub fn expose(&self) -> &T {
        &self.0
    }
}

impl<T> std::fmt::Debug for Secret<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

#[derive(Clone, Debug)]
pub struct Config {
    /// The database owner's connection: creates the database and runs migrations. The server
    /// never works through it.
    pub database_url: Secret<String>,
    /// The login the server works as (`haven_app`): not the owner and not a superuser, so it
    /// cannot lift its own restrictions (change the audit trail, disable triggers).
    pub app_database_url: Secret<String>,
    /// Whether `serve` creates the database and migrates before serving (off when the
    /// deployment runs `haven migrate` with the owner's login separately).
    pub migrate_on_start: bool,
    /// The address the server listens on.
    pub listen: SocketAddr,
    /// The address people type into their browser. `https` turns on secure cookies and HSTS.
    pub public_url: Url,
    pub session_idle_timeout: Duration,
    pub session_absolute_timeout: Duration,
    pub request_timeout: Duration,
    pub db_max_connections: u32,
    pub db_acquire_timeout: Duration,
    /// Load balancers or proxies whose `X-Forwarded-For` is believed (addresses or CIDR ranges).
    /// Empty: the connecting address is the client's.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// The key that encrypts secrets Haven must be able to read back (authenticator app keys).
    pub secret_key: Secret<[u8; 32]>,
    /// True when no key was configured and the fixed development key is in use (plain http only).
    pub secret_key_is_development: bool,
    /// Password hashes that may run at once, and how many more may wait for a turn.
    pub hash_workers: usize,
    pub hash_queue: usize,
    /// Document uploads and downloads that may run at once (each holds up to 10 MB); more are
    /// turned away with "busy".
    pub document_workers: usize,
    /// Open client connections this instance accepts; more are closed at once.
    pub max_connections: usize,
    /// A client must send a request's headers within this time, and an idle kept-alive
    /// connection is closed after it.
    pub header_timeout: Duration,
    /// Where signed audit chain heads are appended (outside the database), and how often.
    pub audit_anchor_file: Option<std::path::PathBuf>,
    pub audit_anchor_interval: Duration,
    /// Where "now" comes from for the procedure (fixed only for tests, never over https).
    pub clock: crate::clock::Clock,
    /// The close of the working day (London time).
    pub working_day_close: chrono::NaiveTime,
}

pub const DEFAULT_DATABASE_URL: &str = "postgres://postgres@127.0.0.1:5432/haven";

#[derive(Debug, thiserror::Error)]
#[error("{name}: {message}")]
pub struct ConfigError {
    pub name: &'static str,
    pub message: String,
}

impl Config {
    /// Read the configuration from the process environment.
    pub fn from_env() -> Result<Config, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Read the configuration through `lookup`, so tests can supply their own values.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let database_url = get("DATABASE_URL").unwrap_or_else(|| DEFAULT_DATABASE_URL.to_owned());
        let app_database_url = match get("HAVEN_APP_DATABASE_URL") {
            Some(u) => u,
            None => app_url_from_owner_url(&database_url).ok_or(ConfigError {
                name: "DATABASE_URL",
                message: "expected a URL like postgres://postgres@127.0.0.1:5432/haven".into(),
            })?,
        };
        let migrate_on_start = match get("HAVEN_MIGRATE").as_deref().map(str::trim) {
            None | Some("on") => true,
            Some("off") => false,
            Some(other) => {
                return Err(ConfigError {
                    name: "HAVEN_MIGRATE",
                    message: format!("expected on or off, got {other:?}"),
                });
            }
        };
        let listen_text = get("HAVEN_LISTEN").unwrap_or_else(|| "127.0.0.1:8080".to_owned());
        let listen: SocketAddr = listen_text.parse().map_err(|_| ConfigError {
            name: "HAVEN_LISTEN",
            message: format!("expected an address like 127.0.0.1:8080, got {listen_text:?}"),
        })?;
        let public_text = get("HAVEN_PUBLIC_URL").unwrap_or_else(|| format!("http://{listen}"));
        let public_url = Url::parse(&public_text).map_err(|_| ConfigError {
            name: "HAVEN_PUBLIC_URL",
            message: format!("expected a URL like https://haven.example.org, got {public_text:?}"),
        })?;
        if !matches!(public_url.scheme(), "http" | "https") || public_url.host_str().is_none() {
            return Err(ConfigError {
                name: "HAVEN_PUBLIC_URL",
                message: "must be an http or https URL with a host".to_owned(),
            });
        }
        let minutes = |name: &'static str, default: u64| -> Result<Duration, ConfigError> {
            match get(name) {
                None => Ok(Duration::from_secs(default * 60)),
                Some(v) => v
                    .trim()
                    .parse::<u64>()
                    .ok()
                    .filter(|m| *m > 0)
                    .map(|m| Duration::from_secs(m * 60))
                    .ok_or(ConfigError {
                        name,
                        message: format!("expected a whole number of minutes, got {v:?}"),
                    }),
            }
        };
        let seconds = |name: &'static str, default: u64| -> Result<Duration, ConfigError> {
            match get(name) {
                None => Ok(Duration::from_secs(default)),
                Some(v) => v
                    .trim()
                    .parse::<u64>()
                    .ok()
                    .filter(|s| *s > 0)
                    .map(Duration::from_secs)
                    .ok_or(ConfigError {
                        name,
                        message: format!("expected a whole number of seconds, got {v:?}"),
                    }),
            }
        };
        let count = |name: &'static str, default: usize| -> Result<usize, ConfigError> {
            match get(name) {
                None => Ok(default),
                Some(v) => v
                    .trim()
                    .parse::<usize>()
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or(ConfigError {
                        name,
                        message: format!("expected a positive whole number, got {v:?}"),
                    }),
            }
        };
        let db_max_connections = count("HAVEN_DB_MAX_CONNECTIONS", 10)? as u32;
        let cores = std::thread::available_parallelism().map_or(2, usize::from);
        let hash_workers = count("HAVEN_HASH_WORKERS", cores)?;
        let hash_queue = count("HAVEN_HASH_QUEUE", hash_workers * 8)?;
        let document_workers = count("HAVEN_DOCUMENT_WORKERS", 4)?;
        let audit_anchor_file = match get("HAVEN_AUDIT_ANCHOR_FILE").as_deref().map(str::trim) {
            Some("off") => None,
            Some(path) => Some(std::path::PathBuf::from(path)),
            None => Some(std::path::PathBuf::from("audit-anchors.jsonl")),
        };
        let trusted_proxies = match get("HAVEN_TRUSTED_PROXIES") {
            None => Vec::new(),
            Some(v) => v
                .split(',')
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .map(|p| {
                    p.parse::<ipnet::IpNet>()
                        .or_else(|_| p.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                        .map_err(|_| ConfigError {
                            name: "HAVEN_TRUSTED_PROXIES",
                            message: format!(
                                "expected addresses or ranges like 10.0.0.0/8, got {p:?}"
                            ),
                        })
                })
                .collect::<Result<_, _>>()?,
        };
        let (secret_key, secret_key_is_development) = match get("HAVEN_SECRET_KEY") {
            Some(v) => (parse_key(v.trim())?, false),
            None if public_url.scheme() == "https" => {
                return Err(ConfigError {
                    name: "HAVEN_SECRET_KEY",
                    message: "must be set when Haven is served over https: 64 hexadecimal characters, e.g. from `openssl rand -hex 32`".into(),
                });
            }
            None => (development_key(), true),
        };
        let clock = match get("HAVEN_FIXED_TIME") {
            None => crate::clock::Clock::System,
            Some(_) if public_url.scheme() == "https" => {
                return Err(ConfigError {
                    name: "HAVEN_FIXED_TIME",
                    message: "a fixed clock is for tests only and is refused when Haven is served over https".into(),
                });
            }
            Some(t) => crate::clock::Clock::Fixed(
                chrono::DateTime::parse_from_rfc3339(t.trim())
                    .map_err(|_| ConfigError {
                        name: "HAVEN_FIXED_TIME",
                        message: format!("expected a time like 2026-12-04T16:59:00Z, got {t:?}"),
                    })?
                    .with_timezone(&chrono::Utc),
            ),
        };
        let working_day_close = match get("HAVEN_WORKING_DAY_CLOSE") {
            None => chrono::NaiveTime::from_hms_opt(17, 0, 0).expect("17:00"),
            Some(t) => crate::domain::time::parse_clock(&t)
                .filter(|c| {
                    *c >= chrono::NaiveTime::from_hms_opt(12, 0, 0).expect("noon")
                        && *c <= chrono::NaiveTime::from_hms_opt(23, 0, 0).expect("23:00")
                })
                .ok_or(ConfigError {
                    name: "HAVEN_WORKING_DAY_CLOSE",
                    message: format!(
                        "expected a time between 12:00 and 23:00 like 17:00, got {t:?}"
                    ),
                })?,
        };
        Ok(Config {
            clock,
            working_day_close,
            secret_key: Secret::new(secret_key),
            secret_key_is_development,
            trusted_proxies,
            database_url: Secret::new(database_url),
            app_database_url: Secret::new(app_database_url),
            migrate_on_start,
            hash_workers,
            hash_queue,
            document_workers,
            max_connections: count("HAVEN_MAX_CONNECTIONS", 512)?,
            header_timeout: seconds("HAVEN_HEADER_TIMEOUT_SECONDS", 10)?,
            audit_anchor_file,
            audit_anchor_interval: minutes("HAVEN_AUDIT_ANCHOR_MINUTES", 10)?,
            listen,
            public_url,
            session_idle_timeout: minutes("HAVEN_SESSION_IDLE_MINUTES", 30)?,
            session_absolute_timeout: minutes("HAVEN_SESSION_ABSOLUTE_MINUTES", 12 * 60)?,
            request_timeout: seconds("HAVEN_REQUEST_TIMEOUT_SECONDS", 30)?,
            db_max_connections,
            db_acquire_timeout: seconds("HAVEN_DB_ACQUIRE_TIMEOUT_SECONDS", 5)?,
        })
    }

    /// True when people reach Haven over HTTPS: cookies get `Secure` and the `__Host-` prefix, and HSTS is sent.
    pub fn is_https(&self) -> bool {
        self.public_url.scheme() == "https"
    }

    /// The origin browsers send in the `Origin` header for same-site form posts.
    pub fn public_origin(&self) -> String {
        self.public_url.origin().ascii_serialization()
    }
}

/// The server's own login, on the same server and database as the owner's URL: the user
/// becomes `haven_app` and any password is dropped (set `HAVEN_APP_DATABASE_URL` to give one).
pub fn app_url_from_owner_url(owner: &str) -> Option<String> {
    let mut url = Url::parse(owner).ok()?;
    if !matches!(url.scheme(), "postgres" | "postgresql") {
        return None;
    }
    url.set_username(crate::db::APP_ROLE).ok()?;
    url.set_password(None).ok()?;
    Some(url.to_string())
}

fn parse_key(hex_text: &str) -> Result<[u8; 32], ConfigError> {
    hex::decode(hex_text)
        .ok()
        .and_then(|bytes| <[u8; 32]>::try_from(bytes).ok())
        .ok_or(ConfigError {
            name: "HAVEN_SECRET_KEY",
            message:
                "expected 64 hexadecimal characters (32 bytes), e.g. from `openssl rand -hex 32`"
                    .into(),
        })
}

/// A fixed, public key for local development over plain http. Never used over https.
fn development_key() -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(b"haven local development key: not secret").into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(|name| {
            pairs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        })
    }

    #[test]
    fn defaults_are_local_and_plain_http() {
        let c = from(&[]).unwrap();
        assert_eq!(c.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(c.database_url.expose(), DEFAULT_DATABASE_URL);
        assert!(!c.is_https());
        assert_eq!(c.public_origin(), "http://127.0.0.1:8080");
        assert_eq!(c.session_idle_timeout, Duration::from_secs(30 * 60));
        assert_eq!(c.session_absolute_timeout, Duration::from_secs(12 * 3600));
    }

    #[test]
    fn https_public_url_turns_on_secure_mode() {
        let key = "0f".repeat(32);
        let c = from(&[
            ("HAVEN_PUBLIC_URL", "https://haven.example.org"),
            ("HAVEN_SECRET_KEY", &key),
        ])
        .unwrap();
        assert!(c.is_https());
        assert_eq!(c.public_origin(), "https://haven.example.org");
    }

    #[test]
    fn bad_values_name_the_variable() {
        let e = from(&[("HAVEN_LISTEN", "nowhere")]).unwrap_err();
        assert_eq!(e.name, "HAVEN_LISTEN");
        let e = from(&[("HAVEN_SESSION_IDLE_MINUTES", "-3")]).unwrap_err();
        assert_eq!(e.name, "HAVEN_SESSION_IDLE_MINUTES");
        let e = from(&[("HAVEN_PUBLIC_URL", "ftp://x")]).unwrap_err();
        assert_eq!(e.name, "HAVEN_PUBLIC_URL");
    }

    #[test]
    fn trusted_proxies_take_addresses_and_ranges() {
        let c = from(&[("HAVEN_TRUSTED_PROXIES", "10.0.0.0/8, 192.0.2.7,::1")]).unwrap();
        assert_eq!(c.trusted_proxies.len(), 3);
        assert!(c.trusted_proxies[0].contains(&"10.1.2.3".parse::<std::net::IpAddr>().unwrap()));
        assert!(from(&[]).unwrap().trusted_proxies.is_empty());
        assert_eq!(
            from(&[("HAVEN_TRUSTED_PROXIES", "the load balancer")])
                .unwrap_err()
                .name,
            "HAVEN_TRUSTED_PROXIES"
        );
    }

    #[test]
    fn secret_key_is_required_over_https_and_must_be_32_bytes() {
        let e = from(&[("HAVEN_PUBLIC_URL", "https://haven.example.org")]).unwrap_err();
        assert_eq!(e.name, "HAVEN_SECRET_KEY");
        let key = "ab".repeat(32);
        let c = from(&[
            ("HAVEN_PUBLIC_URL", "https://haven.example.org"),
            ("HAVEN_SECRET_KEY", &key),
        ])
        .unwrap();
        assert_eq!(c.secret_key.expose(), &[0xab; 32]);
        assert!(!c.secret_key_is_development);
        assert!(from(&[]).unwrap().secret_key_is_development);
        assert_eq!(
            from(&[("HAVEN_SECRET_KEY", "abcd")]).unwrap_err().name,
            "HAVEN_SECRET_KEY"
        );
        assert!(!format!("{c:?}").contains("abab"));
    }

    #[test]
    fn the_server_logs_in_as_the_app_role_not_the_owner() {
        let c = from(&[("DATABASE_URL", "postgres://owner:pw@db.internal:5433/haven")]).unwrap();
        assert_eq!(
            c.app_database_url.expose(),
            "postgres://haven_app@db.internal:5433/haven"
        );
        let c = from(&[(
            "HAVEN_APP_DATABASE_URL",
            "postgres://haven_app:s3cret@db/haven",
        )])
        .unwrap();
        assert_eq!(
            c.app_database_url.expose(),
            "postgres://haven_app:s3cret@db/haven"
        );
        assert!(from(&[]).unwrap().migrate_on_start);
        assert!(!from(&[("HAVEN_MIGRATE", "off")]).unwrap().migrate_on_start);
        assert_eq!(
            from(&[("HAVEN_MIGRATE", "maybe")]).unwrap_err().name,
            "HAVEN_MIGRATE"
        );
    }

    #[test]
    fn a_fixed_clock_is_for_tests_and_refused_over_https() {
        let c = from(&[("HAVEN_FIXED_TIME", "2026-12-04T16:59:00Z")]).unwrap();
        assert_eq!(c.clock.now().to_rfc3339(), "2026-12-04T16:59:00+00:00");
        assert_eq!(from(&[]).unwrap().clock, crate::clock::Clock::System);
        let key = "0f".repeat(32);
        let e = from(&[
            ("HAVEN_PUBLIC_URL", "https://haven.example.org"),
            ("HAVEN_SECRET_KEY", &key),
            ("HAVEN_FIXED_TIME", "2026-12-04T16:59:00Z"),
        ])
        .unwrap_err();
        assert_eq!(e.name, "HAVEN_FIXED_TIME");
        assert_eq!(
            from(&[("HAVEN_FIXED_TIME", "Friday")]).unwrap_err().name,
            "HAVEN_FIXED_TIME"
        );
        assert_eq!(
            from(&[("HAVEN_WORKING_DAY_CLOSE", "17:30")])
                .unwrap()
                .working_day_close
                .to_string(),
            "17:30:00"
        );
        assert_eq!(
            from(&[("HAVEN_WORKING_DAY_CLOSE", "3am")])
                .unwrap_err()
                .name,
            "HAVEN_WORKING_DAY_CLOSE"
        );
    }

    #[test]
    fn database_url_is_not_printed_by_debug() {
        let c = from(&[("DATABASE_URL", "postgres://u:hunter2hunter2@127.0.0.1/x")]).unwrap();
        assert!(!format!("{c:?}").contains("hunter2"));
    }
}
