//! Dashboards: "My work" (deadlines on the cases a person works) and "Team work" (their teams'
//! cases, for managers and the LADO): overdue, due today, and due in the next five working days,
//! the most urgent of each first; what waits for a manager's approval; and timeliness over the
//! last 90 days. Each section shows its most urgent few and links to the open-deadlines list,
//! which pages through all of them (by key, 50 a page); Team work's approvals waiting and
//! unacknowledged immediate risks show 25 each and link to their own lists (`lists`).

use askama::Template;
use axum::extract::{Query, State};
use axum::response::{Html, IntoResponse, Response};
use chrono::{DateTime, Duration, NaiveTime, Utc};
use serde::Deserialize;
use uuid::Uuid;

use crate::app::AppState;
use crate::audit::{self, Event};
use crate::auth::CurrentUser;
use crate::db;
use crate::domain::deadlines::{self, Kind};
use crate::domain::time::{format_datetime, london_date, london_to_utc};
use crate::error::AppResult;

use super::layout::{Layout, Section};
use super::procedure::{capitalise, page_calendar};

mod lists;
pub use lists::{team_approvals, team_risks};

/// How many deadlines a dashboard shows in each section (the most urgent first); the rest are
/// one link away, in the open-deadlines list.
const SECTION: i64 = 25;
/// How many rows a page of the open-deadlines, approvals and risks lists shows.
const PAGE: i64 = 50;

pub struct Item {
    pub case_id: Uuid,
    pub reference: String,
    pub title: String,
    pub what: String,
    pub when: String,
}

pub struct Waiting {
    pub case_id: Uuid,
    pub reference: String,
    pub title: String,
    pub what: &'static str,
    pub by: String,
}

#[derive(Template)]
#[template(path = "work/dashboard.html")]
struct DashboardPage {
    layout: Layout,
    heading: &'static str,
    team: bool,
    is_manager: bool,
    /// Team cases with a child at immediate risk that no manager has acknowledged.
    risks: Vec<(uuid::Uuid, String, String, String)>,
    /// More risks are waiting than the dashboard shows.
    risks_more: bool,
    overdue: Vec<Item>,
    today: Vec<Item>,
    soon: Vec<Item>,
    horizon: String,
    waiting: Vec<Waiting>,
    /// More proposals are waiting than the dashboard shows.
    waiting_more: bool,
    timeliness: Vec<(String, String)>,
    /// The open-deadlines list.
    list_href: &'static str,
    /// Where each section's "all of them" link goes when it has more than it shows (else empty).
    overdue_more: String,
    today_more: String,
    soon_more: String,
}

/// The parts of the open deadlines a dashboard shows, and the list can page through.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Part {
    Overdue,
    Today,
    Soon,
    All,
}

impl Part {
    fn parse(s: Option<&str>) -> Part {
        match s {
            Some("overdue") => Part::Overdue,
            Some("today") => Part::Today,
            Some("soon") => Part::Soon,
            _ => Part::All,
        }
    }

    fn code(self) -> &'static str {
        match self {
            Part::Overdue => "overdue",
            Part::Today => "today",
            Part::Soon => "soon",
            Part::All => "all",
        }
    }
}

/// Before and after every deadline (PostgreSQL's timestamps do not reach chrono's extremes).
fn earliest() -> DateTime<Utc> {
    DateTime::<Utc>::from_timestamp(-2_208_988_800, 0).unwrap_or_default() // 1 January 1900
}

fn latest() -> DateTime<Utc> {
    DateTime::<Utc>::from_timestamp(253_402_300_799, 0).unwrap_or_default() // 31 December 9999
}

/// The due-time ranges of the parts, as of `now`: overdue (due at or before now), due later
/// today (by the London date), due from tomorrow until `until`, and everything open.
struct Ranges {
    overdue: (DateTime<Utc>, DateTime<Utc>),
    today: (DateTime<Utc>, DateTime<Utc>),
    soon: (DateTime<Utc>, DateTime<Utc>),
}

impl Ranges {
    fn new(now: DateTime<Utc>, until: DateTime<Utc>) -> Ranges {
        let after_now = now + Duration::microseconds(1);
        let tomorrow = london_to_utc(london_date(now) + Duration::days(1), NaiveTime::MIN)
            .unwrap_or(after_now)
            .max(after_now);
        Ranges {
            overdue: (earliest(), after_now),
            today: (after_now, tomorrow),
            soon: (tomorrow, until.max(tomorrow)),
        }
    }

