//! The guard in front of every route: loads the session, applies the route's permission,
//! refuses cross-site posts and checks the CSRF token, and marks every routed page `no-store`.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};

use crate::app::{AppState, BODY_LIMIT, UPLOAD_DRAIN_LIMIT, UPLOAD_LIMIT};
use crate::audit::{self, Event};
use crate::auth::CurrentUser;
use crate::auth::current::{self, LoadError, NoSession, RequestMeta};
use crate::auth::policy::{Decision, decide};
use crate::auth::{Permission, csrf};
use crate::error::{AppError, StandardError};

use super::form::FormData;

#[derive(Clone)]
pub struct GuardState {
    pub app: AppState,
    pub permission: Permission,
    /// A route that takes a file (multipart): a larger body, read under the documents' limit.
    pub upload: bool,
    /// A POST that answers with a page when it succeeds: counted up front like a GET.
    pub answers_with_page: bool,
}

/// A file sent to an upload route, read by the guard (which also checked the form's token).
#[derive(Clone, Debug, Default)]
pub struct Upload {
    pub file_name: String,
    pub bytes: axum::body::Bytes,
    /// The body was larger than Haven reads: nothing in it was looked at, not even the token.
    pub too_large: bool,
    /// This request's turn under the documents' limit, held until the response is made.
    pub turn: Option<std::sync::Arc<tokio::sync::OwnedSemaphorePermit>>,
}

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Upload {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _state: &S,
    ) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Upload>()
            .cloned()
            .ok_or(AppError::BadRequest("no file"))
    }
}

/// Read a body up to `keep` bytes; past it, read on (throwing it away) up to `drain`, so the
/// browser gets the answer rather than a broken connection. `None`: too large.
async fn read_capped(
    body: Body,
    keep: usize,
    drain: usize,
) -> Result<Option<axum::body::Bytes>, Response> {
    use http_body_util::BodyExt;
    let mut body = body;
    let mut kept: Vec<u8> = Vec::new();
    let mut seen = 0usize;
    while let Some(frame) = body.frame().await {
        let frame =
            frame.map_err(|_| AppError::BadRequest("the upload was cut short").into_response())?;
        if let Ok(data) = frame.into_data() {
            seen += data.len();
            if seen > drain {
                return Err(AppError::TooLarge.into_response());
            }
            if seen <= keep {
                kept.extend_from_slice(&data);
            } else if !kept.is_empty() {
                kept = Vec::new();
            }
        }
    }
    Ok((seen <= keep).then(|| axum::body::Bytes::from(kept)))
}

/// The text fields and the one file of a multipart body (already read whole, under the cap).
async fn parse_multipart(
    content_type: &str,
    bytes: axum::body::Bytes,
) -> Result<(FormData, String, axum::body::Bytes), Response> {
    let bad = || AppError::BadRequest("not a form with a file").into_response();
    let boundary = multer::parse_boundary(content_type).map_err(|_| bad())?;
    let stream =
        futures_util::stream::once(std::future::ready(Ok::<_, std::convert::Infallible>(bytes)));
    let mut multipart = multer::Multipart::new(stream, boundary);
    let mut form = FormData::default();
    let mut file: Option<(String, axum::body::Bytes)> = None;
    while let Some(field) = multipart.next_field().await.map_err(|_| bad())? {
        let name = field.name().unwrap_or("").to_owned();
        match field.file_name().map(str::to_owned) {
            Some(file_name) if name == "file" && file.is_none() => {
                file = Some((file_name, field.bytes().await.map_err(|_| bad())?));
            }
            Some(_) => return Err(bad()),
            None => {
                let text = field.text().await.map_err(|_| bad())?;
                if text.len() > 20_000 {
                    return Err(bad());
                }
                form = form.with(&name, text);
            }
        }
    }
    let (file_name, bytes) = file.unwrap_or_default();
    Ok((form, file_name, bytes))
}

