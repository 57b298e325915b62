//! Referral intake, one question per page, ending in "check your answers". Submitting creates a case.

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
use crate::db::drafts::{
    AdultDraft, ChildDraft, DraftRow, Received, ReferralDraft, Referrer, Risk, Work,
};
use crate::domain::people::{Sex, age_contradicts, age_on};
use crate::domain::time::{format_date, format_datetime, london_date};
use crate::domain::{ConcernKind, Relationship, WorksWithChildren};
use crate::error::{AppError, AppResult};

use super::form::{DateParts, Errors, FormData};
use super::layout::{Layout, Section};
use super::macros_support::{Choice, SummaryRow};
use super::parse_id;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    Referrer,
    Received,
    Children,
    Adults,
    Concerns,
    Account,
    Risk,
    Work,
    Check,
}

impl Step {
    const ORDER: [Step; 9] = [
        Step::Referrer,
        Step::Received,
        Step::Children,
        Step::Adults,
        Step::Concerns,
        Step::Account,
        Step::Risk,
        Step::Work,
        Step::Check,
    ];

    pub fn slug(self) -> &'static str {
        match self {
            Step::Referrer => "referrer",
            Step::Received => "received",
            Step::Children => "children",
            Step::Adults => "adults",
            Step::Concerns => "concerns",
            Step::Account => "account",
            Step::Risk => "risk",
            Step::Work => "work",
            Step::Check => "check",
        }
    }

    fn parse(s: &str) -> Option<Step> {
        Step::ORDER.into_iter().find(|st| st.slug() == s)
    }

    fn title(self) -> &'static str {
        match self {
            Step::Referrer => "Who made the referral?",
            Step::Received => "When was the referral received?",
            Step::Children => "Which children is the referral about?",
            Step::Adults => "Which adults are involved?",
            Step::Concerns => "What kind of concern is it?",
            Step::Account => "What happened?",
            Step::Risk => "Is any child at immediate risk of significant harm?",
            Step::Work => "Does the person the concern is about work or volunteer with children?",
            Step::Check => "Check the referral before you create the case",
        }
    }

    fn previous(self) -> Option<Step> {
        let i = Step::ORDER.iter().position(|s| *s == self)?;
        i.checked_sub(1).map(|p| Step::ORDER[p])
    }
}

/// The first page still to answer, or `Check` when everything is answered.
pub fn first_missing(d: &ReferralDraft) -> Step {
    if d.referrer.is_none() {
        Step::Referrer
    } else if d.received.is_none() {
        Step::Received
    } else if d.children.is_empty() || !d.children_done {
        Step::Children
    } else if !d.adults_done {
        Step::Adults
    } else if d.concerns.is_empty() {
        Step::Concerns
    } else if d.account.is_none() {
        Step::Account
    } else if d.risk.is_none() {
        Step::Risk
    } else if d.work.is_none() {
        Step::Work
    } else {
        Step::Check
    }
}

fn step_href(id: Uuid, step: Step) -> String {
    format!("/referrals/{id}/{}", step.slug())
}

// The start page ----------------------------------------------------------------------------------

/// An unfinished referral, listed on the start page so it can be picked up again.
pub struct DraftLine {
    pub href: String,
    pub started: String,
    pub about: String,
}

#[derive(Template)]
#[template(path = "referrals/start.html")]
struct StartPage {
    layout: Layout,
    no_team: bool,
    drafts: Vec<DraftLine>,
}

async fn start_page(state: &AppState, user: &CurrentUser) -> AppResult<StartPage> {
    let drafts = db::drafts::open_for_user(&state.pool, user.id, 20)
        .await?
        .into_iter()
        .map(|d| {
            let about = match (d.data.children.first(), d.data.referrer.as_ref()) {
                (Some(c), _) => c.name.clone(),
                (None, Some(r)) => format!("Referral from {}", r.name),
                (None, None) => "Nothing entered yet".to_owned(),
            };
            DraftLine {
                href: step_href(d.id, first_missing(&d.data)),
                started: format_datetime(d.created_at),
                about,
            }
        })
        .collect();
    Ok(StartPage {
        layout: Layout::for_user("Log a new referral", user, Section::NewReferral),
        no_team: user.team_ids.is_empty(),
        drafts,
    })
}

pub async fn start(State(state): State<AppState>, user: CurrentUser) -> AppResult<Html<String>> {
    Ok(Html(start_page(&state, &user).await?.render()?))
}