    fn of(&self, part: Part) -> (DateTime<Utc>, DateTime<Utc>) {
        match part {
            Part::Overdue => self.overdue,
            Part::Today => self.today,
            Part::Soon => self.soon,
            Part::All => (earliest(), latest()),
        }
    }
}

/// The calendar, the ranges of the parts as of `now`, and the horizon day of "soon".
async fn ranges(
    state: &AppState,
    user: &CurrentUser,
    conn: &mut sqlx::PgConnection,
    now: DateTime<Utc>,
) -> AppResult<(
    std::sync::Arc<crate::domain::calendar::Calendar>,
    Ranges,
    chrono::NaiveDate,
)> {
    let cal = page_calendar(state, user, &mut *conn).await?;
    let horizon_day = cal.add_working_days(london_date(now), 5);
    // The whole of the horizon day: a deadline due after that day's close is still due by then.
    let until = london_to_utc(horizon_day + Duration::days(1), NaiveTime::MIN)
        .unwrap_or_else(|| cal.close_on(horizon_day) + Duration::seconds(1));
    Ok((cal, Ranges::new(now, until), horizon_day))
}

/// Where the open-deadlines list of a person's (or their teams') cases lives.
fn list_href(team: bool) -> &'static str {
    if team {
        "/work/team/deadlines"
    } else {
        "/work/deadlines"
    }
}

/// The open-deadlines list's cursor: the due time (microseconds since 1970) and id of the last
/// deadline shown, as `after=<micros>_<id>`. Anything else starts the list at the top.
fn parse_cursor(s: &str) -> Option<(DateTime<Utc>, Uuid)> {
    let (micros, id) = s.split_once('_')?;
    let due = DateTime::<Utc>::from_timestamp_micros(micros.parse().ok()?)?;
    // Only times PostgreSQL can hold (chrono's reach far further back: a crafted cursor must
    // start the list at the top, not fail the statement).
    if due < earliest() || due > latest() {
        return None;
    }
    Some((due, Uuid::parse_str(id).ok()?))
}

fn format_cursor(due: DateTime<Utc>, id: Uuid) -> String {
    format!("{}_{id}", due.timestamp_micros())
}

fn item(
    cal: &crate::domain::calendar::Calendar,
    now: DateTime<Utc>,
    d: db::deadlines::OpenRow,
) -> Option<Item> {
    let kind = Kind::parse(&d.kind)?;
    Some(Item {
        case_id: d.case_id,
        reference: d.reference,
        title: d.title,
        what: match &d.child_name {
            Some(c) => format!("{}: {c}", kind.label()),
            None => kind.label().to_owned(),
        },
        when: capitalise(&deadlines::describe(cal, d.due_at, now)),
    })
}

fn waiting_item(w: db::deadlines::WaitingRow) -> Waiting {
    Waiting {
        case_id: w.case_id,
        reference: w.reference,
        title: w.title,
        what: match w.what.as_str() {
            "decision" => "Decision on the referral",
            "outcome" => "Section 47 outcome",
            _ => "Closing the case",
        },
        by: format!("{}, {}", w.proposed_by_name, format_datetime(w.proposed_at)),
    }
}