pub async fn guard(State(g): State<GuardState>, req: Request, next: Next) -> Response {
    match check(&g, req).await {
        Ok(req) => {
            let user = req.extensions().get::<CurrentUser>().cloned();
            let resent = req
                .extensions()
                .get::<FormData>()
                .is_some_and(|f| f.raw("_held") == "1");
            let path = req.uri().path().to_owned();
            // A request loaded without the navigation's counts (a form post) keeps its session
            // token, to count them if it draws a page after all.
            let uncounted_session = user
                .as_ref()
                .filter(|u| u.due_mine.is_none())
                .and_then(|_| {
                    current::cookie(req.headers(), current::session_cookie_name(&g.app.config))
                })
                .map(str::to_owned);
            // Every routed page is personal or carries a form token: never cache it anywhere.
            let mut res = next.run(req).await;
            // A held form sent again and accepted is no longer held.
            let location = res
                .headers()
                .get(header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            let accepted = res.status().is_success()
                || (res.status().is_redirection()
                    && !location.starts_with("/account/confirm")
                    && !location.starts_with("/sign-in"));
            if let (true, Some(u)) = (resent, &user)
                && accepted
                && let Err(e) = crate::db::held_forms::forget(&g.app.pool, u.id, Some(&path)).await
            {
                return AppError::from(e).into_response();
            }
            // An error page for a signed-in person keeps their navigation and Sign out.
            if let (Some(u), Some(e)) = (&user, res.extensions().get::<StandardError>().copied())
                && u.stage == crate::auth::current::Stage::Active
            {
                let headers = res.headers().clone();
                let status = res.status();
                res = crate::error::error_page_for(u, status, e);
                for (k, v) in headers.iter() {
                    if k != header::CONTENT_LENGTH
                        && k != header::CONTENT_TYPE
                        && k != header::CACHE_CONTROL
                    {
                        res.headers_mut().append(k.clone(), v.clone());
                    }
                }
            }
            if let Some(token) = uncounted_session {
                res = fill_counts(&g.app, &token, res).await;
            }
            res.headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            res
        }
        Err(res) => res,
    }
}

/// The largest page the guard reads back to fill in the navigation's counts; a larger one (none
/// is near it) goes out as it is, its markers unfilled (they are comments: nothing shows).
const PAGE_LIMIT: u64 = 8 * 1024 * 1024;

/// A form post is loaded without the navigation's counts, since it mostly ends in a redirect
/// that draws nothing. When it draws a page instead (the form again, with its errors, or an error
/// page), the page carries markers where the counts go: count them now, with one more statement,
/// and fill them in. Anything but HTML, and a page without markers, passes through untouched.
/// The handler's work is done and may be committed (a page of new recovery codes is shown only
/// once), so nothing here turns its page into an error: if the counts cannot be read, the page
/// goes out without them.
async fn fill_counts(app: &AppState, session_token: &str, res: Response) -> Response {
    use axum::body::HttpBody as _;
    let is_html = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("text/html"));
    let small = res
        .body()
        .size_hint()
        .upper()
        .is_some_and(|n| n <= PAGE_LIMIT);
    if !is_html || !small {
        return res;
    }
    let (mut parts, body) = res.into_parts();
    let bytes = match axum::body::to_bytes(body, PAGE_LIMIT as usize).await {
        Ok(bytes) => bytes,
        Err(e) => {
            return AppError::Internal(anyhow::anyhow!("reading back a page: {e}")).into_response();
        }
    };
    let (mine, team) = (
        super::layout::count_marker("mine"),
        super::layout::count_marker("team"),
    );
    let page = match std::str::from_utf8(&bytes) {
        Ok(page) if page.contains(&mine) || page.contains(&team) => page,
        _ => return Response::from_parts(parts, Body::from(bytes)),
    };
    let (due_mine, due_team) = match current::nav_counts(&app.hot, &app.config, session_token).await
    {
        Ok(counts) => counts.unwrap_or((0, 0)),
        Err(e) => {
            tracing::warn!(error = %e, "the navigation's counts could not be read for a page");
            (0, 0)
        }
    };
    let filled = page
        .replace(&mine, &super::layout::count_badge(due_mine))
        .replace(&team, &super::layout::count_badge(due_team));
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(filled))
}

