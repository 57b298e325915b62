//! The decision on a referral: a practitioner records it, a manager approves it or sends it back
//! (never their own), and then the referrer is told the outcome.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use uuid::Uuid;

use crate::app::AppState;
use crate::audit::Event;
use crate::auth::CurrentUser;
use crate::db;
use crate::db::procedure::DecisionRow;
use crate::domain::Role;
use crate::domain::procedure::{DecisionOutcome, may_approve};
use crate::domain::time::format_datetime;
use crate::error::{AppError, AppResult};

use super::super::cases::Audited;
use super::super::form::{DateParts, Errors, FormData};
use super::super::layout::{Layout, Section};
use super::super::macros_support::Choice;
use super::super::parse_id;
use super::{Change, write_error};

pub struct DecisionView {
    pub id: Uuid,
    pub outcome: &'static str,
    pub reasons: String,
    pub proposed: String,
    pub approved: bool,
    pub approval: String,
    /// The viewer may approve it (a manager who did not propose it).
    pub can_review: bool,
    /// The viewer proposed it and is a manager: say why they cannot approve it.
    pub own: bool,
    pub referrer_told: String,
    pub version: i32,
}

pub fn view(d: &DecisionRow, user: &CurrentUser) -> DecisionView {
    DecisionView {
        id: d.id,
        outcome: DecisionOutcome::parse(&d.outcome)
            .map(DecisionOutcome::label)
            .unwrap_or(""),
        reasons: d.reasons.clone(),
        proposed: format!(
            "Recorded by {} on {}",
            d.proposed_by_name,
            format_datetime(d.proposed_at)
        ),
        approved: d.status == "approved",
        approval: match (&d.reviewed_by_name, d.reviewed_at) {
            (Some(by), Some(at)) => format!("Approved by {by} on {}", format_datetime(at)),
            _ => "Waiting for a manager to approve it".to_owned(),
        },
        can_review: d.status == "proposed"
            && user.role == Role::Manager
            && may_approve(d.proposed_by, user.id),
        own: d.status == "proposed" && user.role == Role::Manager && d.proposed_by == user.id,
        referrer_told: match d.referrer_told_at {
            Some(at) => format!(
                "The referrer was told on {}{}",
                format_datetime(at),
                if d.referrer_told_how.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", d.referrer_told_how)
                }
            ),
            None => String::new(),
        },
        version: d.version,
    }
}

#[derive(Template)]
#[template(path = "procedure/decision.html")]
struct DecisionPage {
    layout: Layout,
    errors: Errors,
    id: Uuid,
    reference: String,
    title: String,
    outcomes: Vec<Choice>,
    reasons: String,
}

fn render(
    user: &CurrentUser,
    case: &db::cases::CaseRow,
    errors: Errors,
    picked: &str,
    reasons: String,
) -> AppResult<Response> {
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let page = DecisionPage {
        layout: Layout::for_user(
            format!("Decision on the referral for {}", case.reference),
            user,
            Section::None,
        )
        .with_errors(&errors),
        errors,
        id: case.id,
        reference: case.reference.clone(),
        title: case.title.clone(),
        outcomes: DecisionOutcome::ALL
            .iter()
            .map(|o| Choice::new(o.code(), o.label(), o.code() == picked))
            .collect(),
        reasons,
    };
    Ok((status, Html(page.render()?)).into_response())
}