pub async fn create_draft(
    State(state): State<AppState>,
    user: CurrentUser,
    form: FormData,
) -> AppResult<Response> {
    form.only(&[])?;
    let Some(team) = user.team_ids.first().copied() else {
        let page = start_page(&state, &user).await?;
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, Html(page.render()?)).into_response());
    };
    let mut tx = state.pool.begin().await?;
    let id = db::drafts::create(&mut *tx, user.id, team).await?;
    audit::record(
        &mut tx,
        &state.audit,
        &user.actor(),
        Event::new("referral.start", "referral_draft").entity(id),
    )
    .await?;
    tx.commit().await?;
    Ok(Redirect::to(&step_href(id, Step::Referrer)).into_response())
}

// The question pages -------------------------------------------------------------------------------

pub struct PersonLine {
    pub index: usize,
    pub name: String,
    pub detail: String,
}

/// One page struct for every question; each step fills the fields it shows.
#[derive(Template)]
#[template(path = "referrals/step.html")]
struct StepPage {
    layout: Layout,
    errors: Errors,
    step: &'static str,
    heading: &'static str,
    action: String,
    back_href: String,
    draft_id: Uuid,
    // referrer
    r_name: String,
    r_role: String,
    r_agency: String,
    r_contact: String,
    // received
    received_date: DateParts,
    received_time: String,
    taken_by: String,
    // children and adults
    people: Vec<PersonLine>,
    p_name: String,
    p_dob: DateParts,
    p_age: String,
    p_sexes: Vec<Choice>,
    p_school: String,
    p_household: String,
    relationships: Vec<Choice>,
    // concerns
    concerns: Vec<Choice>,
    // account
    account: String,
    // risk and work
    yes_no: Vec<Choice>,
    details: String,
    // check
    sections: Vec<(String, Vec<SummaryRow>)>,
    /// The referral says a child is at immediate risk: the check page says what must happen now.
    immediate_risk: bool,
    /// People on the referral who may already be on another case (the check page).
    earlier: Vec<EarlierView>,
}

/// One possible earlier involvement, in words; `href` only when the person may open the case.
pub struct EarlierView {
    pub words: String,
    pub href: String,
    pub reference: String,
}

impl StepPage {
    fn new(user: &CurrentUser, draft: Uuid, step: Step, errors: Errors) -> StepPage {
        let layout =
            Layout::for_user(step.title(), user, Section::NewReferral).with_errors(&errors);
        StepPage {
            layout,
            errors,
            step: step.slug(),
            heading: step.title(),
            action: step_href(draft, step),
            back_href: step
                .previous()
                .map(|p| step_href(draft, p))
                .unwrap_or_else(|| "/referrals/new".to_owned()),
            draft_id: draft,
            r_name: String::new(),
            r_role: String::new(),
            r_agency: String::new(),
            r_contact: String::new(),
            received_date: DateParts::default(),
            received_time: String::new(),
            taken_by: user.name.clone(),
            people: Vec::new(),
            p_name: String::new(),
            p_dob: DateParts::default(),
            p_age: String::new(),
            p_sexes: sex_choices(""),
            p_school: String::new(),
            p_household: String::new(),
            relationships: Vec::new(),
            concerns: Vec::new(),
            account: String::new(),
            yes_no: Vec::new(),
            details: String::new(),
            sections: Vec::new(),
            immediate_risk: false,
            earlier: Vec::new(),
        }
    }

    fn respond(self) -> AppResult<Response> {
        let status = if self.errors.is_empty() {
            StatusCode::OK
        } else {
            StatusCode::UNPROCESSABLE_ENTITY
        };
        Ok((status, Html(self.render()?)).into_response())
    }
}

fn child_line(c: &ChildDraft) -> String {
    let mut parts = Vec::new();
    if let Some(s) = Sex::parse(&c.sex).filter(|s| *s != Sex::NotKnown) {
        parts.push(s.label().to_lowercase());
    }
    if let Some(d) = c.date_of_birth {
        parts.push(format!("born {}", format_date(d)));
    } else if let Some(a) = c.age_estimate {
        parts.push(format!("about {a} years old"));
    }
    if !c.school.is_empty() {
        parts.push(c.school.clone());
    }
    if !c.household.is_empty() {
        parts.push(format!("lives with {}", c.household));
    }
    let line = parts.join("; ");
    let mut chars = line.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => "No details yet".to_owned(),
    }
}

fn sex_choices(picked: &str) -> Vec<Choice> {
    Sex::ALL
        .iter()
        .map(|s| Choice::new(s.code(), s.label(), picked == s.code()))
        .collect()
}

fn adult_line(a: &AdultDraft) -> String {
    let mut s = a.relationship.label().to_owned();
    if !a.household.is_empty() {
        s.push_str(&format!("; {}", a.household));
    }
    s
}

