//! Signing in with a password (the second step is in `second_factor`), signing out, and
//! choosing a password from a one-time link.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;

use crate::app::AppState;
use crate::audit::{self, Actor, Event};
use crate::auth::current::{self, Stage, pre_session_cookie_name, session_cookie_name, set_cookie};
use crate::auth::password;
use crate::auth::{CurrentUser, RequestMeta, csrf, secret_box, throttle, token, totp};
use crate::db;
use crate::db::notices::NoticeKind;
use crate::domain::{self, Email};
use crate::error::AppResult;

use super::form::{Errors, FormData};
use super::layout::Layout;

const SIGN_IN_FAILED: &str = "Enter a correct email address and password";
const THROTTLED: &str = "Too many attempts to sign in. Wait 15 minutes, then try again";

#[derive(Template)]
#[template(path = "auth/sign_in.html")]
struct SignInPage {
    layout: Layout,
    errors: Errors,
    email: String,
    notice: &'static str,
}

#[derive(Deserialize)]
pub struct SignInQuery {
    ended: Option<String>,
    held: Option<String>,
    password_set: Option<String>,
    signed_out: Option<String>,
}

/// The token for public forms, kept in a cookie (double-submit); made if the browser has none
/// that Haven signed and that is still fresh.
fn pre_session_token(state: &AppState, headers: &HeaderMap) -> (String, Option<String>) {
    let name = pre_session_cookie_name(&state.config);
    let key = state.config.secret_key.expose();
    let now = chrono::Utc::now().timestamp();
    match current::cookie(headers, name) {
        Some(t) if csrf::pre_session_token_valid(key, t, now) => (t.to_owned(), None),
        _ => {
            let t = csrf::new_pre_session_token(key, now);
            let c = set_cookie(
                &state.config,
                name,
                &t,
                Some(csrf::PRE_SESSION_TOKEN_SECONDS),
            );
            (t, Some(c))
        }
    }
}

fn render_sign_in(
    state: &AppState,
    headers: &HeaderMap,
    status: StatusCode,
    errors: Errors,
    email: String,
    notice: &'static str,
) -> AppResult<Response> {
    let (csrf, set) = pre_session_token(state, headers);
    let mut layout = Layout::bare("Sign in").with_errors(&errors);
    layout.csrf = csrf;
    let html = SignInPage {
        layout,
        errors,
        email,
        notice,
    }
    .render()?;
    let res = (status, Html(html)).into_response();
    Ok(match set {
        Some(c) => with_cookie(res, &c),
        None => res,
    })
}

pub async fn show(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<SignInQuery>,
) -> AppResult<Response> {
    let notice = if q.ended.is_some() && q.held.is_some() {
        "Your session ended before your form was saved. What you typed is kept for an hour: sign in again to check it and send it."
    } else if q.ended.is_some() {
        "Your session ended. Sign in again to carry on."
    } else if q.password_set.is_some() {
        "Your password has been set. You can now sign in."
    } else if q.signed_out.is_some() {
        "You have signed out."
    } else {
        ""
    };
    render_sign_in(
        &state,
        &headers,
        StatusCode::OK,
        Errors::default(),
        String::new(),
        notice,
    )
}

