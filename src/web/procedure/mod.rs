//! The procedure after the referral, for one case: the "Next steps and deadlines" page, and the
//! forms for the decision on the referral (`decision`), strategy discussions (`strategy`),
//! Section 47 outcomes (`section47`), conferences, core groups and milestones (`events`), and
//! closing the case (`closure`).
//!
//! Every write goes the same way (`Change::finish`): in one transaction, the event, its
//! chronology entry, the deadlines recomputed (with a chronology entry for each that is set,
//! moves, is met late or is dropped) and the audit row.

pub mod closure;
pub mod decision;
pub mod events;
pub mod section47;
pub mod strategy;

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::app::AppState;
use crate::audit::{self, Event};
use crate::auth::CurrentUser;
use crate::db;
use crate::db::cases::CaseRow;
use crate::db::procedure::WriteError;
use crate::domain::calendar::Calendar;
use crate::domain::deadlines::{self, Kind};
use crate::domain::procedure::{DecisionOutcome, Section47Outcome};
use crate::domain::time::{format_date, format_datetime};
use crate::domain::{ConcernKind, Role};
use crate::error::{AppError, AppResult};

use super::cases::{Audited, open_case, viewer};
use super::form::{Errors, FormData};
use super::layout::{Layout, Section};
use super::parse_id;

/// The calendar as it stands (the rules, plus administrators' changes), read in `db`: for a
/// change's transaction, whose deadlines must follow the calendar as that transaction sees it.
pub async fn calendar(state: &AppState, db: impl sqlx::PgExecutor<'_>) -> AppResult<Calendar> {
    Ok(db::calendar::load(db, state.config.working_day_close).await?)
}

/// The calendar for a page that only reads: the copy this instance holds when its version is
/// the one the request's session statement read (`CurrentUser::calendar_version`), else read
/// again in `db` (one statement) and kept. Every change to the calendar, through any instance,
/// gives it a new random version in its own transaction (migrations 0027 and 0030), so no page
/// counts working days by a calendar older than the request's own session statement, and a
/// version never comes round again (after a failover or a restore, say) for another calendar.
pub async fn page_calendar(
    state: &AppState,
    user: &CurrentUser,
    db: impl sqlx::PgExecutor<'_>,
) -> AppResult<Arc<Calendar>> {
    let held = state.calendar.read().ok().and_then(|c| {
        c.as_ref()
            .filter(|(v, _)| *v == user.calendar_version)
            .map(|(_, cal)| cal.clone())
    });
    if let Some(cal) = held {
        return Ok(cal);
    }
    let (version, cal) = db::calendar::load_versioned(db, state.config.working_day_close).await?;
    let cal = Arc::new(cal);
    if let Ok(mut slot) = state.calendar.write() {
        // Versions are random tokens, not ordered: a slower request may put back an older copy,
        // which the next request's version then replaces (one statement, never a wrong answer).
        *slot = Some((version, cal.clone()));
    }
    Ok(cal)
}

/// A write to one case: its transaction, opened with the visibility rule.
pub struct Change<'a> {
    pub tx: sqlx::Transaction<'a, sqlx::Postgres>,
    pub case: CaseRow,
    pub now: DateTime<Utc>,
}