async fn check(g: &GuardState, req: Request) -> Result<Request, Response> {
    let (mut parts, body) = req.into_parts();
    let meta = RequestMeta::from_parts(&parts, &g.app.config.trusted_proxies);
    let is_post = parts.method == Method::POST;
    let config = &g.app.config;

    if is_post && !csrf::same_origin(&parts.headers, &config.public_origin()) {
        return Err(forbidden_post("cross-site request"));
    }

    let user = if g.permission == Permission::Public {
        // Public pages (sign-in, set password, health checks) never use the session: no query.
        None
    } else {
        // A form post reads no navigation counts: most end in a redirect (`fill_counts`).
        let counts = !is_post || g.answers_with_page;
        match current::load(&g.app.hot, config, &parts.headers, &meta, counts).await {
            Ok(u) => Some(u),
            Err(LoadError::NoSession(NoSession::Missing)) => None,
            Err(LoadError::NoSession(NoSession::Expired(owner))) => {
                // A form sent after the session timed out is held for its sender (only when it
                // carries that session's own form token), so nothing typed is lost.
                if let (true, false, Some((user_id, token))) = (is_post, g.upload, owner) {
                    let bytes = axum::body::to_bytes(body, BODY_LIMIT)
                        .await
                        .map_err(|_| AppError::TooLarge.into_response())?;
                    let form = FormData::parse(&bytes);
                    let path = parts.uri.path();
                    if csrf::tokens_match(form.raw("_csrf"), &token)
                        && form.has_content()
                        && path.len() <= 300
                        && holds_forms(path)
                        && !form.pairs().iter().any(|(k, _)| is_secret_field(k))
                    {
                        let body = form.encoded_without(&["_csrf"]);
                        crate::db::held_forms::hold(&g.app.pool, user_id, path, &body)
                            .await
                            .map_err(|e| AppError::from(e).into_response())?;
                        return Err(Redirect::to("/sign-in?ended=1&held=1").into_response());
                    }
                }
                return Err(Redirect::to("/sign-in?ended=1").into_response());
            }
            Err(LoadError::Db(e)) => return Err(AppError::from(e).into_response()),
        }
    };

    match decide(g.permission, user.as_ref()) {
        Decision::Allow => {}
        Decision::SignIn(to) => return Err(Redirect::to(to).into_response()),
        Decision::Deny => {
            if let Some(u) = &user {
                let event = Event::new("access.denied", "route")
                    .entity(parts.uri.path().chars().take(200).collect::<String>())
                    .details(serde_json::json!({ "method": parts.method.as_str(), "role": u.role.code() }));
                if let Err(e) =
                    audit::record_alone(&g.app.pool, &g.app.audit, &u.actor(), event).await
                {
                    return Err(AppError::from(e).into_response());
                }
            }
            let res = AppError::Forbidden.into_response();
            return Err(
                match (&user, res.extensions().get::<StandardError>().copied()) {
                    (Some(u), Some(e)) if u.stage == current::Stage::Active => {
                        let page = crate::error::error_page_for(u, res.status(), e);
                        // A refused post was loaded without the navigation's counts.
                        match current::cookie(&parts.headers, current::session_cookie_name(config))
                        {
                            Some(token) if u.due_mine.is_none() => {
                                fill_counts(&g.app, token, page).await
                            }
                            _ => page,
                        }
                    }
                    _ => res,
                },
            );
        }
    }

    if let Some(u) = &user {
        tracing::Span::current().record("user_id", tracing::field::display(u.id));
    }

    let content_type = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let body = if is_post && g.upload && content_type.starts_with("multipart/form-data") {
        let turn = g
            .app
            .documents
            .clone()
            .try_acquire_owned()
            .map_err(|_| AppError::DocumentsBusy.into_response())?;
        let expected = user
            .as_ref()
            .map(|u| u.csrf_token.clone())
            .unwrap_or_default();
        match read_capped(body, UPLOAD_LIMIT, UPLOAD_DRAIN_LIMIT).await? {
            None => {
                parts.extensions.insert(FormData::default());
                parts.extensions.insert(Upload {
                    too_large: true,
                    turn: Some(std::sync::Arc::new(turn)),
                    ..Upload::default()
                });
            }
            Some(bytes) => {
                let (form, file_name, bytes) = parse_multipart(&content_type, bytes).await?;
                if !csrf::tokens_match(form.raw("_csrf"), &expected) {
                    return Err(forbidden_post("missing or wrong CSRF token"));
                }
                parts.extensions.insert(form);
                parts.extensions.insert(Upload {
                    file_name,
                    bytes,
                    too_large: false,
                    turn: Some(std::sync::Arc::new(turn)),
                });
            }
        }
        Body::empty()
    } else if is_post {
        let bytes = axum::body::to_bytes(body, BODY_LIMIT)
            .await
            .map_err(|_| AppError::TooLarge.into_response())?;
        let form = FormData::parse(&bytes);
        let expected = match &user {
            Some(u) => u.csrf_token.clone(),
            // Public forms (sign-in, set password) use a double-submit cookie, which must hold
            // a token Haven signed: a made-up cookie and field that match are still refused.
            _ => current::cookie(&parts.headers, current::pre_session_cookie_name(config))
                .filter(|t| {
                    csrf::pre_session_token_valid(
                        config.secret_key.expose(),
                        t,
                        chrono::Utc::now().timestamp(),
                    )
                })
                .unwrap_or("")
                .to_owned(),
        };
        if !csrf::tokens_match(form.raw("_csrf"), &expected) {
            return Err(forbidden_post("missing or wrong CSRF token"));
        }
        parts.extensions.insert(form);
        Body::from(bytes)
    } else {
        body
    };

    parts.extensions.insert(meta);
    if let Some(u) = user {
        parts.extensions.insert(u);
    }
    Ok(Request::from_parts(parts, body))
}

/// Casework forms are held when the session ends under them; account, sign-in and admin forms
/// (passwords, codes, role changes) never are.
fn holds_forms(path: &str) -> bool {
    ["/cases/", "/referrals/", "/lado/"]
        .iter()
        .any(|p| path.starts_with(p))
}

fn is_secret_field(name: &str) -> bool {
    ["password", "code", "current", "confirm", "totp", "secret"]
        .iter()
        .any(|s| name.contains(s))
}

fn forbidden_post(why: &'static str) -> Response {
    tracing::warn!(reason = why, "refused a form post");
    crate::error::error_page(
        axum::http::StatusCode::FORBIDDEN,
        "Haven could not accept that form",
        "The form may have been open too long, or sent from another website. Go back, reload the page and try again.",
        None,
    )
}
