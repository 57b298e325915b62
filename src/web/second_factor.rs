//! The second factor: entering a security code at sign-in, setting one up (at sign-in when the
//! role or an administrator's reset requires it, or from "Your account"), replacing it and
//! turning it off.
//!
//! Rules that keep it safe:
//! - No GET changes anything. A new key is made by a POST and waits on the session that asked
//!   for it (`sessions.pending_totp_secret`), apart from the live key; it replaces the live key
//!   only when a POST confirms a code from it.
//! - Replacing or turning off a factor that is on needs the password and a current code (or a
//!   recovery code) again.
//! - Codes are throttled atomically (see `auth::throttle`), and ten wrong codes in a row lock
//!   the factor until an administrator unlocks it; the person is told.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};

use crate::app::AppState;
use crate::audit::{self, Event};
use crate::auth::current::Stage;
use crate::auth::{CurrentUser, secret_box, throttle, token, totp};
use crate::db;
use crate::db::notices::NoticeKind;
use crate::db::users::UserRow;
use crate::error::{AppError, AppResult};

use super::form::{Errors, FormData};
use super::layout::{Layout, Section};
use super::sign_in::{session_cookie, with_cookie, with_session_cookie};

/// Wrong codes in a row that lock a second factor.
pub const LOCK_AFTER: i32 = 10;

fn signing_in_layout(title: &str, user: &CurrentUser, errors: &Errors) -> Layout {
    let mut layout = Layout::bare(title).with_errors(errors);
    layout.csrf = user.csrf_token.clone();
    layout
}

fn throttle_key(user: &CurrentUser) -> String {
    format!("second-factor:{}", user.id)
}

/// Check a code (from the app, or a recovery code, which is then spent) against the live
/// factor, in the caller's transaction with the account row locked. `Some(method)` when right.
async fn check_code(
    state: &AppState,
    tx: &mut sqlx::PgConnection,
    u: &UserRow,
    typed: &str,
) -> AppResult<Option<&'static str>> {
    let now = chrono::Utc::now().timestamp().max(0) as u64;
    let secret = u
        .totp_secret
        .as_deref()
        .and_then(|s| secret_box::open(state.config.secret_key.expose(), s));
    let (Some(secret), true) = (secret, u.totp_enabled()) else {
        return Ok(None);
    };
    if let Some(step) = totp::verify(&secret, typed, now, u.totp_last_step) {
        db::users::record_totp_step(&mut *tx, u.id, step).await?;
        return Ok(Some("app"));
    }
    let hash = token::digest(&token::normalise_recovery_code(typed));
    if db::users::use_recovery_code(&mut *tx, u.id, &hash).await? {
        db::users::clear_totp_failures(&mut *tx, u.id).await?;
        return Ok(Some("recovery_code"));
    }
    Ok(None)
}

/// A wrong code: count it towards the lock, in its own transaction. True if it locked the factor.
async fn wrong_code(state: &AppState, user: &CurrentUser) -> AppResult<bool> {
    let mut tx = state.pool.begin().await?;
    let locked = db::users::record_totp_failure(&mut *tx, user.id, LOCK_AFTER).await?;
    audit::record(
        &mut tx,
        &state.audit,
        &user.actor(),
        Event::new("auth.second_factor_failed", "session").entity(user.session_id),
    )
    .await?;
    if locked {
        db::notices::add(&mut *tx, user.id, NoticeKind::SecondFactorLocked, None).await?;
        db::sessions::end_all_for_user(&mut *tx, user.id, "second_factor_locked").await?;
        audit::record(
            &mut tx,
            &state.audit,
            &user.actor(),
            Event::new("auth.second_factor_locked", "user").entity(user.id),
        )
        .await?;
    }
    tx.commit().await?;
    Ok(locked)
}

// Entering a code at sign-in -----------------------------------------------------------------

#[derive(Template)]
#[template(path = "auth/code.html")]
struct CodePage {
    layout: Layout,
    errors: Errors,
    locked: bool,
}

fn code_page(user: &CurrentUser, errors: Errors, locked: bool) -> AppResult<Response> {
    let status = if locked {
        StatusCode::FORBIDDEN
    } else if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let title = if locked {
        "Your security codes are locked"
    } else {
        "Enter your security code"
    };
    let layout = signing_in_layout(title, user, &errors);
    Ok((
        status,
        Html(
            CodePage {
                layout,
                errors,
                locked,
            }
            .render()?,
        ),
    )
        .into_response())
}