fn yes_no_choices(selected: Option<&str>, with_unknown: bool) -> Vec<Choice> {
    let mut v = vec![
        Choice::new("yes", "Yes", selected == Some("yes")),
        Choice::new("no", "No", selected == Some("no")),
    ];
    if with_unknown {
        v.push(Choice::new(
            "unknown",
            "Not known",
            selected == Some("unknown"),
        ));
    }
    v
}

fn relationship_choices(selected: &str) -> Vec<Choice> {
    Relationship::ALL
        .iter()
        .map(|r| Choice::new(r.code(), r.label(), r.code() == selected))
        .collect()
}

/// Fill a page from what the draft already holds.
fn page_from_draft(user: &CurrentUser, row: &DraftRow, step: Step, errors: Errors) -> StepPage {
    let d = &row.data;
    let mut p = StepPage::new(user, row.id, step, errors);
    match step {
        Step::Referrer => {
            if let Some(r) = &d.referrer {
                p.r_name = r.name.clone();
                p.r_role = r.role.clone();
                p.r_agency = r.agency.clone();
                p.r_contact = r.contact.clone();
            }
        }
        Step::Received => {
            let at = d.received.as_ref().map(|r| r.at).unwrap_or_else(Utc::now);
            p.received_date = DateParts::from_date(london_date(at));
            let local = at.with_timezone(&chrono_tz::Europe::London);
            p.received_time = local.format("%H:%M").to_string();
        }
        Step::Children => {
            p.people = d
                .children
                .iter()
                .enumerate()
                .map(|(index, c)| PersonLine {
                    index,
                    name: c.name.clone(),
                    detail: child_line(c),
                })
                .collect();
        }
        Step::Adults => {
            p.people = d
                .adults
                .iter()
                .enumerate()
                .map(|(index, a)| PersonLine {
                    index,
                    name: a.name.clone(),
                    detail: adult_line(a),
                })
                .collect();
            p.relationships = relationship_choices("");
        }
        Step::Concerns => {
            p.concerns = ConcernKind::ALL
                .iter()
                .map(|k| {
                    Choice::new(k.code(), k.label(), d.concerns.contains(k)).hint(k.route_hint())
                })
                .collect();
        }
        Step::Account => p.account = d.account.clone().unwrap_or_default(),
        Step::Risk => {
            let sel = d
                .risk
                .as_ref()
                .map(|r| if r.immediate { "yes" } else { "no" });
            p.yes_no = yes_no_choices(sel, false);
            p.details = d
                .risk
                .as_ref()
                .map(|r| r.details.clone())
                .unwrap_or_default();
        }
        Step::Work => {
            p.yes_no = yes_no_choices(d.work.as_ref().map(|w| w.works_with_children.code()), true);
            p.details = d
                .work
                .as_ref()
                .map(|w| w.details.clone())
                .unwrap_or_default();
        }
        Step::Check => {
            p.sections = check_sections(row);
            p.immediate_risk = row.data.risk.as_ref().is_some_and(|r| r.immediate);
        }
    }
    p
}

fn check_sections(row: &DraftRow) -> Vec<(String, Vec<SummaryRow>)> {
    let d = &row.data;
    let id = row.id;
    let mut out = Vec::new();
    let mut referral = Vec::new();
    if let Some(r) = &d.referrer {
        referral.push(
            SummaryRow::new("Referrer", format!("{}, {}", r.name, r.role))
                .change(step_href(id, Step::Referrer), "referrer"),
        );
        referral.push(
            SummaryRow::new("Agency", r.agency.clone())
                .change(step_href(id, Step::Referrer), "agency"),
        );
        referral.push(
            SummaryRow::new("Contact details", r.contact.clone())
                .change(step_href(id, Step::Referrer), "contact details"),
        );
    }
    if let Some(r) = &d.received {
        referral.push(
            SummaryRow::new("Received", format_datetime(r.at))
                .change(step_href(id, Step::Received), "when received"),
        );
    }
    out.push(("The referral".to_owned(), referral));
    let children = d
        .children
        .iter()
        .map(|c| {
            SummaryRow::new(c.name.clone(), child_line(c)).change(
                step_href(id, Step::Children),
                format!("children ({})", c.name),
            )
        })
        .collect();
    out.push(("Children".to_owned(), children));
    let mut adults: Vec<SummaryRow> = d
        .adults
        .iter()
        .map(|a| {
            SummaryRow::new(a.name.clone(), adult_line(a))
                .change(step_href(id, Step::Adults), format!("adults ({})", a.name))
        })
        .collect();
    if adults.is_empty() {
        adults.push(
            SummaryRow::new("Adults", "None recorded")
                .change(step_href(id, Step::Adults), "adults"),
        );
    }
    out.push(("Adults".to_owned(), adults));
    let mut concern = Vec::new();
    let kinds: Vec<&str> = d.concerns.iter().map(|k| k.short()).collect();
    concern.push(
        SummaryRow::new("Kinds of concern", kinds.join("\n"))
            .change(step_href(id, Step::Concerns), "kinds of concern"),
    );
    if let Some(a) = &d.account {
        concern.push(
            SummaryRow::new("What happened", a.clone())
                .change(step_href(id, Step::Account), "what happened"),
        );
    }
    if let Some(r) = &d.risk {
        let v = if r.immediate {
            format!("Yes\n{}", r.details)
        } else {
            "No".to_owned()
        };
        concern.push(
            SummaryRow::new("Child at immediate risk", v)
                .change(step_href(id, Step::Risk), "immediate risk"),
        );
    }
    if let Some(w) = &d.work {
        let mut v = w.works_with_children.label().to_owned();
        if !w.details.is_empty() {
            v.push('\n');
            v.push_str(&w.details);
        }
        concern.push(
            SummaryRow::new("Works or volunteers with children", v)
                .change(step_href(id, Step::Work), "work with children"),
        );
    }
    out.push(("The concern".to_owned(), concern));
    out
}

