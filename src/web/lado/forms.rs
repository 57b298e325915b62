//! The LADO's changes to an allegation: each small form posts here, is checked, and either comes
//! back on the allegation's page with its messages and what was typed, or is saved with an entry
//! in the allegation's chronology and an audit row, in one transaction.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::app::AppState;
use crate::audit::{self, Event};
use crate::auth::CurrentUser;
use crate::db;
use crate::db::allegations::AllegationRow;
use crate::domain::lado::{
    EmployeeAction, HarmTest, MeetingKind, Outcome, ROUTES, Strand, StrandStatus, review_date,
};
use crate::domain::time::{format_date, format_datetime, london_date};
use crate::error::{AppError, AppResult};

use super::super::form::{DateParts, Errors, FormData};
use super::super::layout::{Layout, Section};
use super::super::macros_support::Choice;
use super::super::parse_id;
use super::{step_words, viewer};

/// An open write on an allegation the LADO may see.
struct Write<'a> {
    tx: sqlx::Transaction<'a, sqlx::Postgres>,
    a: AllegationRow,
    now: DateTime<Utc>,
}

async fn begin<'a>(state: &'a AppState, user: &CurrentUser, id: Uuid) -> AppResult<Write<'a>> {
    if !user.recently_authenticated() {
        return Err(AppError::StepUp(format!("/lado/allegations/{id}")));
    }
    let mut tx = state.pool.begin().await?;
    let a = db::allegations::find_visible(&mut *tx, viewer(user), id)
        .await?
        .ok_or(AppError::NotFound)?;
    Ok(Write {
        tx,
        a,
        now: state.config.clock.now(),
    })
}

impl Write<'_> {
    /// Save: the chronology entry and the audit row, then commit; back to the page's section.
    async fn finish(
        mut self,
        state: &AppState,
        user: &CurrentUser,
        kind: &str,
        summary: String,
        at: DateTime<Utc>,
        event: Event<'_>,
    ) -> AppResult<Response> {
        let id = self.a.id;
        let section = match kind {
            "step" => "steps",
            "meeting" => "meetings",
            "strand" => "strands",
            "action" => "actions",
            "link" => "linked",
            "told" => "main-content",
            other => other,
        };
        db::allegations::add_event(&mut *self.tx, id, at, kind, &summary, Some(user.id)).await?;
        audit::record(&mut self.tx, &state.audit, &user.actor(), event.entity(id)).await?;
        self.tx.commit().await?;
        Ok(Redirect::to(&format!("/lado/allegations/{id}#{section}")).into_response())
    }

    /// The form came back with messages: its page again (its view recorded), with what was typed.
    async fn again(
        mut self,
        state: &AppState,
        user: &CurrentUser,
        errors: Errors,
        form: &FormData,
        which: Which,
    ) -> AppResult<Response> {
        audit::record(
            &mut self.tx,
            &state.audit,
            &user.actor(),
            Event::new("allegation.view", "allegation")
                .entity(self.a.id)
                .details(serde_json::json!({ "shown_again": which.slug() })),
        )
        .await?;
        self.tx.commit().await?;
        let p = form_page(state, user, &self.a, which, errors, form.clone()).await?;
        Ok((StatusCode::UNPROCESSABLE_ENTITY, Html(p.render()?)).into_response())
    }
}

// One page for each kind of change --------------------------------------------------------------

/// The LADO's forms about an allegation, each on its own page.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Which {
    Step(&'static str),
    Threshold,
    Told,
    Meeting,
    Strand(Strand),
    Action,
    Evidence,
    EvidenceAccess(Uuid),
    Custody(Uuid),
    /// Written confirmation to the person of an action about them, recorded later.
    Written(Uuid),
    /// The employer's case manager, and the person's Haven account if they have one.
    Subject,
    Link,
    Access,
}

impl Which {
    /// From the last part of `/lado/allegations/{id}/forms/{slug}`.
    pub fn parse(slug: &str) -> Option<Which> {
        if let Some(code) = slug.strip_prefix("step-") {
            return crate::domain::lado::step(code).map(|s| Which::Step(s.0));
        }
        if let Some(code) = slug.strip_prefix("strand-") {
            return Strand::parse(code).map(Which::Strand);
        }
        if let Some(rest) = slug.strip_prefix("evidence-") {
            // The item's id itself contains hyphens: the kind is the last part.
            let (item, what) = rest.rsplit_once('-')?;
            let item = Uuid::parse_str(item).ok()?;
            return match what {
                "access" => Some(Which::EvidenceAccess(item)),
                "custody" => Some(Which::Custody(item)),
                _ => None,
            };
        }
        if let Some(rest) = slug.strip_prefix("action-") {
            let action = rest.strip_suffix("-written")?;
            return Uuid::parse_str(action).ok().map(Which::Written);
        }
        Some(match slug {
            "threshold" => Which::Threshold,
            "subject" => Which::Subject,
            "told" => Which::Told,
            "meeting" => Which::Meeting,
            "action" => Which::Action,
            "evidence" => Which::Evidence,
            "link" => Which::Link,
            "access" => Which::Access,
            _ => return None,
        })
    }

    pub fn slug(self) -> String {
        match self {
            Which::Step(c) => format!("step-{c}"),
            Which::Strand(s) => format!("strand-{}", s.code()),
            Which::EvidenceAccess(i) => format!("evidence-{i}-access"),
            Which::Custody(i) => format!("evidence-{i}-custody"),
            Which::Written(x) => format!("action-{x}-written"),
            Which::Subject => "subject".into(),
            Which::Threshold => "threshold".into(),
            Which::Told => "told".into(),
            Which::Meeting => "meeting".into(),
            Which::Action => "action".into(),
            Which::Evidence => "evidence".into(),
            Which::Link => "link".into(),
            Which::Access => "access".into(),
        }
    }

