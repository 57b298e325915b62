//! The application: shared state, the router with its tower layers, and serving with graceful shutdown.

use std::sync::Arc;

use axum::Router;
use axum::http::{HeaderValue, Request, header};
use axum::response::Response;
use sqlx::PgPool;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::services::ServeDir;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::config::Config;
use crate::web;

/// What every handler can reach. Nothing here is per-person or changes after start-up, so
/// several instances behind one load balancer behave as one. (The password gate is a limit on
/// this process's own memory and cores, not shared state: each instance has its own.)
#[derive(Clone)]
pub struct AppState {
    pub pool: PgPool,
    pub config: Arc<Config>,
    pub hash_gate: Arc<crate::auth::password::Gate>,
    /// Connections that keep one generic plan a statement, for the statements every page runs
    /// and the hottest pages': the session's, the case page's, the dashboards', a note's and name
    /// search's (`db::Plans::Reused`; everything else uses `pool`).
    pub hot: PgPool,
    /// The audit trail's keys (derived from `HAVEN_SECRET_KEY`; never in the database).
    pub audit: crate::audit::ChainKey,
    /// Turns for document uploads and downloads (this instance's memory, like the hash gate).
    pub documents: Arc<tokio::sync::Semaphore>,
    /// The calendar this instance last read, with the version it was read at: a copy, checked
    /// against the version the session's statement reads on every request
    /// (`web::procedure::page_calendar`), never the only record of anything.
    pub calendar: Arc<std::sync::RwLock<Option<HeldCalendar>>>,
}

/// A calendar with the version (`calendar_version`) it was read at.
pub type HeldCalendar = (uuid::Uuid, Arc<crate::domain::calendar::Calendar>);

impl AppState {
    pub fn new(pool: PgPool, config: Arc<Config>) -> AppState {
        let gate = crate::auth::password::Gate::new(
            config.hash_workers,
            config.hash_queue,
            std::time::Duration::from_secs(10),
        );
        let hot = crate::db::pool_planning(
            config.app_database_url.expose(),
            config.db_max_connections,
            config.db_acquire_timeout,
            crate::db::Plans::Reused,
        )
        .expect("the app's database URL was parsed when the configuration was read");
        AppState {
            audit: crate::audit::ChainKey::from_secret(config.secret_key.expose()),
            documents: Arc::new(tokio::sync::Semaphore::new(config.document_workers)),
            calendar: Arc::default(),
            pool,
            hot,
            config,
            hash_gate: Arc::new(gate),
        }
    }
}

/// The largest request body accepted for a form.
pub const BODY_LIMIT: usize = 2 * 1024 * 1024;
/// The largest upload body read (a 10 MB document, the form's fields and the multipart framing).
/// A larger one is read on to [`UPLOAD_DRAIN_LIMIT`] and thrown away, so the form can say why;
/// beyond that the connection is refused with 413.
pub const UPLOAD_LIMIT: usize = crate::domain::documents::MAX_BYTES + 256 * 1024;
pub const UPLOAD_DRAIN_LIMIT: usize = 64 * 1024 * 1024;

pub fn router(state: AppState) -> Router {
    router_with_table(state).0
}

/// The router and the table of routes with their permissions (the tests walk the table).
pub fn router_with_table(state: AppState) -> (Router, Vec<web::RouteSpec>) {
    let (app, table) = web::routes(state.clone());
    // Static files as a CDN would serve them: the Brotli or gzip copy made at build time when
    // the browser takes it, an entity tag (ServeDir's: the file's size and modification time, so
    // each precompressed copy has its own) and Last-Modified for revalidation, and addresses that
    // carry the file's content hash (`?v=`, see `asset`) cached for a year as immutable.
    let statics = Router::new()
        .nest_service(
            "/static",
            ServeDir::new(static_dir())
                .precompressed_br()
                .precompressed_gzip(),
        )
        .layer(axum::middleware::from_fn(static_cache_control));
    let router = app.merge(statics).fallback(web::not_found);
    (with_standard_layers(router, &state.config), table)
}

/// The layers every response passes through: tracing, security headers, the request timeout and
/// the panic catcher. Public so tests can wrap a router of their own (e.g. with a panicking route).
pub fn with_standard_layers(router: Router, config: &Arc<Config>) -> Router {
    router
        .layer(CatchPanicLayer::custom(panic_page))
        .layer(TimeoutLayer::with_status_code(
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            config.request_timeout,
        ))
        // Outside the panic and timeout layers, so their pages carry the headers too.
        .layer(axum::middleware::from_fn_with_state(
            config.clone(),
            web::headers::security_headers,
        ))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|req: &Request<_>| {
                    let route = req
                        .extensions()
                        .get::<axum::extract::MatchedPath>()
                        .map(|p| p.as_str().to_owned())
                        .unwrap_or_else(|| "unmatched".to_owned());
                    let request_id = req
                        .headers()
                        .get("x-request-id")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("")
                        .to_owned();
                    tracing::info_span!(
                        "request",
                        method = %req.method(),
                        route = %route,
                        request_id = %request_id,
                        user_id = tracing::field::Empty
                    )
                })
                // One line per request at `info`: its status and latency, in the request's span.
                .on_response(
                    tower_http::trace::DefaultOnResponse::new()
                        .level(tracing::Level::INFO)
                        .latency_unit(tower_http::LatencyUnit::Millis),
                ),
        )
        // Every request gets an id (or keeps the load balancer's), echoed on the response, so a
        // person's report and the log lines of that request can be matched up.
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
        // Outermost: an id from outside is kept only if it looks like one, so nobody can push
        // kilobytes (or log-forging text) into every log line and back out in the response.
        .layer(axum::middleware::from_fn(drop_unusable_request_id))
}