impl<'a> Change<'a> {
    /// Begin: the case must be visible to the person (else 404) and not closed.
    pub async fn begin(state: &'a AppState, user: &CurrentUser, id: Uuid) -> AppResult<Change<'a>> {
        let mut tx = state.pool.begin().await?;
        let case = db::cases::find_visible(&mut *tx, &viewer(user), id)
            .await?
            .ok_or(AppError::NotFound)?;
        Ok(Change {
            tx,
            case,
            now: state.config.clock.now(),
        })
    }

    /// A manager of the case's own team: only they approve or return what others propose
    /// (access to a case from elsewhere, such as break-glass, is not authority over it).
    pub fn managed_by(&self, user: &CurrentUser) -> bool {
        user.role == Role::Manager && user.team_ids.contains(&self.case.team_id)
    }

    /// The form came back with errors: record the view (the page shows the case) and end the
    /// transaction without changing anything.
    pub async fn show_again(
        self,
        state: &AppState,
        user: &CurrentUser,
        why: &str,
    ) -> AppResult<Audited> {
        super::cases::audited_view(state, user, self.tx, self.case, why).await
    }

    /// Finish: the chronology entry, deadlines recomputed (and explained), the audit row, commit.
    pub async fn finish(
        mut self,
        state: &AppState,
        user: &CurrentUser,
        chronology: Option<(&str, String, DateTime<Utc>)>,
        event: Event<'_>,
    ) -> AppResult<()> {
        let case_id = self.case.id;
        if let Some((kind, summary, at)) = chronology {
            db::cases::add_chronology(&mut *self.tx, case_id, at, kind, &summary, None, user.id)
                .await?;
        }
        recompute_and_explain(state, &mut self.tx, case_id, user.id, self.now).await?;
        audit::record(
            &mut self.tx,
            &state.audit,
            &user.actor(),
            event.case(case_id).entity(case_id),
        )
        .await?;
        self.tx.commit().await?;
        Ok(())
    }
}

/// Recompute a case's deadlines in the caller's transaction and write a chronology entry for
/// each that was set, moved, met late or dropped.
pub async fn recompute_and_explain(
    state: &AppState,
    tx: &mut sqlx::PgConnection,
    case_id: Uuid,
    by: Uuid,
    now: DateTime<Utc>,
) -> AppResult<()> {
    let cal = calendar(state, &mut *tx).await?;
    let settings = db::calendar::settings(&mut *tx).await?.rules();
    let (changes, names) = db::deadlines::recompute(&mut *tx, case_id, &cal, settings).await?;
    for c in &changes {
        db::cases::add_chronology(
            &mut *tx,
            case_id,
            now,
            "deadline",
            &deadlines::chronology_line(c, &names),
            None,
            by,
        )
        .await?;
    }
    Ok(())
}

/// A stale form: show the conflict page (nothing was saved).
pub fn conflict_page(user: &CurrentUser, case: &CaseRow, what: &str) -> AppResult<Response> {
    let page = ConflictPage {
        layout: Layout::for_user("Someone else changed this first", user, Section::None),
        id: case.id,
        reference: case.reference.clone(),
        what: what.to_owned(),
    };
    Ok((StatusCode::CONFLICT, Html(page.render()?)).into_response())
}

#[derive(Template)]
#[template(path = "procedure/conflict.html")]
struct ConflictPage {
    layout: Layout,
    id: Uuid,
    reference: String,
    what: String,
}

/// Map a write error to the page a person should see.
pub fn write_error(
    e: WriteError,
    user: &CurrentUser,
    case: &CaseRow,
    what: &str,
) -> AppResult<Response> {
    match e {
        WriteError::Stale | WriteError::NotNow => conflict_page(user, case, what),
        WriteError::Db(e) => Err(e.into()),
    }
}

// The page -----------------------------------------------------------------------------------------

pub struct DeadlineView {
    pub id: Uuid,
    pub what: String,
    pub due: String,
    pub standing: String,
    /// A short word for the tag ("Overdue", "Met late"), and its colour.
    pub tag_text: &'static str,
    pub tag: &'static str,
    pub local: String,
    pub started_by: String,
    pub needs_reason: bool,
    pub late_reason: String,
}

pub fn deadline_view(
    cal: &Calendar,
    d: &db::deadlines::DeadlineRow,
    now: DateTime<Utc>,
) -> DeadlineView {
    let kind = Kind::parse(&d.kind);
    let what = match (&d.child_name, kind) {
        (Some(c), Some(k)) => format!("{}: {c}", k.label()),
        (None, Some(k)) => k.label().to_owned(),
        _ => d.kind.clone(),
    };
    let (standing, tag_text, tag) = match (d.met_at, d.ended_at) {
        (Some(m), _) if m > d.due_at => (
            format!(
                "Met late on {}, by {}.",
                format_datetime(m),
                d.met_by.as_deref().unwrap_or("")
            ),
            "Met late",
            "orange",
        ),
        (Some(m), _) => (
            format!(
                "Met on {}, by {}.",
                format_datetime(m),
                d.met_by.as_deref().unwrap_or("")
            ),
            "Met",
            "green",
        ),
        (None, Some(_)) => ("Ended when the case closed.".to_owned(), "Ended", "grey"),
        (None, None) => {
            let words = deadlines::describe(cal, d.due_at, now);
            let (short, tag) = match deadlines::standing(cal, d.due_at, now) {
                deadlines::Standing::Overdue(_) => ("Overdue", "red"),
                deadlines::Standing::DueToday => ("Due today", "yellow"),
                deadlines::Standing::DueIn(_) => ("Open", "blue"),
            };
            (format!("{}.", capitalise(&words)), short, tag)
        }
    };
    DeadlineView {
        id: d.id,
        what,
        due: format_datetime(d.due_at),
        standing,
        tag_text,
        tag,
        local: d.local_due_at.map(format_datetime).unwrap_or_default(),
        started_by: d.started_by.clone(),
        needs_reason: d.met_at.is_some_and(|m| m > d.due_at) && d.late_reason.is_none(),
        late_reason: d.late_reason.clone().unwrap_or_default(),
    }
}

pub fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}

