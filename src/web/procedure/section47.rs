//! Section 47 outcomes, per child: proposed by the social worker, effective only when a manager
//! approves (never their own), or sent back with a reason. Alongside the outcome, never instead:
//! an adult who works with children is handed to the LADO, and a child who harmed another child
//! marks the Harmful Sexual Behaviour pathway.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use uuid::Uuid;

use crate::app::AppState;
use crate::audit::Event;
use crate::auth::CurrentUser;
use crate::db;
use crate::db::procedure::{EnquiryRow, OutcomeProposal};
use crate::domain::Role;
use crate::domain::procedure::{EnquiryKind, Section47Outcome, may_approve};
use crate::domain::time::format_date;
use crate::error::{AppError, AppResult};

use super::super::cases::Audited;
use super::super::form::{Errors, FormData};
use super::super::layout::{Layout, Section};
use super::super::macros_support::Choice;
use super::super::parse_id;
use super::{Change, EnquiryView, outcome_label, write_error};

pub fn enquiry_view(e: &EnquiryRow, user: &CurrentUser, closed: bool) -> EnquiryView {
    let status = match e.outcome_status.as_str() {
        "approved" => format!("Outcome: {}", outcome_label(e.outcome.as_deref())),
        "proposed" => format!(
            "Outcome proposed by {}: {}. Waiting for a manager's approval",
            e.proposed_by_name.as_deref().unwrap_or(""),
            outcome_label(e.outcome.as_deref())
        ),
        _ if !e.review_note.is_empty() => {
            format!(
                "Enquiry open. The last outcome was sent back: {}",
                e.review_note
            )
        }
        _ => "Enquiry open".to_owned(),
    };
    let mut flags = Vec::new();
    if e.lado_handover {
        flags.push("Handed to the LADO");
    }
    if e.harmful_sexual_behaviour {
        flags.push("Harmful sexual behaviour pathway");
    }
    if e.child_in_need_plan {
        flags.push("Child in need plan");
    }
    EnquiryView {
        id: e.id,
        child: e.child_name.clone(),
        started: format!(
            "Started {} ({})",
            format_date(e.started_on),
            EnquiryKind::parse(&e.kind)
                .map(|k| k.label().to_lowercase())
                .unwrap_or_default()
        ),
        status,
        can_propose: e.outcome_status == "open" && !closed,
        can_review: e.outcome_status == "proposed"
            && user.role == Role::Manager
            && e.proposed_by.is_some_and(|p| may_approve(p, user.id)),
        version: e.version,
        flags,
    }
}

#[derive(Template)]
#[template(path = "procedure/outcome.html")]
struct OutcomePage {
    layout: Layout,
    errors: Errors,
    id: Uuid,
    reference: String,
    enquiry: Uuid,
    child: String,
    version: i32,
    outcomes: Vec<Choice>,
    reasons: String,
    cin: bool,
    lado: bool,
    hsb: bool,
}

async fn enquiry(db: impl sqlx::PgExecutor<'_>, case_id: Uuid, id: Uuid) -> AppResult<EnquiryRow> {
    db::procedure::enquiries(db, case_id)
        .await?
        .into_iter()
        .find(|e| e.id == id)
        .ok_or(AppError::NotFound)
}

pub async fn form(
    State(state): State<AppState>,
    user: CurrentUser,
    Path((id, eid)): Path<(String, String)>,
) -> AppResult<Response> {
    let (id, eid) = (parse_id(&id)?, parse_id(&eid)?);
    let Audited(case) = super::open_case(&state, &user, id, "case.view").await?;
    let e = enquiry(&state.pool, id, eid).await?;
    if e.outcome_status != "open" {
        return Ok(Redirect::to(&format!("/cases/{id}/procedure#enquiries")).into_response());
    }
    let page = OutcomePage {
        layout: Layout::for_user(
            format!("Section 47 outcome for {}", e.child_name),
            &user,
            Section::None,
        ),
        errors: Errors::default(),
        id,
        reference: case.reference,
        enquiry: eid,
        child: e.child_name,
        version: e.version,
        outcomes: Section47Outcome::ALL
            .iter()
            .map(|o| Choice::new(o.code(), o.label(), false))
            .collect(),
        reasons: String::new(),
        cin: false,
        lado: false,
        hsb: false,
    };
    Ok(Html(page.render()?).into_response())
}

