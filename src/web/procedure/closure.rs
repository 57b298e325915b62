//! Closing a case: proposed with a reason, approved by a manager who did not propose it (the case
//! is then closed and its open deadlines end), or sent back.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use uuid::Uuid;

use crate::app::AppState;
use crate::audit::Event;
use crate::auth::CurrentUser;
use crate::db;
use crate::db::procedure::ClosureRow;
use crate::domain::Role;
use crate::domain::procedure::may_approve;
use crate::domain::time::format_datetime;
use crate::error::{AppError, AppResult};

use super::super::cases::Audited;
use super::super::form::{Errors, FormData};
use super::super::layout::{Layout, Section};
use super::super::parse_id;
use super::{Change, write_error};

pub struct ClosureView {
    pub id: Uuid,
    pub words: String,
    pub reason: String,
    pub waiting: bool,
    pub can_review: bool,
}

pub fn view(c: &ClosureRow, user: &CurrentUser) -> ClosureView {
    let words = match c.status.as_str() {
        "approved" => format!(
            "Closed: approved by {}",
            c.reviewed_by_name.as_deref().unwrap_or("a manager")
        ),
        "returned" => format!(
            "Closing was sent back by {}: {}",
            c.reviewed_by_name.as_deref().unwrap_or("a manager"),
            c.review_note
        ),
        _ => format!(
            "{} proposed closing the case on {}. Waiting for a manager's approval",
            c.proposed_by_name,
            format_datetime(c.proposed_at)
        ),
    };
    ClosureView {
        id: c.id,
        words,
        reason: c.reason.clone(),
        waiting: c.status == "proposed",
        can_review: c.status == "proposed"
            && user.role == Role::Manager
            && may_approve(c.proposed_by, user.id),
    }
}

#[derive(Template)]
#[template(path = "procedure/close.html")]
struct ClosePage {
    layout: Layout,
    errors: Errors,
    id: Uuid,
    reference: String,
    reason: String,
}

pub async fn form(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> AppResult<Response> {
    let id = parse_id(&id)?;
    let Audited(case) = super::open_case(&state, &user, id, "case.view").await?;
    let page = ClosePage {
        layout: Layout::for_user(
            format!("Close case {}", case.reference),
            &user,
            Section::None,
        ),
        errors: Errors::default(),
        id,
        reference: case.reference,
        reason: String::new(),
    };
    Ok(Html(page.render()?).into_response())
}

pub async fn submit(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
    form: FormData,
) -> AppResult<Response> {
    form.only(&["reason"])?;
    let id = parse_id(&id)?;
    let mut change = Change::begin(&state, &user, id).await?;
    let mut e = Errors::default();
    let reason = e.text(
        &form,
        "reason",
        "The reason for closing the case",
        true,
        5000,
    );
    if change.case.status == "closed" {
        e.add("reason", "This case is already closed");
    }
    if !e.is_empty() {
        let Audited(case) = change
            .show_again(&state, &user, "closure with errors")
            .await?;
        let page = ClosePage {
            layout: Layout::for_user(
                format!("Close case {}", case.reference),
                &user,
                Section::None,
            )
            .with_errors(&e),
            errors: e,
            id,
            reference: case.reference,
            reason,
        };
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, Html(page.render()?)).into_response());
    }
    let now = change.now;
    if let Err(err) =
        db::procedure::propose_closure(&mut *change.tx, id, &reason, user.id, now).await
    {
        return write_error(err, &user, &change.case, "closing this case");
    }
    change
        .finish(
            &state,
            &user,
            Some((
                "closure",
                format!("Closing the case proposed: {reason}"),
                now,
            )),
            Event::new("case.closure_propose", "case"),
        )
        .await?;
    Ok(Redirect::to(&format!("/cases/{id}/procedure#closure")).into_response())
}

pub async fn review(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
    form: FormData,
) -> AppResult<Response> {
    form.only(&["closure", "action", "note"])?;
    let id = parse_id(&id)?;
    let closure = parse_id(form.raw("closure"))?;
    let approve = match form.raw("action") {
        "approve" => true,
        "return" => false,
        _ => return Err(AppError::BadRequest("approve or return")),
    };
    let mut change = Change::begin(&state, &user, id).await?;
    if !change.managed_by(&user) {
        return Err(AppError::Forbidden);
    }
    let row = db::procedure::closures(&mut *change.tx, id)
        .await?
        .into_iter()
        .find(|c| c.id == closure)
        .ok_or(AppError::NotFound)?;
    let mut e = Errors::default();
    let note = e.text(
        &form,
        "note",
        "The reason for sending it back",
        !approve,
        2000,
    );
    if !may_approve(row.proposed_by, user.id) {
        e.add(
            "note",
            "You proposed closing this case, so another manager must approve it",
        );
    }
    if !e.is_empty() {
        let Audited(case) = change
            .show_again(&state, &user, "closure review refused")
            .await?;
        return super::decision::review_refused(&state, &user, &case, e).await;
    }
    let now = change.now;
    if let Err(err) =
        db::procedure::review_closure(&mut *change.tx, closure, approve, &note, user.id, now).await
    {
        return write_error(err, &user, &change.case, "closing this case");
    }
    if approve {
        db::procedure::set_status(&mut *change.tx, id, "closed").await?;
    }
    let summary = if approve {
        format!("Case closed: {}", row.reason)
    } else {
        format!("Closing the case was sent back: {note}")
    };
    change
        .finish(
            &state,
            &user,
            Some(("closure", summary, now)),
            Event::new("case.closure_review", "case")
                .details(serde_json::json!({ "approved": approve })),
        )
        .await?;
    Ok(Redirect::to(&format!("/cases/{id}/procedure#closure")).into_response())
}
