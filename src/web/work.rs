//! Dashboards: "My work" (deadlines on the cases a person works) and "Team work" (their teams'
//! cases, for managers and the LADO): overdue, due today, and due in the next five working days,
//! most urgent first; what waits for a manager's approval; and timeliness over the last 90 days.

use askama::Template;
use axum::extract::State;
use axum::response::{Html, IntoResponse, Response};
use chrono::Duration;
use uuid::Uuid;

use crate::app::AppState;
use crate::audit::{self, Event};
use crate::auth::CurrentUser;
use crate::db;
use crate::domain::deadlines::{self, Kind, Standing};
use crate::domain::time::{format_datetime, london_date};
use crate::error::AppResult;

use super::layout::{Layout, Section};
use super::procedure::{calendar, capitalise};

/// How many rows a dashboard shows (the most urgent first).
const LIMIT: i64 = 200;

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
    overdue: Vec<Item>,
    today: Vec<Item>,
    soon: Vec<Item>,
    horizon: String,
    waiting: Vec<Waiting>,
    timeliness: Vec<(String, String)>,
    more: bool,
}

async fn dashboard(state: &AppState, user: &CurrentUser, team: bool) -> AppResult<Response> {
    let now = state.config.clock.now();
    // The dashboards' statements have no optional filters and their plans do not depend on
    // their values: they keep their plans (`hot`, decision 005), which halves what they cost.
    let mut conn = state.hot.acquire().await?;
    let cal = calendar(state, &mut *conn).await?;
    let horizon_day = cal.add_working_days(london_date(now), 5);
    let until = cal.close_on(horizon_day) + Duration::seconds(1);
    let owner = (!team).then_some(user.id);
    let rows =
        db::deadlines::open_before(&mut *conn, owner, &super::cases::viewer(user), until, LIMIT)
            .await?;
    let more = rows.len() as i64 >= LIMIT;
    let (mut overdue, mut today, mut soon) = (Vec::new(), Vec::new(), Vec::new());
    for d in rows {
        let Some(kind) = Kind::parse(&d.kind) else {
            continue;
        };
        let item = Item {
            case_id: d.case_id,
            reference: d.reference,
            title: d.title,
            what: match &d.child_name {
                Some(c) => format!("{}: {c}", kind.label()),
                None => kind.label().to_owned(),
            },
            when: capitalise(&deadlines::describe(&cal, d.due_at, now)),
        };
        match deadlines::standing(&cal, d.due_at, now) {
            Standing::Overdue(_) => overdue.push(item),
            Standing::DueToday => today.push(item),
            Standing::DueIn(_) => soon.push(item),
        }
    }
    let risks = if team {
        db::cases::risk_unacknowledged(&mut *conn, &super::cases::viewer(user), 50)
            .await?
            .into_iter()
            .map(|(id, reference, title, received)| {
                (
                    id,
                    reference,
                    title,
                    crate::domain::time::format_datetime(received),
                )
            })
            .collect()
    } else {
        Vec::new()
    };
    let (waiting, timeliness) = if team {
        let waiting =
            db::procedure::waiting_for_approval(&mut *conn, &super::cases::viewer(user), 100)
                .await?
                .into_iter()
                .map(|w| Waiting {
                    case_id: w.case_id,
                    reference: w.reference,
                    title: w.title,
                    what: match w.what.as_str() {
                        "decision" => "Decision on the referral",
                        "outcome" => "Section 47 outcome",
                        _ => "Closing the case",
                    },
                    by: format!("{}, {}", w.proposed_by_name, format_datetime(w.proposed_at)),
                })
                .collect();
        // The last 90 days (today and the 89 before), by the London dates deadlines were met on.
        let since = london_date(now) - Duration::days(89);
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
        let counts =
            db::deadlines::timeliness(&mut *conn, &super::cases::viewer(user), &kinds, since)
                .await?;
        let t = measures
            .iter()
            .zip(counts)
            .map(|((_, words), (in_time, all))| {
                let value = if all == 0 {
                    "None in the last 90 days".to_owned()
                } else {
                    format!("{}% ({in_time} of {all})", in_time * 100 / all)
                };
                ((*words).to_owned(), value)
            })
            .collect();
        (waiting, t)
    } else {
        (Vec::new(), Vec::new())
    };
    // The dashboard names cases and children: its view is recorded like a list's.
    let shown: Vec<Uuid> = overdue
        .iter()
        .chain(&today)
        .chain(&soon)
        .map(|i| i.case_id)
        .chain(waiting.iter().map(|w| w.case_id))
        .chain(risks.iter().map(|r: &(Uuid, String, String, String)| r.0))
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
        team,
        overdue,
        today,
        soon,
        horizon: crate::domain::time::format_date(horizon_day),
        waiting,
        timeliness,
        more,
    };
    Ok(Html(page.render()?).into_response())
}

pub async fn mine(State(state): State<AppState>, user: CurrentUser) -> AppResult<Response> {
    dashboard(&state, &user, false).await
}

pub async fn team(State(state): State<AppState>, user: CurrentUser) -> AppResult<Response> {
    dashboard(&state, &user, true).await
}
