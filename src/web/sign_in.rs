//! Signing in (password, then a second factor where needed), signing out, and choosing a password
//! from a one-time link.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;

use crate::app::AppState;
use crate::audit::{self, Actor, Event};
use crate::auth::current::{self, Stage, pre_session_cookie_name, session_cookie_name, set_cookie};
use crate::auth::{CurrentUser, RequestMeta, password, secret_box, throttle, token, totp};
use crate::db;
use crate::domain::{self, Email};
use crate::error::{AppError, AppResult};

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
    password_set: Option<String>,
    signed_out: Option<String>,
}

/// The token for public forms, kept in a cookie (double-submit); made if the browser has none.
fn pre_session_token(state: &AppState, headers: &HeaderMap) -> (String, Option<String>) {
    let name = pre_session_cookie_name(&state.config);
    match current::cookie(headers, name) {
        Some(t)
            if t.len() >= 32
                && t.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') =>
        {
            (t.to_owned(), None)
        }
        _ => {
            let t = token::new_token();
            let c = set_cookie(&state.config, name, &t, None);
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
    let notice = if q.ended.is_some() {
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
    let ip = meta.ip.clone().unwrap_or_else(|| "unknown".to_owned());
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
    if throttle::is_throttled(&state.pool, &key, &ip).await? {
        let actor = Actor {
            user_id: None,
            ip: meta.ip.clone(),
        };
        audit::record_alone(
            &state.pool,
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
    }

    let user = match Email::parse(&typed_email) {
        Ok(email) => db::users::find_by_email(&state.pool, email.as_str()).await?,
        Err(_) => None,
    };
    // Always run one Argon2 verification, so unknown accounts take as long as wrong passwords.
    let stored = user
        .as_ref()
        .filter(|u| u.disabled_at.is_none())
        .and_then(|u| u.password_hash.clone())
        .unwrap_or_else(|| password::dummy_hash().to_owned());
    let password_ok = password::verify_blocking(stored.clone(), typed_password.clone()).await;
    let user = match user {
        Some(u) if password_ok && u.disabled_at.is_none() && u.password_hash.is_some() => u,
        other => {
            let actor = Actor {
                user_id: other.as_ref().map(|u| u.id),
                ip: meta.ip.clone(),
            };
            let mut tx = state.pool.begin().await?;
            throttle::record_failure(&mut tx, &key, &ip).await?;
            audit::record(
                &mut tx,
                &actor,
                Event::new("auth.sign_in_failed", "account"),
            )
            .await?;
            tx.commit().await?;
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
        let new_hash = password::hash_blocking(typed_password).await?;
        db::users::set_password_hash(&state.pool, user.id, &new_hash).await?;
    }

    let stage = if user.totp_enabled() {
        Stage::SecondFactor
    } else if user.role().requires_second_factor() {
        Stage::Enrol
    } else {
        Stage::Active
    };
    let session_token = token::new_token();
    let csrf = token::new_token();
    let absolute = chrono::Duration::from_std(state.config.session_absolute_timeout)
        .map_err(anyhow::Error::new)?;
    let mut tx = state.pool.begin().await?;
    // Rotation: whatever session this browser had before ends now.
    if let Some(old) = current::cookie(&headers, session_cookie_name(&state.config))
        && let Some(s) = db::sessions::find_live(&mut *tx, &token::digest(old)).await?
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
        },
    )
    .await?;
    throttle::clear(&mut *tx, &key, &ip).await?;
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
fn with_cookie(mut res: Response, cookie: &str) -> Response {
    match header::HeaderValue::from_str(cookie) {
        Ok(v) => {
            res.headers_mut().append(header::SET_COOKIE, v);
        }
        Err(_) => tracing::error!("a cookie could not be put in a header"),
    }
    res
}

/// The session cookie carrying `session_token` (empty and expired to clear it).
fn session_cookie(state: &AppState, session_token: &str, max_age: Option<i64>) -> String {
    set_cookie(
        &state.config,
        session_cookie_name(&state.config),
        session_token,
        max_age,
    )
}

fn with_session_cookie(state: &AppState, session_token: &str, redirect: Redirect) -> Response {
    with_cookie(
        redirect.into_response(),
        &session_cookie(state, session_token, None),
    )
}

// The second factor ---------------------------------------------------------------------------

#[derive(Template)]
#[template(path = "auth/code.html")]
struct CodePage {
    layout: Layout,
    errors: Errors,
}

fn signing_in_layout(title: &str, user: &CurrentUser, errors: &Errors) -> Layout {
    let mut layout = Layout::bare(title).with_errors(errors);
    layout.csrf = user.csrf_token.clone();
    layout
}

pub async fn code_form(user: CurrentUser) -> AppResult<Response> {
    if user.stage != Stage::SecondFactor {
        return Ok(Redirect::to("/sign-in/set-up-code").into_response());
    }
    let errors = Errors::default();
    Ok(Html(
        CodePage {
            layout: signing_in_layout("Enter your security code", &user, &errors),
            errors,
        }
        .render()?,
    )
    .into_response())
}

pub async fn code_submit(
    State(state): State<AppState>,
    user: CurrentUser,
    form: FormData,
) -> AppResult<Response> {
    form.only(&["code"])?;
    if user.stage != Stage::SecondFactor {
        return Ok(Redirect::to("/sign-in/set-up-code").into_response());
    }
    let typed = form.raw("code").trim().to_owned();
    let ip = user.ip.clone().unwrap_or_else(|| "unknown".to_owned());
    let key = format!("second-factor:{}", user.id);
    let show_error = |message: &'static str, status| -> AppResult<Response> {
        let mut errors = Errors::default();
        errors.add("code", message);
        let layout = signing_in_layout("Enter your security code", &user, &errors);
        Ok((status, Html(CodePage { layout, errors }.render()?)).into_response())
    };
    if throttle::is_throttled(&state.pool, &key, &ip).await? {
        db::sessions::end(&state.pool, user.session_id, "second_factor_throttled").await?;
        audit::record_alone(
            &state.pool,
            &user.actor(),
            Event::new("auth.sign_in_throttled", "session").entity(user.session_id),
        )
        .await?;
        return Ok(Redirect::to("/sign-in?ended=1").into_response());
    }
    if typed.is_empty() {
        return show_error(
            "Enter the 6-digit code from your app, or a recovery code",
            StatusCode::UNPROCESSABLE_ENTITY,
        );
    }

    let mut tx = state.pool.begin().await?;
    let Some(u) = db::users::find_for_update(&mut tx, user.id).await? else {
        return Err(AppError::NotFound);
    };
    let now = chrono::Utc::now().timestamp().max(0) as u64;
    let mut method = "app";
    let secret_key = state.config.secret_key.expose();
    let secret = u
        .totp_secret
        .as_deref()
        .and_then(|s| secret_box::open(secret_key, s));
    let ok = match (secret.as_deref(), u.totp_enabled()) {
        (Some(secret), true) => match totp::verify(secret, &typed, now, u.totp_last_step) {
            Some(step) => {
                db::users::record_totp_step(&mut *tx, u.id, step).await?;
                true
            }
            None => {
                method = "recovery_code";
                let hash = token::digest(&token::normalise_recovery_code(&typed));
                db::users::use_recovery_code(&mut *tx, u.id, &hash).await?
            }
        },
        _ => false,
    };
    if !ok {
        tx.rollback().await?;
        let mut tx = state.pool.begin().await?;
        throttle::record_failure(&mut tx, &key, &ip).await?;
        audit::record(
            &mut tx,
            &user.actor(),
            Event::new("auth.second_factor_failed", "session").entity(user.session_id),
        )
        .await?;
        tx.commit().await?;
        return show_error(
            "The code is not right. Check your app and try again",
            StatusCode::UNPROCESSABLE_ENTITY,
        );
    }
    let new_token = token::new_token();
    db::sessions::advance(
        &mut *tx,
        user.session_id,
        &token::digest(&new_token),
        &token::new_token(),
        Stage::Active.code(),
    )
    .await?;
    throttle::clear(&mut *tx, &key, &ip).await?;
    audit::record(
        &mut tx,
        &user.actor(),
        Event::new("auth.sign_in", "session")
            .entity(user.session_id)
            .details(serde_json::json!({ "second_factor": method })),
    )
    .await?;
    tx.commit().await?;
    Ok(with_session_cookie(&state, &new_token, Redirect::to("/")))
}

// Setting up a second factor -------------------------------------------------------------------

#[derive(Template)]
#[template(path = "auth/enrol.html")]
pub struct EnrolPage {
    pub layout: Layout,
    pub errors: Errors,
    pub secret: String,
    pub qr_svg: String,
    pub action: &'static str,
    pub required: bool,
}

#[derive(Template)]
#[template(path = "auth/recovery_codes.html")]
pub struct RecoveryCodesPage {
    pub layout: Layout,
    pub codes: Vec<String>,
    pub continue_href: &'static str,
}

/// Show the set-up page, making a fresh (not yet enabled) secret each time it is shown.
pub async fn render_enrol(
    state: &AppState,
    user: &CurrentUser,
    layout: Layout,
    errors: Errors,
    action: &'static str,
) -> AppResult<Response> {
    let existing = db::users::find(&state.pool, user.id)
        .await?
        .ok_or(AppError::NotFound)?;
    let key = state.config.secret_key.expose();
    // Keep the pending secret when re-showing after a wrong code, so the app entry still matches.
    let kept = match (
        existing.totp_secret.as_deref(),
        existing.totp_enabled_at,
        errors.is_empty(),
    ) {
        (Some(sealed), None, false) => secret_box::open(key, sealed),
        _ => None,
    };
    let secret = match kept {
        Some(s) => s,
        None => {
            let s = totp::new_secret();
            db::users::set_pending_totp_secret(&state.pool, user.id, &secret_box::seal(key, &s))
                .await?;
            s
        }
    };
    let qr_svg = totp::qr_svg(&totp::provisioning_uri(&secret, &user.email)).unwrap_or_default();
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let page = EnrolPage {
        layout,
        errors,
        secret,
        qr_svg,
        action,
        required: user.role.requires_second_factor(),
    };
    Ok((status, Html(page.render()?)).into_response())
}

/// Check the first code from the app; on success turn the factor on and make recovery codes.
/// Returns the codes to show, or the errors.
pub async fn confirm_enrol(
    state: &AppState,
    user: &CurrentUser,
    form: &FormData,
) -> AppResult<Result<Vec<String>, Errors>> {
    form.only(&["code"])?;
    let mut tx = state.pool.begin().await?;
    let u = db::users::find_for_update(&mut tx, user.id)
        .await?
        .ok_or(AppError::NotFound)?;
    let now = chrono::Utc::now().timestamp().max(0) as u64;
    let secret = u
        .totp_secret
        .as_deref()
        .and_then(|s| secret_box::open(state.config.secret_key.expose(), s));
    let step = match (secret.as_deref(), u.totp_enabled_at) {
        (Some(secret), None) => totp::verify(secret, form.raw("code"), now, None),
        _ => None,
    };
    let Some(step) = step else {
        let mut errors = Errors::default();
        errors.add(
            "code",
            "The code is not right. Enter the 6-digit code your app shows now",
        );
        return Ok(Err(errors));
    };
    db::users::enable_totp(&mut *tx, u.id, step).await?;
    let codes: Vec<String> = (0..10).map(|_| token::recovery_code()).collect();
    let hashes: Vec<Vec<u8>> = codes.iter().map(|c| token::digest(c)).collect();
    db::users::replace_recovery_codes(&mut tx, u.id, &hashes).await?;
    audit::record(
        &mut tx,
        &user.actor(),
        Event::new("auth.second_factor_enrolled", "user").entity(u.id),
    )
    .await?;
    tx.commit().await?;
    Ok(Ok(codes))
}

pub async fn enrol_form(State(state): State<AppState>, user: CurrentUser) -> AppResult<Response> {
    if user.stage == Stage::SecondFactor {
        return Ok(Redirect::to("/sign-in/code").into_response());
    }
    let errors = Errors::default();
    let layout = signing_in_layout("Set up a security code", &user, &errors);
    render_enrol(&state, &user, layout, errors, "/sign-in/set-up-code").await
}

pub async fn enrol_submit(
    State(state): State<AppState>,
    user: CurrentUser,
    form: FormData,
) -> AppResult<Response> {
    if user.stage != Stage::Enrol {
        return Ok(Redirect::to("/sign-in/code").into_response());
    }
    match confirm_enrol(&state, &user, &form).await? {
        Err(errors) => {
            let layout = signing_in_layout("Set up a security code", &user, &errors);
            render_enrol(&state, &user, layout, errors, "/sign-in/set-up-code").await
        }
        Ok(codes) => {
            let new_token = token::new_token();
            let csrf = token::new_token();
            let mut tx = state.pool.begin().await?;
            db::sessions::advance(
                &mut *tx,
                user.session_id,
                &token::digest(&new_token),
                &csrf,
                Stage::Active.code(),
            )
            .await?;
            audit::record(
                &mut tx,
                &user.actor(),
                Event::new("auth.sign_in", "session").entity(user.session_id),
            )
            .await?;
            tx.commit().await?;
            let mut layout = Layout::bare("Save your recovery codes");
            layout.csrf = csrf;
            let page = RecoveryCodesPage {
                layout,
                codes,
                continue_href: "/",
            };
            let res = Html(page.render()?).into_response();
            Ok(with_cookie(res, &session_cookie(&state, &new_token, None)))
        }
    }
}

// Signing out ---------------------------------------------------------------------------------

pub async fn sign_out(State(state): State<AppState>, user: CurrentUser) -> AppResult<Response> {
    let mut tx = state.pool.begin().await?;
    db::sessions::end(&mut *tx, user.session_id, "signed_out").await?;
    audit::record(
        &mut tx,
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
    let hash = password::hash_blocking(new_password).await?;
    let mut tx = state.pool.begin().await?;
    let Some((token_id, user_id)) =
        db::users::live_password_token(&mut tx, &token::digest(&t)).await?
    else {
        return render_set_password(&state, &headers, &t, Errors::default(), false);
    };
    db::users::set_password_hash(&mut *tx, user_id, &hash).await?;
    db::users::use_password_token(&mut *tx, token_id).await?;
    db::sessions::end_all_for_user(&mut *tx, user_id, "password_changed").await?;
    let actor = Actor {
        user_id: Some(user_id),
        ip: meta.ip.clone(),
    };
    audit::record(
        &mut tx,
        &actor,
        Event::new("auth.password_set", "user").entity(user_id),
    )
    .await?;
    tx.commit().await?;
    Ok(Redirect::to("/sign-in?password_set=1").into_response())
}
