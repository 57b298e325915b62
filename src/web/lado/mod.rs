//! The LADO's area: the dashboard, opening an allegation from a contact or a Section 47
//! hand-over, and the allegation's page (read by the LADO and by the people given access; every
//! change is the LADO's, in `forms`).

pub mod forms;
pub mod report;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use uuid::Uuid;

use crate::app::AppState;
use crate::audit::{self, Event};
use crate::auth::CurrentUser;
use crate::db;
use crate::db::allegations::{AllegationRow, Viewer};
use crate::domain::Role;
use crate::domain::lado::{
    Conduct, ContactKind, EmployeeAction, HarmTest, MeetingKind, Outcome, ROUTES, STEPS, Setting,
    Strand, StrandStatus,
};
use crate::domain::time::{format_date, format_datetime, london_date};
use crate::error::{AppError, AppResult};

use super::access::step_up;
use super::form::{DateParts, Errors, FormData};
use super::layout::{Layout, Section};
use super::macros_support::{Choice, SummaryRow};
use super::parse_id;
use super::procedure::{calendar, page_calendar};

pub fn viewer(user: &CurrentUser) -> Viewer {
    Viewer {
        user_id: user.id,
        is_lado: user.role == Role::Lado,
    }
}

/// Find an allegation this person may see (else 404), recording the view in the same transaction.
pub async fn open(
    state: &AppState,
    user: &CurrentUser,
    id: Uuid,
    action: &str,
) -> AppResult<AllegationRow> {
    // Every allegation is restricted: more than 15 minutes after the last password entry, ask
    // again before showing any of it (decision 010).
    if !user.recently_authenticated() {
        return Err(AppError::StepUp(format!("/lado/allegations/{id}")));
    }
    let mut tx = state.pool.begin().await?;
    let a = db::allegations::find_visible(&mut *tx, viewer(user), id)
        .await?
        .ok_or(AppError::NotFound)?;
    audit::record(
        &mut tx,
        &state.audit,
        &user.actor(),
        Event::new(action, "allegation").entity(id),
    )
    .await?;
    tx.commit().await?;
    Ok(a)
}

// The dashboard --------------------------------------------------------------------------------

pub struct StepDue {
    pub allegation_id: Uuid,
    pub reference: String,
    pub subject: String,
    pub what: &'static str,
    pub when: String,
    pub breach: bool,
}

pub struct ListItem {
    pub id: Uuid,
    pub reference: String,
    pub subject: String,
    pub status: &'static str,
    pub age: String,
}

pub struct RequestView {
    pub id: Uuid,
    pub who: String,
    pub reference: String,
    pub reason: String,
    pub when: String,
    pub pending: bool,
    pub urgent: bool,
}

pub struct HandOver {
    pub case_id: Uuid,
    pub reference: String,
    pub adult: String,
}

#[derive(Template)]
#[template(path = "lado/dashboard.html")]
struct DashboardPage {
    layout: Layout,
    due: Vec<StepDue>,
    breaches: Vec<StepDue>,
    open: Vec<ListItem>,
    advice: Vec<ListItem>,
    requests: Vec<RequestView>,
    handovers: Vec<HandOver>,
}

fn status_words(status: &str) -> &'static str {
    match status {
        "open" => "Open",
        "advice_only" => "Advice only (threshold not met)",
        _ => "Closed",
    }
}

pub fn step_words(code: &str) -> &'static str {
    match code {
        "tell_manager" => "Telling a manager",
        "secure_device" => "Securing the device",
        "contact_lado" => "Contacting the LADO",
        "contact_police" => "Contacting the police",
        "immediate_actions" => "Immediate actions about the employee",
        _ => "Following the procedures",
    }
}

/// "due by 5pm today (1 hour 20 minutes left)", or how long ago it fell due.
pub fn time_left(due: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let when = format_datetime(due);
    let mins = (due - now).num_minutes();
    if mins < 0 {
        let m = -mins;
        format!("was due by {when} ({} ago)", hours_minutes(m))
    } else {
        format!("due by {when} ({} left)", hours_minutes(mins))
    }
}