    /// Where the form posts.
    fn action(self, id: Uuid) -> String {
        let base = format!("/lado/allegations/{id}");
        match self {
            Which::Step(c) => format!("{base}/steps/{c}"),
            Which::Strand(s) => format!("{base}/strands/{}", s.code()),
            Which::EvidenceAccess(i) => format!("{base}/evidence/{i}/access"),
            Which::Custody(i) => format!("{base}/evidence/{i}/custody"),
            Which::Written(x) => format!("{base}/actions/{x}/written"),
            Which::Subject => format!("{base}/subject"),
            Which::Threshold => format!("{base}/threshold"),
            Which::Told => format!("{base}/told"),
            Which::Meeting => format!("{base}/meetings"),
            Which::Action => format!("{base}/actions"),
            Which::Evidence => format!("{base}/evidence"),
            Which::Link => format!("{base}/cases"),
            Which::Access => format!("{base}/access"),
        }
    }

    /// The template's switch.
    fn kind(self) -> &'static str {
        match self {
            Which::Step(_) => "step",
            Which::Strand(_) => "strand",
            Which::EvidenceAccess(_) => "evidence_access",
            Which::Custody(_) => "custody",
            Which::Written(_) => "written",
            Which::Subject => "subject",
            Which::Threshold => "threshold",
            Which::Told => "told",
            Which::Meeting => "meeting",
            Which::Action => "action",
            Which::Evidence => "evidence",
            Which::Link => "link",
            Which::Access => "access",
        }
    }
}

#[derive(Template)]
#[template(path = "lado/form.html")]
pub struct FormPage {
    layout: Layout,
    errors: Errors,
    id: Uuid,
    reference: String,
    kind: &'static str,
    heading: String,
    /// A line under the heading: the step's words, or the device's description.
    lead: String,
    action: String,
    typed: FormData,
    options: Vec<Choice>,
    date: DateParts,
    date2: DateParts,
    version: i32,
    tell: bool,
}

fn parts(typed: &FormData, name: &str) -> DateParts {
    DateParts {
        day: typed.raw(&format!("{name}-day")).to_owned(),
        month: typed.raw(&format!("{name}-month")).to_owned(),
        year: typed.raw(&format!("{name}-year")).to_owned(),
    }
}

fn pick(all: impl Iterator<Item = (&'static str, &'static str)>, picked: &str) -> Vec<Choice> {
    all.map(|(c, l)| Choice::new(c, l, c == picked)).collect()
}

/// Build one form's page: from what is stored when nothing was typed, else from what was typed.
pub async fn form_page(
    state: &AppState,
    user: &CurrentUser,
    a: &AllegationRow,
    which: Which,
    errors: Errors,
    typed: FormData,
) -> AppResult<FormPage> {
    let mut typed = typed;
    let mut version = a.version;
    let mut lead = String::new();
    let (heading, options, date_name, date2_name): (String, Vec<Choice>, &str, &str) = match which {
        Which::Step(code) => {
            lead = crate::domain::lado::step(code)
                .map(|s| s.1.to_owned())
                .unwrap_or_default();
            (
                format!("Record: {}", step_words(code).to_lowercase()),
                if code == "tell_manager" {
                    pick(ROUTES.iter().copied(), typed.raw("route"))
                } else {
                    Vec::new()
                },
                "done",
                "",
            )
        }
        Which::Threshold => {
            if typed.is_blank() {
                for t in &a.harm_tests {
                    typed = typed.with("harm_tests", t.clone());
                }
                typed = typed.with("advice_given", a.advice_given.clone());
            }
            let picked = typed.all("harm_tests");
            (
                "Is the harm test met?".into(),
                HarmTest::ALL
                    .iter()
                    .map(|t| Choice::new(t.code(), t.label(), picked.contains(&t.code())))
                    .collect(),
                "",
                "",
            )
        }
        Which::Told => (
            "Record who was told about the allegation".into(),
            pick(
                [
                    ("accused", "The person the allegation is about"),
                    ("parents", "The child's parents or carers"),
                ]
                .into_iter(),
                typed.raw("who"),
            ),
            "told",
            "",
        ),
        Which::Meeting => (
            "Record a meeting".into(),
            pick(
                MeetingKind::ALL.iter().map(|k| (k.code(), k.label())),
                typed.raw("kind"),
            ),
            "held",
            "",
        ),
        Which::Strand(strand) => {
            let rows = db::allegations::strands(&state.pool, a.id).await?;
            let row = rows
                .iter()
                .find(|r| r.strand == strand.code())
                .ok_or(AppError::NotFound)?;
            version = row.version;
            if typed.is_blank() {
                typed = typed
                    .with("status", row.status.clone())
                    .with("owner", row.owner.clone());
            } else if let Ok(v) = typed.raw("version").parse() {
                version = v;
            }
            (
                format!("The {} strand", strand.label().to_lowercase()),
                pick(
                    StrandStatus::ALL.iter().map(|s| (s.code(), s.label())),
                    typed.raw("status"),
                ),
                "",
                "",
            )
        }
        Which::Action => (
            "Record an immediate action about the employee".into(),
            pick(
                EmployeeAction::ALL.iter().map(|k| (k.code(), k.label())),
                typed.raw("action"),
            ),
            "agreed",
            "written",
        ),
        Which::Evidence => ("Record a secured device".into(), Vec::new(), "secured", ""),
        Which::EvidenceAccess(item) | Which::Custody(item) => {
            let items = db::allegations::evidence(&state.pool, a.id).await?;
            let found = items
                .iter()
                .find(|i| i.id == item)
                .ok_or(AppError::NotFound)?;
            lead = found.description.clone();
            if matches!(which, Which::EvidenceAccess(_)) {
                (
                    "Record who had access to a secured device".into(),
                    Vec::new(),
                    "",
                    "",
                )
            } else {
                (
                    "Record what happened to a secured device".into(),
                    pick(CUSTODY_KINDS.iter().copied(), typed.raw("kind")),
                    "when",
                    "",
                )
            }
        }
        Which::Written(x) => {
            let actions = db::allegations::employee_actions(&state.pool, a.id).await?;
            let found = actions
                .iter()
                .find(|r| r.id == x && r.written_confirmation_at.is_none())
                .ok_or(AppError::NotFound)?;
            lead = format!(
                "{}, agreed on {}.",
                EmployeeAction::parse(&found.action)
                    .map(EmployeeAction::label)
                    .unwrap_or(""),
                format_datetime(found.agreed_at)
            );
            (
                "Record the written confirmation sent to the person".into(),
                Vec::new(),
                "written",
                "",
            )
        }
        Which::Subject => {
            if typed.is_blank() {
                let email = sqlx::query_scalar!(
                    "SELECT u.email FROM allegations a JOIN users u ON u.id = a.subject_user_id WHERE a.id = $1",
                    a.id
                )
                .fetch_optional(&state.pool)
                .await?
                .unwrap_or_default();
                typed = typed
                    .with("case_manager", a.case_manager.clone())
                    .with("subject_email", email);
            }
            (
                "The case manager, and whether the person uses Haven".into(),
                Vec::new(),
                "",
                "",
            )
        }
        Which::Link => ("Link a case to this allegation".into(), Vec::new(), "", ""),
        Which::Access => (
            "Give someone access to this allegation".into(),
            Vec::new(),
            "",
            "",
        ),
    };
    if !errors.is_empty()
        && let Ok(v) = typed.raw("version").parse()
    {
        version = v;
    }
    Ok(FormPage {
        layout: Layout::for_user(heading.clone(), user, Section::Lado).with_errors(&errors),
        errors,
        id: a.id,
        reference: a.reference.clone(),
        kind: which.kind(),
        heading,
        lead,
        action: which.action(a.id),
        date: parts(&typed, date_name),
        date2: parts(&typed, date2_name),
        typed,
        options,
        version,
        tell: which == Which::Step("tell_manager"),
    })
}

