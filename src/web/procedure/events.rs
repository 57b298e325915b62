//! Events recorded on a case that meet or start clocks: child protection conferences (initial and
//! review), core group meetings, the single assessment completed, and the LADO told.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;
use uuid::Uuid;

use crate::app::AppState;
use crate::audit::Event;
use crate::auth::CurrentUser;
use crate::db;
use crate::db::procedure::{ConferenceRow, NewConference};
use crate::domain::procedure::{ConferenceKind, PlanCategory};
use crate::domain::time::{format_datetime, london_date};
use crate::error::{AppError, AppResult};

use super::super::cases::Audited;
use super::super::form::{DateParts, Errors, FormData};
use super::super::layout::{Layout, Section};
use super::super::macros_support::Choice;
use super::super::parse_id;
use super::Change;

pub fn conference_words(c: &ConferenceRow) -> String {
    let kind = ConferenceKind::parse(&c.kind)
        .map(ConferenceKind::label)
        .unwrap_or("");
    let plan = match c.category.as_deref().and_then(PlanCategory::parse) {
        Some(cat) if c.plan => format!(
            "child protection plan: {}. Lead social worker {}.",
            cat.label().to_lowercase(),
            c.lead_social_worker
        ),
        _ => "no child protection plan.".to_owned(),
    };
    format!(
        "{kind} on {}, chaired by {}: {plan}",
        format_datetime(c.held_at),
        c.chair
    )
}

#[derive(Template)]
#[template(path = "procedure/conference.html")]
struct ConferencePage {
    layout: Layout,
    errors: Errors,
    id: Uuid,
    reference: String,
    /// "conference" or "core-group".
    form_kind: &'static str,
    children: Vec<Choice>,
    kinds: Vec<Choice>,
    date: DateParts,
    time: String,
    chair: String,
    plan: Vec<Choice>,
    categories: Vec<Choice>,
    lead: String,
    core_group: String,
}

#[derive(Deserialize, Default)]
pub struct KindQuery {
    kind: Option<String>,
}

/// Children with a Section 47 enquiry, as choices.
async fn enquiry_children(
    db: impl sqlx::PgExecutor<'_>,
    case_id: Uuid,
    picked: &str,
) -> AppResult<Vec<Choice>> {
    Ok(db::procedure::enquiries(db, case_id)
        .await?
        .into_iter()
        .map(|e| {
            Choice::new(
                e.person_id.to_string(),
                e.child_name,
                e.person_id.to_string() == picked,
            )
        })
        .collect())
}

fn blank(
    user: &CurrentUser,
    case: &db::cases::CaseRow,
    form_kind: &'static str,
    children: Vec<Choice>,
    kind: &str,
    errors: Errors,
) -> ConferencePage {
    let title = if form_kind == "core-group" {
        "Record a core group meeting"
    } else {
        "Record a child protection conference"
    };
    ConferencePage {
        layout: Layout::for_user(title, user, Section::None).with_errors(&errors),
        errors,
        id: case.id,
        reference: case.reference.clone(),
        form_kind,
        children,
        kinds: ConferenceKind::ALL
            .iter()
            .map(|k| Choice::new(k.code(), k.label(), k.code() == kind))
            .collect(),
        date: DateParts::default(),
        time: String::new(),
        chair: String::new(),
        plan: vec![
            Choice::new("yes", "Yes, a child protection plan", false),
            Choice::new("no", "No plan", false),
        ],
        categories: PlanCategory::ALL
            .iter()
            .map(|c| Choice::new(c.code(), c.label(), false))
            .collect(),
        lead: String::new(),
        core_group: String::new(),
    }
}

pub async fn conference_form(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
    Query(q): Query<KindQuery>,
) -> AppResult<Response> {
    let id = parse_id(&id)?;
    let Audited(case) = super::open_case(&state, &user, id, "case.view").await?;
    let children = enquiry_children(&state.pool, id, "").await?;
    let kind = q.kind.unwrap_or_else(|| "initial".into());
    Ok(Html(
        blank(
            &user,
            &case,
            "conference",
            children,
            &kind,
            Errors::default(),
        )
        .render()?,
    )
    .into_response())
}