pub struct DiscussionView {
    pub id: Uuid,
    pub title: String,
    pub recorded: bool,
}

pub struct EnquiryView {
    pub id: Uuid,
    pub child: String,
    pub started: String,
    pub status: String,
    pub can_propose: bool,
    pub can_review: bool,
    pub version: i32,
    pub flags: Vec<&'static str>,
}

pub struct ConferenceView {
    pub child: String,
    pub what: String,
}

#[derive(Template)]
#[template(path = "procedure/overview.html")]
struct OverviewPage {
    layout: Layout,
    id: Uuid,
    reference: String,
    title: String,
    closed: bool,
    deadlines: Vec<DeadlineView>,
    decision: Option<decision::DecisionView>,
    decision_returned: String,
    can_decide: bool,
    discussions: Vec<DiscussionView>,
    enquiries: Vec<EnquiryView>,
    conferences: Vec<ConferenceView>,
    can_conference: bool,
    milestones: Vec<String>,
    works_with_children: bool,
    closure: Option<closure::ClosureView>,
    can_close: bool,
    is_manager: bool,
    hsb_hint: bool,
    reason_error: bool,
}

#[derive(serde::Deserialize, Default)]
pub struct OverviewQuery {
    reason: Option<String>,
}

/// "Next steps and deadlines" for a case: everything the procedure has recorded and what is due.
pub async fn overview(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
    axum::extract::Query(q): axum::extract::Query<OverviewQuery>,
) -> AppResult<Response> {
    let id = parse_id(&id)?;
    let Audited(case) = open_case(&state, &user, id, "case.view").await?;
    let now = state.config.clock.now();
    let mut conn = state.pool.acquire().await?;
    let cal = page_calendar(&state, &user, &mut *conn).await?;
    let rows = db::deadlines::for_case(&mut *conn, id).await?;
    let decisions = db::procedure::decisions(&mut *conn, id).await?;
    let discussions = db::procedure::discussions(&mut *conn, id).await?;
    let enquiries = db::procedure::enquiries(&mut *conn, id).await?;
    let conferences = db::procedure::conferences(&mut *conn, id).await?;
    let milestones = db::procedure::milestones(&mut *conn, id).await?;
    let closures = db::procedure::closures(&mut *conn, id).await?;
    let referral = db::cases::referral(&mut *conn, id).await?;
    drop(conn);
    let is_manager = user.role == Role::Manager;
    let live = decisions.iter().find(|d| d.status != "returned");
    let returned = decisions
        .iter()
        .find(|d| d.status == "returned")
        .filter(|_| live.is_none());
    let closed = case.status == "closed";
    let page = OverviewPage {
        layout: Layout::for_user(
            format!("Next steps and deadlines for {}", case.reference),
            &user,
            Section::None,
        ),
        id,
        reference: case.reference.clone(),
        title: case.title.clone(),
        closed,
        deadlines: rows.iter().map(|d| deadline_view(&cal, d, now)).collect(),
        decision: live.map(|d| decision::view(d, &user)),
        decision_returned: returned
            .map(|d| {
                format!(
                    "The last decision ({}) was sent back by {}: {}",
                    DecisionOutcome::parse(&d.outcome)
                        .map(DecisionOutcome::label)
                        .unwrap_or(""),
                    d.reviewed_by_name.as_deref().unwrap_or("a manager"),
                    d.review_note
                )
            })
            .unwrap_or_default(),
        can_decide: live.is_none() && !closed,
        discussions: discussions
            .iter()
            .map(|d| DiscussionView {
                id: d.id,
                title: match d.held_at {
                    Some(at) => format!("Strategy discussion on {}", format_datetime(at)),
                    None => format!(
                        "Strategy discussion started {}",
                        format_datetime(d.created_at)
                    ),
                },
                recorded: d.status == "recorded",
            })
            .collect(),
        enquiries: enquiries
            .iter()
            .map(|e| section47::enquiry_view(e, &user, closed))
            .collect(),
        can_conference: !closed && !enquiries.is_empty(),
        conferences: conferences
            .iter()
            .map(|c| ConferenceView {
                child: c.child_name.clone(),
                what: events::conference_words(c),
            })
            .collect(),
        milestones: milestones
            .iter()
            .map(|m| {
                let what = if m.kind == "lado_told" {
                    "The LADO was told"
                } else {
                    "The single assessment was completed"
                };
                format!(
                    "{what} on {} (recorded by {}){}",
                    format_datetime(m.happened_at),
                    m.recorded_by_name,
                    if m.details.is_empty() {
                        String::new()
                    } else {
                        format!(": {}", m.details)
                    }
                )
            })
            .collect(),
        works_with_children: referral
            .as_ref()
            .is_some_and(|r| r.works_with_children == "yes"),
        closure: closures.first().map(|c| closure::view(c, &user)),
        can_close: !closed && closures.first().is_none_or(|c| c.status == "returned"),
        is_manager,
        hsb_hint: case
            .concerns()
            .iter()
            .any(|k| matches!(k, ConcernKind::YouthImagery | ConcernKind::Bullying)),
        reason_error: q.reason.is_some(),
    };
    Ok(Html(page.render()?).into_response())
}

