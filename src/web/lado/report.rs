//! The LADO's annual figures for a chosen period, and their CSV export. The page is a GET form
//! (nothing changes; the read is audited with the allegations it counted); the export is a POST
//! that asks for the password again after 15 minutes and is audited with what the file held.

use askama::Template;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use chrono::{Datelike, NaiveDate, NaiveTime};
use sha2::Digest;

use crate::app::AppState;
use crate::audit::{self, Event};
use crate::auth::CurrentUser;
use crate::db;
use crate::domain::lado_report::{Figures, csv, figures, percent};
use crate::domain::time::{format_date, london_date, london_to_utc};
use crate::error::{AppError, AppResult};

use super::super::access::step_up;
use super::super::form::{DateParts, Errors, FormData};
use super::super::layout::{Layout, Section};
use super::super::procedure::page_calendar;

/// The longest period the figures cover at once.
const MAX_YEARS: i32 = 5;

/// The figures as the page shows them.
pub struct Shown {
    pub period: String,
    pub contacts: u32,
    pub allegations: String,
    pub advice_only: String,
    pub undecided: u32,
    pub told_in_time: String,
    pub settings: Vec<(String, u32, u32, u32)>,
    pub routes: Vec<(String, u32)>,
    pub concluded: u32,
    pub outcomes: Vec<(String, u32)>,
    pub mean: String,
    pub median: String,
    pub repeat_employers: Vec<(String, u32)>,
}

fn share(part: u32, whole: u32) -> String {
    match percent(part, whole) {
        Some(p) => format!("{part} ({p}%)"),
        None => part.to_string(),
    }
}

fn days(d: Option<(f64, f64)>) -> String {
    d.map_or("No outcomes in the period".into(), |(c, w)| {
        format!("{c:.1} calendar days ({w:.1} working days)")
    })
}

fn shown(f: &Figures) -> Shown {
    Shown {
        period: format!("{} to {}", format_date(f.from), format_date(f.to)),
        contacts: f.contacts,
        allegations: share(f.allegations, f.contacts),
        advice_only: share(f.advice_only, f.contacts),
        undecided: f.undecided,
        told_in_time: share(f.told_in_time, f.contacts),
        settings: f.settings.clone(),
        routes: f
            .routes
            .iter()
            .map(|c| (c.label.clone(), c.count))
            .collect(),
        concluded: f.concluded,
        outcomes: f
            .outcomes
            .iter()
            .map(|c| (c.label.clone(), c.count))
            .collect(),
        mean: days(f.mean_days),
        median: days(f.median_days),
        repeat_employers: f
            .repeat_employers
            .iter()
            .map(|c| (c.label.clone(), c.count))
            .collect(),
    }
}

#[derive(Template)]
#[template(path = "lado/report.html")]
struct ReportPage {
    layout: Layout,
    errors: Errors,
    from: DateParts,
    to: DateParts,
    figures: Option<Shown>,
}

/// The last complete reporting year (1 April to 31 March) before `today`.
fn last_reporting_year(today: NaiveDate) -> (NaiveDate, NaiveDate) {
    let end_year = if today.month() >= 4 {
        today.year()
    } else {
        today.year() - 1
    };
    (
        NaiveDate::from_ymd_opt(end_year - 1, 4, 1).expect("1 April exists"),
        NaiveDate::from_ymd_opt(end_year, 3, 31).expect("31 March exists"),
    )
}

/// Read and check the period; with no dates at all, the last reporting year.
fn period(
    form: &FormData,
    today: NaiveDate,
    e: &mut Errors,
) -> (DateParts, DateParts, Option<(NaiveDate, NaiveDate)>) {
    let blank = [
        "from-day",
        "from-month",
        "from-year",
        "to-day",
        "to-month",
        "to-year",
    ]
    .iter()
    .all(|k| form.raw(k).trim().is_empty());
    if blank {
        let (from, to) = last_reporting_year(today);
        return (
            DateParts::from_date(from),
            DateParts::from_date(to),
            Some((from, to)),
        );
    }
    let (from_parts, from) = e.date(form, "from", "The start of the period", true);
    let (to_parts, to) = e.date(form, "to", "The end of the period", true);
    let (Some(from), Some(to)) = (from, to) else {
        return (from_parts, to_parts, None);
    };
    if to < from {
        e.add(
            "to-day",
            "The end of the period must be on or after its start",
        );
        return (from_parts, to_parts, None);
    }
    let limit = from
        .with_year(from.year() + MAX_YEARS)
        .unwrap_or(from + chrono::Duration::days(365 * MAX_YEARS as i64));
    if to >= limit {
        e.add(
            "to-day",
            format!("Choose a period of {MAX_YEARS} years or less"),
        );
        return (from_parts, to_parts, None);
    }
    (from_parts, to_parts, Some((from, to)))
}

