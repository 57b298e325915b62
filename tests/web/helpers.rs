//! The test harness: a fresh database per test, the in-process router, and a browser-like client
//! that keeps cookies, sends the CSRF token and follows nothing implicitly.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use haven::app::{AppState, router_with_table};
use haven::config::Config;
use haven::web::RouteSpec;
use http_body_util::BodyExt;
use scraper::{Html, Selector};
use sqlx::{Connection, Executor, PgConnection, PgPool};
use tokio::sync::OnceCell;
use tower::ServiceExt;
use uuid::Uuid;

pub const PASSWORD: &str = "correct horse battery staple";

fn server_url() -> String {
    std::env::var("HAVEN_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".to_owned())
}

static CLEANED: OnceCell<()> = OnceCell::const_new();

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// A fresh test database name. It carries its creation time, so a later run can tell databases
/// left behind long ago from those of another test run happening right now.
pub fn test_db_name() -> String {
    format!("haven_test_{}_{}", unix_now(), Uuid::new_v4().simple())
}

/// Drop databases left by failed runs more than an hour ago (a passing test drops its own).
/// Younger ones may belong to a run in progress and are left alone.
async fn clean_old_databases() {
    let mut conn = PgConnection::connect(&format!("{}/postgres", server_url()))
        .await
        .expect("PostgreSQL must run on 127.0.0.1:5432");
    let names: Vec<String> =
        sqlx::query_scalar("SELECT datname FROM pg_database WHERE datname LIKE 'haven_test_%'")
            .fetch_all(&mut conn)
            .await
            .unwrap();
    for n in names {
        let made: Option<u64> = n
            .strip_prefix("haven_test_")
            .and_then(|rest| rest.split('_').next())
            .and_then(|t| t.parse().ok());
        // Only names this harness makes (`haven_test_<time>_<32 hex>`), and only old ones.
        let ours = n
            .rsplit('_')
            .next()
            .is_some_and(|id| id.len() == 32 && id.chars().all(|c| c.is_ascii_hexdigit()));
        if ours && made.is_some_and(|t| unix_now().saturating_sub(t) > 3600) {
            let _ = conn
                .execute(sqlx::AssertSqlSafe(format!(
                    "DROP DATABASE IF EXISTS \"{n}\" WITH (FORCE)"
                )))
                .await;
        }
    }
}

pub struct TestApp {
    pub router: Router,
    pub state: AppState,
    pub routes: Vec<RouteSpec>,
    pub pool: PgPool,
    /// A connection string for the database owner (a superuser), for tampering tests.
    pub owner_url: String,
    pub config: Arc<Config>,
}

/// A test that passed removes its database; a failed one (the thread is panicking) keeps it
/// for inspection, and a later run drops it after an hour. Only this test's own database is
/// ever dropped here.
impl Drop for TestApp {
    fn drop(&mut self) {
        if std::thread::panicking() {
            return;
        }
        let Some(name) = self.owner_url.rsplit('/').next().map(str::to_owned) else {
            return;
        };
        if !name.starts_with("haven_test_") {
            return;
        }
        // Its own thread and runtime: Drop cannot await, and the test's runtime is ending.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            rt.block_on(async {
                // With many tests running, the server may be at its connection limit for a
                // moment: try again briefly.
                for _ in 0..40 {
                    if let Ok(mut conn) =
                        PgConnection::connect(&format!("{}/postgres", server_url())).await
                        && conn
                            .execute(sqlx::AssertSqlSafe(format!(
                                "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
                            )))
                            .await
                            .is_ok()
                    {
                        return Some(());
                    }
                    tokio::time::sleep(std::time::Duration::from_millis(250)).await;
                }
                None
            })
        })
        .join();
    }
}

impl TestApp {
    pub async fn new() -> TestApp {
        Self::with_env(&[]).await
    }

    pub async fn with_env(extra: &[(&str, &str)]) -> TestApp {
        CLEANED.get_or_init(clean_old_databases).await;
        let name = test_db_name();
        let url = format!("{}/{name}", server_url());
        haven::db::ensure_database(&url).await.unwrap();
        haven::db::migrate(&url).await.unwrap();
        let mut env: HashMap<String, String> = HashMap::new();
        env.insert("DATABASE_URL".into(), url.clone());
        for (k, v) in extra {
            env.insert(k.to_string(), v.to_string());
        }
        let config = Config::from_lookup(|k| env.get(k).cloned()).unwrap();
        // The server's own login (haven_app), as in production: never the owner.
        let pool = haven::db::pool_for(
            config.app_database_url.expose(),
            5,
            std::time::Duration::from_secs(10),
        )
        .unwrap();
        let config = Arc::new(config);
        let state = AppState::new(pool.clone(), config.clone());
        let (router, routes) = router_with_table(state.clone());
        TestApp {
            router,
            state,
            routes,
            pool,
            owner_url: url,
            config,
        }
    }

