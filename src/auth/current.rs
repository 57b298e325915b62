//! The signed-in person for this request, loaded from the session cookie and the database.

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use chrono::Utc;
use sqlx::PgPool;
use uuid::Uuid;

use crate::audit::Actor;
use crate::config::Config;
use crate::db;
use crate::domain::Role;
use crate::error::AppError;

/// Where a request came from. Always present (the guard inserts it).
#[derive(Clone, Debug, Default)]
pub struct RequestMeta {
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

/// The client's address: the connecting peer, unless the peer is a trusted proxy, in which case
/// the right-most address in `X-Forwarded-For` that is not itself a trusted proxy. Addresses a
/// client writes into the header itself sit further left and are never believed.
pub fn client_ip(
    peer: std::net::IpAddr,
    forwarded_for: Option<&str>,
    trusted: &[ipnet::IpNet],
) -> std::net::IpAddr {
    let is_trusted = |ip: &std::net::IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer) {
        return peer;
    }
    let Some(header) = forwarded_for else {
        return peer;
    };
    for hop in header.rsplit(',').map(str::trim) {
        match hop.parse::<std::net::IpAddr>() {
            Ok(ip) if is_trusted(&ip) => continue,
            Ok(ip) => return ip,
            Err(_) => return peer,
        }
    }
    peer
}

impl RequestMeta {
    pub fn from_parts(parts: &Parts, trusted: &[ipnet::IpNet]) -> RequestMeta {
        let forwarded = parts
            .headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect::<Vec<_>>()
            .join(",");
        let ip = parts
            .extensions
            .get::<ConnectInfo<std::net::SocketAddr>>()
            .map(|ConnectInfo(addr)| {
                client_ip(
                    addr.ip(),
                    (!forwarded.is_empty()).then_some(forwarded.as_str()),
                    trusted,
                )
                .to_string()
            });
        let user_agent = parts
            .headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|s| s.chars().take(200).collect());
        RequestMeta { ip, user_agent }
    }
}

/// How far through signing in a session is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    /// Password accepted; the second factor is still to come.
    SecondFactor,
    /// Password accepted; the person must set up a second factor before going on.
    Enrol,
    Active,
}

impl Stage {
    pub fn code(self) -> &'static str {
        match self {
            Stage::SecondFactor => "totp",
            Stage::Enrol => "enrol",
            Stage::Active => "active",
        }
    }
    fn parse(s: &str) -> Stage {
        match s {
            "active" => Stage::Active,
            "enrol" => Stage::Enrol,
            _ => Stage::SecondFactor,
        }
    }
}

/// The person behind a request, as the database says now (role and teams are never cached).
#[derive(Clone, Debug)]
pub struct CurrentUser {
    pub session_id: Uuid,
    pub stage: Stage,
    pub csrf_token: String,
    pub id: Uuid,
    pub email: String,
    pub name: String,
    pub role: Role,
    pub team_ids: Vec<Uuid>,
    pub ip: Option<String>,
    /// Security notices about their account the person has not read (shown in the page frame).
    pub unseen_notices: i64,
    /// Deadlines due today or overdue: on their own cases, and on their teams' (for the navigation).
    /// `None` when this request did not count them (a form post, which mostly redirects): a page
    /// drawn from it carries markers that the guard fills in with one more statement
    /// (`web::guard::fill_counts`).
    pub due_mine: Option<i64>,
    pub due_team: Option<i64>,
    /// When the person last gave their password on this session (for step-up).
    pub reauthenticated_at: chrono::DateTime<Utc>,
    /// The idle timeout, for the page's warning before it.
    pub idle_seconds: i64,
    /// The calendar's version as this request's session statement read it.
    pub calendar_version: Uuid,
}

impl CurrentUser {
    /// Has the person given their password within the last 15 minutes (real time, never the
    /// procedure's clock)? Opening a restricted record, break-glass and exports need it.
    pub fn recently_authenticated(&self) -> bool {
        Utc::now() - self.reauthenticated_at < chrono::Duration::minutes(15)
    }
}

impl CurrentUser {
    pub fn actor(&self) -> Actor {
        Actor {
            user_id: Some(self.id),
            ip: self.ip.clone(),
        }
    }
}

pub fn session_cookie_name(config: &Config) -> &'static str {
    if config.is_https() {
        "__Host-haven_session"
    } else {
        "haven_session"
    }
}

pub fn pre_session_cookie_name(config: &Config) -> &'static str {
    if config.is_https() {
        "__Host-haven_csrf"
    } else {
        "haven_csrf"
    }
}

/// A cookie's value from the request headers.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// A `Set-Cookie` value with Haven's attributes.
pub fn set_cookie(config: &Config, name: &str, value: &str, max_age_secs: Option<i64>) -> String {
    let mut c = format!("{name}={value}; Path=/; HttpOnly; SameSite=Lax");
    if config.is_https() {
        c.push_str("; Secure");
    }
    if let Some(age) = max_age_secs {
        c.push_str(&format!("; Max-Age={age}"));
    }
    c
}

/// Why there is no usable session.
#[derive(Debug, PartialEq, Eq)]
pub enum NoSession {
    Missing,
    /// The session timed out or the account was disabled; it has now been ended. For a timeout,
    /// who it was and the session's form token, so a form they posted can be held for them.
    Expired(Option<(Uuid, String)>),
}

/// For the navigation's counts: what is due by today's close (or overdue).
fn counts_due_by(config: &Config) -> chrono::DateTime<Utc> {
    let today = crate::domain::time::london_date(config.clock.now());
    crate::domain::time::london_to_utc(today, config.working_day_close)
        .unwrap_or_else(|| config.clock.now())
}

