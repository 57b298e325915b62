//! The application: shared state, the router with its tower layers, and serving with graceful shutdown.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::http::{HeaderValue, Request, header};
use axum::response::Response;
use sqlx::PgPool;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::services::ServeDir;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::config::Config;
use crate::web;

/// What every handler can reach. Nothing here is per-person or changes after start-up, so
/// several instances behind one load balancer behave as one.
#[derive(Clone)]
pub struct AppState {
    pub pool: PgPool,
    pub config: Arc<Config>,
}

/// The largest request body accepted (forms only; there are no uploads yet).
pub const BODY_LIMIT: usize = 2 * 1024 * 1024;

pub fn router(state: AppState) -> Router {
    router_with_table(state).0
}

/// The router and the table of routes with their permissions (the tests walk the table).
pub fn router_with_table(state: AppState) -> (Router, Vec<web::RouteSpec>) {
    let (app, table) = web::routes(state.clone());
    let statics = Router::new().nest_service(
        "/static",
        tower::ServiceBuilder::new()
            .layer(SetResponseHeaderLayer::overriding(
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=3600"),
            ))
            .service(ServeDir::new(static_dir())),
    );
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
            TraceLayer::new_for_http().make_span_with(|req: &Request<_>| {
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
            }),
        )
        // Every request gets an id (or keeps the load balancer's), echoed on the response, so a
        // person's report and the log lines of that request can be matched up.
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
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
    axum::serve(
        listener,
        router(state).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown_signal())
    .await?;
    tracing::info!("Haven has stopped");
    Ok(())
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
    tracing::info!("shutting down: finishing requests in flight");
}
