//! A person's own account: the home redirect, their sessions, their password, and the notices
//! about their account's security. (Security codes are in `second_factor`.)

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;
use uuid::Uuid;

use crate::app::AppState;
use crate::audit::{self, Event};
use crate::auth::{CurrentUser, throttle};
use crate::db;
use crate::db::notices::NoticeKind;
use crate::domain::Role;
use crate::domain::time::format_datetime;
use crate::error::{AppError, AppResult};

use super::form::{Errors, FormData};
use super::layout::{Layout, Section};
use super::parse_id;

pub async fn home(State(state): State<AppState>, user: CurrentUser) -> AppResult<Redirect> {
    // A form held when their session ended comes first: it is what they were doing.
    if db::held_forms::find(&state.pool, user.id).await?.is_some() {
        return Ok(Redirect::to("/held-form"));
    }
    // Each role starts where its work is: what is due, on their own cases or (managers and the
    // LADO) their teams'.
    Ok(match user.role {
        Role::Admin => Redirect::to("/admin/users"),
        Role::Manager | Role::Lado => Redirect::to("/work/team"),
        Role::Practitioner => Redirect::to("/work"),
    })
}

/// One field of a held form, for the page that offers to send it again.
pub struct HeldField {
    pub name: String,
    /// The field's name in words ("when day" for `when-day`).
    pub label: String,
    pub value: String,
    /// Shown to the person (not the form's own tokens, not empty fields).
    pub shown: bool,
}

#[derive(Template)]
#[template(path = "account/held_form.html")]
struct HeldFormPage {
    layout: Layout,
    path: String,
    destination: &'static str,
    held_at: String,
    fields: Vec<HeldField>,
}

/// `GET /held-form`: what the person typed before their session ended, to check and send to
/// where it was going (with a new form token), or discard.
pub async fn held_form(State(state): State<AppState>, user: CurrentUser) -> AppResult<Response> {
    let Some(held) = db::held_forms::find(&state.pool, user.id).await? else {
        return Ok(Redirect::to("/").into_response());
    };
    let form = FormData::parse(held.body.as_bytes());
    let fields = form
        .pairs()
        .iter()
        .filter(|(k, _)| k != "_csrf" && k != "_held")
        .map(|(k, v)| HeldField {
            name: k.clone(),
            label: k.replace(['_', '-'], " "),
            value: v.clone(),
            shown: !k.starts_with('_') && !v.trim().is_empty() && k != "version",
        })
        .collect();
    let page = HeldFormPage {
        layout: Layout::for_user("Send what you typed", &user, Section::None),
        destination: if held.path.starts_with("/referrals/") {
            "a page of a referral you were logging"
        } else if held.path.starts_with("/lado/") {
            "an allegation's record"
        } else if held.path.ends_with("/notes") {
            "a note on a case"
        } else {
            "a form on a case"
        },
        path: held.path,
        held_at: format_datetime(held.held_at),
        fields,
    };
    Ok(Html(page.render()?).into_response())
}

/// `POST /held-form/discard`.
pub async fn held_form_discard(
    State(state): State<AppState>,
    user: CurrentUser,
    form: FormData,
) -> AppResult<Redirect> {
    form.only(&[])?;
    db::held_forms::forget(&state.pool, user.id, None).await?;
    Ok(Redirect::to("/"))
}