/// Save a draft's answers and audit which page changed (the answers themselves stay out of the
/// audit trail). When the draft had been submitted meanwhile, nothing is saved or recorded and
/// this returns where to send the person instead.
async fn save_draft(
    state: &AppState,
    user: &CurrentUser,
    id: Uuid,
    data: &ReferralDraft,
    step: Step,
) -> AppResult<Option<Response>> {
    // The answers and their audit row in one statement: no BEGIN and COMMIT round trips.
    let event = audit::prepare(
        &state.audit,
        &user.actor(),
        Event::new("referral.draft_update", "referral_draft")
            .entity(id)
            .details(serde_json::json!({ "page": step.slug() })),
    );
    if db::drafts::save_audited(&state.pool, id, user.id, data, &event).await? {
        return Ok(None);
    }
    // Not saved: submitted since it was read (in another tab, say). Send the person to the case,
    // which says so, rather than dropping the answer without a word.
    Ok(db::drafts::find_own(&state.pool, id, user.id)
        .await?
        .and_then(|d| d.submitted_case_id)
        .map(|case| Redirect::to(&format!("/cases/{case}?not_saved=1")).into_response()))
}

/// The person's own draft, or, once it has been submitted, a redirect to its case: saying there
/// that the answer was not saved when `answering` (a form posted from a page left open in
/// another tab, say).
async fn load_draft(
    state: &AppState,
    user: &CurrentUser,
    id: Uuid,
    answering: bool,
) -> AppResult<Result<DraftRow, Response>> {
    let row = db::drafts::find_own(&state.pool, id, user.id)
        .await?
        .ok_or(AppError::NotFound)?;
    if let Some(case_id) = row.submitted_case_id {
        let flag = if answering { "?not_saved=1" } else { "" };
        return Ok(Err(
            Redirect::to(&format!("/cases/{case_id}{flag}")).into_response()
        ));
    }
    Ok(Ok(row))
}

pub async fn step_form(
    State(state): State<AppState>,
    user: CurrentUser,
    Path((id, step)): Path<(String, String)>,
) -> AppResult<Response> {
    let id = parse_id(&id)?;
    let step = Step::parse(&step).ok_or(AppError::NotFound)?;
    let row = match load_draft(&state, &user, id, false).await? {
        Ok(r) => r,
        Err(redirect) => return Ok(redirect),
    };
    if step == Step::Check && first_missing(&row.data) != Step::Check {
        return Ok(Redirect::to(&step_href(id, first_missing(&row.data))).into_response());
    }
    let mut page = page_from_draft(&user, &row, step, Errors::default());
    if step == Step::Check {
        page.earlier = earlier_involvement(&state, &user, &row).await?;
    }
    page.respond()
}