fn hours_minutes(m: i64) -> String {
    let (h, m) = (m / 60, m % 60);
    match (h, m) {
        (0, m) => format!("{m} minute{}", if m == 1 { "" } else { "s" }),
        (h, 0) => format!("{h} hour{}", if h == 1 { "" } else { "s" }),
        (h, m) => format!(
            "{h} hour{} {m} minute{}",
            if h == 1 { "" } else { "s" },
            if m == 1 { "" } else { "s" }
        ),
    }
}

pub async fn dashboard(State(state): State<AppState>, user: CurrentUser) -> AppResult<Response> {
    let now = state.config.clock.now();
    let mut conn = state.pool.acquire().await?;
    let cal = page_calendar(&state, &user, &mut *conn).await?;
    let end_of_today = cal.end_of_working_day(now);
    let due_rows = db::allegations::steps_due(
        &mut *conn,
        end_of_today + chrono::Duration::seconds(1),
        user.id,
        200,
    )
    .await?;
    let breach_rows = db::allegations::breaches(&mut *conn, user.id, 200).await?;
    let list = db::allegations::open_list(&mut *conn, user.id, 200).await?;
    let requests = db::allegations::break_glass_open(&mut *conn, user.id).await?;
    let handovers = sqlx::query!(
        r#"SELECT c.id AS case_id, c.reference,
                  coalesce((SELECT p.full_name FROM case_people p WHERE p.case_id = c.id AND p.relationship = 'alleged' LIMIT 1), 'Not named') AS "adult!"
           FROM section47_enquiries e JOIN cases c ON c.id = e.case_id
           WHERE e.lado_handover AND NOT EXISTS (SELECT 1 FROM allegations a WHERE a.source_case_id = c.id)
           GROUP BY c.id, c.reference ORDER BY c.reference LIMIT 100"#
    )
    .fetch_all(&mut *conn)
    .await?;
    drop(conn);
    let due: Vec<StepDue> = due_rows
        .iter()
        .map(|r| StepDue {
            allegation_id: r.allegation_id,
            reference: r.reference.clone(),
            subject: r.subject_name.clone(),
            what: step_words(&r.step),
            when: time_left(r.due_at, now),
            breach: r.due_at < now,
        })
        .collect();
    let breaches = breach_rows
        .iter()
        .map(|b| StepDue {
            allegation_id: b.allegation_id,
            reference: b.reference.clone(),
            subject: b.subject_name.clone(),
            what: step_words(&b.step),
            when: match b.done_at {
                Some(d) if d <= b.due_at => format!(
                    "due by {}, done in time on {} but not recorded until after it was due",
                    format_datetime(b.due_at),
                    format_datetime(d)
                ),
                Some(d) => format!(
                    "due by {}, done late on {}",
                    format_datetime(b.due_at),
                    format_datetime(d)
                ),
                None => format!("due by {}, still not done", format_datetime(b.due_at)),
            },
            breach: true,
        })
        .collect();
    let item = |r: &db::allegations::ListRow| ListItem {
        id: r.id,
        reference: r.reference.clone(),
        subject: format!("{}, {}", r.subject_name, r.subject_employer),
        status: status_words(&r.status),
        age: format!(
            "{} days since contact",
            (now - r.contact_at).num_days().max(0)
        ),
    };
    let open = list
        .iter()
        .filter(|r| r.status == "open")
        .map(item)
        .collect();
    let advice = list
        .iter()
        .filter(|r| r.status == "advice_only")
        .map(item)
        .collect();
    // The dashboard names people and records: its view is recorded like a list's.
    audit::record_alone(
        &state.pool,
        &state.audit,
        &user.actor(),
        Event::new("allegation.list", "allegation_list").details(serde_json::json!({
            "allegations": list.iter().map(|r| r.id).collect::<Vec<_>>(),
            "handover_cases": handovers.iter().map(|h| h.case_id).collect::<Vec<_>>(),
        })),
    )
    .await?;
    let page = DashboardPage {
        layout: Layout::for_user("LADO", &user, Section::Lado),
        due,
        breaches,
        open,
        advice,
        requests: requests
            .into_iter()
            .map(|r| RequestView {
                id: r.id,
                who: r.user_name,
                reference: r.reference.unwrap_or_default(),
                reason: r.reason,
                when: format_datetime(r.created_at),
                pending: r.status == "pending",
                urgent: r.status == "opened_urgently",
            })
            .collect(),
        handovers: handovers
            .into_iter()
            .map(|h| HandOver {
                case_id: h.case_id,
                reference: h.reference,
                adult: h.adult,
            })
            .collect(),
    };
    Ok(Html(page.render()?).into_response())
}