pub const CUSTODY_KINDS: &[(&str, &str)] = &[
    ("handed_to_police", "Handed to the police"),
    ("returned", "Returned"),
    ("moved", "Moved"),
    ("destroyed", "Destroyed"),
];

/// `GET /lado/allegations/{id}/forms/{form}`: one of the LADO's forms.
pub async fn show_form(
    State(state): State<AppState>,
    user: CurrentUser,
    Path((id, slug)): Path<(String, String)>,
) -> AppResult<Response> {
    let id = parse_id(&id)?;
    let which = Which::parse(&slug).ok_or(AppError::NotFound)?;
    if let Some(r) =
        super::super::access::step_up(&user, &format!("/lado/allegations/{id}/forms/{slug}"))
    {
        return Ok(r);
    }
    let a = super::open(&state, &user, id, "allegation.view").await?;
    if let Which::Step(code) = which {
        let steps = db::allegations::steps(&state.pool, id).await?;
        if steps.iter().any(|s| s.step == code && s.done_at.is_some()) {
            return Ok(Redirect::to(&format!("/lado/allegations/{id}#steps")).into_response());
        }
    }
    let p = form_page(
        &state,
        &user,
        &a,
        which,
        Errors::default(),
        FormData::default(),
    )
    .await?;
    Ok(Html(p.render()?).into_response())
}

/// A moment that must be after the concern arose and not in the future.
fn moment_after_concern(
    e: &mut Errors,
    form: &FormData,
    date: &str,
    time: &str,
    what: &str,
    a: &AllegationRow,
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    let m = e.past_moment(form, date, time, what, true, now);
    match m.at {
        Some(at) if at < a.concern_arose_at => {
            e.add(
                &format!("{date}-day"),
                format!(
                    "This cannot be before the concern arose ({})",
                    format_datetime(a.concern_arose_at)
                ),
            );
            None
        }
        other => other,
    }
}

pub async fn record_step(
    State(state): State<AppState>,
    user: CurrentUser,
    Path((id, step)): Path<(String, String)>,
    form: FormData,
) -> AppResult<Response> {
    form.only(&[
        "done-day",
        "done-month",
        "done-year",
        "time",
        "done_by",
        "route",
        "notes",
        "version",
    ])?;
    let id = parse_id(&id)?;
    let code = crate::domain::lado::step(&step)
        .ok_or(AppError::NotFound)?
        .0;
    let mut w = begin(&state, &user, id).await?;
    let mut e = Errors::default();
    let at = moment_after_concern(&mut e, &form, "done", "time", "it was done", &w.a, w.now);
    let done_by = e.text(&form, "done_by", "Who did it", true, 200);
    let notes = e.text(&form, "notes", "Notes", false, 2000);
    let route = if step == "tell_manager" {
        match ROUTES.iter().find(|r| r.0 == form.raw("route")) {
            Some(r) => Some(r.0),
            None => {
                e.add("route", "Select how the employee raised it");
                None
            }
        }
    } else {
        None
    };
    let (Some(at), true) = (at, e.is_empty()) else {
        return w.again(&state, &user, e, &form, Which::Step(code)).await;
    };
    let now = w.now;
    let (recorded, breached) = db::allegations::record_step(
        &mut w.tx,
        id,
        &step,
        db::allegations::StepDone {
            done_at: at,
            done_by: &done_by,
            route,
            notes: &notes,
        },
        user.id,
        now,
    )
    .await?;
    if !recorded {
        return Err(AppError::Conflict);
    }
    let mut summary = format!("{}: done by {done_by}.", step_words(&step));
    if let Some(r) = route.and_then(|r| ROUTES.iter().find(|x| x.0 == r)) {
        summary.push_str(&format!(" Raised {}.", r.1.to_lowercase()));
    }
    if breached {
        db::allegations::add_event(
            &mut *w.tx,
            id,
            now,
            "breach",
            &format!("Breach: {} was done after it was due.", step_words(&step)),
            None,
        )
        .await?;
    }
    w.finish(
        &state,
        &user,
        "step",
        summary,
        at,
        Event::new("allegation.step", "allegation")
            .details(serde_json::json!({ "step": step, "late": breached })),
    )
    .await
}

