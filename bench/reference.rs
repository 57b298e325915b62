//! The benchmark's reference page: the limit of Haven's own stack on this machine. One axum
//! route, one indexed query through a pool built exactly as Haven builds its own
//! (`haven::db::pool_for`), one askama template. `bench/run.sh` measures Haven's pages against it
//! in the same run, so the ratio says how close Haven comes to what its stack can do.
//!
//!   BENCH_REFERENCE_DATABASE_URL=postgres://haven_app@127.0.0.1:5432/haven_scale \
//!   BENCH_REFERENCE_LISTEN=127.0.0.1:8181 cargo run --release --example bench-reference
//!
//! `GET /cases/{id}` shows one case's reference, title, status and date received.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use chrono::{DateTime, Utc};
use sqlx::PgPool;
use uuid::Uuid;

#[derive(Template)]
#[template(
    ext = "html",
    source = r#"<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>{{ title }} – {{ reference }}</title></head>
<body>
<main>
<span class="govuk-caption-l">{{ reference }}</span>
<h1>{{ title }}</h1>
<dl><dt>Status</dt><dd>{{ status }}</dd><dt>Received</dt><dd>{{ received }}</dd></dl>
</main>
</body>
</html>"#
)]
struct CasePage {
    reference: String,
    title: String,
    status: String,
    received: String,
}

/// reference, title, status, received
type CaseFields = (String, String, String, DateTime<Utc>);

async fn case(State(pool): State<PgPool>, Path(id): Path<Uuid>) -> Response {
    let row: sqlx::Result<Option<CaseFields>> =
        sqlx::query_as("SELECT reference, title, status, received_at FROM cases WHERE id = $1")
            .bind(id)
            .fetch_optional(&pool)
            .await;
    match row {
        Ok(Some((reference, title, status, received))) => {
            let page = CasePage {
                reference,
                title,
                status,
                received: received.format("%-d %B %Y %H:%M").to_string(),
            };
            match page.render() {
                Ok(html) => Html(html).into_response(),
                Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
            }
        }
        Ok(None) => StatusCode::NOT_FOUND.into_response(),
        Err(_) => StatusCode::SERVICE_UNAVAILABLE.into_response(),
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let url = std::env::var("BENCH_REFERENCE_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://haven_app@127.0.0.1:5432/haven_scale".to_owned());
    let listen =
        std::env::var("BENCH_REFERENCE_LISTEN").unwrap_or_else(|_| "127.0.0.1:8181".to_owned());
    let max: u32 = std::env::var("HAVEN_DB_MAX_CONNECTIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10);
    // Its one statement's plan never depends on its value: kept, as Haven keeps the session's
    // and the case page's (`Plans::Reused`).
    let pool = haven::db::pool_planning(
        &url,
        max,
        std::time::Duration::from_secs(5),
        haven::db::Plans::Reused,
    )?;
    let app = axum::Router::new()
        .route("/cases/{id}", axum::routing::get(case))
        .with_state(pool);
    let listener = tokio::net::TcpListener::bind(&listen).await?;
    eprintln!("bench-reference listening on {listen}");
    axum::serve(listener, app).await?;
    Ok(())
}