// Opening an allegation --------------------------------------------------------------------------

#[derive(Template)]
#[template(path = "lado/new.html")]
struct NewPage {
    layout: Layout,
    errors: Errors,
    contact_kinds: Vec<Choice>,
    contact_date: DateParts,
    contact_time: String,
    contact_from: String,
    source_case: String,
    source_reference: String,
    subject_name: String,
    subject_role: String,
    subject_employer: String,
    settings: Vec<Choice>,
    subject_email: String,
    arose_date: DateParts,
    arose_time: String,
    concern_how: String,
    conducts: Vec<Choice>,
    case_manager: String,
}

#[derive(Deserialize, Default)]
pub struct FromQuery {
    from: Option<String>,
}

fn choices<T: Copy>(
    all: &[T],
    code: fn(T) -> &'static str,
    label: fn(T) -> &'static str,
    picked: &str,
) -> Vec<Choice> {
    all.iter()
        .map(|v| Choice::new(code(*v), label(*v), code(*v) == picked))
        .collect()
}

fn new_page(
    user: &CurrentUser,
    errors: Errors,
    form: Option<&FormData>,
    source: Option<(Uuid, String)>,
) -> NewPage {
    let raw = |k: &str| form.map(|f| f.raw(k).trim().to_owned()).unwrap_or_default();
    let parts = |k: &str| DateParts {
        day: raw(&format!("{k}-day")),
        month: raw(&format!("{k}-month")),
        year: raw(&format!("{k}-year")),
    };
    let contact_kind = if source.is_some() && form.is_none() {
        "section47".to_owned()
    } else {
        raw("contact_kind")
    };
    NewPage {
        layout: Layout::for_user("Open an allegation", user, Section::Lado).with_errors(&errors),
        errors,
        contact_kinds: choices(
            ContactKind::ALL,
            ContactKind::code,
            ContactKind::label,
            &contact_kind,
        ),
        contact_date: parts("contact"),
        contact_time: raw("contact_time"),
        contact_from: raw("contact_from"),
        source_case: source.as_ref().map(|s| s.0.to_string()).unwrap_or_default(),
        source_reference: source.map(|s| s.1).unwrap_or_default(),
        subject_name: raw("subject_name"),
        subject_role: raw("subject_role"),
        subject_employer: raw("subject_employer"),
        settings: choices(Setting::ALL, Setting::code, Setting::label, &raw("setting")),
        subject_email: raw("subject_email"),
        arose_date: parts("arose"),
        arose_time: raw("arose_time"),
        concern_how: raw("concern_how"),
        conducts: choices(Conduct::ALL, Conduct::code, Conduct::label, &raw("conduct")),
        case_manager: raw("case_manager"),
    }
}

async fn source_case(state: &AppState, id: Option<&str>) -> AppResult<Option<(Uuid, String)>> {
    let Some(id) = id.and_then(|i| Uuid::parse_str(i).ok()) else {
        return Ok(None);
    };
    // Only a case handed over from a Section 47 enquiry.
    let row = sqlx::query!(
        "SELECT c.id, c.reference FROM cases c WHERE c.id = $1
           AND EXISTS (SELECT 1 FROM section47_enquiries e WHERE e.case_id = c.id AND e.lado_handover)",
        id
    )
    .fetch_optional(&state.pool)
    .await?;
    Ok(row.map(|r| (r.id, r.reference)))
}

