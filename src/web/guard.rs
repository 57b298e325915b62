//! The guard in front of every route: loads the session, applies the route's permission,
//! refuses cross-site posts and checks the CSRF token, and marks every routed page `no-store`.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};

use crate::app::{AppState, BODY_LIMIT};
use crate::audit::{self, Event};
use crate::auth::current::{self, LoadError, NoSession, RequestMeta};
use crate::auth::policy::{Decision, decide};
use crate::auth::{Permission, csrf};
use crate::error::AppError;

use super::form::FormData;

#[derive(Clone)]
pub struct GuardState {
    pub app: AppState,
    pub permission: Permission,
}

pub async fn guard(State(g): State<GuardState>, req: Request, next: Next) -> Response {
    match check(&g, req).await {
        Ok(req) => {
            // Every routed page is personal or carries a form token: never cache it anywhere.
            let mut res = next.run(req).await;
            res.headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            res
        }
        Err(res) => res,
    }
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
        match current::load(&g.app.pool, config, &parts.headers, &meta).await {
            Ok(u) => Some(u),
            Err(LoadError::NoSession(NoSession::Missing)) => None,
            Err(LoadError::NoSession(NoSession::Expired)) => {
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
            return Err(AppError::Forbidden.into_response());
        }
    }

    if let Some(u) = &user {
        tracing::Span::current().record("user_id", tracing::field::display(u.id));
    }

    let body = if is_post {
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

fn forbidden_post(why: &'static str) -> Response {
    tracing::warn!(reason = why, "refused a form post");
    crate::error::error_page(
        axum::http::StatusCode::FORBIDDEN,
        "Haven could not accept that form",
        "The form may have been open too long, or sent from another website. Go back, reload the page and try again.",
        None,
    )
}