pub async fn code_form(State(state): State<AppState>, user: CurrentUser) -> AppResult<Response> {
    if user.stage != Stage::SecondFactor {
        return Ok(Redirect::to("/sign-in/set-up-code").into_response());
    }
    let u = db::users::find(&state.pool, user.id)
        .await?
        .ok_or(AppError::NotFound)?;
    code_page(&user, Errors::default(), u.totp_locked_at.is_some())
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
    let with_error = |message: &'static str| {
        let mut errors = Errors::default();
        errors.add("code", message);
        code_page(&user, errors, false)
    };
    if typed.is_empty() {
        return with_error("Enter the 6-digit code from your app, or a recovery code");
    }
    let key = throttle_key(&user);
    let address = throttle::address_key(user.ip.as_deref());
    let Some(attempt) = throttle::reserve(&state.pool, &key, &address).await? else {
        db::sessions::end(&state.pool, user.session_id, "second_factor_throttled").await?;
        audit::record_alone(
            &state.pool,
            &state.audit,
            &user.actor(),
            Event::new("auth.sign_in_throttled", "session").entity(user.session_id),
        )
        .await?;
        return Ok(Redirect::to("/sign-in?ended=1").into_response());
    };

    let mut tx = state.pool.begin().await?;
    let u = db::users::find_for_update(&mut tx, user.id)
        .await?
        .ok_or(AppError::NotFound)?;
    if u.totp_locked_at.is_some() {
        tx.rollback().await?;
        throttle::forget(&state.pool, attempt).await?;
        return code_page(&user, Errors::default(), true);
    }
    let Some(method) = check_code(&state, &mut tx, &u, &typed).await? else {
        tx.rollback().await?;
        if wrong_code(&state, &user).await? {
            return code_page(&user, Errors::default(), true);
        }
        return with_error("The code is not right. Check your app and try again");
    };
    let new_token = token::new_token();
    db::sessions::advance(
        &mut *tx,
        user.session_id,
        &token::digest(&new_token),
        &token::new_token(),
        Stage::Active.code(),
    )
    .await?;
    throttle::forgive(&mut *tx, attempt, &key, &address).await?;
    audit::record(
        &mut tx,
        &state.audit,
        &user.actor(),
        Event::new("auth.sign_in", "session")
            .entity(user.session_id)
            .details(serde_json::json!({ "second_factor": method })),
    )
    .await?;
    tx.commit().await?;
    Ok(with_session_cookie(&state, &new_token, Redirect::to("/")))
}

// Setting up a key: shared by sign-in and "Your account" ----------------------------------------

#[derive(Template)]
#[template(path = "auth/enrol.html")]
struct EnrolPage {
    layout: Layout,
    errors: Errors,
    /// The key waiting to be confirmed; None shows the button that makes one.
    secret: Option<String>,
    qr_svg: String,
    action: &'static str,
    start_action: &'static str,
    required: bool,
}

#[derive(Template)]
#[template(path = "auth/recovery_codes.html")]
struct RecoveryCodesPage {
    layout: Layout,
    codes: Vec<String>,
    continue_href: &'static str,
}

/// Show the key waiting on this session (read only), or the button that makes one.
async fn render_enrol(
    state: &AppState,
    user: &CurrentUser,
    layout: Layout,
    errors: Errors,
    action: &'static str,
    start_action: &'static str,
) -> AppResult<Response> {
    let secret = db::sessions::pending_totp(&state.pool, user.session_id)
        .await?
        .and_then(|sealed| secret_box::open(state.config.secret_key.expose(), &sealed));
    let qr_svg = secret
        .as_deref()
        .and_then(|s| totp::qr_svg(&totp::provisioning_uri(s, &user.email)))
        .unwrap_or_default();
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
        start_action,
        required: user.role.requires_second_factor(),
    };
    Ok((status, Html(page.render()?)).into_response())
}

