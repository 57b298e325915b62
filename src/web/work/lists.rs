//! The lists behind Team work's approvals and risks: everything proposed on the viewer's teams'
//! cases and waiting for a manager, and every unacknowledged immediate risk on them, 50 a page by
//! key, read with Team work's own statement (`db::deadlines::team_deadlines`) with only the one
//! part asked for.

use askama::Template;
use axum::extract::{Query, State};
use axum::response::{Html, IntoResponse, Response};
use serde::Deserialize;
use uuid::Uuid;

use crate::app::AppState;
use crate::audit::{self, Event};
use crate::auth::CurrentUser;
use crate::db;
use crate::domain::time::format_datetime;
use crate::error::AppResult;
use crate::web::layout::{Layout, Section};

use super::{PAGE, format_cursor, parse_cursor, waiting_item};

/// One row of the approvals or risks list.
pub struct ListItem {
    pub href: String,
    pub reference: String,
    pub title: String,
    pub detail: String,
}

#[derive(Template)]
#[template(path = "work/list.html")]
struct ListPage {
    layout: Layout,
    heading: &'static str,
    lead: &'static str,
    /// The list's element id ("waiting" or "risks").
    list_id: &'static str,
    /// What the page says when it lists nothing.
    none: &'static str,
    items: Vec<ListItem>,
    first_href: String,
    first_text: &'static str,
    next_href: String,
}

#[derive(Deserialize, Default)]
pub struct ListQuery {
    after: Option<String>,
}

/// The two lists behind Team work's other sections, each a page at a time by key.
#[derive(Clone, Copy, PartialEq, Eq)]
enum TeamList {
    /// Proposals waiting for a manager, the longest waiting first, by (proposed at, id).
    Approvals,
    /// Unacknowledged immediate risks in open cases, the newest first, by (received at, id).
    Risks,
}

impl TeamList {
    fn href(self) -> &'static str {
        match self {
            TeamList::Approvals => "/work/team/approvals",
            TeamList::Risks => "/work/team/risks",
        }
    }
}

/// Everything proposed on the viewer's teams' cases and waiting for a manager (decisions on
/// referrals, Section 47 outcomes, closures), or every unacknowledged immediate risk on them, 50
/// a page, continuing after the last one shown. One statement for the page (Team work's, with
/// only the one part asked for), then the audit row naming the cases shown.
async fn team_list(
    state: &AppState,
    user: &CurrentUser,
    list: TeamList,
    q: ListQuery,
) -> AppResult<Response> {
    // An address with a mangled cursor starts at the top rather than failing.
    let after = q.after.as_deref().and_then(parse_cursor);
    let (waiting, risks) = match list {
        TeamList::Approvals => (PAGE + 1, 0),
        TeamList::Risks => (0, PAGE + 1),
    };
    let mut conn = state.hot.acquire().await?;
    let (_, overview) = db::deadlines::team_deadlines(
        &mut *conn,
        &crate::web::cases::viewer(user),
        &[],
        None,
        0,
        Some(db::deadlines::OverviewAsk {
            kinds: &[],
            since_day: chrono::NaiveDate::default(),
            risk_limit: risks,
            waiting_limit: waiting,
            waiting_after: after.filter(|_| list == TeamList::Approvals),
            risks_after: after.filter(|_| list == TeamList::Risks),
        }),
    )
    .await?;
    // Each row with its case and its key.
    let rows: Vec<(Uuid, String, ListItem)> = match list {
        TeamList::Approvals => overview
            .waiting
            .into_iter()
            .map(|w| {
                let key = format_cursor(w.proposed_at, w.id);
                let case_id = w.case_id;
                let w = waiting_item(w);
                let item = ListItem {
                    href: format!("/cases/{}/procedure", w.case_id),
                    reference: w.reference,
                    title: w.title,
                    detail: format!("{}, proposed by {}", w.what, w.by),
                };
                (case_id, key, item)
            })
            .collect(),
        TeamList::Risks => overview
            .risks
            .into_iter()
            .map(|r| {
                let item = ListItem {
                    href: format!("/cases/{}#immediate-risk", r.id),
                    reference: r.reference,
                    title: r.title,
                    detail: format!("Received {}", format_datetime(r.received_at)),
                };
                (r.id, format_cursor(r.received_at, r.id), item)
            })
            .collect(),
    };
    let more = rows.len() as i64 > PAGE;
    let mut ids = Vec::new();
    let mut items = Vec::new();
    let mut last = None;
    for (case_id, key, item) in rows.into_iter().take(PAGE as usize) {
        ids.push(case_id);
        items.push(item);
        last = Some(key);
    }
    audit::record(
        &mut conn,
        &state.audit,
        &user.actor(),
        Event::new("case.list", "case_list").details(serde_json::json!({
            "scope": match list {
                TeamList::Approvals => "team approvals",
                TeamList::Risks => "team risks",
            },
            "filters": { "after": after.map(|(at, id)| format_cursor(at, id)) },
            "cases": ids,
        })),
    )
    .await?;
    let (heading, lead, list_id, none, first_text) = match list {
        TeamList::Approvals => (
            "Waiting for a manager's approval",
            "Decisions on referrals, Section 47 outcomes and case closures proposed on your teams' cases, the longest waiting first.",
            "waiting",
            "Nothing is waiting for approval.",
            "Go to the first page",
        ),
        TeamList::Risks => (
            "Immediate risk not yet acknowledged",
            "Open cases on your teams with a child at immediate risk that no manager has acknowledged yet, the newest first.",
            "risks",
            "No immediate risk is waiting to be acknowledged.",
            "Go to the first page",
        ),
    };
    let here = list.href();
    let page = ListPage {
        // Later pages say so in the browser's title.
        layout: Layout::for_user(
            if after.is_some() {
                format!("{heading} (continued)")
            } else {
                heading.to_owned()
            },
            user,
            Section::TeamWork,
        ),
        heading,
        lead,
        list_id,
        none: if after.is_some() {
            "There is nothing more after the last page."
        } else {
            none
        },
        items,
        first_href: if after.is_some() {
            here.to_owned()
        } else {
            String::new()
        },
        first_text,
        next_href: match (more, last) {
            (true, Some(key)) => format!("{here}?after={key}"),
            _ => String::new(),
        },
    };
    Ok(Html(page.render()?).into_response())
}

pub async fn team_approvals(
    State(state): State<AppState>,
    user: CurrentUser,
    Query(q): Query<ListQuery>,
) -> AppResult<Response> {
    team_list(&state, &user, TeamList::Approvals, q).await
}

pub async fn team_risks(
    State(state): State<AppState>,
    user: CurrentUser,
    Query(q): Query<ListQuery>,
) -> AppResult<Response> {
    team_list(&state, &user, TeamList::Risks, q).await
}
