//! A person's own account: the home redirect, their sessions, and turning on security codes.

use askama::Template;
use axum::extract::{Path, State};
use axum::response::{Html, IntoResponse, Redirect, Response};
use uuid::Uuid;

use crate::app::AppState;
use crate::audit::{self, Event};
use crate::auth::CurrentUser;
use crate::db;
use crate::domain::Role;
use crate::domain::time::format_datetime;
use crate::error::{AppError, AppResult};

use super::form::{Errors, FormData};
use super::layout::{Layout, Section};
use super::parse_id;
use super::sign_in::{RecoveryCodesPage, confirm_enrol, render_enrol};

pub async fn home(user: CurrentUser) -> Redirect {
    // Each role starts where its work is: managers and the LADO oversee their teams' cases.
    match user.role {
        Role::Admin => Redirect::to("/admin/users"),
        Role::Manager | Role::Lado => Redirect::to("/cases/team"),
        Role::Practitioner => Redirect::to("/cases"),
    }
}

pub struct SessionView {
    pub id: Uuid,
    pub current: bool,
    pub started: String,
    pub last_seen: String,
    pub from: String,
    pub browser: String,
}

#[derive(Template)]
#[template(path = "account/show.html")]
struct AccountPage {
    layout: Layout,
    email: String,
    role: &'static str,
    totp_on: bool,
    recovery_left: i64,
    sessions: Vec<SessionView>,
}

pub async fn show(State(state): State<AppState>, user: CurrentUser) -> AppResult<Html<String>> {
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
    let page = AccountPage {
        layout: Layout::for_user("Your account", &user, Section::Account),
        email: me.email.clone(),
        role: user.role.label(),
        totp_on: me.totp_enabled(),
        recovery_left: db::users::unused_recovery_codes(&state.pool, user.id).await?,
        sessions,
    };
    Ok(Html(page.render()?))
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

pub async fn two_factor_form(
    State(state): State<AppState>,
    user: CurrentUser,
) -> AppResult<Response> {
    let errors = Errors::default();
    let layout = Layout::for_user("Set up a security code", &user, Section::Account);
    render_enrol(&state, &user, layout, errors, "/account/two-factor").await
}

pub async fn two_factor_submit(
    State(state): State<AppState>,
    user: CurrentUser,
    form: FormData,
) -> AppResult<Response> {
    match confirm_enrol(&state, &user, &form).await? {
        Err(errors) => {
            let layout = Layout::for_user("Set up a security code", &user, Section::Account)
                .with_errors(&errors);
            render_enrol(&state, &user, layout, errors, "/account/two-factor").await
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