pub async fn threshold(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
    form: FormData,
) -> AppResult<Response> {
    form.only(&["harm_tests", "advice_given", "version"])?;
    let id = parse_id(&id)?;
    let version: i32 = form
        .raw("version")
        .parse()
        .map_err(|_| AppError::BadRequest("missing version"))?;
    let mut w = begin(&state, &user, id).await?;
    let mut e = Errors::default();
    let mut tests = Vec::new();
    for t in form.all("harm_tests") {
        match HarmTest::parse(t) {
            Some(t) => tests.push(t.code().to_owned()),
            None => e.add("harm_tests", "Select the harm tests from the list"),
        }
    }
    let advice = e.text(
        &form,
        "advice_given",
        "The advice given",
        tests.is_empty(),
        10000,
    );
    if w.a.status == "closed" {
        e.add(
            "harm_tests",
            "This allegation is closed with its outcome, so the harm test can no longer change",
        );
    }
    if !e.is_empty() {
        return w.again(&state, &user, e, &form, Which::Threshold).await;
    }
    if !db::allegations::bump(&mut *w.tx, id, version).await? {
        return Err(AppError::Conflict);
    }
    db::allegations::set_threshold(&mut *w.tx, id, &tests, &advice).await?;
    let summary = if tests.is_empty() {
        format!("Threshold not met: advice only. Advice given: {advice}")
    } else {
        format!(
            "The harm test is met: {}.",
            tests
                .iter()
                .filter_map(|t| HarmTest::parse(t))
                .map(|t| t.label().to_lowercase())
                .collect::<Vec<_>>()
                .join("; ")
        )
    };
    let now = w.now;
    w.finish(
        &state,
        &user,
        "threshold",
        summary,
        now,
        Event::new("allegation.threshold", "allegation")
            .details(serde_json::json!({ "tests": tests })),
    )
    .await
}

pub async fn told(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
    form: FormData,
) -> AppResult<Response> {
    form.only(&[
        "who",
        "told-day",
        "told-month",
        "told-year",
        "time",
        "decided_by",
        "version",
    ])?;
    let id = parse_id(&id)?;
    let mut w = begin(&state, &user, id).await?;
    let mut e = Errors::default();
    let who = match form.raw("who") {
        w @ ("accused" | "parents") => Some(w),
        _ => {
            e.add("who", "Select who was told");
            None
        }
    };
    let at = moment_after_concern(&mut e, &form, "told", "time", "they were told", &w.a, w.now);
    let decided_by = e.text(&form, "decided_by", "Who decided", true, 500);
    let (Some(who), Some(at), true) = (who, at, e.is_empty()) else {
        return w.again(&state, &user, e, &form, Which::Told).await;
    };
    db::allegations::set_told(&mut *w.tx, id, who, at, &decided_by).await?;
    let whom = if who == "accused" {
        "The person the allegation is about"
    } else {
        "The child's parents"
    };
    w.finish(
        &state,
        &user,
        "told",
        format!("{whom} told. Decided by {decided_by}."),
        at,
        Event::new("allegation.told", "allegation").details(serde_json::json!({ "who": who })),
    )
    .await
}

pub async fn meeting(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
    form: FormData,
) -> AppResult<Response> {
    form.only(&[
        "kind",
        "held-day",
        "held-month",
        "held-year",
        "time",
        "notes",
        "version",
    ])?;
    let id = parse_id(&id)?;
    let mut w = begin(&state, &user, id).await?;
    let mut e = Errors::default();
    let kind = e.choice(
        &form,
        "kind",
        "Select the kind of meeting",
        MeetingKind::parse,
    );
    let at = moment_after_concern(&mut e, &form, "held", "time", "it was held", &w.a, w.now);
    let notes = e.text(&form, "notes", "Notes", false, 10000);
    let (Some(kind), Some(at), true) = (kind, at, e.is_empty()) else {
        return w.again(&state, &user, e, &form, Which::Meeting).await;
    };
    db::allegations::add_meeting(&mut *w.tx, id, kind.code(), at, &notes, user.id).await?;
    w.finish(
        &state,
        &user,
        "meeting",
        format!("{} held.", kind.label()),
        at,
        Event::new("allegation.meeting", "allegation"),
    )
    .await
}

pub async fn strand(
    State(state): State<AppState>,
    user: CurrentUser,
    Path((id, strand)): Path<(String, String)>,
    form: FormData,
) -> AppResult<Response> {
    form.only(&["status", "owner", "version"])?;
    let id = parse_id(&id)?;
    let strand = Strand::parse(&strand).ok_or(AppError::NotFound)?;
    let version: i32 = form
        .raw("version")
        .parse()
        .map_err(|_| AppError::BadRequest("missing version"))?;
    let mut w = begin(&state, &user, id).await?;
    let mut e = Errors::default();
    let status = e.choice(
        &form,
        "status",
        "Select the strand's status",
        StrandStatus::parse,
    );
    let owner = e.text(&form, "owner", "Who owns it", false, 200);
    let (Some(status), true) = (status, e.is_empty()) else {
        return w
            .again(&state, &user, e, &form, Which::Strand(strand))
            .await;
    };
    if !db::allegations::update_strand(
        &mut *w.tx,
        id,
        strand.code(),
        version,
        status.code(),
        &owner,
    )
    .await?
    {
        return Err(AppError::Conflict);
    }
    let now = w.now;
    w.finish(
        &state,
        &user,
        "strand",
        format!(
            "{} strand: {}{}.",
            strand.label(),
            status.label().to_lowercase(),
            if owner.is_empty() {
                String::new()
            } else {
                format!(", owned by {owner}")
            }
        ),
        now,
        Event::new("allegation.strand", "allegation")
            .details(serde_json::json!({ "strand": strand.code(), "status": status.code() })),
    )
    .await
}