/// Is anyone on the referral already on another case? A close name with a matching date of
/// birth, or a very close name where a date is not known on one side. The person sees the team
/// to ask and, only for a case they may open anyway, its reference; restricted cases are never
/// matched. The check and the cases it found are in the audit trail.
async fn earlier_involvement(
    state: &AppState,
    user: &CurrentUser,
    row: &DraftRow,
) -> AppResult<Vec<EarlierView>> {
    let d = &row.data;
    let mut names: Vec<String> = d.children.iter().map(|c| c.name.clone()).collect();
    let mut dobs: Vec<Option<chrono::NaiveDate>> =
        d.children.iter().map(|c| c.date_of_birth).collect();
    names.extend(d.adults.iter().map(|a| a.name.clone()));
    dobs.extend(d.adults.iter().map(|_| None));
    if names.is_empty() {
        return Ok(Vec::new());
    }
    let mut tx = state.pool.begin().await?;
    let found = db::people::earlier_involvement(&mut *tx, &names, &dobs).await?;
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::new();
    let mut cases = Vec::new();
    for m in found {
        let asked_dob = dobs.get((m.ord - 1) as usize).copied().flatten();
        let same_birthday = asked_dob.is_some() && asked_dob == m.date_of_birth;
        if !(m.similarity >= 0.6 || (same_birthday && m.similarity >= 0.4)) {
            continue;
        }
        if !seen.insert((m.ord, m.case_id)) {
            continue;
        }
        cases.push(m.case_id);
        let asked = names.get((m.ord - 1) as usize).cloned().unwrap_or_default();
        let born = m
            .date_of_birth
            .map(|b| format!(", born {}", format_date(b)))
            .unwrap_or_default();
        let received = london_date(m.received_at).format("%B %Y");
        let mine = user.team_ids.contains(&m.team_id);
        out.push(if mine {
            EarlierView {
                words: format!(
                    "{asked}: {}{born} is on a case in your team ({}, referral received {received}).",
                    m.full_name, m.team_name
                ),
                href: format!("/cases/{}", m.case_id),
                reference: m.reference,
            }
        } else {
            EarlierView {
                words: format!(
                    "{asked}: someone with a similar name{} is known to {}. Ask {} what they know before you go on; Haven does not show you their case.",
                    if same_birthday { " and the same date of birth" } else { "" },
                    m.team_name,
                    m.team_name
                ),
                href: String::new(),
                reference: String::new(),
            }
        });
    }
    audit::record(
        &mut tx,
        &state.audit,
        &user.actor(),
        Event::new("referral.involvement_check", "referral_draft")
            .entity(row.id)
            .details(serde_json::json!({ "people": names.len(), "cases_found": cases })),
    )
    .await?;
    tx.commit().await?;
    Ok(out)
}

/// What answering a page did.
enum Outcome {
    /// The answer is in the draft; save it, then show `Stay` (the same page, e.g. after adding a
    /// child) or `Next` (the next unanswered page, or the check page).
    Saved(Then),
    /// The page comes back with messages and what was typed; nothing is saved.
    Again(Box<StepPage>),
}

enum Then {
    Stay,
    Next,
}

fn again(page: StepPage) -> AppResult<Outcome> {
    Ok(Outcome::Again(Box::new(page)))
}

pub async fn step_submit(
    State(state): State<AppState>,
    user: CurrentUser,
    Path((id, step)): Path<(String, String)>,
    form: FormData,
) -> AppResult<Response> {
    let id = parse_id(&id)?;
    let step = Step::parse(&step).ok_or(AppError::NotFound)?;
    if step == Step::Check {
        return submit(state, user, id, form).await;
    }
    let mut row = match load_draft(&state, &user, id, true).await? {
        Ok(r) => r,
        Err(redirect) => return Ok(redirect),
    };
    let outcome = match step {
        Step::Referrer => answer_referrer(&user, &mut row, &form)?,
        Step::Received => answer_received(&user, &mut row, &form, state.config.clock.now())?,
        Step::Children => answer_child(&user, &mut row, &form, state.config.clock.now())?,
        Step::Adults => answer_adult(&user, &mut row, &form)?,
        Step::Concerns => answer_concerns(&user, &mut row, &form)?,
        Step::Account => answer_account(&user, &mut row, &form)?,
        Step::Risk => answer_risk(&user, &mut row, &form)?,
        Step::Work => answer_work(&user, &mut row, &form)?,
        Step::Check => unreachable!("handled above"),
    };
    match outcome {
        Outcome::Again(page) => page.respond(),
        Outcome::Saved(then) => {
            if let Some(elsewhere) = save_draft(&state, &user, id, &row.data, step).await? {
                return Ok(elsewhere);
            }
            let to = match then {
                Then::Stay => step,
                Then::Next => first_missing(&row.data),
            };
            Ok(Redirect::to(&step_href(id, to)).into_response())
        }
    }
}