/// Load the session named by the request's cookie, enforcing the idle and absolute timeouts.
/// `counts`: read the navigation's deadline counts too (every request that may draw a page).
pub async fn load(
    pool: &PgPool,
    config: &Config,
    headers: &HeaderMap,
    meta: &RequestMeta,
    counts: bool,
) -> Result<CurrentUser, LoadError> {
    let Some(token) = cookie(headers, session_cookie_name(config)) else {
        return Err(LoadError::NoSession(NoSession::Missing));
    };
    let hash = super::token::digest(token);
    let Some(s) = db::sessions::find_live(pool, &hash, counts_due_by(config), counts).await? else {
        return Err(LoadError::NoSession(NoSession::Missing));
    };
    let now = Utc::now();
    let idle = chrono::Duration::from_std(config.session_idle_timeout)
        .unwrap_or(chrono::Duration::minutes(30));
    let reason = if s.disabled_at.is_some() {
        Some("account_disabled")
    } else if s.expires_at <= now {
        Some("absolute_timeout")
    } else if s.last_seen_at + idle <= now {
        Some("idle_timeout")
    } else {
        None
    };
    if let Some(reason) = reason {
        db::sessions::end(pool, s.session_id, reason).await?;
        // Only a fully signed-in session's form is held: a half-finished sign-in (password
        // known, code not given) must not be able to leave a form for the real person to send.
        let owner = (reason != "account_disabled" && s.stage == "active")
            .then(|| (s.user_id, s.csrf_token.clone()));
        return Err(LoadError::NoSession(NoSession::Expired(owner)));
    }
    // Record activity at most once a minute, so most requests do not write.
    if now - s.last_seen_at > chrono::Duration::seconds(60) {
        db::sessions::touch(pool, s.session_id).await?;
    }
    let role = Role::parse(&s.role).ok_or(LoadError::Db(sqlx::Error::RowNotFound))?;
    // A role that needs a second factor (say, someone just made LADO) cannot use a session that
    // never had one, and nobody can after an administrator reset their password or second
    // factor: until the person sets one up themselves, the session only reaches the set-up page.
    let mut stage = Stage::parse(&s.stage);
    if stage == Stage::Active
        && (s.must_enrol || (role.requires_second_factor() && !s.totp_enabled))
    {
        stage = Stage::Enrol;
    }
    Ok(CurrentUser {
        session_id: s.session_id,
        stage,
        csrf_token: s.csrf_token,
        id: s.user_id,
        email: s.email,
        name: s.display_name,
        role,
        team_ids: s.team_ids,
        ip: meta.ip.clone(),
        unseen_notices: s.unseen_notices,
        due_mine: s.due_mine,
        due_team: s.due_team,
        reauthenticated_at: s.reauthenticated_at,
        idle_seconds: idle.num_seconds(),
        calendar_version: s.calendar_version,
    })
}

/// The navigation's counts (mine, team) for the session behind the request's cookie, read after a
/// request that was loaded without them drew a page after all (a form shown again with errors).
/// `None`: the session has ended meanwhile (the page then shows no counts).
pub async fn nav_counts(
    pool: &PgPool,
    config: &Config,
    session_token: &str,
) -> sqlx::Result<Option<(i64, i64)>> {
    let hash = super::token::digest(session_token);
    Ok(
        db::sessions::find_live(pool, &hash, counts_due_by(config), true)
            .await?
            .map(|s| (s.due_mine.unwrap_or(0), s.due_team.unwrap_or(0))),
    )
}

#[derive(Debug)]
pub enum LoadError {
    NoSession(NoSession),
    Db(sqlx::Error),
}

impl From<sqlx::Error> for LoadError {
    fn from(e: sqlx::Error) -> Self {
        LoadError::Db(e)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for CurrentUser {
    type Rejection = AppError;

    /// The guard in front of every route puts the user here; a route without a guard gets no user
    /// (deny by default).
    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<CurrentUser>()
            .cloned()
            .ok_or(AppError::Forbidden)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for RequestMeta {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(parts
            .extensions
            .get::<RequestMeta>()
            .cloned()
            .unwrap_or_else(|| RequestMeta::from_parts(parts, &[])))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> std::net::IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let lb: Vec<ipnet::IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        // Straight from the internet: the header is ignored, whatever it says.
        assert_eq!(
            client_ip(ip("198.51.100.9"), Some("203.0.113.7"), &lb),
            ip("198.51.100.9")
        );
        // Through the load balancer: the address it saw.
        assert_eq!(
            client_ip(ip("10.0.0.5"), Some("203.0.113.7"), &lb),
            ip("203.0.113.7")
        );
        // A client that writes its own header cannot hide behind it: the right-most untrusted hop wins.
        assert_eq!(
            client_ip(ip("10.0.0.5"), Some("1.2.3.4, 203.0.113.7"), &lb),
            ip("203.0.113.7")
        );
        // Chains of trusted proxies are walked.
        assert_eq!(
            client_ip(ip("10.0.0.5"), Some("203.0.113.7, 10.0.0.9"), &lb),
            ip("203.0.113.7")
        );
        // Garbage falls back to the peer.
        assert_eq!(
            client_ip(ip("10.0.0.5"), Some("nonsense"), &lb),
            ip("10.0.0.5")
        );
        assert_eq!(client_ip(ip("10.0.0.5"), None, &lb), ip("10.0.0.5"));
        assert_eq!(
            client_ip(ip("10.0.0.5"), Some("203.0.113.7"), &[]),
            ip("10.0.0.5")
        );
    }
}