pub async fn employee_action(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
    form: FormData,
) -> AppResult<Response> {
    form.only(&[
        "action",
        "alternatives",
        "rationale",
        "agreed_by",
        "agreed-day",
        "agreed-month",
        "agreed-year",
        "agreed_time",
        "police_view",
        "written-day",
        "written-month",
        "written-year",
        "written_time",
        "named_contact",
        "version",
    ])?;
    let id = parse_id(&id)?;
    let mut w = begin(&state, &user, id).await?;
    let now = w.now;
    let mut e = Errors::default();
    let action = e.choice(
        &form,
        "action",
        "Select the action about the employee",
        EmployeeAction::parse,
    );
    let alternatives = e.text(
        &form,
        "alternatives",
        "The alternatives considered and why they were not chosen",
        true,
        5000,
    );
    let rationale = e.text(
        &form,
        "rationale",
        "The rationale agreed by the case manager and the LADO",
        true,
        5000,
    );
    let agreed_by = e.text(&form, "agreed_by", "Who agreed it", true, 500);
    let agreed = moment_after_concern(
        &mut e,
        &form,
        "agreed",
        "agreed_time",
        "it was agreed",
        &w.a,
        now,
    );
    let police_view = e.text(&form, "police_view", "The police's view", true, 5000);
    let written = e.past_moment(
        &form,
        "written",
        "written_time",
        "written confirmation was sent",
        false,
        now,
    );
    let named_contact = e.text(
        &form,
        "named_contact",
        "The person's named contact",
        true,
        500,
    );
    let (Some(action), Some(agreed_at), true) = (action, agreed, e.is_empty()) else {
        return w.again(&state, &user, e, &form, Which::Action).await;
    };
    db::allegations::add_employee_action(
        &mut *w.tx,
        id,
        db::allegations::NewAction {
            action: action.code(),
            alternatives: &alternatives,
            rationale: &rationale,
            agreed_by: &agreed_by,
            agreed_at,
            police_view: &police_view,
            written_confirmation_at: written.at,
            named_contact: &named_contact,
        },
        user.id,
    )
    .await?;
    w.finish(
        &state,
        &user,
        "action",
        format!(
            "Immediate action about the employee: {}, agreed by {agreed_by}.",
            action.label()
        ),
        agreed_at,
        Event::new("allegation.employee_action", "allegation")
            .details(serde_json::json!({ "action": action.code() })),
    )
    .await
}

pub async fn evidence(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
    form: FormData,
) -> AppResult<Response> {
    form.only(&[
        "description",
        "location",
        "secured_by",
        "secured-day",
        "secured-month",
        "secured-year",
        "time",
        "version",
    ])?;
    let id = parse_id(&id)?;
    let mut w = begin(&state, &user, id).await?;
    let mut e = Errors::default();
    let description = e.text(
        &form,
        "description",
        "A description of the device",
        true,
        1000,
    );
    let location = e.text(&form, "location", "Where it is kept", true, 500);
    let secured_by = e.text(&form, "secured_by", "Who secured it", true, 200);
    let at = moment_after_concern(
        &mut e,
        &form,
        "secured",
        "time",
        "it was secured",
        &w.a,
        w.now,
    );
    let (Some(at), true) = (at, e.is_empty()) else {
        return w.again(&state, &user, e, &form, Which::Evidence).await;
    };
    db::allegations::add_evidence(
        &mut *w.tx,
        id,
        &description,
        &location,
        &secured_by,
        at,
        user.id,
    )
    .await?;
    w.finish(
        &state,
        &user,
        "evidence",
        format!("Device secured by {secured_by}: {description}. Kept at {location}."),
        at,
        Event::new("allegation.evidence", "allegation"),
    )
    .await
}

pub async fn evidence_access(
    State(state): State<AppState>,
    user: CurrentUser,
    Path((id, item)): Path<(String, String)>,
    form: FormData,
) -> AppResult<Response> {
    form.only(&["person", "details", "version"])?;
    let (id, item) = (parse_id(&id)?, parse_id(&item)?);
    let mut w = begin(&state, &user, id).await?;
    if !db::allegations::item_in(&mut *w.tx, id, item).await? {
        return Err(AppError::NotFound);
    }
    let mut e = Errors::default();
    let person = e.text(
        &form,
        "person",
        "The name of the person who had access",
        true,
        200,
    );
    let details = e.text(&form, "details", "Details", false, 1000);
    if !e.is_empty() {
        return w
            .again(&state, &user, e, &form, Which::EvidenceAccess(item))
            .await;
    }
    db::allegations::add_evidence_access(&mut *w.tx, item, &person, &details, user.id).await?;
    let now = w.now;
    w.finish(
        &state,
        &user,
        "evidence",
        format!("{person} had access to a secured device."),
        now,
        Event::new("allegation.evidence_access", "allegation"),
    )
    .await
}

/// `POST /lado/allegations/{id}/subject`: the employer's case manager, and the person's Haven
/// account. Naming an account takes away any access that person had to the allegation and its
/// restricted cases, at once.
pub async fn subject(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
    form: FormData,
) -> AppResult<Response> {
    form.only(&["case_manager", "subject_email", "version"])?;
    let id = parse_id(&id)?;
    let version: i32 = form
        .raw("version")
        .parse()
        .map_err(|_| AppError::BadRequest("missing version"))?;
    let mut w = begin(&state, &user, id).await?;
    let mut e = Errors::default();
    let case_manager = e.text(
        &form,
        "case_manager",
        "The employer's case manager",
        false,
        500,
    );
    let email = e.text(
        &form,
        "subject_email",
        "Their email address in Haven",
        false,
        254,
    );
    let subject = if email.is_empty() {
        None
    } else {
        match db::users::find_by_email(&mut *w.tx, &email.to_lowercase()).await? {
            Some(u) if u.id == user.id => {
                e.add("subject_email", "You cannot record yourself as the person the allegation is about: ask another LADO");
                None
            }
            Some(u) => Some(u.id),
            None => {
                e.add(
                    "subject_email",
                    "No Haven account has that email address: leave it blank if they have none",
                );
                None
            }
        }
    };
    if !e.is_empty() {
        return w.again(&state, &user, e, &form, Which::Subject).await;
    }
    if !db::allegations::bump(&mut *w.tx, id, version).await? {
        return Err(AppError::Conflict);
    }
    sqlx::query!(
        "UPDATE allegations SET case_manager = $2, subject_user_id = $3 WHERE id = $1",
        id,
        case_manager,
        subject
    )
    .execute(&mut *w.tx)
    .await?;
    let mut revoked = 0;
    if let Some(s) = subject {
        revoked = db::allegations::revoke_with_cases(&mut *w.tx, id, s).await?;
    }
    let now = w.now;
    w.finish(
        &state,
        &user,
        "main-content",
        format!(
            "The employer's case manager: {}. {}",
            if case_manager.is_empty() { "not yet named" } else { case_manager.as_str() },
            if subject.is_some() {
                "The person uses Haven: their account can never open this allegation or its restricted cases."
            } else {
                "The person has no Haven account recorded."
            }
        ),
        now,
        Event::new("allegation.subject", "allegation")
            .details(serde_json::json!({ "subject_account": subject.is_some(), "access_withdrawn": revoked })),
    )
    .await
}