pub async fn submit(
    State(state): State<AppState>,
    headers: HeaderMap,
    meta: RequestMeta,
    form: FormData,
) -> AppResult<Response> {
    form.only(&["email", "password"])?;
    let typed_email: String = form.raw("email").trim().chars().take(254).collect();
    let typed_password = form.raw("password").to_owned();
    let address = throttle::address_key(meta.ip.as_deref());
    let key = throttle::account_key(&typed_email);
    let fail = |message: &'static str| {
        let mut errors = Errors::default();
        errors.add("email", message);
        errors
    };

    if typed_email.is_empty()
        || typed_password.is_empty()
        || typed_password.chars().count() > domain::password::MAX_CHARS
    {
        return render_sign_in(
            &state,
            &headers,
            StatusCode::UNPROCESSABLE_ENTITY,
            fail(SIGN_IN_FAILED),
            typed_email,
            "",
        );
    }
    // Counted before the password is looked at, atomically: parallel guesses cannot slip past.
    let Some(attempt) = throttle::reserve(&state.pool, &key, &address).await? else {
        let actor = Actor {
            user_id: None,
            ip: meta.ip.clone(),
        };
        audit::record_alone(
            &state.pool,
            &state.audit,
            &actor,
            Event::new("auth.sign_in_throttled", "account"),
        )
        .await?;
        return render_sign_in(
            &state,
            &headers,
            StatusCode::TOO_MANY_REQUESTS,
            fail(THROTTLED),
            typed_email,
            "",
        );
    };

    let user = match Email::parse(&typed_email) {
        Ok(email) => db::users::find_by_email(&state.pool, email.as_str()).await?,
        Err(_) => None,
    };
    // Always run one Argon2 verification, through the same gate, so unknown accounts take as
    // long as wrong passwords and cost the same bounded memory.
    let stored = user
        .as_ref()
        .filter(|u| u.disabled_at.is_none())
        .and_then(|u| u.password_hash.clone())
        .unwrap_or_else(|| password::dummy_hash().to_owned());
    let password_ok = match state
        .hash_gate
        .verify(stored.clone(), typed_password.clone())
        .await
    {
        Ok(ok) => ok,
        Err(busy) => {
            // Nothing was checked, so the attempt is not held against the account.
            throttle::forget(&state.pool, attempt).await?;
            return Err(busy.into());
        }
    };
    let user = match user {
        Some(u) if password_ok && u.disabled_at.is_none() && u.password_hash.is_some() => u,
        other => {
            // The reserved attempt stays as the failure.
            let actor = Actor {
                user_id: other.as_ref().map(|u| u.id),
                ip: meta.ip.clone(),
            };
            audit::record_alone(
                &state.pool,
                &state.audit,
                &actor,
                Event::new("auth.sign_in_failed", "account"),
            )
            .await?;
            return render_sign_in(
                &state,
                &headers,
                StatusCode::UNPROCESSABLE_ENTITY,
                fail(SIGN_IN_FAILED),
                typed_email,
                "",
            );
        }
    };

    if password::needs_rehash(&stored) {
        // A stronger hash is worth having but never worth turning someone away: skip when busy.
        if let Ok(new_hash) = state.hash_gate.hash(typed_password).await {
            db::users::set_password_hash(&state.pool, user.id, &new_hash?).await?;
        }
    }

    let stage = if user.totp_enabled() && !user.must_enrol_second_factor {
        Stage::SecondFactor
    } else if user.role().requires_second_factor() || user.must_enrol_second_factor {
        Stage::Enrol
    } else {
        Stage::Active
    };
    // Someone who must set up a second factor gets their new key now, on the session, so the
    // set-up page only has to show it (no GET ever changes anything).
    let pending = (stage == Stage::Enrol)
        .then(|| secret_box::seal(state.config.secret_key.expose(), &totp::new_secret()));
    let session_token = token::new_token();
    let csrf = token::new_token();
    let absolute = chrono::Duration::from_std(state.config.session_absolute_timeout)
        .map_err(anyhow::Error::new)?;
    let mut tx = state.pool.begin().await?;
    // Rotation: whatever session this browser had before ends now.
    if let Some(old) = current::cookie(&headers, session_cookie_name(&state.config))
        && let Some(s) =
            db::sessions::find_live(&mut *tx, &token::digest(old), chrono::Utc::now(), false)
                .await?
    {
        db::sessions::end(&mut *tx, s.session_id, "replaced_at_sign_in").await?;
    }
    let session_id = db::sessions::create(
        &mut *tx,
        db::sessions::NewSession {
            user_id: user.id,
            token_hash: &token::digest(&session_token),
            csrf_token: &csrf,
            stage: stage.code(),
            ip: meta.ip.as_deref(),
            user_agent: meta.user_agent.as_deref(),
            absolute,
            pending_totp_secret: pending.as_deref(),
        },
    )
    .await?;
    throttle::forgive(&mut *tx, attempt, &key, &address).await?;
    let action = if stage == Stage::Active {
        "auth.sign_in"
    } else {
        "auth.password_accepted"
    };
    let actor = Actor {
        user_id: Some(user.id),
        ip: meta.ip.clone(),
    };
    audit::record(
        &mut tx,
        &state.audit,
        &actor,
        Event::new(action, "session").entity(session_id),
    )
    .await?;
    tx.commit().await?;

    let to = match stage {
        Stage::Active => "/",
        Stage::SecondFactor => "/sign-in/code",
        Stage::Enrol => "/sign-in/set-up-code",
    };
    Ok(with_session_cookie(
        &state,
        &session_token,
        Redirect::to(to),
    ))
}

/// Add a `Set-Cookie` header. Cookie values are Haven's own URL-safe tokens, so they always fit.
pub(super) fn with_cookie(mut res: Response, cookie: &str) -> Response {
    match header::HeaderValue::from_str(cookie) {
        Ok(v) => {
            res.headers_mut().append(header::SET_COOKIE, v);
        }
        Err(_) => tracing::error!("a cookie could not be put in a header"),
    }
    res
}

/// The session cookie carrying `session_token` (empty and expired to clear it).
pub(super) fn session_cookie(
    state: &AppState,
    session_token: &str,
    max_age: Option<i64>,
) -> String {
    set_cookie(
        &state.config,
        session_cookie_name(&state.config),
        session_token,
        max_age,
    )
}