async fn dashboard(state: &AppState, user: &CurrentUser, team: bool) -> AppResult<Response> {
    let now = state.config.clock.now();
    // The dashboards' statements have no optional filters and their plans do not depend on
    // their values: they keep their plans (`hot`, decision 005), which halves what they cost.
    let mut conn = state.hot.acquire().await?;
    let (cal, ranges, horizon_day) = ranges(state, user, &mut conn, now).await?;
    // Team work's other parts (risks, approvals, timeliness) come in the same statement.
    let measures = [
        (
            Kind::ReferralDecision,
            "Referral decisions made within 1 working day",
        ),
        (
            Kind::Icpc,
            "Initial conferences held within 15 working days",
        ),
    ];
    let kinds: Vec<Kind> = measures.iter().map(|(k, _)| *k).collect();
    // Each section's most urgent, and one more to know whether there are more: one statement.
    let parts3 = [ranges.overdue, ranges.today, ranges.soon];
    let (rows, overview) = if team {
        db::deadlines::team_deadlines(
            &mut *conn,
            &super::cases::viewer(user),
            &parts3,
            None,
            SECTION + 1,
            Some(db::deadlines::OverviewAsk {
                kinds: &kinds,
                // The last 90 days (today and the 89 before), by the London dates deadlines
                // were met on.
                since_day: london_date(now) - Duration::days(89),
                risk_limit: SECTION + 1,
                waiting_limit: SECTION + 1,
                waiting_after: None,
                risks_after: None,
            }),
        )
        .await?
    } else {
        let rows = db::deadlines::open_in_ranges(
            &mut *conn,
            Some(user.id),
            &super::cases::viewer(user),
            &parts3,
            None,
            SECTION + 1,
        )
        .await?;
        (rows, db::deadlines::TeamOverview::default())
    };
    let mut parts: [Vec<Item>; 3] = [Vec::new(), Vec::new(), Vec::new()];
    for d in rows {
        let Some(list) = usize::try_from(d.section)
            .ok()
            .and_then(|i| parts.get_mut(i))
        else {
            continue;
        };
        list.extend(item(&cal, now, d));
    }
    let list_href = list_href(team);
    let more = |list: &mut Vec<Item>, part: Part| {
        if list.len() as i64 > SECTION {
            list.truncate(SECTION as usize);
            format!("{list_href}?show={}", part.code())
        } else {
            String::new()
        }
    };
    let [mut overdue, mut today, mut soon] = parts;
    let overdue_more = more(&mut overdue, Part::Overdue);
    let today_more = more(&mut today, Part::Today);
    let soon_more = more(&mut soon, Part::Soon);
    let risks_more = overview.risks.len() as i64 > SECTION;
    let risks: Vec<(Uuid, String, String, String)> = overview
        .risks
        .into_iter()
        .take(SECTION as usize)
        .map(|r| (r.id, r.reference, r.title, format_datetime(r.received_at)))
        .collect();
    let waiting_more = overview.waiting.len() as i64 > SECTION;
    let waiting: Vec<Waiting> = overview
        .waiting
        .into_iter()
        .take(SECTION as usize)
        .map(waiting_item)
        .collect();
    let timeliness: Vec<(String, String)> = if team {
        measures
            .iter()
            .zip(overview.timeliness)
            .map(|((_, words), (in_time, all))| {
                let value = if all == 0 {
                    "None in the last 90 days".to_owned()
                } else {
                    format!("{}% ({in_time} of {all})", in_time * 100 / all)
                };
                ((*words).to_owned(), value)
            })
            .collect()
    } else {
        Vec::new()
    };
    // The dashboard names cases and children: its view is recorded like a list's.
    let shown: Vec<Uuid> = overdue
        .iter()
        .chain(&today)
        .chain(&soon)
        .map(|i| i.case_id)
        .chain(waiting.iter().map(|w| w.case_id))
        .chain(risks.iter().map(|r| r.0))
        .collect();
    // On the connection this request already holds: asking the pool for a second one while
    // holding the first deadlocks once every connection is held by a dashboard waiting.
    audit::record(
        &mut conn,
        &state.audit,
        &user.actor(),
        Event::new("case.list", "case_list").details(serde_json::json!({
            "scope": if team { "team work" } else { "my work" },
            "cases": shown,
        })),
    )
    .await?;
    let (heading, section) = if team {
        ("Team work", Section::TeamWork)
    } else {
        ("My work", Section::MyWork)
    };
    let page = DashboardPage {
        layout: Layout::for_user(heading, user, section),
        heading,
        is_manager: user.role == crate::domain::Role::Manager,
        risks,
        risks_more,
        team,
        overdue,
        today,
        soon,
        horizon: crate::domain::time::format_date(horizon_day),
        waiting,
        waiting_more,
        timeliness,
        list_href,
        overdue_more,
        today_more,
        soon_more,
    };
    Ok(Html(page.render()?).into_response())
}

#[derive(Template)]
#[template(path = "work/deadlines.html")]
struct DeadlinesPage {
    layout: Layout,
    heading: &'static str,
    lead: String,
    back_href: &'static str,
    back_text: &'static str,
    /// What the page says when it lists nothing.
    none: &'static str,
    items: Vec<Item>,
    first_href: String,
    next_href: String,
}

#[derive(Deserialize, Default)]
pub struct DeadlinesQuery {
    show: Option<String>,
    after: Option<String>,
}