pub async fn new_form(
    State(state): State<AppState>,
    user: CurrentUser,
    Query(q): Query<FromQuery>,
) -> AppResult<Response> {
    let source = source_case(&state, q.from.as_deref()).await?;
    Ok(Html(new_page(&user, Errors::default(), None, source).render()?).into_response())
}

pub async fn create(
    State(state): State<AppState>,
    user: CurrentUser,
    form: FormData,
) -> AppResult<Response> {
    form.only(&[
        "contact_kind",
        "contact-day",
        "contact-month",
        "contact-year",
        "contact_time",
        "contact_from",
        "source_case",
        "subject_name",
        "subject_role",
        "subject_employer",
        "setting",
        "subject_email",
        "arose-day",
        "arose-month",
        "arose-year",
        "arose_time",
        "concern_how",
        "conduct",
        "case_manager",
    ])?;
    let now = state.config.clock.now();
    let mut e = Errors::default();
    let kind = e.choice(
        &form,
        "contact_kind",
        "Select how the LADO heard of it",
        ContactKind::parse,
    );
    let contact = e.past_moment(
        &form,
        "contact",
        "contact_time",
        "the LADO was contacted",
        true,
        now,
    );
    let contact_from = e.text(&form, "contact_from", "Who contacted the LADO", true, 500);
    let subject_name = e.text(
        &form,
        "subject_name",
        "The name of the person the allegation is about",
        true,
        200,
    );
    let subject_role = e.text(&form, "subject_role", "Their role", true, 200);
    let subject_employer = e.text(
        &form,
        "subject_employer",
        "Their employer or organisation",
        true,
        200,
    );
    let setting = e.choice(&form, "setting", "Select the setting", Setting::parse);
    let subject_email = e.text(
        &form,
        "subject_email",
        "Their email address in Haven",
        false,
        254,
    );
    let arose = e.past_moment(&form, "arose", "arose_time", "the concern arose", true, now);
    let concern_how = e.text(&form, "concern_how", "How the concern arose", true, 10000);
    let conduct = e.choice(
        &form,
        "conduct",
        "Select where the conduct happened",
        Conduct::parse,
    );
    let case_manager = e.text(
        &form,
        "case_manager",
        "The employer's case manager",
        false,
        500,
    );
    if let (Some(c), Some(a)) = (contact.at, arose.at)
        && c < a
    {
        e.add(
            "contact-day",
            "The LADO cannot have been contacted before the concern arose",
        );
    }
    let source = source_case(&state, Some(form.raw("source_case"))).await?;
    // A Haven user the allegation is about: matched by email address, so that they have no route to it.
    let subject_user = if subject_email.is_empty() {
        None
    } else {
        let found = db::users::find_by_email(&state.pool, &subject_email.to_lowercase()).await?;
        if found.is_none() {
            e.add(
                "subject_email",
                "No Haven account has that email address: leave it blank if they have none",
            );
        }
        found.map(|u| u.id)
    };
    let (Some(kind), Some(contact_at), Some(setting), Some(arose_at), Some(conduct), true) =
        (kind, contact.at, setting, arose.at, conduct, e.is_empty())
    else {
        let page = new_page(&user, e, Some(&form), source);
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, Html(page.render()?)).into_response());
    };
    let mut tx = state.pool.begin().await?;
    let cal = calendar(&state, &mut *tx).await?;
    let (id, reference) = db::allegations::create(
        &mut tx,
        db::allegations::NewAllegation {
            owner_id: user.id,
            contact_kind: kind.code(),
            contact_at,
            contact_from: &contact_from,
            source_case_id: source.as_ref().map(|s| s.0),
            subject_name: &subject_name,
            subject_role: &subject_role,
            subject_employer: &subject_employer,
            setting: setting.code(),
            subject_user_id: subject_user,
            concern_arose_at: arose_at,
            concern_how: &concern_how,
            conduct: conduct.code(),
            case_manager: &case_manager,
        },
        &cal,
        now,
    )
    .await?;
    if let Some((case_id, _)) = &source {
        db::allegations::link_case(&mut tx, id, *case_id, true, user.id).await?;
    }
    db::allegations::add_event(
        &mut *tx,
        id,
        contact_at,
        "contact",
        &format!(
            "{} from {contact_from}. The concern arose on {}.",
            kind.label(),
            format_datetime(arose_at)
        ),
        Some(user.id),
    )
    .await?;
    let lado_due = crate::domain::lado::lado_informed_due(&cal, arose_at);
    db::allegations::add_event(
        &mut *tx,
        id,
        now,
        "clock",
        &format!(
            "The LADO was told {} the statutory measure (within one working day of the concern arising, by {}).",
            if contact_at <= lado_due { "within" } else { "after" },
            format_datetime(lado_due)
        ),
        None,
    )
    .await?;
    audit::record(
        &mut tx,
        &state.audit,
        &user.actor(),
        Event::new("allegation.create", "allegation")
            .entity(id)
            .details(serde_json::json!({ "reference": reference, "from_case": source.as_ref().map(|s| s.0) })),
    )
    .await?;
    tx.commit().await?;
    Ok(Redirect::to(&format!("/lado/allegations/{id}")).into_response())
}