/// Record why a deadline was met late.
pub async fn late_reason(
    State(state): State<AppState>,
    user: CurrentUser,
    Path((id, deadline)): Path<(String, String)>,
    form: FormData,
) -> AppResult<Response> {
    form.only(&["reason"])?;
    let id = parse_id(&id)?;
    let deadline = parse_id(&deadline)?;
    let mut change = Change::begin(&state, &user, id).await?;
    let mut e = Errors::default();
    let reason = e.text(&form, "reason", "The reason it was late", true, 2000);
    if !e.is_empty() {
        // Nothing saved; the page of deadlines says what is missing.
        return Ok(
            Redirect::to(&format!("/cases/{id}/procedure?reason=missing#deadlines"))
                .into_response(),
        );
    }
    if !db::deadlines::set_late_reason(&mut *change.tx, id, deadline, &reason, user.id).await? {
        return Err(AppError::NotFound);
    }
    let summary = format!("Reason a deadline was met late: {reason}");
    let now = change.now;
    change
        .finish(
            &state,
            &user,
            Some(("deadline", summary, now)),
            Event::new("case.late_reason", "deadline")
                .details(serde_json::json!({ "deadline": deadline })),
        )
        .await?;
    Ok(Redirect::to(&format!("/cases/{id}/procedure#deadlines")).into_response())
}

/// The first open deadline of a case, for the top of its page: ("Decision on the referral",
/// "due today by 5pm", tag colour).
pub fn next_deadline_words(
    cal: &Calendar,
    kind: Option<&str>,
    due: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Option<(String, String, &'static str)> {
    let (kind, due) = (Kind::parse(kind?)?, due?);
    let tag = match deadlines::standing(cal, due, now) {
        deadlines::Standing::Overdue(_) => "red",
        deadlines::Standing::DueToday => "yellow",
        deadlines::Standing::DueIn(_) => "blue",
    };
    Some((
        kind.label().to_owned(),
        deadlines::describe(cal, due, now),
        tag,
    ))
}

/// The child people on a case (for per-child forms): (id, name).
pub async fn children(
    db: impl sqlx::PgExecutor<'_>,
    case_id: Uuid,
) -> AppResult<Vec<(Uuid, String)>> {
    Ok(db::cases::people(db, case_id)
        .await?
        .into_iter()
        .filter(|p| p.kind == "child")
        .map(|p| (p.id, p.full_name))
        .collect())
}

pub fn date_words(d: chrono::NaiveDate) -> String {
    format_date(d)
}

pub fn outcome_label(code: Option<&str>) -> &'static str {
    code.and_then(Section47Outcome::parse)
        .map(Section47Outcome::label)
        .unwrap_or("")
}