pub async fn form(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> AppResult<Response> {
    let id = parse_id(&id)?;
    let Audited(case) = super::open_case(&state, &user, id, "case.view").await?;
    render(&user, &case, Errors::default(), "", String::new())
}

pub async fn submit(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
    form: FormData,
) -> AppResult<Response> {
    form.only(&["outcome", "reasons"])?;
    let id = parse_id(&id)?;
    let change = Change::begin(&state, &user, id).await?;
    let mut e = Errors::default();
    let outcome = e.choice(
        &form,
        "outcome",
        "Select what happens next",
        DecisionOutcome::parse,
    );
    let reasons = e.text(&form, "reasons", "The reasons", false, 5000);
    if outcome.is_some_and(DecisionOutcome::needs_reasons) && reasons.is_empty() && e.is_empty() {
        e.add("reasons", "Give the reasons for no further action");
    }
    let (Some(outcome), true) = (outcome, e.is_empty()) else {
        let Audited(case) = change
            .show_again(&state, &user, "decision with errors")
            .await?;
        return render(&user, &case, e, form.raw("outcome"), reasons);
    };
    let mut change = change;
    let now = change.now;
    match db::procedure::propose_decision(
        &mut change.tx,
        id,
        outcome.code(),
        &reasons,
        user.id,
        now,
    )
    .await
    {
        Ok(_) => {}
        Err(err) => return write_error(err, &user, &change.case, "the decision on the referral"),
    }
    change
        .finish(
            &state,
            &user,
            Some((
                "decision",
                format!(
                    "Decision recorded: {}. Waiting for a manager's approval.{}",
                    outcome.label(),
                    if reasons.is_empty() {
                        String::new()
                    } else {
                        format!(" Reasons: {reasons}")
                    }
                ),
                now,
            )),
            Event::new("case.decision_propose", "case")
                .details(serde_json::json!({ "outcome": outcome.code() })),
        )
        .await?;
    Ok(Redirect::to(&format!("/cases/{id}/procedure#decision")).into_response())
}

/// A manager approves the decision or sends it back with a reason.
pub async fn review(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
    form: FormData,
) -> AppResult<Response> {
    form.only(&["decision", "version", "action", "note"])?;
    let id = parse_id(&id)?;
    let decision = parse_id(form.raw("decision"))?;
    let version: i32 = form
        .raw("version")
        .parse()
        .map_err(|_| AppError::BadRequest("missing version"))?;
    let approve = match form.raw("action") {
        "approve" => true,
        "return" => false,
        _ => return Err(AppError::BadRequest("approve or return")),
    };
    let mut change = Change::begin(&state, &user, id).await?;
    if !change.managed_by(&user) {
        return Err(AppError::Forbidden);
    }
    let current = db::procedure::decisions(&mut *change.tx, id)
        .await?
        .into_iter()
        .find(|d| d.id == decision)
        .ok_or(AppError::NotFound)?;
    let mut e = Errors::default();
    let note = e.text(
        &form,
        "note",
        "The reason for sending it back",
        !approve,
        2000,
    );
    if !may_approve(current.proposed_by, user.id) {
        e.add(
            "note",
            "You recorded this decision, so another manager must approve it",
        );
    }
    if !e.is_empty() {
        let Audited(case) = change
            .show_again(&state, &user, "decision review refused")
            .await?;
        return review_refused(&state, &user, &case, e).await;
    }
    let now = change.now;
    if let Err(err) = db::procedure::review_decision(
        &mut *change.tx,
        decision,
        version,
        approve,
        &note,
        user.id,
        now,
    )
    .await
    {
        return write_error(err, &user, &change.case, "the decision on the referral");
    }
    let outcome = DecisionOutcome::parse(&current.outcome);
    if approve && outcome == Some(DecisionOutcome::StrategyDiscussion) {
        db::procedure::set_status(&mut *change.tx, id, "strategy").await?;
    }
    let label = outcome.map(DecisionOutcome::label).unwrap_or("");
    let summary = if approve {
        format!("Decision approved: {label}.")
    } else {
        format!("Decision sent back ({label}): {note}")
    };
    change
        .finish(
            &state,
            &user,
            Some(("decision", summary, now)),
            Event::new("case.decision_review", "case")
                .details(serde_json::json!({ "decision": decision, "approved": approve })),
        )
        .await?;
    Ok(Redirect::to(&format!("/cases/{id}/procedure#decision")).into_response())
}

#[derive(Template)]
#[template(path = "procedure/refused.html")]
struct RefusedPage {
    layout: Layout,
    errors: Errors,
    id: Uuid,
    reference: String,
}

/// A review that could not be accepted: the message, and the way back.
pub async fn review_refused(
    _state: &AppState,
    user: &CurrentUser,
    case: &db::cases::CaseRow,
    errors: Errors,
) -> AppResult<Response> {
    let page = RefusedPage {
        layout: Layout::for_user("That could not be saved", user, Section::None)
            .with_errors(&errors),
        errors,
        id: case.id,
        reference: case.reference.clone(),
    };
    Ok((StatusCode::UNPROCESSABLE_ENTITY, Html(page.render()?)).into_response())
}

#[derive(Template)]
#[template(path = "procedure/referrer_told.html")]
struct ToldPage {
    layout: Layout,
    errors: Errors,
    id: Uuid,
    reference: String,
    decision: Uuid,
    version: i32,
    date: DateParts,
    time: String,
    how: String,
}

pub async fn referrer_told_form(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> AppResult<Response> {
    let id = parse_id(&id)?;
    let Audited(case) = super::open_case(&state, &user, id, "case.view").await?;
    let d = db::procedure::decisions(&state.pool, id)
        .await?
        .into_iter()
        .find(|d| d.status == "approved" && d.referrer_told_at.is_none())
        .ok_or(AppError::NotFound)?;
    let page = ToldPage {
        layout: Layout::for_user("Record that the referrer was told", &user, Section::None),
        errors: Errors::default(),
        id,
        reference: case.reference,
        decision: d.id,
        version: d.version,
        date: DateParts::default(),
        time: String::new(),
        how: String::new(),
    };
    Ok(Html(page.render()?).into_response())
}

pub async fn referrer_told(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
    form: FormData,
) -> AppResult<Response> {
    form.only(&[
        "decision",
        "version",
        "when-day",
        "when-month",
        "when-year",
        "time",
        "how",
    ])?;
    let id = parse_id(&id)?;
    let decision = parse_id(form.raw("decision"))?;
    let version: i32 = form
        .raw("version")
        .parse()
        .map_err(|_| AppError::BadRequest("missing version"))?;
    let mut change = Change::begin(&state, &user, id).await?;
    let now = change.now;
    let mut e = Errors::default();
    let when = e.past_moment(&form, "when", "time", "the referrer was told", true, now);
    let how = e.text(&form, "how", "How they were told", true, 500);
    let (Some(at), true) = (when.at, e.is_empty()) else {
        let Audited(case) = change
            .show_again(&state, &user, "referrer told with errors")
            .await?;
        let page = ToldPage {
            layout: Layout::for_user("Record that the referrer was told", &user, Section::None)
                .with_errors(&e),
            errors: e,
            id,
            reference: case.reference,
            decision,
            version,
            date: when.date,
            time: when.time,
            how,
        };
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, Html(page.render()?)).into_response());
    };
    if at < change.case.received_at {
        let Audited(case) = change
            .show_again(&state, &user, "referrer told too early")
            .await?;
        let mut e = Errors::default();
        e.add(
            "when-day",
            "The referrer cannot have been told before the referral was received",
        );
        let page = ToldPage {
            layout: Layout::for_user("Record that the referrer was told", &user, Section::None)
                .with_errors(&e),
            errors: e,
            id,
            reference: case.reference,
            decision,
            version,
            date: when.date,
            time: when.time,
            how,
        };
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, Html(page.render()?)).into_response());
    }
    if let Err(err) =
        db::procedure::referrer_told(&mut *change.tx, decision, version, at, &how, user.id).await
    {
        return write_error(err, &user, &change.case, "the decision on the referral");
    }
    change
        .finish(
            &state,
            &user,
            Some((
                "decision",
                format!("The referrer was told the outcome ({how})."),
                at,
            )),
            Event::new("case.referrer_told", "case"),
        )
        .await?;
    Ok(Redirect::to(&format!("/cases/{id}/procedure#decision")).into_response())
}