pub async fn submit(
    State(state): State<AppState>,
    user: CurrentUser,
    Path((id, eid)): Path<(String, String)>,
    form: FormData,
) -> AppResult<Response> {
    form.only(&["version", "outcome", "reasons", "cin", "lado", "hsb"])?;
    let (id, eid) = (parse_id(&id)?, parse_id(&eid)?);
    let version: i32 = form
        .raw("version")
        .parse()
        .map_err(|_| AppError::BadRequest("missing version"))?;
    let mut change = Change::begin(&state, &user, id).await?;
    // An outcome needs an enquiry for the child: none, and the address does not exist.
    let enquiry_row = enquiry(&mut *change.tx, id, eid).await?;
    let mut e = Errors::default();
    let outcome = e.choice(
        &form,
        "outcome",
        "Select the outcome of the enquiry",
        Section47Outcome::parse,
    );
    let reasons = e.text(&form, "reasons", "The reasons", false, 5000);
    if outcome.is_some_and(Section47Outcome::needs_reasons) && reasons.is_empty() && e.is_empty() {
        e.add(
            "reasons",
            "Give the reasons: no further child protection action needs them",
        );
    }
    let (cin, lado, hsb) = (
        form.raw("cin") == "yes",
        form.raw("lado") == "yes",
        form.raw("hsb") == "yes",
    );
    let (Some(outcome), true) = (outcome, e.is_empty()) else {
        let Audited(case) = change
            .show_again(&state, &user, "outcome with errors")
            .await?;
        let picked = form.raw("outcome").to_owned();
        let page = OutcomePage {
            layout: Layout::for_user(
                format!("Section 47 outcome for {}", enquiry_row.child_name),
                &user,
                Section::None,
            )
            .with_errors(&e),
            errors: e,
            id,
            reference: case.reference,
            enquiry: eid,
            child: enquiry_row.child_name,
            version,
            outcomes: Section47Outcome::ALL
                .iter()
                .map(|o| Choice::new(o.code(), o.label(), o.code() == picked))
                .collect(),
            reasons,
            cin,
            lado,
            hsb,
        };
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, Html(page.render()?)).into_response());
    };
    let now = change.now;
    if let Err(err) = db::procedure::propose_outcome(
        &mut *change.tx,
        eid,
        version,
        OutcomeProposal {
            outcome: outcome.code(),
            reasons: &reasons,
            child_in_need_plan: cin && outcome == Section47Outcome::NoContinuingRisk,
            lado_handover: lado,
            harmful_sexual_behaviour: hsb,
        },
        user.id,
        now,
    )
    .await
    {
        return write_error(err, &user, &change.case, "this Section 47 enquiry");
    }
    let mut summary = format!(
        "Section 47 outcome proposed for {}: {}. Waiting for a manager's approval.",
        enquiry_row.child_name,
        outcome.label()
    );
    if lado {
        summary.push_str(" The adult works with children: handed to the LADO.");
    }
    if hsb {
        summary.push_str(" The alleged person is a child: Harmful Sexual Behaviour pathway.");
    }
    change
        .finish(
            &state,
            &user,
            Some(("section47", summary, now)),
            Event::new("case.outcome_propose", "case").details(serde_json::json!({
                "enquiry": eid, "outcome": outcome.code(), "lado": lado, "hsb": hsb
            })),
        )
        .await?;
    Ok(Redirect::to(&format!("/cases/{id}/procedure#enquiries")).into_response())
}

pub async fn review(
    State(state): State<AppState>,
    user: CurrentUser,
    Path((id, eid)): Path<(String, String)>,
    form: FormData,
) -> AppResult<Response> {
    form.only(&["version", "action", "note"])?;
    let (id, eid) = (parse_id(&id)?, parse_id(&eid)?);
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
    let row = enquiry(&mut *change.tx, id, eid).await?;
    let mut e = Errors::default();
    let note = e.text(
        &form,
        "note",
        "The reason for sending it back",
        !approve,
        2000,
    );
    if row.proposed_by.is_some_and(|p| !may_approve(p, user.id)) {
        e.add(
            "note",
            "You proposed this outcome, so another manager must approve it",
        );
    }
    if !e.is_empty() {
        let Audited(case) = change
            .show_again(&state, &user, "outcome review refused")
            .await?;
        return super::decision::review_refused(&state, &user, &case, e).await;
    }
    let now = change.now;
    if let Err(err) =
        db::procedure::review_outcome(&mut *change.tx, eid, version, approve, &note, user.id, now)
            .await
    {
        return write_error(err, &user, &change.case, "this Section 47 enquiry");
    }
    let label = outcome_label(row.outcome.as_deref());
    let summary = if approve {
        format!(
            "Section 47 outcome approved for {}: {label}.",
            row.child_name
        )
    } else {
        format!(
            "Section 47 outcome for {} sent back: {note}",
            row.child_name
        )
    };
    change
        .finish(
            &state,
            &user,
            Some(("section47", summary, now)),
            Event::new("case.outcome_review", "case")
                .details(serde_json::json!({ "enquiry": eid, "approved": approve })),
        )
        .await?;
    Ok(Redirect::to(&format!("/cases/{id}/procedure#enquiries")).into_response())
}