/// `POST /lado/allegations/{id}/actions/{action}/written`: written confirmation was sent.
pub async fn written(
    State(state): State<AppState>,
    user: CurrentUser,
    Path((id, action)): Path<(String, String)>,
    form: FormData,
) -> AppResult<Response> {
    form.only(&[
        "written-day",
        "written-month",
        "written-year",
        "written_time",
        "version",
    ])?;
    let (id, action) = (parse_id(&id)?, parse_id(&action)?);
    let mut w = begin(&state, &user, id).await?;
    let actions = db::allegations::employee_actions(&mut *w.tx, id).await?;
    let Some(row) = actions.iter().find(|r| r.id == action) else {
        return Err(AppError::NotFound);
    };
    if row.written_confirmation_at.is_some() {
        return Err(AppError::Conflict);
    }
    let agreed_at = row.agreed_at;
    let mut e = Errors::default();
    let at = moment_after_concern(
        &mut e,
        &form,
        "written",
        "written_time",
        "written confirmation was sent",
        &w.a,
        w.now,
    );
    if at.is_some_and(|t| t < agreed_at) {
        e.add(
            "written-day",
            format!(
                "Written confirmation cannot be sent before the action was agreed ({})",
                format_datetime(agreed_at)
            ),
        );
    }
    let (Some(at), true) = (at, e.is_empty()) else {
        return w
            .again(&state, &user, e, &form, Which::Written(action))
            .await;
    };
    if !db::allegations::confirm_action(&mut w.tx, id, action, at, user.id).await? {
        return Err(AppError::Conflict);
    }
    let cal = super::super::procedure::calendar(&state, &mut *w.tx).await?;
    let due = cal.working_days_after(agreed_at, 1);
    w.finish(
        &state,
        &user,
        "action",
        format!(
            "Written confirmation of the action about the employee was sent {}{}.",
            format_datetime(at),
            if at <= due {
                ", within one working day"
            } else {
                ", later than one working day"
            }
        ),
        at,
        Event::new("allegation.written_confirmation", "allegation")
            .details(serde_json::json!({ "action": action, "in_time": at <= due })),
    )
    .await
}

pub async fn custody(
    State(state): State<AppState>,
    user: CurrentUser,
    Path((id, item)): Path<(String, String)>,
    form: FormData,
) -> AppResult<Response> {
    form.only(&[
        "kind",
        "when-day",
        "when-month",
        "when-year",
        "time",
        "by_person",
        "to_person",
        "details",
        "version",
    ])?;
    let (id, item) = (parse_id(&id)?, parse_id(&item)?);
    let mut w = begin(&state, &user, id).await?;
    if !db::allegations::item_in(&mut *w.tx, id, item).await? {
        return Err(AppError::NotFound);
    }
    let mut e = Errors::default();
    let kind = match form.raw("kind") {
        k @ ("handed_to_police" | "returned" | "moved" | "destroyed") => Some(k),
        _ => {
            e.add("kind", "Select what happened to the device");
            None
        }
    };
    let at = moment_after_concern(&mut e, &form, "when", "time", "it happened", &w.a, w.now);
    let by_person = e.text(&form, "by_person", "Who did it", true, 200);
    let to_person = e.text(&form, "to_person", "To whom", false, 200);
    let details = e.text(&form, "details", "Details", false, 1000);
    let (Some(kind), Some(at), true) = (kind, at, e.is_empty()) else {
        return w.again(&state, &user, e, &form, Which::Custody(item)).await;
    };
    db::allegations::add_custody_event(
        &mut *w.tx,
        item,
        db::allegations::NewCustody {
            kind,
            at,
            by_person: &by_person,
            to_person: &to_person,
            details: &details,
        },
        user.id,
    )
    .await?;
    w.finish(
        &state,
        &user,
        "evidence",
        format!(
            "Custody of a device: {} by {by_person}.",
            kind.replace('_', " ")
        ),
        at,
        Event::new("allegation.custody", "allegation").details(serde_json::json!({ "kind": kind })),
    )
    .await
}

pub async fn link_case(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
    form: FormData,
) -> AppResult<Response> {
    form.only(&["reference", "restrict", "version"])?;
    let id = parse_id(&id)?;
    let mut w = begin(&state, &user, id).await?;
    let mut e = Errors::default();
    let reference = e
        .text(&form, "reference", "The case reference", true, 40)
        .to_uppercase();
    let case = if e.is_empty() {
        sqlx::query_scalar!("SELECT id FROM cases WHERE reference = $1", reference)
            .fetch_optional(&mut *w.tx)
            .await?
    } else {
        None
    };
    if e.is_empty() && case.is_none() {
        e.add("reference", "No case has that reference");
    }
    let (Some(case), true) = (case, e.is_empty()) else {
        return w.again(&state, &user, e, &form, Which::Link).await;
    };
    let restrict = form.raw("restrict") == "yes";
    db::allegations::link_case(&mut w.tx, id, case, restrict, user.id).await?;
    let now = w.now;
    w.finish(
        &state,
        &user,
        "link",
        format!(
            "Linked to case {reference}{}.",
            if restrict { ", now restricted" } else { "" }
        ),
        now,
        Event::new("allegation.link_case", "allegation")
            .case(case)
            .details(serde_json::json!({ "restricted": restrict })),
    )
    .await
}

