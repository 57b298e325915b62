//! Set-password links, under a two-person rule.
//!
//! An administrator who could make a link for someone else's account could set that account's
//! password and sign in as them, reaching case content administrators must never see. So one
//! administrator *asks* for a link (no token exists yet), and a *different* administrator
//! *releases* it: only then is the token made, shown once, to the releaser. The database refuses
//! a release by the person who asked (constraint `password_tokens_two_people`). The account's
//! owner is told (a notice at their next sign-in), and using a reset link clears their second
//! factor, which they must set up again themselves.
//!
//! A Haven with a single administrator releases links from the server's command line
//! (`haven password-link`), which needs access to the server itself.

use askama::Template;
use axum::extract::{Path, State};
use axum::response::{Html, IntoResponse, Redirect, Response};
use uuid::Uuid;

use crate::app::AppState;
use crate::audit::{self, Event};
use crate::auth::{CurrentUser, token};
use crate::db;
use crate::db::notices::NoticeKind;
use crate::db::users::LinkKind;
use crate::domain::time::format_datetime;
use crate::error::{AppError, AppResult};

use super::super::form::{Errors, FormData};
use super::super::layout::{Layout, Section};
use super::super::parse_id;

/// How long a released link works.
pub const LINK_HOURS: i64 = 72;

/// A request waiting for a second administrator, as the admin pages show it.
pub struct WaitingView {
    pub user_id: Uuid,
    pub person: String,
    pub asked_by: String,
    pub asked: String,
    /// The viewer asked for it, so they cannot release it.
    pub mine: bool,
    pub reset: bool,
}

fn view(w: db::users::WaitingLink, viewer: &CurrentUser) -> WaitingView {
    WaitingView {
        user_id: w.user_id,
        person: w.user_name,
        asked_by: w
            .requested_by_name
            .unwrap_or_else(|| "the command line".to_owned()),
        asked: format_datetime(w.created_at),
        mine: w.requested_by == Some(viewer.id),
        reset: w.kind == "reset",
    }
}

pub async fn waiting_views(state: &AppState, viewer: &CurrentUser) -> AppResult<Vec<WaitingView>> {
    Ok(db::users::waiting_links(&state.pool, 50)
        .await?
        .into_iter()
        .map(|w| view(w, viewer))
        .collect())
}

pub async fn waiting_view(
    state: &AppState,
    viewer: &CurrentUser,
    user_id: Uuid,
) -> AppResult<Option<WaitingView>> {
    let mut conn = state.pool.acquire().await?;
    Ok(db::users::waiting_link_for(&mut conn, user_id)
        .await?
        .map(|w| view(w, viewer)))
}

/// Ask for a link for `user_id`, in the caller's transaction, audited. A reset tells the person.
pub async fn request(
    state: &AppState,
    tx: &mut sqlx::PgConnection,
    admin: &CurrentUser,
    user_id: Uuid,
    kind: LinkKind,
) -> AppResult<()> {
    db::users::request_password_link(&mut *tx, user_id, Some(admin.id), kind).await?;
    if kind == LinkKind::Reset {
        db::notices::add(
            &mut *tx,
            user_id,
            NoticeKind::PasswordResetLink,
            Some(admin.id),
        )
        .await?;
    }
    audit::record(
        tx,
        &state.audit,
        &admin.actor(),
        Event::new("user.password_link_requested", "user")
            .entity(user_id)
            .details(serde_json::json!({ "kind": if kind == LinkKind::Reset { "reset" } else { "new_account" } })),
    )
    .await?;
    Ok(())
}

/// "Ask for a set-password link" on an account's page.
pub async fn ask(
    State(state): State<AppState>,
    admin: CurrentUser,
    Path(id): Path<String>,
    form: FormData,
) -> AppResult<Response> {
    let id = parse_id(&id)?;
    form.only(&[])?;
    let mut tx = state.pool.begin().await?;
    let u = db::users::find(&mut *tx, id)
        .await?
        .ok_or(AppError::NotFound)?;
    if u.disabled_at.is_some() {
        return Err(AppError::BadRequest("account is disabled"));
    }
    let kind = if u.password_hash.is_some() {
        LinkKind::Reset
    } else {
        LinkKind::NewAccount
    };
    request(&state, &mut tx, &admin, id, kind).await?;
    tx.commit().await?;
    Ok(Redirect::to(&format!("/admin/users/{id}?link_requested=1")).into_response())
}

#[derive(Template)]
#[template(path = "admin/link.html")]
struct LinkPage {
    layout: Layout,
    person: String,
    link: String,
    hours: i64,
    user_id: Uuid,
}

/// The address of a set-password link.
pub fn link_for(state: &AppState, t: &str) -> String {
    let base = state.config.public_url.as_str().trim_end_matches('/');
    format!("{base}/set-password/{t}")
}

/// Release the waiting link for an account: a different administrator from the one who asked.
pub async fn release(
    State(state): State<AppState>,
    admin: CurrentUser,
    Path(id): Path<String>,
    form: FormData,
) -> AppResult<Response> {
    let id = parse_id(&id)?;
    form.only(&[])?;
    let mut tx = state.pool.begin().await?;
    let Some(waiting) = db::users::waiting_link_for(&mut tx, id).await? else {
        tx.rollback().await?;
        let mut errors = Errors::default();
        errors.add(
            "release",
            "There is no set-password link waiting for this account. Ask for one first",
        );
        return super::render_user_errors(&state, &admin, id, errors).await;
    };
    if waiting.requested_by == Some(admin.id) {
        tx.rollback().await?;
        audit::record_alone(
            &state.pool,
            &state.audit,
            &admin.actor(),
            Event::new("user.password_link_release_refused", "user").entity(id),
        )
        .await?;
        let mut errors = Errors::default();
        errors.add(
            "release",
            "You asked for this link, so a different administrator must release it",
        );
        return super::render_user_errors(&state, &admin, id, errors).await;
    }
    let t = token::new_token();
    db::users::release_password_link(
        &mut *tx,
        waiting.id,
        Some(admin.id),
        &token::digest(&t),
        chrono::Duration::hours(LINK_HOURS),
    )
    .await?;
    audit::record(
        &mut tx,
        &state.audit,
        &admin.actor(),
        Event::new("user.password_link_released", "user")
            .entity(id)
            .details(serde_json::json!({ "link": waiting.id, "asked_by": waiting.requested_by })),
    )
    .await?;
    tx.commit().await?;
    let page = LinkPage {
        layout: Layout::for_user("Set-password link", &admin, Section::Admin),
        person: waiting.user_name,
        link: link_for(&state, &t),
        hours: LINK_HOURS,
        user_id: id,
    };
    Ok(Html(page.render()?).into_response())
}