/// True for a request id worth keeping: 1 to 64 letters, digits, `.`, `_`, `:` or `-`.
pub fn usable_request_id(id: &[u8]) -> bool {
    (1..=64).contains(&id.len())
        && id
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'))
}

async fn drop_unusable_request_id(
    mut req: Request<axum::body::Body>,
    next: axum::middleware::Next,
) -> Response {
    let ids = req.headers().get_all("x-request-id");
    let keep = ids.iter().count() == 1 && ids.iter().all(|v| usable_request_id(v.as_bytes()));
    if !keep {
        req.headers_mut().remove("x-request-id");
    }
    next.run(req).await
}

async fn static_cache_control(
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let versioned = req
        .uri()
        .query()
        .and_then(|q| q.strip_prefix("v="))
        .zip(asset_version(
            req.uri().path().trim_start_matches("/static/"),
        ))
        .is_some_and(|(asked, current)| asked == current);
    let mut res = next.run(req).await;
    let value = if versioned && res.status().is_success() {
        "public, max-age=31536000, immutable"
    } else {
        "public, max-age=3600"
    };
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static(value));
    res
}

/// The files pages link to with their content hash.
const VERSIONED: [&str; 2] = ["haven.css", "haven.js"];

fn asset_versions() -> &'static std::collections::HashMap<&'static str, String> {
    static VERSIONS: std::sync::OnceLock<std::collections::HashMap<&'static str, String>> =
        std::sync::OnceLock::new();
    VERSIONS.get_or_init(|| {
        use sha2::Digest;
        VERSIONED
            .iter()
            .map(|name| {
                let body = std::fs::read(static_dir().join(name)).unwrap_or_default();
                let hash = sha2::Sha256::digest(&body);
                let hex: String = hash[..6].iter().map(|b| format!("{b:02x}")).collect();
                (*name, hex)
            })
            .collect()
    })
}

fn asset_version(name: &str) -> Option<&'static str> {
    asset_versions().get(name).map(String::as_str)
}

/// A static file's address with its content hash, for the page frame.
pub fn asset(name: &'static str) -> String {
    match asset_version(name) {
        Some(v) => format!("/static/{name}?v={v}"),
        None => format!("/static/{name}"),
    }
}

fn static_dir() -> std::path::PathBuf {
    std::env::var_os("HAVEN_STATIC_DIR")
        .map(Into::into)
        .unwrap_or_else(|| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("static"))
}

fn panic_page(_err: Box<dyn std::any::Any + Send + 'static>) -> Response {
    let id = uuid::Uuid::new_v4().simple().to_string()[..8].to_owned();
    tracing::error!(error_id = %id, "a handler panicked");
    crate::error::internal_error_page(id)
}

/// Serve until SIGTERM or Ctrl-C, then finish the requests in flight.
pub async fn serve(state: AppState) -> anyhow::Result<()> {
    let listen = state.config.listen;
    if !state.config.is_https() {
        tracing::warn!(
            public_url = %state.config.public_url,
            "HAVEN_PUBLIC_URL is plain http: cookies are not marked Secure and HSTS is off. Use this only on your own machine."
        );
    }
    if state.config.secret_key_is_development {
        tracing::warn!(
            "HAVEN_SECRET_KEY is not set: using the public development key. Set it before real use."
        );
    }
    let listener = tokio::net::TcpListener::bind(listen).await?;
    tracing::info!(%listen, public_url = %state.config.public_url, "Haven is listening");
    let anchoring = tokio::spawn(keep_anchoring(state.clone()));
    let sweeping = tokio::spawn(keep_sweeping(state.clone()));
    let sealing = tokio::spawn(keep_sealing(state.clone()));
    serve_on(listener, state.clone(), shutdown_signal()).await;
    anchoring.abort();
    sweeping.abort();
    sealing.abort();
    if let Err(e) = crate::audit::seal_all(&state.pool, &state.audit, SEAL_BATCH).await {
        tracing::warn!(error = %e, "could not seal the audit trail on the way out");
    }
    write_anchor(&state, None).await;
    tracing::info!("Haven has stopped");
    Ok(())
}