/// All the open deadlines of a person's cases or their teams' cases (or one part: overdue, due
/// today, due soon), most urgent first, 50 a page, continuing after the last one shown.
async fn deadlines_list(
    state: &AppState,
    user: &CurrentUser,
    team: bool,
    q: DeadlinesQuery,
) -> AppResult<Response> {
    let now = state.config.clock.now();
    let part = Part::parse(q.show.as_deref());
    // An address with a mangled cursor starts at the top rather than failing.
    let after = q.after.as_deref().and_then(parse_cursor);
    let mut conn = state.hot.acquire().await?;
    let (cal, ranges, horizon_day) = ranges(state, user, &mut conn, now).await?;
    let owner = (!team).then_some(user.id);
    let rows = db::deadlines::open_in_ranges(
        &mut *conn,
        owner,
        &super::cases::viewer(user),
        &[ranges.of(part)],
        after,
        PAGE + 1,
    )
    .await?;
    let more = rows.len() as i64 > PAGE;
    let shown: Vec<db::deadlines::OpenRow> = rows.into_iter().take(PAGE as usize).collect();
    let last = shown.last().map(|d| format_cursor(d.due_at, d.id));
    let ids: Vec<Uuid> = shown.iter().map(|d| d.case_id).collect();
    let items: Vec<Item> = shown
        .into_iter()
        .filter_map(|d| item(&cal, now, d))
        .collect();
    audit::record(
        &mut conn,
        &state.audit,
        &user.actor(),
        Event::new("case.list", "case_list").details(serde_json::json!({
            "scope": if team { "team deadlines" } else { "my deadlines" },
            "filters": { "show": part.code(), "after": after.map(|(due, id)| format_cursor(due, id)) },
            "cases": ids,
        })),
    )
    .await?;
    let (back_href, back_text, section) = if team {
        ("/work/team", "Back to team work", Section::TeamWork)
    } else {
        ("/work", "Back to my work", Section::MyWork)
    };
    let list_href = list_href(team);
    let heading = match part {
        Part::Overdue => "Overdue deadlines",
        Part::Today => "Deadlines due today",
        Part::Soon => "Deadlines due in the next 5 working days",
        Part::All => "All open deadlines",
    };
    // Later pages say so in the browser's title, so two tabs of the list can be told apart.
    let title = if after.is_some() {
        format!("{heading} (continued)")
    } else {
        heading.to_owned()
    };
    let none = match (part, after.is_some()) {
        (Part::Overdue, false) => "Nothing is overdue.",
        (Part::Today, false) => "Nothing is due later today.",
        (Part::Soon, false) => "Nothing is due in the next 5 working days.",
        (Part::All, false) => "There are no open deadlines.",
        (_, true) => "There are no more deadlines after the last page.",
    };
    let whose = if team {
        "your teams' cases"
    } else {
        "the cases you work"
    };
    let lead = match part {
        Part::Soon => format!(
            "On {whose}, from tomorrow up to {}, soonest first.",
            crate::domain::time::format_date(horizon_day)
        ),
        Part::All => format!("On {whose}, the most overdue first."),
        _ => format!("On {whose}, the most urgent first."),
    };
    let here = format!("{list_href}?show={}", part.code());
    let page = DeadlinesPage {
        layout: Layout::for_user(title, user, section),
        heading,
        lead,
        back_href,
        back_text,
        none,
        items,
        first_href: if after.is_some() {
            here.clone()
        } else {
            String::new()
        },
        next_href: match (more, last) {
            (true, Some(key)) => format!("{here}&after={key}"),
            _ => String::new(),
        },
    };
    Ok(Html(page.render()?).into_response())
}

pub async fn my_deadlines(
    State(state): State<AppState>,
    user: CurrentUser,
    Query(q): Query<DeadlinesQuery>,
) -> AppResult<Response> {
    deadlines_list(&state, &user, false, q).await
}

pub async fn team_deadlines(
    State(state): State<AppState>,
    user: CurrentUser,
    Query(q): Query<DeadlinesQuery>,
) -> AppResult<Response> {
    deadlines_list(&state, &user, true, q).await
}

pub async fn mine(State(state): State<AppState>, user: CurrentUser) -> AppResult<Response> {
    dashboard(&state, &user, false).await
}

pub async fn team(State(state): State<AppState>, user: CurrentUser) -> AppResult<Response> {
    dashboard(&state, &user, true).await
}
