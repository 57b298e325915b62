//! `AppError`: how anything that goes wrong becomes an HTML page with the right status.
//! This is the only module that knows both sqlx and HTTP.

use askama::Template;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};

use crate::web::layout::Layout;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The record does not exist, or this person may not know that it does.
    #[error("not found")]
    NotFound,
    /// The person is signed in but their role may not do this.
    #[error("forbidden")]
    Forbidden,
    /// The request could not be read (not something a person types into a form).
    #[error("bad request: {0}")]
    BadRequest(&'static str),
    /// The request body is larger than Haven accepts.
    #[error("payload too large")]
    TooLarge,
    /// The database cannot be reached just now.
    #[error("service unavailable: {0}")]
    Unavailable(String),
    /// Someone else saved the record first (optimistic locking); nothing was saved.
    #[error("conflict")]
    Conflict,
    /// Too many password checks are running or waiting: come back in a few seconds.
    #[error("busy")]
    Busy,
    /// As many documents are moving as this instance allows at once.
    #[error("documents busy")]
    DocumentsBusy,
    /// A restricted record, and the person last gave their password more than 15 minutes ago:
    /// ask for it again, then come back to this local path.
    #[error("confirm it is you")]
    StepUp(String),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<sqlx::Error> for AppError {
    fn from(e: sqlx::Error) -> Self {
        match e {
            sqlx::Error::RowNotFound => AppError::NotFound,
            sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::Io(_)
            | sqlx::Error::Tls(_) => AppError::Unavailable(e.to_string()),
            sqlx::Error::Database(ref db) if is_unavailable_code(db.code().as_deref()) => {
                AppError::Unavailable(e.to_string())
            }
            sqlx::Error::Database(db) => {
                // PostgreSQL's `detail` can echo the failing row (names, narratives): log only the
                // code, the constraint and the message, never the detail.
                AppError::Internal(anyhow::anyhow!(
                    "database error {}: {} (constraint: {})",
                    db.code().as_deref().unwrap_or("?"),
                    db.message(),
                    db.constraint().unwrap_or("none")
                ))
            }
            other => AppError::Internal(anyhow::Error::new(other)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_map_to_the_right_page() {
        let err = sqlx::Error::Protocol("stand-in".into());
        assert!(matches!(AppError::from(err), AppError::Internal(_)));
        assert!(matches!(
            AppError::from(sqlx::Error::PoolTimedOut),
            AppError::Unavailable(_)
        ));
        assert!(matches!(
            AppError::from(sqlx::Error::RowNotFound),
            AppError::NotFound
        ));
        assert!(is_unavailable_code(Some("57P01")));
        assert!(is_unavailable_code(Some("08006")));
        assert!(!is_unavailable_code(Some("23505")));
        assert!(!is_unavailable_code(None));
    }
}

/// PostgreSQL errors that mean "not reachable just now": the server is shutting down or starting
/// up (57P..), the connection failed (08...), too many connections (53300), or the database is
/// not accepting connections (55000, e.g. during maintenance).
fn is_unavailable_code(code: Option<&str>) -> bool {
    matches!(code, Some(c) if c.starts_with("57P") || c.starts_with("08") || c == "53300" || c == "55000")
}

impl From<crate::auth::password::Busy> for AppError {
    fn from(_: crate::auth::password::Busy) -> Self {
        AppError::Busy
    }
}

impl From<askama::Error> for AppError {
    fn from(e: askama::Error) -> Self {
        AppError::Internal(anyhow::Error::new(e))
    }
}

#[derive(Template)]
#[template(path = "error.html")]
pub struct ErrorPage {
    pub layout: Layout,
    pub heading: &'static str,
    pub message: &'static str,
    pub error_id: Option<String>,
}

/// Marks a response made by [`error_page`], with what it said, so the guard can show it again
/// inside a signed-in person's navigation (with Sign out) instead of the bare frame.
#[derive(Clone, Copy, Debug)]
pub struct StandardError {
    pub heading: &'static str,
    pub message: &'static str,
}

/// The shared error page inside a signed-in person's frame: their navigation and Sign out.
pub fn error_page_for(
    user: &crate::auth::CurrentUser,
    status: StatusCode,
    e: StandardError,
) -> Response {
    let page = ErrorPage {
        layout: Layout::for_user(e.heading, user, crate::web::layout::Section::None),
        heading: e.heading,
        message: e.message,
        error_id: None,
    };
    let body = page.render().unwrap_or_else(|_| e.heading.to_owned());
    let mut res = (status, Html(body)).into_response();
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

/// Render the shared error page. Falls back to plain text if the template itself fails.
pub fn error_page(
    status: StatusCode,
    heading: &'static str,
    message: &'static str,
    error_id: Option<String>,
) -> Response {
    let standard = error_id.is_none();
    let page = ErrorPage {
        layout: Layout::bare(heading),
        heading,
        message,
        error_id,
    };
    let body = page.render().unwrap_or_else(|_| heading.to_owned());
    let mut res = (status, Html(body)).into_response();
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if standard {
        res.extensions_mut()
            .insert(StandardError { heading, message });
    }
    res
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        match self {
            AppError::NotFound => error_page(
                StatusCode::NOT_FOUND,
                "Page not found",
                "If you typed the web address, check it is correct. If you followed a link, the record may not exist or you may not have access to it.",
                None,
            ),
            AppError::Forbidden => error_page(
                StatusCode::FORBIDDEN,
                "You cannot use this page",
                "Your role does not include this part of Haven. If you think it should, ask your manager or an administrator.",
                None,
            ),
            AppError::BadRequest(why) => {
                tracing::info!(reason = why, "bad request");
                error_page(
                    StatusCode::BAD_REQUEST,
                    "Haven could not read that request",
                    "Go back, reload the page and try again.",
                    None,
                )
            }
            AppError::TooLarge => error_page(
                StatusCode::PAYLOAD_TOO_LARGE,
                "That was too much to send",
                "What you sent is larger than Haven accepts. Shorten it and try again.",
                None,
            ),
            AppError::Unavailable(detail) => {
                tracing::warn!(%detail, "database unavailable");
                let mut res = error_page(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "Haven is unavailable for a moment",
                    "Nothing you just sent has been saved. Wait a minute, then try again.",
                    None,
                );
                res.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from_static("30"));
                res
            }
            AppError::StepUp(back_to) => {
                let next = percent_encoding::utf8_percent_encode(
                    &back_to,
                    percent_encoding::NON_ALPHANUMERIC,
                );
                axum::response::Redirect::to(&format!("/account/confirm?next={next}"))
                    .into_response()
            }
            AppError::Conflict => error_page(
                StatusCode::CONFLICT,
                "Someone else changed this first",
                "Someone saved a change to this while you were working on it, so nothing you sent has been saved. Go back, reload the page to see their change, and make yours again if it is still needed.",
                None,
            ),
            AppError::Busy => {
                tracing::warn!("password checks are at capacity: turned a request away");
                let mut res = error_page(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "Haven is busy",
                    "Too many people are signing in at this moment. Nothing you sent has been saved. Wait a few seconds, then try again.",
                    None,
                );
                res.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
                res
            }
            AppError::DocumentsBusy => {
                tracing::warn!(
                    "document uploads and downloads are at capacity: turned a request away"
                );
                let mut res = error_page(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "Haven is busy",
                    "Haven is moving as many documents as it can at this moment, so this one was not taken and nothing has been saved. Wait a few seconds, go back and try again.",
                    None,
                );
                res.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
                res
            }
            AppError::Internal(e) => {
                let id = uuid::Uuid::new_v4().simple().to_string()[..8].to_owned();
                tracing::error!(error_id = %id, error = ?e, "internal error");
                internal_error_page(id)
            }
        }
    }
}

pub fn internal_error_page(id: String) -> Response {
    error_page(
        StatusCode::INTERNAL_SERVER_ERROR,
        "Sorry, something went wrong",
        "Nothing you just sent has been saved. Try again; if it happens again, tell your administrator the reference below.",
        Some(id),
    )
}

pub type AppResult<T> = Result<T, AppError>;