pub(super) fn with_session_cookie(
    state: &AppState,
    session_token: &str,
    redirect: Redirect,
) -> Response {
    with_cookie(
        redirect.into_response(),
        &session_cookie(state, session_token, None),
    )
}

// Signing out ---------------------------------------------------------------------------------

pub async fn sign_out(State(state): State<AppState>, user: CurrentUser) -> AppResult<Response> {
    let mut tx = state.pool.begin().await?;
    db::sessions::end(&mut *tx, user.session_id, "signed_out").await?;
    audit::record(
        &mut tx,
        &state.audit,
        &user.actor(),
        Event::new("auth.sign_out", "session").entity(user.session_id),
    )
    .await?;
    tx.commit().await?;
    let res = Redirect::to("/sign-in?signed_out=1").into_response();
    Ok(with_cookie(res, &session_cookie(&state, "", Some(0))))
}

// Choosing a password from a one-time link -----------------------------------------------------

#[derive(Template)]
#[template(path = "auth/set_password.html")]
struct SetPasswordPage {
    layout: Layout,
    errors: Errors,
    action: String,
    valid: bool,
}

fn token_looks_right(t: &str) -> bool {
    t.len() == 43
        && t.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

async fn link_is_live(state: &AppState, t: &str) -> AppResult<bool> {
    if !token_looks_right(t) {
        return Ok(false);
    }
    let mut conn = state.pool.acquire().await?;
    Ok(db::users::live_password_token(&mut conn, &token::digest(t))
        .await?
        .is_some())
}

fn render_set_password(
    state: &AppState,
    headers: &HeaderMap,
    t: &str,
    errors: Errors,
    valid: bool,
) -> AppResult<Response> {
    let (csrf, set) = pre_session_token(state, headers);
    let mut layout = Layout::bare(if valid {
        "Choose your password"
    } else {
        "This link has expired"
    })
    .with_errors(&errors);
    layout.csrf = csrf;
    let status = if !valid {
        StatusCode::NOT_FOUND
    } else if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let page = SetPasswordPage {
        layout,
        errors,
        action: format!("/set-password/{t}"),
        valid,
    };
    let res = (status, Html(page.render()?)).into_response();
    Ok(match set {
        Some(c) => with_cookie(res, &c),
        None => res,
    })
}

pub async fn set_password_form(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(t): Path<String>,
) -> AppResult<Response> {
    let valid = link_is_live(&state, &t).await?;
    render_set_password(&state, &headers, &t, Errors::default(), valid)
}

pub async fn set_password_submit(
    State(state): State<AppState>,
    headers: HeaderMap,
    meta: RequestMeta,
    Path(t): Path<String>,
    form: FormData,
) -> AppResult<Response> {
    form.only(&["password", "confirm"])?;
    if !token_looks_right(&t) {
        return render_set_password(&state, &headers, &t, Errors::default(), false);
    }
    let new_password = form.raw("password").to_owned();
    if let Err(problem) = domain::password::check_new(&new_password, form.raw("confirm")) {
        let mut errors = Errors::default();
        let field = if problem == domain::password::PasswordProblem::Mismatch {
            "confirm"
        } else {
            "password"
        };
        errors.add(field, problem.to_string());
        let valid = link_is_live(&state, &t).await?;
        return render_set_password(&state, &headers, &t, errors, valid);
    }
    // Only spend an Argon2 hash on a link that works (it is checked again under a lock below).
    if !link_is_live(&state, &t).await? {
        return render_set_password(&state, &headers, &t, Errors::default(), false);
    }
    let hash = state.hash_gate.hash(new_password).await??;
    let mut tx = state.pool.begin().await?;
    let Some(link) = db::users::live_password_token(&mut tx, &token::digest(&t)).await? else {
        return render_set_password(&state, &headers, &t, Errors::default(), false);
    };
    let user_id = link.user_id;
    db::users::set_password_hash(&mut *tx, user_id, &hash).await?;
    db::users::use_password_token(&mut tx, link).await?;
    db::sessions::end_all_for_user(&mut *tx, user_id, "password_changed").await?;
    if link.kind == db::users::LinkKind::Reset {
        // Whoever used the link must now set up a second factor of their own before their
        // session reaches anything: a link that reached the wrong hands cannot quietly become a
        // working account, and the person finds out.
        db::users::reset_second_factor(&mut tx, user_id, true).await?;
        db::notices::add(&mut *tx, user_id, NoticeKind::PasswordSet, None).await?;
    }
    let actor = Actor {
        user_id: Some(user_id),
        ip: meta.ip.clone(),
    };
    audit::record(
        &mut tx,
        &state.audit,
        &actor,
        Event::new("auth.password_set", "user")
            .entity(user_id)
            .details(serde_json::json!({ "link": link.id })),
    )
    .await?;
    tx.commit().await?;
    Ok(Redirect::to("/sign-in?password_set=1").into_response())
}