// The allegation's page -------------------------------------------------------------------------

pub struct StepView {
    pub code: &'static str,
    pub what: &'static str,
    pub clock: String,
    pub done: String,
    pub tag: (&'static str, &'static str),
    pub open: bool,
    pub tell: bool,
}

pub struct TrailItem {
    pub id: Uuid,
    pub heading: String,
    pub lines: Vec<String>,
}

#[derive(Template)]
#[template(path = "lado/allegation.html")]
pub struct AllegationPage {
    pub layout: Layout,
    pub id: Uuid,
    pub reference: String,
    pub is_lado: bool,
    pub closed: bool,
    pub summary: Vec<SummaryRow>,
    pub steps: Vec<StepView>,
    pub advice_given: String,
    pub threshold: String,
    pub strands: Vec<(String, &'static str, &'static str, String)>,
    pub meetings: Vec<String>,
    /// Each action's words, and its id when written confirmation is still to be recorded.
    pub actions: Vec<(String, Option<Uuid>)>,
    pub evidence: Vec<TrailItem>,
    pub linked: Vec<(Uuid, String, bool)>,
    pub access: Vec<(Uuid, String, String)>,
    pub outcome: Vec<SummaryRow>,
    pub events: Vec<(String, String, String)>,
    pub documents: Vec<super::documents::DocumentView>,
    pub version: i32,
}