fn answer_referrer(user: &CurrentUser, row: &mut DraftRow, form: &FormData) -> AppResult<Outcome> {
    form.only(&["name", "role", "agency", "contact"])?;
    let mut e = Errors::default();
    let r = Referrer {
        name: e.text(form, "name", "The referrer's name", true, 200),
        role: e.text(form, "role", "The referrer's role", true, 200),
        agency: e.text(
            form,
            "agency",
            "The referrer's agency or organisation",
            true,
            200,
        ),
        contact: e.text(form, "contact", "How to contact the referrer", true, 500),
    };
    if !e.is_empty() {
        let mut p = StepPage::new(user, row.id, Step::Referrer, e);
        (p.r_name, p.r_role, p.r_agency, p.r_contact) = (r.name, r.role, r.agency, r.contact);
        return again(p);
    }
    row.data.referrer = Some(r);
    Ok(Outcome::Saved(Then::Next))
}

fn answer_received(
    user: &CurrentUser,
    row: &mut DraftRow,
    form: &FormData,
    now: DateTime<Utc>,
) -> AppResult<Outcome> {
    form.only(&["received-day", "received-month", "received-year", "time"])?;
    let mut e = Errors::default();
    let m = e.past_moment(
        form,
        "received",
        "time",
        "the referral was received",
        true,
        now,
    );
    match m.at {
        Some(at) if e.is_empty() => {
            row.data.received = Some(Received { at });
            Ok(Outcome::Saved(Then::Next))
        }
        _ => {
            let mut p = StepPage::new(user, row.id, Step::Received, e);
            p.received_date = m.date;
            p.received_time = m.time;
            again(p)
        }
    }
}

/// The children page adds one child at a time ("Add child"), and "Continue" moves on once there
/// is at least one. A filled-in name with "Continue" adds that child first.
fn answer_child(
    user: &CurrentUser,
    row: &mut DraftRow,
    form: &FormData,
    now: DateTime<Utc>,
) -> AppResult<Outcome> {
    form.only(&[
        "name",
        "sex",
        "dob-day",
        "dob-month",
        "dob-year",
        "age",
        "school",
        "household",
        "action",
    ])?;
    let mut e = Errors::default();
    let adding = form.raw("action") == "add" || !form.raw("name").trim().is_empty();
    if adding {
        let name = e.text(form, "name", "The child's name", true, 200);
        let sex = form.raw("sex").to_owned();
        if !sex.is_empty() && Sex::parse(&sex).is_none() {
            e.add("sex", "Select the child's sex, or leave it blank");
        }
        let (dob_parts, dob) = e.date(form, "dob", "Date of birth", false);
        let age_text = e.text(form, "age", "Approximate age", false, 3);
        let age = match age_text.parse::<i32>() {
            _ if age_text.is_empty() => None,
            Ok(a) if (0..=17).contains(&a) => Some(a),
            _ => {
                e.add("age", "Approximate age must be a whole number from 0 to 17");
                None
            }
        };
        if let Some(dob) = dob {
            let today = london_date(now);
            if dob > today {
                e.add("dob-day", "Date of birth must be in the past");
            } else if today.years_since(dob).unwrap_or(0) >= 18 {
                e.add(
                    "dob-day",
                    "A child must be under 18; record adults on the next page",
                );
            } else if let Some(a) = age
                && age_contradicts(dob, a, today)
            {
                e.add(
                    "age",
                    format!(
                        "The date of birth makes the child {} years old, not {a}: correct one, or leave the age blank",
                        age_on(dob, today)
                    ),
                );
            }
        }
        let school = e.text(form, "school", "School or setting", false, 200);
        let household = e.text(form, "household", "Who the child lives with", false, 500);
        if !e.is_empty() {
            let mut p = page_from_draft(user, row, Step::Children, e);
            (p.p_name, p.p_dob, p.p_age, p.p_school, p.p_household) =
                (name, dob_parts, age_text, school, household);
            p.p_sexes = sex_choices(&sex);
            return again(p);
        }
        if row.data.children.len() >= 50 {
            return Err(AppError::BadRequest("too many children on one referral"));
        }
        let age_estimate = if dob.is_some() { None } else { age };
        row.data.children.push(ChildDraft {
            name,
            sex,
            date_of_birth: dob,
            age_estimate,
            school,
            household,
        });
        row.data.children_done = false;
    }
    if form.raw("action") != "continue" {
        return Ok(Outcome::Saved(Then::Stay));
    }
    if row.data.children.is_empty() {
        e.add(
            "name",
            "Add at least one child: if you do not know their name, describe them",
        );
        return again(page_from_draft(user, row, Step::Children, e));
    }
    row.data.children_done = true;
    Ok(Outcome::Saved(Then::Next))
}