pub async fn grant_access(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
    form: FormData,
) -> AppResult<Response> {
    form.only(&["email", "version"])?;
    let id = parse_id(&id)?;
    let mut w = begin(&state, &user, id).await?;
    let mut e = Errors::default();
    let email = e
        .text(&form, "email", "Their email address", true, 254)
        .to_lowercase();
    let person = if e.is_empty() {
        db::users::find_by_email(&mut *w.tx, &email).await?
    } else {
        None
    };
    let subject: Option<Uuid> =
        sqlx::query_scalar!("SELECT subject_user_id FROM allegations WHERE id = $1", id)
            .fetch_one(&mut *w.tx)
            .await?;
    match &person {
        None if e.is_empty() => e.add("email", "No Haven account has that email address"),
        Some(p) if Some(p.id) == subject => e.add(
            "email",
            "That person is the subject of this allegation: they can never be given access",
        ),
        Some(p) if p.role() == crate::domain::Role::Admin => {
            e.add("email", "Administrators never see case records")
        }
        _ => {}
    }
    let (Some(person), true) = (person, e.is_empty()) else {
        return w.again(&state, &user, e, &form, Which::Access).await;
    };
    db::allegations::grant_with_cases(&mut w.tx, id, person.id, user.id).await?;
    let now = w.now;
    w.finish(
        &state,
        &user,
        "access",
        format!("{} given access by the LADO.", person.display_name),
        now,
        Event::new("allegation.access_grant", "allegation")
            .details(serde_json::json!({ "user": person.id })),
    )
    .await
}

pub async fn revoke_access(
    State(state): State<AppState>,
    user: CurrentUser,
    Path((id, person)): Path<(String, String)>,
    form: FormData,
) -> AppResult<Response> {
    form.only(&["version"])?;
    let (id, person) = (parse_id(&id)?, parse_id(&person)?);
    let mut w = begin(&state, &user, id).await?;
    if db::allegations::revoke_with_cases(&mut *w.tx, id, person).await? == 0 {
        return Err(AppError::NotFound);
    }
    let now = w.now;
    w.finish(
        &state,
        &user,
        "access",
        "Access withdrawn by the LADO.".into(),
        now,
        Event::new("allegation.access_revoke", "allegation")
            .details(serde_json::json!({ "user": person })),
    )
    .await
}

// The outcome ------------------------------------------------------------------------------------

#[derive(Template)]
#[template(path = "lado/outcome.html")]
struct OutcomePage {
    layout: Layout,
    errors: Errors,
    id: Uuid,
    reference: String,
    outcomes: Vec<(Choice, &'static str)>,
    outcome_date: DateParts,
    dbs_date: DateParts,
    dob: DateParts,
    version: i32,
    typed: FormData,
}

fn outcome_page(
    user: &CurrentUser,
    a: &AllegationRow,
    errors: Errors,
    typed: FormData,
) -> OutcomePage {
    let picked = typed.raw("outcome").to_owned();
    OutcomePage {
        layout: Layout::for_user(format!("Outcome of {}", a.reference), user, Section::Lado)
            .with_errors(&errors),
        errors,
        id: a.id,
        reference: a.reference.clone(),
        outcomes: Outcome::ALL
            .iter()
            .map(|o| {
                (
                    Choice::new(o.code(), o.label(), o.code() == picked).hint(o.definition()),
                    o.definition(),
                )
            })
            .collect(),
        outcome_date: parts(&typed, "on"),
        dbs_date: parts(&typed, "dbs"),
        dob: parts(&typed, "dob"),
        version: typed.raw("version").parse().unwrap_or(a.version),
        typed,
    }
}

pub async fn outcome_form(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> AppResult<Response> {
    let id = parse_id(&id)?;
    let a = super::open(&state, &user, id, "allegation.view").await?;
    let mut typed = FormData::default();
    if let Some(dob) = a.subject_date_of_birth {
        typed = FormData::parse(
            format!(
                "dob-day={}&dob-month={}&dob-year={}",
                chrono::Datelike::day(&dob),
                chrono::Datelike::month(&dob),
                chrono::Datelike::year(&dob)
            )
            .as_bytes(),
        );
    }
    Ok(Html(outcome_page(&user, &a, Errors::default(), typed).render()?).into_response())
}

pub async fn outcome_submit(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
    form: FormData,
) -> AppResult<Response> {
    form.only(&[
        "outcome",
        "on-day",
        "on-month",
        "on-year",
        "reasons",
        "resigned",
        "settlement",
        "child_referral_considered",
        "dbs_referred",
        "dbs-day",
        "dbs-month",
        "dbs-year",
        "dbs_referred_by",
        "dbs_not_referred_reason",
        "regulator_referral",
        "dob-day",
        "dob-month",
        "dob-year",
        "scheme_age",
        "version",
    ])?;
    let id = parse_id(&id)?;
    let version: i32 = form
        .raw("version")
        .parse()
        .map_err(|_| AppError::BadRequest("missing version"))?;
    let mut w = begin(&state, &user, id).await?;
    let now = w.now;
    let mut e = Errors::default();
    // An outcome needs the work behind it: at least one strand under way or concluded.
    let strands = db::allegations::strands(&mut *w.tx, id).await?;
    if strands.iter().all(|s| s.status == "not_started") {
        e.add("outcome", "Record the progress of the police, employer or children's social care strand before the outcome");
    }
    let outcome = e.choice(&form, "outcome", "Select the outcome", Outcome::parse);
    let (_, on) = e.date(&form, "on", "The date of the outcome", true);
    if let Some(d) = on
        && (d > london_date(now) || d < london_date(w.a.concern_arose_at))
    {
        e.add(
            "on-day",
            "The outcome's date must be between the concern arising and today",
        );
    }
    let reasons = e.text(&form, "reasons", "The reasons", true, 10000);
    let child_referral = e.text(
        &form,
        "child_referral_considered",
        "Whether the child who made the allegation is being referred to children's social care",
        outcome.is_some_and(Outcome::prompts_referral_of_child),
        2000,
    );
    let dbs = form.raw("dbs_referred");
    let (_, dbs_on) = e.date(
        &form,
        "dbs",
        "The date of the referral to the DBS",
        dbs == "yes",
    );
    let dbs_by = e.text(
        &form,
        "dbs_referred_by",
        "Who referred to the DBS",
        dbs == "yes",
        500,
    );
    let dbs_why_not = e.text(
        &form,
        "dbs_not_referred_reason",
        "Why there was no referral to the DBS",
        dbs == "no",
        2000,
    );
    if dbs != "yes" && dbs != "no" {
        e.add(
            "dbs_referred",
            "Say whether the employer referred the person to the Disclosure and Barring Service",
        );
    }
    let regulator = e.text(
        &form,
        "regulator_referral",
        "Any referral to the Teaching Regulation Agency or another regulator",
        false,
        2000,
    );
    let (_, dob) = e.date(&form, "dob", "The person's date of birth", false);
    let scheme_age = match form.raw("scheme_age").trim() {
        "" => None,
        s => match s.parse::<u32>() {
            Ok(a) if (50..=75).contains(&a) => Some(a),
            _ => {
                e.add(
                    "scheme_age",
                    "Enter the scheme's normal pension age, from 50 to 75",
                );
                None
            }
        },
    };
    let review = match (on, e.has("dob-day")) {
        // Ten years run from the date of the allegation (when the concern arose), not the outcome.
        (Some(_), false) => match review_date(
            crate::domain::time::london_date(w.a.concern_arose_at),
            dob,
            scheme_age,
        ) {
            Ok(r) => Some(r),
            Err(why) => {
                e.add("dob-day", why.to_string());
                None
            }
        },
        _ => None,
    };
    let (Some(outcome), Some(on), Some(review), true) = (outcome, on, review, e.is_empty()) else {
        w.tx.rollback().await?;
        let a = super::open(&state, &user, id, "allegation.view").await?;
        let page = outcome_page(&user, &a, e, form);
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, Html(page.render()?)).into_response());
    };
    if !db::allegations::bump(&mut *w.tx, id, version).await? {
        return Err(AppError::Conflict);
    }
    let years: i32 = sqlx::query_scalar!(
        "SELECT lado_file_retention_years FROM partnership_settings WHERE id = 1"
    )
    .fetch_one(&mut *w.tx)
    .await?;
    let retain = on
        .checked_add_months(chrono::Months::new(years as u32 * 12))
        .unwrap_or(on);
    db::allegations::sweep_breaches(&mut *w.tx, now).await?;
    db::allegations::set_outcome(
        &mut *w.tx,
        id,
        db::allegations::OutcomeFields {
            outcome: outcome.code(),
            outcome_on: on,
            reasons: &reasons,
            resigned: form.raw("resigned") == "yes",
            settlement: form.raw("settlement") == "yes",
            child_referral_considered: &child_referral,
            dbs_referred_on: if dbs == "yes" { dbs_on } else { None },
            dbs_referred_by: &dbs_by,
            dbs_not_referred_reason: &dbs_why_not,
            regulator_referral: &regulator,
            subject_date_of_birth: dob,
            subject_scheme_age: scheme_age.map(|a| a as i32),
            review_on: review,
            lado_file_retain_until: retain,
        },
        now,
    )
    .await?;
    let mut summary = format!(
        "Outcome: {} ({}). The employer's record is to be reviewed by {}.",
        outcome.label(),
        format_date(on),
        format_date(review)
    );
    if outcome.prompts_referral_of_child() {
        summary.push_str(&format!(
            " Referral of the child who made it: {child_referral}"
        ));
    }
    let at = crate::domain::time::london_to_utc(
        on,
        chrono::NaiveTime::from_hms_opt(12, 0, 0).expect("noon"),
    )
    .unwrap_or(now);
    w.finish(
        &state,
        &user,
        "outcome",
        summary,
        at,
        Event::new("allegation.outcome", "allegation")
            .details(serde_json::json!({ "outcome": outcome.code() })),
    )
    .await
}