/// Whether the person was sent written confirmation of an action about them within one working
/// day of its being agreed.
fn written_confirmation(
    cal: &crate::domain::calendar::Calendar,
    agreed_at: DateTime<Utc>,
    sent: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> String {
    let due = cal.working_days_after(agreed_at, 1);
    match sent {
        Some(t) if t <= due => format!("sent {} (within one working day)", format_datetime(t)),
        Some(t) => format!(
            "sent {}, later than one working day (it was due by {})",
            format_datetime(t),
            format_datetime(due)
        ),
        None if now > due => format!("not sent, and overdue since {}", format_datetime(due)),
        None => format!("not yet sent; due by {}", format_datetime(due)),
    }
}

/// Build the page from what is stored.
pub async fn page(
    state: &AppState,
    user: &CurrentUser,
    a: &AllegationRow,
) -> AppResult<AllegationPage> {
    let now = state.config.clock.now();
    let mut conn = state.pool.acquire().await?;
    let cal = page_calendar(state, user, &mut *conn).await?;
    let steps = db::allegations::steps(&mut *conn, a.id).await?;
    let strands = db::allegations::strands(&mut *conn, a.id).await?;
    let meetings = db::allegations::meetings(&mut *conn, a.id).await?;
    let actions = db::allegations::employee_actions(&mut *conn, a.id).await?;
    let items = db::allegations::evidence(&mut *conn, a.id).await?;
    let trail = db::allegations::evidence_trail(&mut *conn, a.id).await?;
    let linked = db::allegations::linked_cases(&mut *conn, a.id).await?;
    let access = db::allegations::access(&mut *conn, a.id).await?;
    let events = db::allegations::events(&mut *conn, a.id).await?;
    let documents =
        db::documents::list(&mut *conn, db::documents::Owner::Allegation(a.id), 50).await?;
    drop(conn);
    let mut summary = vec![
        SummaryRow::new("Reference", a.reference.clone()),
        SummaryRow::new("Status", status_words(&a.status)),
        SummaryRow::new("LADO", a.owner_name.clone()),
        SummaryRow::new(
            "The person it is about",
            format!(
                "{}, {} at {}",
                a.subject_name, a.subject_role, a.subject_employer
            ),
        ),
        SummaryRow::new(
            "Setting",
            Setting::parse(&a.setting).map(Setting::label).unwrap_or(""),
        ),
        SummaryRow::new(
            "Conduct",
            Conduct::parse(&a.conduct).map(Conduct::label).unwrap_or(""),
        ),
        SummaryRow::new("The concern arose", format_datetime(a.concern_arose_at)),
        SummaryRow::new("How", a.concern_how.clone()),
        SummaryRow::new(
            "The LADO heard",
            format!(
                "{} on {}, from {}",
                ContactKind::parse(&a.contact_kind)
                    .map(ContactKind::label)
                    .unwrap_or(""),
                format_datetime(a.contact_at),
                a.contact_from
            ),
        ),
        SummaryRow::new(
            "The employer's case manager",
            if a.case_manager.is_empty() {
                "Not yet named".to_owned()
            } else {
                a.case_manager.clone()
            },
        ),
    ];
    let told = |at: Option<DateTime<Utc>>, by: &str| match at {
        Some(t) => format!("{} (decided by {by})", format_datetime(t)),
        None => "Not yet".to_owned(),
    };
    summary.push(SummaryRow::new(
        "The person was told",
        told(a.accused_told_at, &a.accused_told_decided_by),
    ));
    summary.push(SummaryRow::new(
        "The child's parents were told",
        told(a.parents_told_at, &a.parents_told_decided_by),
    ));
    let step_views = STEPS
        .iter()
        .map(|(code, what, _)| {
            let s = steps.iter().find(|s| s.step == *code);
            let due = s.and_then(|s| s.due_at);
            let done_at = s.and_then(|s| s.done_at);
            let breached = s.and_then(|s| s.breached_at).is_some()
                || (done_at.is_none() && due.is_some_and(|d| d < now));
            let in_time = matches!((done_at, due), (Some(d), Some(u)) if d <= u);
            let tag = match (done_at, breached) {
                (Some(_), true) if in_time => ("Done, recorded late", "orange"),
                (Some(_), true) => ("Done late: breach", "red"),
                (Some(_), false) => ("Done", "green"),
                (None, true) => ("Breach: not done", "red"),
                (None, false) if due.is_some() => ("Due", "yellow"),
                (None, false) => ("No fixed time", "grey"),
            };
            let route = s
                .and_then(|s| s.route.as_deref())
                .and_then(|r| ROUTES.iter().find(|x| x.0 == r))
                .map(|r| format!(" ({})", r.1.to_lowercase()))
                .unwrap_or_default();
            StepView {
                code,
                what,
                clock: match due {
                    Some(d) => time_left(d, now),
                    None => "No fixed time".to_owned(),
                },
                done: match (done_at, s.and_then(|s| s.done_by.clone())) {
                    (Some(t), Some(by)) => format!("Done on {} by {by}{route}", format_datetime(t)),
                    _ => String::new(),
                },
                tag,
                open: done_at.is_none(),
                tell: *code == "tell_manager",
            }
        })
        .collect();
    let tests: Vec<&str> = a.harm_tests.iter().map(String::as_str).collect();
    let threshold = match a.threshold_met {
        Some(true) => format!(
            "The harm test is met: {}.",
            tests
                .iter()
                .filter_map(|t| HarmTest::parse(t))
                .map(|t| t.label().to_lowercase())
                .collect::<Vec<_>>()
                .join("; ")
        ),
        Some(false) => format!(
            "Threshold not met: advice only. Advice given: {}",
            a.advice_given
        ),
        None => "Not yet decided.".to_owned(),
    };
    let mut trail_items = Vec::new();
    for item in &items {
        let mut lines = vec![format!(
            "Secured by {} on {}. Kept at: {}.",
            item.secured_by,
            format_datetime(item.secured_at),
            item.location
        )];
        for t in trail.iter().filter(|t| t.item_id == item.id) {
            let what = match t.kind.as_str() {
                "access" => "Had access",
                "handed_to_police" => "Handed to the police",
                "returned" => "Returned",
                "destroyed" => "Destroyed",
                _ => "Moved",
            };
            lines.push(format!("{}: {what}: {}", format_datetime(t.at), t.words));
        }
        trail_items.push(TrailItem {
            id: item.id,
            heading: item.description.clone(),
            lines,
        });
    }
    let outcome = match a.outcome.as_deref().and_then(Outcome::parse) {
        Some(o) => {
            let mut rows = vec![
                SummaryRow::new(
                    "Outcome",
                    format!(
                        "{} on {}",
                        o.label(),
                        a.outcome_on.map(format_date).unwrap_or_default()
                    ),
                ),
                SummaryRow::new("Reasons", a.outcome_reasons.clone()),
                SummaryRow::new(
                    "May be cited in references",
                    if o.citable() {
                        "Yes"
                    } else {
                        "No: only substantiated allegations may be"
                    },
                ),
            ];
            if o.removed_from_personnel_file() {
                rows.push(SummaryRow::new(
                    "Personnel file",
                    "Remove from the person's personnel file, unless they consent to keeping it",
                ));
            }
            rows.push(SummaryRow::new(
                "Disclosure and Barring Service",
                match a.dbs_referred_on {
                    Some(d) => format!("Referred on {} by {}", format_date(d), a.dbs_referred_by),
                    None => format!("Not referred: {}", a.dbs_not_referred_reason),
                },
            ));
            if !a.regulator_referral.is_empty() {
                rows.push(SummaryRow::new(
                    "Other regulator",
                    a.regulator_referral.clone(),
                ));
            }
            if a.resigned || a.settlement {
                rows.push(SummaryRow::new(
                    "Resignation or settlement",
                    "Yes: it did not end the allegation without an outcome",
                ));
            }
            if let Some(r) = a.review_on {
                rows.push(SummaryRow::new(
                    "Employer's record: review by",
                    format!("{} (a review date, not a deletion date)", format_date(r)),
                ));
            }
            if let Some(r) = a.lado_file_retain_until {
                rows.push(SummaryRow::new("LADO file kept until", format_date(r)));
            }
            rows
        }
        None => Vec::new(),
    };
    Ok(AllegationPage {
        layout: Layout::for_user(format!("Allegation {}", a.reference), user, Section::Lado),
        id: a.id,
        reference: a.reference.clone(),
        is_lado: user.role == Role::Lado,
        closed: a.status == "closed",
        summary,
        steps: step_views,
        advice_given: a.advice_given.clone(),
        threshold,
        strands: strands
            .iter()
            .filter_map(|s| {
                let strand = Strand::parse(&s.strand)?;
                Some((
                    s.strand.clone(),
                    strand.label(),
                    StrandStatus::parse(&s.status).map(StrandStatus::label).unwrap_or(""),
                    s.owner.clone(),
                ))
            })
            .collect(),
        meetings: meetings
            .iter()
            .map(|m| {
                format!(
                    "{} on {}{}",
                    MeetingKind::parse(&m.kind).map(MeetingKind::label).unwrap_or(""),
                    format_datetime(m.held_at),
                    if m.notes.is_empty() { String::new() } else { format!(": {}", m.notes) }
                )
            })
            .collect(),
        actions: actions
            .iter()
            .map(|x| {
                (format!(
                    "{}, agreed by {} on {}. Alternatives considered: {}. Rationale: {}. The police's view: {}. Written confirmation: {}. Named contact: {}.",
                    EmployeeAction::parse(&x.action).map(EmployeeAction::label).unwrap_or(""),
                    x.agreed_by,
                    format_datetime(x.agreed_at),
                    x.alternatives,
                    x.rationale,
                    x.police_view,
                    written_confirmation(&cal, x.agreed_at, x.written_confirmation_at, now),
                    x.named_contact
                ), x.written_confirmation_at.is_none().then_some(x.id))
            })
            .collect(),
        evidence: trail_items,
        linked: linked.into_iter().map(|l| (l.case_id, l.reference, l.restricted)).collect(),
        access: access
            .into_iter()
            .map(|x| (x.user_id, x.name, if x.via == "named" { "Named by the LADO".to_owned() } else { "Break-glass".to_owned() }))
            .collect(),
        outcome,
        events: events
            .into_iter()
            .map(|e| {
                (
                    format_datetime(e.occurred_at),
                    e.summary,
                    format!(
                        "Recorded {} by {}",
                        format_datetime(e.recorded_at),
                        e.recorded_by_name.unwrap_or_else(|| "Haven".into())
                    ),
                )
            })
            .collect(),
        documents: super::documents::views(&format!("/lado/allegations/{}", a.id), documents),
        version: a.version,
    })
}

pub async fn show(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> AppResult<Response> {
    let id = parse_id(&id)?;
    if let Some(r) = step_up(&user, &format!("/lado/allegations/{id}")) {
        return Ok(r);
    }
    let a = open(&state, &user, id, "allegation.view").await?;
    let p = page(&state, &user, &a).await?;
    Ok(Html(p.render()?).into_response())
}

/// The evidence trail on one page, to print for the police.
#[derive(Template)]
#[template(path = "lado/evidence_print.html")]
struct PrintPage {
    layout: Layout,
    id: Uuid,
    reference: String,
    subject: String,
    printed: String,
    evidence: Vec<TrailItem>,
}

pub async fn evidence_print(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> AppResult<Response> {
    let id = parse_id(&id)?;
    if let Some(r) = step_up(&user, &format!("/lado/allegations/{id}/evidence")) {
        return Ok(r);
    }
    let a = open(&state, &user, id, "allegation.evidence_print").await?;
    let p = page(&state, &user, &a).await?;
    let print = PrintPage {
        layout: Layout::for_user(
            format!("Evidence trail for {}", a.reference),
            &user,
            Section::Lado,
        ),
        id: a.id,
        reference: a.reference.clone(),
        subject: format!(
            "{}, {} at {}",
            a.subject_name, a.subject_role, a.subject_employer
        ),
        printed: format_datetime(state.config.clock.now()),
        evidence: p.evidence,
    };
    Ok(Html(print.render()?).into_response())
}

/// Employers' records due for review within a year.
#[derive(Template)]
#[template(path = "lado/reviews.html")]
struct ReviewsPage {
    layout: Layout,
    rows: Vec<(Uuid, String, String, String)>,
    by: String,
}

pub async fn reviews(State(state): State<AppState>, user: CurrentUser) -> AppResult<Response> {
    let today = london_date(state.config.clock.now());
    let by = today
        .checked_add_months(chrono::Months::new(12))
        .unwrap_or(today);
    let rows = db::allegations::due_for_review(&state.pool, by, user.id, 500).await?;
    audit::record_alone(
        &state.pool,
        &state.audit,
        &user.actor(),
        Event::new("allegation.list", "allegation_list").details(serde_json::json!({
            "review_list": rows.iter().map(|r| r.id).collect::<Vec<_>>(),
        })),
    )
    .await?;
    let page = ReviewsPage {
        layout: Layout::for_user("Records due for review", &user, Section::Lado),
        rows: rows
            .into_iter()
            .map(|r| {
                (
                    r.id,
                    r.reference,
                    format!("{}, {}", r.subject_name, r.subject_employer),
                    r.review_on.map(format_date).unwrap_or_default(),
                )
            })
            .collect(),
        by: format_date(by),
    };
    Ok(Html(page.render()?).into_response())
}