/// Adults work like children, but the page may be left with nobody added.
fn answer_adult(user: &CurrentUser, row: &mut DraftRow, form: &FormData) -> AppResult<Outcome> {
    form.only(&["name", "relationship", "household", "action"])?;
    let mut e = Errors::default();
    let adding = form.raw("action") == "add" || !form.raw("name").trim().is_empty();
    if adding {
        let name = e.text(form, "name", "The adult's name", true, 200);
        let relationship = e.choice(
            form,
            "relationship",
            "Select how the adult is connected to the child",
            Relationship::parse,
        );
        let household = e.text(form, "household", "Where they live or work", false, 500);
        let (Some(relationship), true) = (relationship, e.is_empty()) else {
            let mut p = page_from_draft(user, row, Step::Adults, e);
            p.p_name = name;
            p.p_household = household;
            p.relationships = relationship_choices(form.raw("relationship"));
            return again(p);
        };
        if row.data.adults.len() >= 50 {
            return Err(AppError::BadRequest("too many adults on one referral"));
        }
        row.data.adults.push(AdultDraft {
            name,
            relationship,
            household,
        });
        row.data.adults_done = false;
    }
    if form.raw("action") != "continue" {
        return Ok(Outcome::Saved(Then::Stay));
    }
    row.data.adults_done = true;
    Ok(Outcome::Saved(Then::Next))
}

fn answer_concerns(user: &CurrentUser, row: &mut DraftRow, form: &FormData) -> AppResult<Outcome> {
    form.only(&["concerns"])?;
    let picked: Vec<ConcernKind> = form
        .all("concerns")
        .into_iter()
        .filter_map(ConcernKind::parse)
        .collect();
    if picked.is_empty() {
        let mut e = Errors::default();
        e.add("concerns", "Select at least one kind of concern");
        return again(page_from_draft(user, row, Step::Concerns, e));
    }
    // Kept in the fixed order of the list, whatever order the browser sent them in.
    row.data.concerns = ConcernKind::ALL
        .iter()
        .copied()
        .filter(|k| picked.contains(k))
        .collect();
    Ok(Outcome::Saved(Then::Next))
}

fn answer_account(user: &CurrentUser, row: &mut DraftRow, form: &FormData) -> AppResult<Outcome> {
    form.only(&["account"])?;
    let mut e = Errors::default();
    let text = e.text(
        form,
        "account",
        "What happened, in the referrer's words",
        true,
        20_000,
    );
    if !e.is_empty() {
        let mut p = StepPage::new(user, row.id, Step::Account, e);
        p.account = text;
        return again(p);
    }
    row.data.account = Some(text);
    Ok(Outcome::Saved(Then::Next))
}

fn answer_risk(user: &CurrentUser, row: &mut DraftRow, form: &FormData) -> AppResult<Outcome> {
    form.only(&["risk", "details"])?;
    let mut e = Errors::default();
    let answer = form.raw("risk");
    let details = e.text(
        form,
        "details",
        "What the immediate risk is",
        answer == "yes",
        2000,
    );
    if answer != "yes" && answer != "no" {
        e.add(
            "risk",
            "Select yes if any child is at immediate risk of significant harm",
        );
    }
    if !e.is_empty() {
        let mut p = StepPage::new(user, row.id, Step::Risk, e);
        p.yes_no = yes_no_choices(Some(answer), false);
        p.details = details;
        return again(p);
    }
    let immediate = answer == "yes";
    row.data.risk = Some(Risk {
        immediate,
        details: if immediate { details } else { String::new() },
    });
    Ok(Outcome::Saved(Then::Next))
}

fn answer_work(user: &CurrentUser, row: &mut DraftRow, form: &FormData) -> AppResult<Outcome> {
    form.only(&["works", "details"])?;
    let mut e = Errors::default();
    let answer = WorksWithChildren::parse(form.raw("works"));
    let details = e.text(
        form,
        "details",
        "Where they work or volunteer with children",
        answer == Some(WorksWithChildren::Yes),
        1000,
    );
    if answer.is_none() {
        e.add(
            "works",
            "Select whether the person works or volunteers with children",
        );
    }
    let (Some(answer), true) = (answer, e.is_empty()) else {
        let mut p = StepPage::new(user, row.id, Step::Work, e);
        p.yes_no = yes_no_choices(Some(form.raw("works")), true);
        p.details = details;
        return again(p);
    };
    row.data.work = Some(Work {
        works_with_children: answer,
        details,
    });
    Ok(Outcome::Saved(Then::Next))
}