/// `POST /account/keep-alive`: the timeout warning's "Stay signed in".
pub async fn keep_alive(
    State(state): State<AppState>,
    user: CurrentUser,
    form: FormData,
) -> AppResult<StatusCode> {
    form.only(&[])?;
    db::sessions::touch(&state.pool, user.session_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub struct SessionView {
    pub id: Uuid,
    pub current: bool,
    pub started: String,
    pub last_seen: String,
    pub from: String,
    pub browser: String,
}

pub struct NoticeView {
    pub when: String,
    pub what: &'static str,
    pub by: String,
    pub new: bool,
}

#[derive(Template)]
#[template(path = "account/show.html")]
struct AccountPage {
    layout: Layout,
    email: String,
    role: &'static str,
    totp_on: bool,
    totp_locked: bool,
    recovery_left: i64,
    sessions: Vec<SessionView>,
    notices: Vec<NoticeView>,
    unseen: bool,
    password_changed: bool,
}

#[derive(Deserialize, Default)]
pub struct AccountQuery {
    password_changed: Option<String>,
}

pub async fn show(
    State(state): State<AppState>,
    user: CurrentUser,
    Query(q): Query<AccountQuery>,
) -> AppResult<Html<String>> {
    let me = db::users::find(&state.pool, user.id)
        .await?
        .ok_or(AppError::NotFound)?;
    let rows = db::sessions::live_for_user(&state.pool, user.id).await?;
    let sessions = rows
        .into_iter()
        .map(|s| SessionView {
            id: s.id,
            current: s.id == user.session_id,
            started: format_datetime(s.created_at),
            last_seen: format_datetime(s.last_seen_at),
            from: s.ip.unwrap_or_else(|| "Unknown".into()),
            browser: s.user_agent.unwrap_or_else(|| "Unknown".into()),
        })
        .collect();
    let notices = db::notices::recent(&state.pool, user.id, 20)
        .await?
        .into_iter()
        .map(|n| NoticeView {
            when: format_datetime(n.created_at),
            what: NoticeKind::words(&n.kind),
            by: n.actor_name.unwrap_or_default(),
            new: n.seen_at.is_none(),
        })
        .collect();
    let page = AccountPage {
        layout: Layout::for_user("Your account", &user, Section::Account),
        email: me.email.clone(),
        role: user.role.label(),
        totp_on: me.totp_enabled(),
        totp_locked: me.totp_locked_at.is_some(),
        recovery_left: db::users::unused_recovery_codes(&state.pool, user.id).await?,
        sessions,
        notices,
        unseen: user.unseen_notices > 0,
        password_changed: q.password_changed.is_some(),
    };
    Ok(Html(page.render()?))
}

/// The person has read the notices about their account.
pub async fn notices_seen(State(state): State<AppState>, user: CurrentUser) -> AppResult<Response> {
    let mut tx = state.pool.begin().await?;
    let n = db::notices::mark_seen(&mut *tx, user.id).await?;
    audit::record(
        &mut tx,
        &state.audit,
        &user.actor(),
        Event::new("account.notices_read", "user")
            .entity(user.id)
            .details(serde_json::json!({ "count": n })),
    )
    .await?;
    tx.commit().await?;
    Ok(Redirect::to("/account").into_response())
}

// Changing one's own password -------------------------------------------------------------------

#[derive(Template)]
#[template(path = "account/password.html")]
struct PasswordPage {
    layout: Layout,
    errors: Errors,
}

fn password_page(user: &CurrentUser, errors: Errors) -> AppResult<Response> {
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let layout =
        Layout::for_user("Change your password", user, Section::Account).with_errors(&errors);
    Ok((status, Html(PasswordPage { layout, errors }.render()?)).into_response())
}

pub async fn password_form(user: CurrentUser) -> AppResult<Response> {
    password_page(&user, Errors::default())
}

/// Change one's own password: the current one first. Every other session ends.
pub async fn password_submit(
    State(state): State<AppState>,
    user: CurrentUser,
    form: FormData,
) -> AppResult<Response> {
    form.only(&["current", "password", "confirm"])?;
    let mut errors = Errors::default();
    if form.raw("current").is_empty() {
        errors.add("current", "Enter your current password");
    }
    if let Err(problem) =
        crate::domain::password::check_new(form.raw("password"), form.raw("confirm"))
    {
        let field = if problem == crate::domain::password::PasswordProblem::Mismatch {
            "confirm"
        } else {
            "password"
        };
        errors.add(field, problem.to_string());
    }
    if !errors.is_empty() {
        return password_page(&user, errors);
    }
    // A wrong current password counts as a failed sign-in for the account.
    let key = throttle::account_key(&user.email);
    let address = throttle::address_key(user.ip.as_deref());
    let Some(attempt) = throttle::reserve(&state.pool, &key, &address).await? else {
        errors.add(
            "current",
            "Too many wrong passwords. Wait 15 minutes, then try again",
        );
        return password_page(&user, errors);
    };
    let me = db::users::find(&state.pool, user.id)
        .await?
        .ok_or(AppError::NotFound)?;
    let right = state
        .hash_gate
        .verify(
            me.password_hash.unwrap_or_default(),
            form.raw("current").to_owned(),
        )
        .await?;
    if !right {
        audit::record_alone(
            &state.pool,
            &state.audit,
            &user.actor(),
            Event::new("auth.reauthentication_failed", "user").entity(user.id),
        )
        .await?;
        errors.add("current", "Your current password is not right");
        return password_page(&user, errors);
    }
    let hash = state
        .hash_gate
        .hash(form.raw("password").to_owned())
        .await??;
    let mut tx = state.pool.begin().await?;
    db::users::set_password_hash(&mut *tx, user.id, &hash).await?;
    db::sessions::end_all_others(&mut *tx, user.id, user.session_id, "password_changed").await?;
    throttle::forgive(&mut *tx, attempt, &key, &address).await?;
    db::notices::add(
        &mut *tx,
        user.id,
        NoticeKind::PasswordChanged,
        Some(user.id),
    )
    .await?;
    audit::record(
        &mut tx,
        &state.audit,
        &user.actor(),
        Event::new("auth.password_changed", "user").entity(user.id),
    )
    .await?;
    tx.commit().await?;
    Ok(Redirect::to("/account?password_changed=1").into_response())
}

pub async fn end_session(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> AppResult<Response> {
    let id = parse_id(&id)?;
    let mut tx = state.pool.begin().await?;
    if !db::sessions::end_own(&mut *tx, user.id, id).await? {
        return Err(AppError::NotFound);
    }
    audit::record(
        &mut tx,
        &state.audit,
        &user.actor(),
        Event::new("auth.session_ended", "session").entity(id),
    )
    .await?;
    tx.commit().await?;
    if id == user.session_id {
        return Ok(Redirect::to("/sign-in?signed_out=1").into_response());
    }
    Ok(Redirect::to("/account").into_response())
}