    pub fn client(&self) -> Client {
        self.client_from("127.0.0.1")
    }

    /// A second instance of the server on the same database: its own pool and its own state,
    /// sharing nothing in memory with the first, as two processes behind a load balancer.
    pub fn second_instance(&self) -> (AppState, Router) {
        let pool = haven::db::pool_for(
            self.config.app_database_url.expose(),
            5,
            std::time::Duration::from_secs(10),
        )
        .unwrap();
        let state = AppState::new(pool, self.config.clone());
        let (router, _) = router_with_table(state.clone());
        (state, router)
    }

    /// A browser on another address (for throttling tests).
    pub fn client_from(&self, ip: &str) -> Client {
        Client {
            target: Target::Router(self.router.clone()),
            cookies: HashMap::new(),
            csrf: String::new(),
            addr: if ip.contains(':') {
                format!("[{ip}]:50000")
            } else {
                format!("{ip}:50000")
            }
            .parse()
            .unwrap(),
            origin: Some(self.config.public_origin()),
        }
    }

    /// Make an account (with a team) the way the `create-user` command does.
    pub async fn user(&self, role: &str, email: &str, team: &str) -> Uuid {
        haven::cli::create_user(
            &self.pool,
            &self.state.audit,
            email,
            &format!("Test {role} {}", &email[..3]),
            role,
            Some(team),
            PASSWORD,
        )
        .await
        .unwrap()
    }

    /// Give an account a working second factor and return its secret.
    pub async fn enrol_totp(&self, user_id: Uuid) -> String {
        let secret = haven::auth::totp::new_secret();
        let sealed = haven::auth::secret_box::seal(self.config.secret_key.expose(), &secret);
        sqlx::query("UPDATE users SET totp_secret = $2, totp_enabled_at = now() WHERE id = $1")
            .bind(user_id)
            .bind(&sealed)
            .execute(&self.pool)
            .await
            .unwrap();
        secret
    }

    /// A signed-in browser for a new account of `role` in team "Team A".
    pub async fn signed_in(&self, role: &str) -> (Client, Uuid) {
        self.signed_in_as(
            role,
            &format!(
                "{role}-{}@example.org",
                &Uuid::new_v4().simple().to_string()[..8]
            ),
            "Team A",
        )
        .await
    }

    pub async fn signed_in_as(&self, role: &str, email: &str, team: &str) -> (Client, Uuid) {
        let id = self.user(role, email, team).await;
        let secret = if matches!(role, "lado" | "admin") {
            Some(self.enrol_totp(id).await)
        } else {
            None
        };
        let mut c = self.client();
        c.sign_in(email, PASSWORD).await;
        if let Some(secret) = secret {
            let now = chrono::Utc::now().timestamp() as u64;
            let code = haven::auth::totp::code_at(&secret, now).unwrap();
            c.get("/sign-in/code").await;
            let r = c.post("/sign-in/code", &[("code", &code)]).await;
            assert_eq!(
                r.status,
                StatusCode::SEE_OTHER,
                "second factor failed: {}",
                r.body
            );
        }
        (c, id)
    }

    /// A superuser connection to the server's maintenance database (for ALTER DATABASE).
    pub async fn server(&self) -> PgConnection {
        PgConnection::connect(&format!("{}/postgres", server_url()))
            .await
            .unwrap()
    }

    pub async fn owner(&self) -> PgConnection {
        PgConnection::connect(&self.owner_url).await.unwrap()
    }

    /// The owner with triggers (and foreign keys) switched off: what a superuser can do.
    pub async fn superuser(&self) -> PgConnection {
        let mut owner = self.owner().await;
        owner
            .execute("SET session_replication_role = replica")
            .await
            .unwrap();
        owner
    }

    pub async fn count(&self, sql: &'static str) -> i64 {
        sqlx::query_scalar::<_, i64>(sql)
            .fetch_one(&self.pool)
            .await
            .unwrap()
    }

    /// A case's reference (`HVN-2026-000001`), as pages show it.
    pub async fn reference_of(&self, case: Uuid) -> String {
        sqlx::query_scalar("SELECT reference FROM cases WHERE id = $1")
            .bind(case)
            .fetch_one(&self.pool)
            .await
            .unwrap()
    }