pub async fn conference_submit(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
    form: FormData,
) -> AppResult<Response> {
    form.only(&[
        "child",
        "kind",
        "held-day",
        "held-month",
        "held-year",
        "time",
        "chair",
        "plan",
        "category",
        "lead",
        "core_group",
    ])?;
    let id = parse_id(&id)?;
    let mut change = Change::begin(&state, &user, id).await?;
    let now = change.now;
    let enquiries = db::procedure::enquiries(&mut *change.tx, id).await?;
    let conferences = db::procedure::conferences(&mut *change.tx, id).await?;
    let mut e = Errors::default();
    let child = match uuid::Uuid::parse_str(form.raw("child")) {
        Ok(c) if enquiries.iter().any(|x| x.person_id == c) => Some(c),
        _ => {
            e.add("child", "Select the child the conference was about");
            None
        }
    };
    let kind = e.choice(
        &form,
        "kind",
        "Select the kind of conference",
        ConferenceKind::parse,
    );
    let when = e.past_moment(&form, "held", "time", "the conference was held", true, now);
    let chair = e.text(&form, "chair", "The independent chair's name", true, 200);
    let plan = match form.raw("plan") {
        "yes" => Some(true),
        "no" => Some(false),
        _ => {
            e.add(
                "plan",
                "Select whether the child is to have a child protection plan",
            );
            None
        }
    };
    let category = if plan == Some(true) {
        e.choice(
            &form,
            "category",
            "Select the category of the plan",
            PlanCategory::parse,
        )
    } else {
        None
    };
    let lead = e.text(
        &form,
        "lead",
        "The lead social worker",
        plan == Some(true),
        200,
    );
    let core_group = e.text(&form, "core_group", "The core group", false, 2000);
    // Order of events: a conference needs an enquiry that had started; a review needs an
    // initial conference before it.
    if let (Some(c), Some(at)) = (child, when.at) {
        let started = enquiries
            .iter()
            .find(|x| x.person_id == c)
            .map(|x| x.started_on);
        if started.is_some_and(|s| london_date(at) < s) {
            e.add(
                "held-day",
                "The conference cannot be before the Section 47 enquiry started",
            );
        }
        let initial = conferences
            .iter()
            .filter(|x| x.person_id == c && x.kind == "initial")
            .map(|x| x.held_at)
            .min();
        match kind {
            Some(ConferenceKind::Initial) if initial.is_some() => e.add(
                "kind",
                "This child has had an initial conference: record a review conference",
            ),
            Some(ConferenceKind::Review) if initial.is_none_or(|i| at <= i) => e.add(
                "kind",
                "A review conference comes after the initial conference",
            ),
            _ => {}
        }
    }
    let (Some(child), Some(kind), Some(at), Some(_plan), true) =
        (child, kind, when.at, plan, e.is_empty())
    else {
        let Audited(case) = change
            .show_again(&state, &user, "conference with errors")
            .await?;
        let children = enquiry_children(&state.pool, id, form.raw("child")).await?;
        let mut p = blank(&user, &case, "conference", children, form.raw("kind"), e);
        p.date = when.date;
        p.time = when.time;
        p.chair = chair;
        let (pl, cat) = (form.raw("plan").to_owned(), form.raw("category").to_owned());
        p.plan.iter_mut().for_each(|c| c.selected = c.value == pl);
        p.categories
            .iter_mut()
            .for_each(|c| c.selected = c.value == cat);
        p.lead = lead;
        p.core_group = core_group;
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, Html(p.render()?)).into_response());
    };
    let conference = NewConference {
        case_id: id,
        person_id: child,
        kind: kind.code(),
        held_at: at,
        chair: &chair,
        category: category.map(PlanCategory::code),
        lead_social_worker: &lead,
        core_group: &core_group,
    };
    db::procedure::add_conference(&mut *change.tx, conference, user.id).await?;
    let name = enquiries
        .iter()
        .find(|x| x.person_id == child)
        .map(|x| x.child_name.clone())
        .unwrap_or_default();
    let summary = format!(
        "{} for {name}, chaired by {chair}: {}",
        kind.label(),
        match category {
            Some(c) => format!(
                "child protection plan ({}); lead social worker {lead}.",
                c.label().to_lowercase()
            ),
            None => "no child protection plan.".into(),
        }
    );
    change
        .finish(
            &state,
            &user,
            Some(("conference", summary, at)),
            Event::new("case.conference_add", "case")
                .details(serde_json::json!({ "kind": kind.code(), "plan": category.is_some() })),
        )
        .await?;
    Ok(Redirect::to(&format!("/cases/{id}/procedure#conferences")).into_response())
}

