//! The case summary and chronology for a conference, a court or the police: one page with the
//! case, its people and every chronology entry (or only some kinds, or only a range of dates),
//! laid out for paper by the print stylesheet. Every print is in the audit trail with its filters.

use askama::Template;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use chrono::{Duration, NaiveTime};
use uuid::Uuid;

use crate::app::AppState;
use crate::audit::{self, Event};
use crate::auth::CurrentUser;
use crate::db;
use crate::domain::ConcernKind;
use crate::domain::time::{format_date, format_datetime, london_date, london_to_utc};
use crate::error::{AppError, AppResult};

use super::cases::{EntryView, entry_kind, entry_view, referral_rows, viewer};
use super::form::{DateParts, Errors, FormData};
use super::layout::{Layout, Section};
use super::macros_support::{Choice, SummaryRow};
use super::parse_id;

/// The most entries one print holds; a longer chronology is printed in date ranges.
const MOST_ENTRIES: i64 = 5000;

pub struct PrintedPerson {
    pub name: String,
    pub kind: &'static str,
    pub rows: Vec<SummaryRow>,
}

#[derive(Template)]
#[template(path = "cases/print.html")]
struct PrintPage {
    layout: Layout,
    errors: Errors,
    id: Uuid,
    reference: String,
    title: String,
    printed: String,
    filters: String,
    kinds: Vec<Choice>,
    from: DateParts,
    to: DateParts,
    summary: Vec<SummaryRow>,
    people: Vec<PrintedPerson>,
    referral: Vec<SummaryRow>,
    account: String,
    entries: Vec<EntryView>,
    truncated: bool,
    restricted: bool,
}

/// `GET /cases/{id}/print`: the filters are the query string (`kind` repeated, `from-*`, `to-*`).
pub async fn show(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> AppResult<Response> {
    let id = parse_id(&id)?;
    let q = FormData::parse(query.unwrap_or_default().as_bytes());
    let now = state.config.clock.now();
    let today = london_date(now);

    let mut e = Errors::default();
    let (from_parts, from) = e.date(&q, "from", "The first date", false);
    let (to_parts, to) = e.date(&q, "to", "The last date", false);
    if let (Some(f), Some(t)) = (from, to)
        && t < f
    {
        e.add(
            "to-day",
            "The last date must be the same as or after the first date",
        );
    }
    let picked: Vec<String> = q
        .all("kind")
        .into_iter()
        .filter(|k| k.len() <= 40)
        .map(str::to_owned)
        .collect();
    let (from, to) = if e.is_empty() {
        (from, to)
    } else {
        (None, None)
    };
    let start = from.and_then(|d| london_to_utc(d, NaiveTime::MIN));
    let until = to.and_then(|d| london_to_utc(d + Duration::days(1), NaiveTime::MIN));

    // Visibility, the reads and the audit record in one transaction.
    let mut tx = state.pool.begin().await?;
    let case = db::cases::find_visible(&mut *tx, &viewer(&user), id)
        .await?
        .ok_or(AppError::NotFound)?;
    if case.restricted && !user.recently_authenticated() {
        return Err(AppError::StepUp(format!("/cases/{id}/print")));
    }
    let kinds_present = db::cases::chronology_kinds(&mut *tx, id).await?;
    let mut picked: Vec<String> = picked
        .into_iter()
        .filter(|k| kinds_present.contains(k))
        .collect();
    picked.sort();
    picked.dedup();
    let mut rows =
        db::cases::chronology_for_print(&mut *tx, id, &picked, start, until, MOST_ENTRIES + 1)
            .await?;
    let truncated = rows.len() as i64 > MOST_ENTRIES;
    rows.truncate(MOST_ENTRIES as usize);
    let people = db::people::all_for_case(&mut *tx, id).await?;
    let rels = db::people::relationships(&mut *tx, id).await?;
    let referral = db::cases::referral(&mut *tx, id).await?;
    let mut filters = Vec::new();
    if !picked.is_empty() {
        filters.push(format!(
            "only {}",
            picked
                .iter()
                .map(|k| entry_kind(k).to_lowercase())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    if let Some(f) = from {
        filters.push(format!("from {}", format_date(f)));
    }
    if let Some(t) = to {
        filters.push(format!("to {}", format_date(t)));
    }
    audit::record(
        &mut tx,
        &state.audit,
        &user.actor(),
        Event::new("case.print", "case")
            .entity(id)
            .case(id)
            .details(serde_json::json!({
                "kinds": picked,
                "from": from,
                "to": to,
                "entries": rows.len(),
            })),
    )
    .await?;
    tx.commit().await?;

    let children: Vec<(Uuid, String)> = people
        .iter()
        .filter(|p| p.kind == "child")
        .map(|p| (p.id, p.facts.full_name.clone()))
        .collect();
    let people = people
        .into_iter()
        .map(|p| {
            let mine: Vec<(Uuid, String)> = rels
                .iter()
                .filter(|(a, _, _)| *a == p.id)
                .map(|(_, c, r)| (*c, r.clone()))
                .collect();
            let rows = super::people::fact_rows(&p.kind, &p.facts, today, &children, &mine)
                .into_iter()
                .skip(1)
                .filter(|(_, v)| !v.is_empty())
                .map(|(l, v)| SummaryRow::new(l, v))
                .collect();
            PrintedPerson {
                name: p.facts.full_name,
                kind: if p.kind == "child" { "Child" } else { "Adult" },
                rows,
            }
        })
        .collect();
    let (referral, account) = referral_rows(referral);
    let concerns = case
        .concerns()
        .into_iter()
        .map(ConcernKind::short)
        .collect::<Vec<_>>()
        .join(", ");
    let summary = vec![
        SummaryRow::new("Reference", case.reference.clone()),
        SummaryRow::new("Case name", case.title.clone()),
        SummaryRow::new("Status", case.status().label()),
        SummaryRow::new("Concerns", concerns),
        SummaryRow::new("Team", case.team_name.clone()),
        SummaryRow::new("Case worker", case.owner_name.clone()),
        SummaryRow::new("Referral received", format_datetime(case.received_at)),
    ];
    let kinds = kinds_present
        .iter()
        .map(|k| Choice::new(k.clone(), entry_kind(k), picked.contains(k)))
        .collect();
    let status = if e.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let page = PrintPage {
        layout: Layout::for_user(
            format!("Case summary and chronology: {}", case.reference),
            &user,
            Section::None,
        )
        .with_errors(&e),
        errors: e,
        id,
        reference: case.reference.clone(),
        title: case.title.clone(),
        printed: format!("Printed {} by {}", format_datetime(now), user.name),
        filters: if filters.is_empty() {
            "The whole chronology".to_owned()
        } else {
            format!("Chronology entries {}", filters.join(", "))
        },
        kinds,
        from: from_parts,
        to: to_parts,
        summary,
        people,
        referral,
        account,
        entries: rows.into_iter().map(entry_view).collect(),
        truncated,
        restricted: case.restricted,
    };
    Ok((status, Html(page.render()?)).into_response())
}