    /// Seal every finished audit row. Sealing waits for the oldest writing transaction anywhere
    /// on the server (other tests' included), so try again briefly until nothing is left.
    pub async fn seal_everything(&self) {
        for _ in 0..500 {
            haven::audit::seal_all(&self.pool, &self.state.audit, 1000)
                .await
                .unwrap();
            let left = self
                .count(
                    "SELECT count(*) FROM audit_events e
                     WHERE NOT EXISTS (SELECT 1 FROM audit_seals s WHERE s.seq = e.seq)",
                )
                .await;
            if left == 0 {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        panic!("audit rows were still unsealed after 10 seconds");
    }

    /// Seal exactly `n` rows in all (in runs as small as needed), waiting for the horizon.
    pub async fn seal_exactly(&self, n: i64) {
        for _ in 0..500 {
            let done = self.count("SELECT count(*) FROM audit_seals").await;
            if done >= n {
                assert_eq!(done, n);
                return;
            }
            haven::audit::seal(&self.pool, &self.state.audit, n - done)
                .await
                .unwrap();
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        panic!("could not seal {n} audit rows in 10 seconds");
    }

    pub async fn audit_actions(&self) -> Vec<String> {
        sqlx::query_scalar("SELECT action FROM audit_events ORDER BY seq")
            .fetch_all(&self.pool)
            .await
            .unwrap()
    }
}

/// Where a [`Client`]'s requests go: an instance's router in this process, or a `haven serve`
/// process over HTTP on loopback.
#[derive(Clone)]
pub enum Target {
    Router(Router),
    Process(SocketAddr),
}

pub struct Client {
    target: Target,
    pub cookies: HashMap<String, String>,
    /// The CSRF token from the last page that had one.
    pub csrf: String,
    addr: SocketAddr,
    /// The Origin header sent with posts (None sends none).
    pub origin: Option<String>,
}

pub struct Res {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
    /// The body exactly as sent (for downloads).
    pub bytes: Vec<u8>,
}

impl Res {
    pub fn location(&self) -> &str {
        self.headers
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }
    pub fn select(&self, css: &str) -> Vec<String> {
        let doc = Html::parse_document(&self.body);
        let sel = Selector::parse(css).unwrap();
        doc.select(&sel)
            .map(|e| {
                e.text()
                    .collect::<String>()
                    .split_whitespace()
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect()
    }
    pub fn attr(&self, css: &str, attr: &str) -> Vec<String> {
        let doc = Html::parse_document(&self.body);
        let sel = Selector::parse(css).unwrap();
        doc.select(&sel)
            .filter_map(|e| e.value().attr(attr).map(str::to_owned))
            .collect()
    }
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }
    pub fn error_summary(&self) -> Vec<String> {
        self.select(".govuk-error-summary__list li")
    }
}

fn encode(fields: &[(&str, &str)]) -> String {
    fields
        .iter()
        .map(|(k, v)| {
            format!(
                "{}={}",
                percent_encoding::utf8_percent_encode(k, percent_encoding::NON_ALPHANUMERIC),
                percent_encoding::utf8_percent_encode(v, percent_encoding::NON_ALPHANUMERIC)
            )
        })
        .collect::<Vec<_>>()
        .join("&")
}

impl Client {
    pub async fn send(&mut self, method: Method, path: &str, body: Option<Vec<u8>>) -> Res {
        self.send_as(method, path, body, "application/x-www-form-urlencoded")
            .await
    }

    pub async fn send_as(
        &mut self,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
        content_type: &str,
    ) -> Res {
        let mut req = Request::builder().method(method.clone()).uri(path);
        let cookie = self
            .cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ");
        if !cookie.is_empty() {
            req = req.header(header::COOKIE, cookie);
        }
        if method == Method::POST {
            req = req.header(header::CONTENT_TYPE, content_type);
            if let Some(o) = &self.origin {
                req = req.header(header::ORIGIN, o);
            }
        }
        let mut req = req.body(Body::from(body.unwrap_or_default())).unwrap();
        let res = match &self.target {
            Target::Router(router) => {
                req.extensions_mut().insert(ConnectInfo(self.addr));
                router.clone().oneshot(req).await.unwrap()
            }
            Target::Process(to) => {
                // As a browser sends it to the public address (the process's own address is
                // the load balancer's business).
                let host = self.origin.as_deref().unwrap_or("http://127.0.0.1");
                let host = host.split("://").nth(1).unwrap_or(host).to_owned();
                req.headers_mut()
                    .insert(header::HOST, host.parse().unwrap());
                let stream = tokio::net::TcpStream::connect(to).await.unwrap();
                let (mut sender, conn) =
                    hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
                        .await
                        .unwrap();
                tokio::spawn(conn);
                sender.send_request(req).await.unwrap().map(Body::new)
            }
        };
        let status = res.status();
        let headers = res.headers().clone();
        for c in headers.get_all(header::SET_COOKIE) {
            let c = c.to_str().unwrap();
            let (pair, attrs) = c.split_once(';').unwrap_or((c, ""));
            let (k, v) = pair.split_once('=').unwrap();
            if attrs.contains("Max-Age=0") {
                self.cookies.remove(k);
            } else {
                self.cookies.insert(k.to_owned(), v.to_owned());
            }
        }
        let bytes = res.into_body().collect().await.unwrap().to_bytes();
        let body = String::from_utf8_lossy(&bytes).into_owned();
        let r = Res {
            status,
            headers,
            body,
            bytes: bytes.to_vec(),
        };
        if let Some(t) = r.attr("input[name=_csrf]", "value").into_iter().next() {
            self.csrf = t;
        }
        r
    }

    /// The same browser, its requests now routed to another instance (a load balancer's choice).
    pub fn on(&self, instance: &Router) -> Client {
        Client {
            target: Target::Router(instance.clone()),
            ..self.fork()
        }
    }

    /// The same browser, its requests now sent over HTTP to a `haven serve` process.
    pub fn on_process(&self, addr: SocketAddr) -> Client {
        Client {
            target: Target::Process(addr),
            ..self.fork()
        }
    }

    /// Another browser tab of the same session: the same cookies and form token.
    pub fn fork(&self) -> Client {
        Client {
            target: self.target.clone(),
            cookies: self.cookies.clone(),
            csrf: self.csrf.clone(),
            addr: self.addr,
            origin: self.origin.clone(),
        }
    }

    pub async fn head(&mut self, path: &str) -> Res {
        self.send(Method::HEAD, path, None).await
    }

    pub async fn get(&mut self, path: &str) -> Res {
        self.send(Method::GET, path, None).await
    }

    /// Post a form with the current CSRF token.
    pub async fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Res {
        let mut all: Vec<(&str, &str)> = vec![("_csrf", "")];
        let csrf = self.csrf.clone();
        all[0].1 = &csrf;
        all.extend_from_slice(fields);
        self.send(Method::POST, path, Some(encode(&all).into_bytes()))
            .await
    }

    /// Post a form with one file, as a browser does (multipart/form-data, the token first).
    pub async fn upload(
        &mut self,
        path: &str,
        fields: &[(&str, &str)],
        file_name: &str,
        file: &[u8],
    ) -> Res {
        let boundary = "----haven-test-7d3f1a";
        let mut body = Vec::new();
        let csrf = self.csrf.clone();
        for (k, v) in std::iter::once(&("_csrf", csrf.as_str())).chain(fields.iter()) {
            body.extend_from_slice(
                format!(
                    "--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n"
                )
                .as_bytes(),
            );
        }
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{file_name}\"\r\nContent-Type: application/pdf\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(file);
        body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        self.send_as(
            Method::POST,
            path,
            Some(body),
            &format!("multipart/form-data; boundary={boundary}"),
        )
        .await
    }

    /// Post raw bytes as the form body (for malformed input).
    pub async fn post_raw(&mut self, path: &str, raw: &[u8]) -> Res {
        let mut body = format!("_csrf={}&", self.csrf).into_bytes();
        body.extend_from_slice(raw);
        self.send(Method::POST, path, Some(body)).await
    }

    /// Get a page then follow one redirect (what a browser does after a post).
    pub async fn follow(&mut self, r: &Res) -> Res {
        assert!(
            r.status.is_redirection(),
            "expected a redirect, got {}: {}",
            r.status,
            &r.body[..r.body.len().min(500)]
        );
        let to = r.location().to_owned();
        self.get(&to).await
    }

    pub async fn sign_in(&mut self, email: &str, password: &str) -> Res {
        self.get("/sign-in").await;
        self.post("/sign-in", &[("email", email), ("password", password)])
            .await
    }
}

/// A set-password link for `user_id`, as a person would get one: an administrator asks for
/// it and a second administrator releases it. Returns the link's path.
pub async fn release_link(app: &TestApp, user_id: Uuid) -> String {
    let (mut asker, _) = app.signed_in("admin").await;
    let waiting: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM password_tokens WHERE user_id = $1 AND released_at IS NULL AND retired_at IS NULL",
    )
    .bind(user_id)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    if waiting == 0 {
        asker.get(&format!("/admin/users/{user_id}")).await;
        let r = asker
            .post(&format!("/admin/users/{user_id}/password-link"), &[])
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    }
    let (mut releaser, _) = app.signed_in("admin").await;
    releaser.get(&format!("/admin/users/{user_id}")).await;
    let r = releaser
        .post(
            &format!("/admin/users/{user_id}/password-link/release"),
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let link = r.select("#set-password-link")[0].clone();
    let path = link
        .trim_start_matches(app.config.public_origin().as_str())
        .to_owned();
    assert!(path.starts_with("/set-password/"), "{link}");
    path
}