pub async fn remove_person(
    State(state): State<AppState>,
    user: CurrentUser,
    Path((id, step, index)): Path<(String, String, String)>,
    form: FormData,
) -> AppResult<Response> {
    let id = parse_id(&id)?;
    let index: usize = index.parse().map_err(|_| AppError::NotFound)?;
    form.only(&[])?;
    let step = Step::parse(&step).ok_or(AppError::NotFound)?;
    let mut row = match load_draft(&state, &user, id, true).await? {
        Ok(r) => r,
        Err(redirect) => return Ok(redirect),
    };
    let list_len = match step {
        Step::Children => row.data.children.len(),
        Step::Adults => row.data.adults.len(),
        _ => return Err(AppError::NotFound),
    };
    if index >= list_len {
        return Err(AppError::NotFound);
    }
    match step {
        Step::Children => {
            row.data.children.remove(index);
            row.data.children_done = false;
        }
        _ => {
            row.data.adults.remove(index);
        }
    }
    if let Some(elsewhere) = save_draft(&state, &user, id, &row.data, step).await? {
        return Ok(elsewhere);
    }
    Ok(Redirect::to(&step_href(id, step)).into_response())
}

/// Create the case. The draft row is locked, so a double submit creates one case and the second
/// request is sent to it.
async fn submit(
    state: AppState,
    user: CurrentUser,
    id: Uuid,
    form: FormData,
) -> AppResult<Response> {
    form.only(&[])?;
    let mut tx = state.pool.begin().await?;
    let row = db::drafts::find_own_for_update(&mut tx, id, user.id)
        .await?
        .ok_or(AppError::NotFound)?;
    if let Some(case_id) = row.submitted_case_id {
        return Ok(Redirect::to(&format!("/cases/{case_id}")).into_response());
    }
    let missing = first_missing(&row.data);
    if missing != Step::Check {
        return Ok(Redirect::to(&step_href(id, missing)).into_response());
    }
    // Teams are read afresh on every request: someone who has left the team the draft was
    // started in logs the case in a team they are in now, never in the one they left.
    let team_id = if user.team_ids.contains(&row.team_id) {
        row.team_id
    } else if let Some(team) = user.team_ids.first() {
        *team
    } else {
        tx.rollback().await?;
        let mut errors = Errors::default();
        errors.add(
            "team",
            "You are not in a team now, so Haven cannot log this referral. Ask an administrator to add you to your team; your answers are kept",
        );
        let draft = db::drafts::find_own(&state.pool, id, user.id)
            .await?
            .ok_or(AppError::NotFound)?;
        let mut page = page_from_draft(&user, &draft, Step::Check, errors);
        page.earlier = earlier_involvement(&state, &user, &draft).await?;
        return page.respond();
    };
    let now = state.config.clock.now();
    let case_id = db::cases::insert_from_referral(
        &mut tx,
        db::cases::NewCase {
            draft: &row.data,
            team_id,
            owner_id: user.id,
            now,
        },
    )
    .await?;
    db::drafts::mark_submitted(&mut *tx, id, case_id).await?;
    // The clocks start now: the decision is due within one working day of receipt.
    super::procedure::recompute_and_explain(
        &state,
        &mut tx,
        case_id,
        user.id,
        state.config.clock.now(),
    )
    .await?;
    // The number last: the year's counter is locked from here to the commit.
    let reference = db::cases::number_case(&mut tx, case_id, now, user.id).await?;
    audit::record(
        &mut tx,
        &state.audit,
        &user.actor(),
        Event::new("case.create", "case")
            .entity(case_id)
            .case(case_id)
            .details(serde_json::json!({
                "reference": reference.as_str(),
                "from_draft": id,
                "team": team_id,
                "draft_team_left": team_id != row.team_id,
            })),
    )
    .await?;
    tx.commit().await?;
    Ok(Redirect::to(&format!("/cases/{case_id}?created=1")).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_come_in_order_and_check_comes_last() {
        let mut d = ReferralDraft::default();
        assert_eq!(first_missing(&d), Step::Referrer);
        d.referrer = Some(Referrer::default());
        assert_eq!(first_missing(&d), Step::Received);
        d.received = Some(Received { at: Utc::now() });
        assert_eq!(first_missing(&d), Step::Children);
        d.children.push(ChildDraft::default());
        assert_eq!(
            first_missing(&d),
            Step::Children,
            "children must be confirmed with Continue"
        );
        d.children_done = true;
        assert_eq!(first_missing(&d), Step::Adults);
        d.adults_done = true;
        d.concerns.push(ConcernKind::Grooming);
        d.account = Some("x".into());
        d.risk = Some(Risk {
            immediate: false,
            details: String::new(),
        });
        assert_eq!(first_missing(&d), Step::Work);
        d.work = Some(Work {
            works_with_children: WorksWithChildren::Unknown,
            details: String::new(),
        });
        assert_eq!(first_missing(&d), Step::Check);
        assert_eq!(Step::Check.previous(), Some(Step::Work));
        assert_eq!(Step::Referrer.previous(), None);
    }
}