/// Read the allegations for the period and work out the figures.
async fn work_out(
    state: &AppState,
    user: &CurrentUser,
    from: NaiveDate,
    to: NaiveDate,
) -> AppResult<Figures> {
    let midnight = NaiveTime::MIN;
    let from_at = london_to_utc(from, midnight).ok_or(AppError::BadRequest("no such time"))?;
    let to_at = london_to_utc(to + chrono::Duration::days(1), midnight)
        .ok_or(AppError::BadRequest("no such time"))?;
    let mut conn = state.pool.acquire().await?;
    let cal = page_calendar(state, user, &mut *conn).await?;
    let rows = db::allegations::report_rows(&mut *conn, from_at, to_at, from, to, user.id).await?;
    Ok(figures(&cal, from, to, &rows))
}

fn page(
    user: &CurrentUser,
    errors: Errors,
    from: DateParts,
    to: DateParts,
    figures: Option<Shown>,
) -> AppResult<Response> {
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let p = ReportPage {
        layout: Layout::for_user("Annual figures", user, Section::Lado).with_errors(&errors),
        errors,
        from,
        to,
        figures,
    };
    Ok((status, Html(p.render()?)).into_response())
}

/// `GET /lado/report`: the period form and, when it is right, the figures.
pub async fn show(
    State(state): State<AppState>,
    user: CurrentUser,
    RawQuery(query): RawQuery,
) -> AppResult<Response> {
    let form = FormData::parse(query.unwrap_or_default().as_bytes());
    form.only(&[
        "from-day",
        "from-month",
        "from-year",
        "to-day",
        "to-month",
        "to-year",
    ])?;
    let today = london_date(state.config.clock.now());
    let mut e = Errors::default();
    let (from_parts, to_parts, period) = period(&form, today, &mut e);
    let Some((from, to)) = period else {
        return page(&user, e, from_parts, to_parts, None);
    };
    let f = work_out(&state, &user, from, to).await?;
    audit::record_alone(
        &state.pool,
        &state.audit,
        &user.actor(),
        Event::new("lado.report", "allegation_list").details(serde_json::json!({
            "from": from, "to": to, "allegations": f.counted,
        })),
    )
    .await?;
    page(&user, e, from_parts, to_parts, Some(shown(&f)))
}

/// `POST /lado/report/export`: the figures as a CSV file.
pub async fn export(
    State(state): State<AppState>,
    user: CurrentUser,
    form: FormData,
) -> AppResult<Response> {
    form.only(&[
        "_csrf",
        "from-day",
        "from-month",
        "from-year",
        "to-day",
        "to-month",
        "to-year",
    ])?;
    let today = london_date(state.config.clock.now());
    let mut e = Errors::default();
    let (from_parts, to_parts, period) = period(&form, today, &mut e);
    let Some((from, to)) = period else {
        return page(&user, e, from_parts, to_parts, None);
    };
    let back = format!(
        "/lado/report?from-day={}&from-month={}&from-year={}&to-day={}&to-month={}&to-year={}",
        from.day(),
        from.month(),
        from.year(),
        to.day(),
        to.month(),
        to.year()
    );
    if let Some(r) = step_up(&user, &back) {
        return Ok(r);
    }
    let f = work_out(&state, &user, from, to).await?;
    // A byte-order mark, so spreadsheet programs read the names as UTF-8.
    let body = format!("\u{feff}{}", csv(&f));
    audit::record_alone(
        &state.pool,
        &state.audit,
        &user.actor(),
        Event::new("lado.report.export", "allegation_list").details(serde_json::json!({
            "from": from,
            "to": to,
            "format": "csv",
            "rows": body.lines().count(),
            "bytes": body.len(),
            "sha256": hex::encode(sha2::Sha256::digest(body.as_bytes())),
            "allegations": f.counted,
        })),
    )
    .await?;
    let mut res = body.into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    h.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_str(&format!(
            "attachment; filename=\"lado-figures-{from}-to-{to}.csv\""
        ))
        .map_err(|e| AppError::Internal(e.into()))?,
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_period_is_the_last_complete_reporting_year() {
        let d = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap();
        assert_eq!(
            last_reporting_year(d(2026, 12, 15)),
            (d(2025, 4, 1), d(2026, 3, 31))
        );
        assert_eq!(
            last_reporting_year(d(2026, 4, 1)),
            (d(2025, 4, 1), d(2026, 3, 31))
        );
        assert_eq!(
            last_reporting_year(d(2026, 3, 31)),
            (d(2024, 4, 1), d(2025, 3, 31))
        );
    }
}