/// Make a new key and keep it on this session until it is confirmed.
async fn start_enrol(state: &AppState, user: &CurrentUser) -> AppResult<()> {
    let sealed = secret_box::seal(state.config.secret_key.expose(), &totp::new_secret());
    let mut tx = state.pool.begin().await?;
    db::sessions::set_pending_totp(&mut *tx, user.session_id, Some(&sealed)).await?;
    audit::record(
        &mut tx,
        &state.audit,
        &user.actor(),
        Event::new("auth.second_factor_setup_started", "session").entity(user.session_id),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Check the first code from the new key; if right, make it the live factor (replacing any
/// earlier one) and make new recovery codes. The codes to show, or the errors.
async fn confirm_enrol(
    state: &AppState,
    user: &CurrentUser,
    form: &FormData,
) -> AppResult<Result<Vec<String>, Errors>> {
    form.only(&["code"])?;
    let mut tx = state.pool.begin().await?;
    let u = db::users::find_for_update(&mut tx, user.id)
        .await?
        .ok_or(AppError::NotFound)?;
    let sealed = db::sessions::pending_totp(&mut *tx, user.session_id).await?;
    let now = chrono::Utc::now().timestamp().max(0) as u64;
    let step = sealed
        .as_deref()
        .and_then(|s| secret_box::open(state.config.secret_key.expose(), s))
        .and_then(|secret| totp::verify(&secret, form.raw("code"), now, None));
    let (Some(sealed), Some(step)) = (sealed, step) else {
        let mut errors = Errors::default();
        errors.add(
            "code",
            "The code is not right. Enter the 6-digit code your app shows now",
        );
        return Ok(Err(errors));
    };
    let replacing = u.totp_enabled();
    db::users::enable_totp(&mut *tx, u.id, &sealed, step).await?;
    db::sessions::set_pending_totp(&mut *tx, user.session_id, None).await?;
    let codes: Vec<String> = (0..10).map(|_| token::recovery_code()).collect();
    let hashes: Vec<Vec<u8>> = codes.iter().map(|c| token::digest(c)).collect();
    db::users::replace_recovery_codes(&mut tx, u.id, &hashes).await?;
    if replacing {
        db::notices::add(&mut *tx, u.id, NoticeKind::SecondFactorChanged, Some(u.id)).await?;
    }
    audit::record(
        &mut tx,
        &state.audit,
        &user.actor(),
        Event::new("auth.second_factor_enrolled", "user")
            .entity(u.id)
            .details(serde_json::json!({ "replaced": replacing })),
    )
    .await?;
    tx.commit().await?;
    Ok(Ok(codes))
}

// Setting up at sign-in ------------------------------------------------------------------------

const SIGN_IN_SETUP: &str = "/sign-in/set-up-code";
const SIGN_IN_SETUP_START: &str = "/sign-in/set-up-code/start";

pub async fn enrol_form(State(state): State<AppState>, user: CurrentUser) -> AppResult<Response> {
    if user.stage == Stage::SecondFactor {
        return Ok(Redirect::to("/sign-in/code").into_response());
    }
    let errors = Errors::default();
    let layout = signing_in_layout("Set up a security code", &user, &errors);
    render_enrol(
        &state,
        &user,
        layout,
        errors,
        SIGN_IN_SETUP,
        SIGN_IN_SETUP_START,
    )
    .await
}

pub async fn enrol_start(State(state): State<AppState>, user: CurrentUser) -> AppResult<Response> {
    if user.stage != Stage::Enrol {
        return Ok(Redirect::to("/sign-in/code").into_response());
    }
    start_enrol(&state, &user).await?;
    Ok(Redirect::to(SIGN_IN_SETUP).into_response())
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
            render_enrol(
                &state,
                &user,
                layout,
                errors,
                SIGN_IN_SETUP,
                SIGN_IN_SETUP_START,
            )
            .await
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
                &state.audit,
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

// From "Your account" ------------------------------------------------------------------------

const ACCOUNT_SETUP: &str = "/account/two-factor";
const ACCOUNT_CHANGE: &str = "/account/two-factor/change";

#[derive(Template)]
#[template(path = "account/two_factor.html")]
struct ManagePage {
    layout: Layout,
    errors: Errors,
    on: bool,
    /// The role needs a second factor, so it can be replaced but not turned off.
    required: bool,
    recovery_left: i64,
}

async fn render_manage(
    state: &AppState,
    user: &CurrentUser,
    errors: Errors,
) -> AppResult<Response> {
    let u = db::users::find(&state.pool, user.id)
        .await?
        .ok_or(AppError::NotFound)?;
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let page = ManagePage {
        layout: Layout::for_user("Security codes", user, Section::Account).with_errors(&errors),
        errors,
        on: u.totp_enabled(),
        required: user.role.requires_second_factor(),
        recovery_left: db::users::unused_recovery_codes(&state.pool, user.id).await?,
    };
    Ok((status, Html(page.render()?)).into_response())
}

/// "Your account" → security codes: the key waiting to be confirmed if there is one, otherwise
/// the choices. Reads only.
pub async fn two_factor_form(
    State(state): State<AppState>,
    user: CurrentUser,
) -> AppResult<Response> {
    if db::sessions::pending_totp(&state.pool, user.session_id)
        .await?
        .is_some()
    {
        let errors = Errors::default();
        let layout = Layout::for_user("Set up a security code", &user, Section::Account);
        return render_enrol(&state, &user, layout, errors, ACCOUNT_SETUP, ACCOUNT_CHANGE).await;
    }
    render_manage(&state, &user, Errors::default()).await
}

/// Start setting up, replace, or turn off: the password again, and a current code (or a
/// recovery code) when security codes are on.
pub async fn two_factor_change(
    State(state): State<AppState>,
    user: CurrentUser,
    form: FormData,
) -> AppResult<Response> {
    form.only(&["password", "code", "action"])?;
    let action = form.raw("action");
    if !matches!(action, "start" | "replace" | "remove") {
        return Err(AppError::BadRequest("unknown security code action"));
    }
    if action == "remove" && user.role.requires_second_factor() {
        return Err(AppError::BadRequest(
            "this role cannot turn security codes off",
        ));
    }
    let u = db::users::find(&state.pool, user.id)
        .await?
        .ok_or(AppError::NotFound)?;
    let mut errors = Errors::default();
    if form.raw("password").is_empty() {
        errors.add("password", "Enter your password");
    }
    let typed_code = form.raw("code").trim().to_owned();
    if u.totp_enabled() && typed_code.is_empty() {
        errors.add(
            "code",
            "Enter the 6-digit code from your app, or a recovery code",
        );
    }
    if !errors.is_empty() {
        return render_manage(&state, &user, errors).await;
    }
    let key = throttle_key(&user);
    let address = throttle::address_key(user.ip.as_deref());
    let Some(attempt) = throttle::reserve(&state.pool, &key, &address).await? else {
        errors.add(
            "password",
            "Too many wrong attempts. Wait 15 minutes, then try again",
        );
        return render_manage(&state, &user, errors).await;
    };
    let password_ok = state
        .hash_gate
        .verify(
            u.password_hash.clone().unwrap_or_default(),
            form.raw("password").to_owned(),
        )
        .await?;
    if !password_ok {
        audit::record_alone(
            &state.pool,
            &state.audit,
            &user.actor(),
            Event::new("auth.reauthentication_failed", "user").entity(user.id),
        )
        .await?;
        errors.add("password", "The password is not right");
        return render_manage(&state, &user, errors).await;
    }
    let mut tx = state.pool.begin().await?;
    let u = db::users::find_for_update(&mut tx, user.id)
        .await?
        .ok_or(AppError::NotFound)?;
    if u.totp_enabled() {
        if u.totp_locked_at.is_some() {
            tx.rollback().await?;
            errors.add(
                "code",
                "Your security codes are locked after too many wrong codes. Ask an administrator to unlock them",
            );
            return render_manage(&state, &user, errors).await;
        }
        if check_code(&state, &mut tx, &u, &typed_code)
            .await?
            .is_none()
        {
            tx.rollback().await?;
            wrong_code(&state, &user).await?;
            errors.add(
                "code",
                "The code is not right. Check your app and try again",
            );
            return render_manage(&state, &user, errors).await;
        }
    }
    throttle::forgive(&mut *tx, attempt, &key, &address).await?;
    if action == "remove" {
        db::users::reset_second_factor(&mut tx, user.id, false).await?;
        db::notices::add(
            &mut *tx,
            user.id,
            NoticeKind::SecondFactorRemoved,
            Some(user.id),
        )
        .await?;
        audit::record(
            &mut tx,
            &state.audit,
            &user.actor(),
            Event::new("auth.second_factor_removed", "user").entity(user.id),
        )
        .await?;
        tx.commit().await?;
        return Ok(Redirect::to("/account").into_response());
    }
    tx.commit().await?;
    start_enrol(&state, &user).await?;
    Ok(Redirect::to(ACCOUNT_SETUP).into_response())
}

/// Confirm the new key with a code from it.
pub async fn two_factor_submit(
    State(state): State<AppState>,
    user: CurrentUser,
    form: FormData,
) -> AppResult<Response> {
    match confirm_enrol(&state, &user, &form).await? {
        Err(errors) => {
            let layout = Layout::for_user("Set up a security code", &user, Section::Account)
                .with_errors(&errors);
            render_enrol(&state, &user, layout, errors, ACCOUNT_SETUP, ACCOUNT_CHANGE).await
        }
        Ok(codes) => {
            let layout = Layout::for_user("Save your recovery codes", &user, Section::Account);
            Ok(Html(
                RecoveryCodesPage {
                    layout,
                    codes,
                    continue_href: "/account",
                }
                .render()?,
            )
            .into_response())
        }
    }
}