pub async fn core_group_form(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> AppResult<Response> {
    let id = parse_id(&id)?;
    let Audited(case) = super::open_case(&state, &user, id, "case.view").await?;
    let children = enquiry_children(&state.pool, id, "").await?;
    Ok(
        Html(blank(&user, &case, "core-group", children, "", Errors::default()).render()?)
            .into_response(),
    )
}

pub async fn core_group_submit(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
    form: FormData,
) -> AppResult<Response> {
    form.only(&["child", "held-day", "held-month", "held-year", "time"])?;
    let id = parse_id(&id)?;
    let mut change = Change::begin(&state, &user, id).await?;
    let now = change.now;
    let conferences = db::procedure::conferences(&mut *change.tx, id).await?;
    let mut e = Errors::default();
    let child = match uuid::Uuid::parse_str(form.raw("child")) {
        Ok(c) if conferences.iter().any(|x| x.person_id == c && x.plan) => Some(c),
        _ => {
            e.add("child", "Select a child with a child protection plan");
            None
        }
    };
    let when = e.past_moment(&form, "held", "time", "the meeting was held", true, now);
    if let (Some(c), Some(at)) = (child, when.at)
        && conferences
            .iter()
            .filter(|x| x.person_id == c && x.kind == "initial")
            .all(|x| x.held_at > at)
    {
        e.add(
            "held-day",
            "A core group meets after the initial conference",
        );
    }
    let (Some(child), Some(at), true) = (child, when.at, e.is_empty()) else {
        let Audited(case) = change
            .show_again(&state, &user, "core group with errors")
            .await?;
        let children = enquiry_children(&state.pool, id, form.raw("child")).await?;
        let mut p = blank(&user, &case, "core-group", children, "", e);
        p.date = when.date;
        p.time = when.time;
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, Html(p.render()?)).into_response());
    };
    db::procedure::add_core_group(&mut *change.tx, id, child, at, user.id).await?;
    let name = conferences
        .iter()
        .find(|x| x.person_id == child)
        .map(|x| x.child_name.clone())
        .unwrap_or_default();
    change
        .finish(
            &state,
            &user,
            Some((
                "conference",
                format!("Core group meeting held for {name}."),
                at,
            )),
            Event::new("case.core_group_add", "case"),
        )
        .await?;
    Ok(Redirect::to(&format!("/cases/{id}/procedure#conferences")).into_response())
}

// Milestones -------------------------------------------------------------------------------------

#[derive(Template)]
#[template(path = "procedure/milestone.html")]
struct MilestonePage {
    layout: Layout,
    errors: Errors,
    id: Uuid,
    reference: String,
    kind: &'static str,
    heading: &'static str,
    hint: &'static str,
    date: DateParts,
    time: String,
    details: String,
}

fn milestone_kind(slug: &str) -> Option<(&'static str, &'static str, &'static str)> {
    match slug {
        "assessment-completed" => Some((
            "assessment_completed",
            "Record that the single assessment is complete",
            "What the assessment concluded, in a sentence (optional)",
        )),
        "lado-told" => Some((
            "lado_told",
            "Record that the LADO was told",
            "Who you told and how, and any reference the LADO gave",
        )),
        _ => None,
    }
}

pub async fn milestone_form(
    State(state): State<AppState>,
    user: CurrentUser,
    Path((id, slug)): Path<(String, String)>,
) -> AppResult<Response> {
    let id = parse_id(&id)?;
    let (kind, heading, hint) = milestone_kind(&slug).ok_or(AppError::NotFound)?;
    let Audited(case) = super::open_case(&state, &user, id, "case.view").await?;
    let page = MilestonePage {
        layout: Layout::for_user(heading, &user, Section::None),
        errors: Errors::default(),
        id,
        reference: case.reference,
        kind: if kind == "lado_told" {
            "lado-told"
        } else {
            "assessment-completed"
        },
        heading,
        hint,
        date: DateParts::default(),
        time: String::new(),
        details: String::new(),
    };
    Ok(Html(page.render()?).into_response())
}

pub async fn milestone_submit(
    State(state): State<AppState>,
    user: CurrentUser,
    Path((id, slug)): Path<(String, String)>,
    form: FormData,
) -> AppResult<Response> {
    form.only(&["when-day", "when-month", "when-year", "time", "details"])?;
    let id = parse_id(&id)?;
    let (kind, heading, hint) = milestone_kind(&slug).ok_or(AppError::NotFound)?;
    let mut change = Change::begin(&state, &user, id).await?;
    let now = change.now;
    let mut e = Errors::default();
    let when = e.past_moment(&form, "when", "time", "it happened", true, now);
    let details = e.text(&form, "details", "The details", kind == "lado_told", 2000);
    if let Some(at) = when.at
        && at < change.case.received_at
    {
        e.add(
            "when-day",
            "This cannot have happened before the referral was received",
        );
    }
    let (Some(at), true) = (when.at, e.is_empty()) else {
        let Audited(case) = change
            .show_again(&state, &user, "milestone with errors")
            .await?;
        let page = MilestonePage {
            layout: Layout::for_user(heading, &user, Section::None).with_errors(&e),
            errors: e,
            id,
            reference: case.reference,
            kind: if kind == "lado_told" {
                "lado-told"
            } else {
                "assessment-completed"
            },
            heading,
            hint,
            date: when.date,
            time: when.time,
            details,
        };
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, Html(page.render()?)).into_response());
    };
    db::procedure::add_milestone(&mut *change.tx, id, kind, at, &details, user.id).await?;
    let summary = if kind == "lado_told" {
        format!("The LADO was told about the allegation. {details}")
    } else {
        format!("The single assessment was completed. {details}")
    };
    change
        .finish(
            &state,
            &user,
            Some(("milestone", summary.trim().to_owned(), at)),
            Event::new("case.milestone_add", "case").details(serde_json::json!({ "kind": kind })),
        )
        .await?;
    Ok(Redirect::to(&format!("/cases/{id}/procedure")).into_response())
}