// The LADO's lists: breaches, break-glass -------------------------------------------------------

pub async fn acknowledge_breach(
    State(state): State<AppState>,
    user: CurrentUser,
    Path((id, step)): Path<(String, String)>,
    form: FormData,
) -> AppResult<Response> {
    form.only(&["version"])?;
    let id = parse_id(&id)?;
    let mut w = begin(&state, &user, id).await?;
    if !db::allegations::acknowledge_breach(&mut *w.tx, id, &step, user.id).await? {
        return Err(AppError::NotFound);
    }
    audit::record(
        &mut w.tx,
        &state.audit,
        &user.actor(),
        Event::new("allegation.breach_acknowledged", "allegation")
            .entity(id)
            .details(serde_json::json!({ "step": step })),
    )
    .await?;
    w.tx.commit().await?;
    Ok(Redirect::to("/lado#breaches").into_response())
}

pub async fn decide_break_glass(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(request): Path<String>,
    form: FormData,
) -> AppResult<Response> {
    form.only(&["action", "version"])?;
    let request = parse_id(&request)?;
    let action = form.raw("action");
    let now = state.config.clock.now();
    let mut tx = state.pool.begin().await?;
    let r = db::allegations::break_glass(&mut *tx, request, user.id)
        .await?
        .ok_or(AppError::NotFound)?;
    match action {
        "approve" | "refuse" => {
            if !db::allegations::decide_break_glass(
                &mut *tx,
                request,
                action == "approve",
                user.id,
                now,
            )
            .await?
            {
                return Err(AppError::Conflict);
            }
            if action == "approve" {
                db::allegations::grant(
                    &mut *tx,
                    &r.record_kind,
                    r.record_id,
                    r.user_id,
                    "break_glass",
                    Some(user.id),
                    &r.reason,
                )
                .await?;
            }
        }
        "review" => {
            if !db::allegations::review_break_glass(&mut *tx, request, user.id, now).await? {
                return Err(AppError::Conflict);
            }
        }
        _ => return Err(AppError::BadRequest("approve, refuse or review")),
    }
    if r.record_kind == "allegation" {
        db::allegations::add_event(
            &mut *tx,
            r.record_id,
            now,
            "access",
            &format!(
                "Break-glass request by {} ({}): {}.",
                r.user_name,
                r.reason,
                match action {
                    "approve" => "approved",
                    "refuse" => "refused",
                    _ => "reviewed",
                }
            ),
            Some(user.id),
        )
        .await?;
    }
    audit::record(
        &mut tx,
        &state.audit,
        &user.actor(),
        Event::new("access.break_glass_decision", "break_glass")
            .entity(request)
            .details(serde_json::json!({ "action": action, "record": r.record_id })),
    )
    .await?;
    tx.commit().await?;
    Ok(Redirect::to("/lado#requests").into_response())
}