/// Accept connections on `listener` until `shutdown` completes, then let the requests in flight
/// finish (for up to 30 seconds).
///
/// The server itself defends against slow and idle clients, whatever sits in front of it:
/// a client must send a request's headers within `HAVEN_HEADER_TIMEOUT_SECONDS`, and a kept-alive
/// connection idle for that long is closed (hyper's header-read timer also runs while waiting
/// for the next request); at most `HAVEN_MAX_CONNECTIONS` connections are open at once, and any
/// more are closed as soon as they are accepted, so file descriptors are never exhausted and the
/// health checks keep answering. Slow bodies and slow handlers meet the request timeout.
pub async fn serve_on(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()>,
) {
    use hyper_util::rt::{TokioIo, TokioTimer};
    let config = state.config.clone();
    let router = router(state);
    let open = Arc::new(tokio::sync::Semaphore::new(config.max_connections));
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(config.header_timeout)
        .max_buf_size(64 * 1024);
    let mut last_refusal_logged: Option<std::time::Instant> = None;
    let mut refused = 0u64;
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors or similar: wait a moment rather than spin.
                    tracing::warn!(error = %e, "could not accept a connection");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        let Ok(permit) = open.clone().try_acquire_owned() else {
            drop(stream);
            refused += 1;
            if last_refusal_logged.is_none_or(|t| t.elapsed().as_secs() >= 10) {
                tracing::warn!(
                    refused,
                    limit = config.max_connections,
                    "connection limit reached: closing new connections"
                );
                last_refusal_logged = Some(std::time::Instant::now());
                refused = 0;
            }
            continue;
        };
        let _ = stream.set_nodelay(true);
        let router = router.clone();
        let service = hyper::service::service_fn(move |mut req: Request<hyper::body::Incoming>| {
            req.extensions_mut()
                .insert(axum::extract::ConnectInfo(peer));
            tower::ServiceExt::oneshot(router.clone(), req.map(axum::body::Body::new))
        });
        let connection = graceful.watch(http.serve_connection(TokioIo::new(stream), service));
        tokio::spawn(async move {
            let _ = connection.await;
            drop(permit);
        });
    }
    drop(listener);
    tracing::info!("shutting down: finishing requests in flight");
    tokio::select! {
        _ = graceful.shutdown() => {}
        _ = tokio::time::sleep(std::time::Duration::from_secs(30)) => {
            tracing::warn!("requests still running after 30 seconds: stopping anyway");
        }
    }
}

/// Every 30 seconds, record the LADO's same-day steps that have fallen due undone as breaches,
/// fold the timeliness changes into the kept figures and purge expired held forms.
/// Each instance behind a load balancer runs it; the breach's key makes repeats harmless.
async fn keep_sweeping(state: AppState) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(30));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        match crate::db::allegations::sweep_breaches(&state.pool, state.config.clock.now()).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(breaches = n, "same-day steps fell due undone"),
            Err(e) => tracing::warn!(error = %e, "could not sweep for breaches"),
        }
        // Timeliness changes into the kept figures (one instance at a time; the rest skip).
        if let Err(e) = crate::db::deadlines::fold_timeliness(&state.pool).await {
            tracing::warn!(error = %e, "could not fold the timeliness figures");
        }
        // Forms held for people whose session ended are kept an hour, never longer.
        if let Err(e) = crate::db::held_forms::purge_expired(&state.pool).await {
            tracing::warn!(error = %e, "could not purge expired held forms");
        }
    }
}

/// How often an instance tries to seal the audit trail, and the most rows one run seals.
const SEAL_EVERY: std::time::Duration = std::time::Duration::from_millis(250);
const SEAL_BATCH: i64 = 5_000;

/// Four times a second, seal the audit rows of finished transactions into the chain. Every
/// instance runs it; the sealer's advisory lock lets one at a time do the work, and a run that
/// finds the lock taken returns at once (docs/decisions/012).
async fn keep_sealing(state: AppState) {
    let mut tick = tokio::time::interval(SEAL_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if let Err(e) = crate::audit::seal_all(&state.pool, &state.audit, SEAL_BATCH).await {
            tracing::warn!(error = %e, "could not seal the audit trail");
        }
    }
}

/// Every `HAVEN_AUDIT_ANCHOR_MINUTES`, append a signed anchor of the audit chain's head to the
/// anchor file when it has moved.
async fn keep_anchoring(state: AppState) {
    let mut last = None;
    let mut tick = tokio::time::interval(state.config.audit_anchor_interval);
    loop {
        tick.tick().await;
        last = write_anchor(&state, last).await.or(last);
    }
}

/// Write an anchor unless the head is still at `unless_seq`; returns the anchored sequence.
async fn write_anchor(state: &AppState, unless_seq: Option<i64>) -> Option<i64> {
    let path = state.config.audit_anchor_file.as_deref()?;
    let anchor = match crate::audit::current_anchor(&state.pool).await {
        Ok(a) => a,
        Err(e) => {
            tracing::warn!(error = %e, "could not read the audit chain head for an anchor");
            return None;
        }
    };
    if unless_seq == Some(anchor.seq) || anchor.seq == 0 {
        return Some(anchor.seq);
    }
    match crate::audit::append_anchor(path, &state.audit, &anchor) {
        Ok(()) => {
            tracing::info!(seq = anchor.seq, file = %path.display(), "audit chain anchored");
            Some(anchor.seq)
        }
        Err(e) => {
            tracing::error!(error = %e, file = %path.display(), "could not write an audit anchor");
            None
        }
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
