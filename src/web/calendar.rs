//! Working days for people: the calculator ("what date is 15 working days after 3 December?"),
//! and for administrators, the days added to or taken out of the bank holidays, and the
//! partnership's settings (the strategy discussion's time, the local conference rule).

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use chrono::{Datelike, NaiveDate};
use serde::Deserialize;

use crate::app::AppState;
use crate::audit::{self, Event};
use crate::auth::CurrentUser;
use crate::db;
use crate::domain::calendar::bank_holidays;
use crate::domain::time::{format_date, format_datetime, london_date};
use crate::error::{AppError, AppResult};

use super::form::{DateParts, Errors, FormData};
use super::layout::{Layout, Section};
use super::macros_support::Choice;
use super::procedure::calendar;

#[derive(Template)]
#[template(path = "calendar/calculator.html")]
struct CalculatorPage {
    layout: Layout,
    errors: Errors,
    date: DateParts,
    days: String,
    answer: String,
    is_working: String,
}

#[derive(Deserialize, Default)]
pub struct CalcQuery {
    #[serde(rename = "from-day")]
    day: Option<String>,
    #[serde(rename = "from-month")]
    month: Option<String>,
    #[serde(rename = "from-year")]
    year: Option<String>,
    days: Option<String>,
}

/// The calculator. A GET form: it changes nothing and carries only a date and a number.
pub async fn calculator(
    State(state): State<AppState>,
    user: CurrentUser,
    Query(q): Query<CalcQuery>,
) -> AppResult<Response> {
    let cal = calendar(&state, &state.pool).await?;
    let mut errors = Errors::default();
    let asked = q.day.is_some() || q.days.is_some();
    let date = DateParts {
        day: q.day.clone().unwrap_or_default().chars().take(10).collect(),
        month: q
            .month
            .clone()
            .unwrap_or_default()
            .chars()
            .take(10)
            .collect(),
        year: q
            .year
            .clone()
            .unwrap_or_default()
            .chars()
            .take(10)
            .collect(),
    };
    let days_text: String = q
        .days
        .clone()
        .unwrap_or_default()
        .trim()
        .chars()
        .take(10)
        .collect();
    let (mut answer, mut is_working) = (String::new(), String::new());
    if asked {
        let from = match (
            date.day.trim().parse::<u32>(),
            date.month.trim().parse::<u32>(),
            date.year.trim().parse::<i32>(),
        ) {
            (Ok(d), Ok(m), Ok(y)) if (1900..=2200).contains(&y) => NaiveDate::from_ymd_opt(y, m, d),
            _ => None,
        };
        if from.is_none() {
            errors.add("from-day", "Enter a real date, like 3 12 2026");
        }
        let n = days_text.parse::<u32>().ok().filter(|n| *n <= 400);
        if n.is_none() {
            errors.add("days", "Enter a number of working days from 0 to 400");
        }
        if let (Some(from), Some(n)) = (from, n) {
            let to = cal.add_working_days(from, n);
            answer = format!(
                "{n} working day{} after {} is {}.",
                if n == 1 { "" } else { "s" },
                format_date(from),
                to.format("%A %-d %B %Y")
            );
            is_working = match cal.check(from) {
                Ok(()) => format!("{} is a working day.", format_date(from)),
                Err(why) => format!("{} is not a working day: {why}.", format_date(from)),
            };
        }
    }
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let page = CalculatorPage {
        layout: Layout::for_user("Working days calculator", &user, Section::None)
            .with_errors(&errors),
        errors,
        date,
        days: days_text,
        answer,
        is_working,
    };
    Ok((status, Html(page.render()?)).into_response())
}

// The administrators' calendar ------------------------------------------------------------------

pub struct ChangeView {
    pub day: String,
    pub day_code: String,
    pub what: String,
    pub by: String,
}

#[derive(Template)]
#[template(path = "admin/calendar.html")]
struct CalendarPage {
    layout: Layout,
    errors: Errors,
    changes: Vec<ChangeView>,
    holidays: Vec<(String, String)>,
    date: DateParts,
    kinds: Vec<Choice>,
    name: String,
    year: i32,
}

async fn render_calendar(
    state: &AppState,
    user: &CurrentUser,
    errors: Errors,
    date: DateParts,
    kind: &str,
    name: String,
) -> AppResult<Response> {
    let cal = calendar(state, &state.pool).await?;
    let year = london_date(state.config.clock.now()).year();
    let mut holidays = Vec::new();
    for y in [year, year + 1] {
        for (d, _) in bank_holidays(y) {
            let words = match cal.check(d) {
                Err(why) => why.to_string(),
                Ok(()) => "A working day (changed by an administrator)".to_owned(),
            };
            holidays.push((d.format("%A %-d %B %Y").to_string(), words));
        }
    }
    let changes = db::calendar::changes(&state.pool)
        .await?
        .into_iter()
        .map(|c| ChangeView {
            day: c.day.format("%A %-d %B %Y").to_string(),
            day_code: c.day.to_string(),
            what: if c.kind == "working" {
                "A working day after all".to_owned()
            } else {
                format!("Not a working day: {}", c.name)
            },
            by: format!("{}, {}", c.added_by_name, format_datetime(c.created_at)),
        })
        .collect();
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let page = CalendarPage {
        layout: Layout::for_user("Working-day calendar", user, Section::Admin).with_errors(&errors),
        errors,
        changes,
        holidays,
        date,
        kinds: vec![
            Choice::new(
                "holiday",
                "Not a working day (an extra holiday, or a closure day)",
                kind == "holiday",
            ),
            Choice::new(
                "working",
                "A working day after all (a bank holiday the council works)",
                kind == "working",
            ),
        ],
        name,
        year,
    };
    Ok((status, Html(page.render()?)).into_response())
}

pub async fn admin_calendar(
    State(state): State<AppState>,
    user: CurrentUser,
) -> AppResult<Response> {
    render_calendar(
        &state,
        &user,
        Errors::default(),
        DateParts::default(),
        "",
        String::new(),
    )
    .await
}

pub async fn admin_calendar_add(
    State(state): State<AppState>,
    user: CurrentUser,
    form: FormData,
) -> AppResult<Response> {
    form.only(&["day-day", "day-month", "day-year", "kind", "name"])?;
    let mut e = Errors::default();
    let (parts, day) = e.date(&form, "day", "The date", true);
    let kind = match form.raw("kind") {
        k @ ("holiday" | "working") => Some(k),
        _ => {
            e.add("kind", "Select whether the day is a working day");
            None
        }
    };
    let name = e.text(
        &form,
        "name",
        "The name of the day",
        kind == Some("holiday"),
        100,
    );
    let cal = calendar(&state, &state.pool).await?;
    if let (Some(d), Some("working")) = (day, kind)
        && !bank_holidays(d.year()).contains_key(&d)
    {
        e.add("day-day", "That date is not a bank holiday, so it is already a working day (unless it is a weekend)");
    }
    if let (Some(d), Some("holiday")) = (day, kind)
        && cal.check(d).is_err()
    {
        e.add("day-day", "That date is already not a working day");
    }
    let (Some(day), Some(kind), true) = (day, kind, e.is_empty()) else {
        return render_calendar(&state, &user, e, parts, form.raw("kind"), name).await;
    };
    let mut tx = state.pool.begin().await?;
    if !db::calendar::add(&mut *tx, day, kind, &name, user.id).await? {
        tx.rollback().await?;
        e.add("day-day", "That date already has a change: remove it first");
        return render_calendar(&state, &user, e, parts, kind, name).await;
    }
    audit::record(
        &mut tx,
        &state.audit,
        &user.actor(),
        Event::new("calendar.change_add", "calendar")
            .entity(day)
            .details(serde_json::json!({ "kind": kind, "name": name })),
    )
    .await?;
    tx.commit().await?;
    Ok(Redirect::to("/admin/calendar").into_response())
}

pub async fn admin_calendar_remove(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(day): Path<String>,
    form: FormData,
) -> AppResult<Response> {
    form.only(&[])?;
    let day: NaiveDate = day.parse().map_err(|_| AppError::NotFound)?;
    let mut tx = state.pool.begin().await?;
    let Some((kind, name)) = db::calendar::remove(&mut *tx, day).await? else {
        return Err(AppError::NotFound);
    };
    audit::record(
        &mut tx,
        &state.audit,
        &user.actor(),
        Event::new("calendar.change_remove", "calendar")
            .entity(day)
            .details(serde_json::json!({ "kind": kind, "name": name })),
    )
    .await?;
    tx.commit().await?;
    Ok(Redirect::to("/admin/calendar").into_response())
}

// The partnership's settings ----------------------------------------------------------------------

#[derive(Template)]
#[template(path = "admin/settings.html")]
struct SettingsPage {
    layout: Layout,
    errors: Errors,
    days: String,
    local_rule: Vec<Choice>,
    urgent: Vec<Choice>,
    retention: String,
    version: i32,
    changed: String,
    conflict: bool,
}

/// What was typed into the settings form, to show back.
struct TypedSettings {
    days: String,
    local_rule: String,
    urgent: String,
    retention: String,
}

fn on_off(b: bool) -> String {
    if b { "on" } else { "off" }.to_owned()
}

async fn render_settings(
    state: &AppState,
    user: &CurrentUser,
    errors: Errors,
    typed: Option<TypedSettings>,
    conflict: bool,
) -> AppResult<Response> {
    let s = db::calendar::settings(&state.pool).await?;
    let t = typed.unwrap_or_else(|| TypedSettings {
        days: s.strategy_discussion_days.to_string(),
        local_rule: on_off(s.icpc_local_rule),
        urgent: on_off(s.urgent_break_glass),
        retention: s.lado_file_retention_years.to_string(),
    });
    let status = if conflict {
        StatusCode::CONFLICT
    } else if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let page = SettingsPage {
        layout: Layout::for_user("Partnership settings", user, Section::Admin).with_errors(&errors),
        errors,
        days: t.days,
        local_rule: vec![
            Choice::new(
                "on",
                "Yes: also show the date 15 working days after the last strategy discussion",
                t.local_rule == "on",
            ),
            Choice::new("off", "No: only the national date", t.local_rule == "off"),
        ],
        urgent: vec![
            Choice::new(
                "on",
                "Yes: a request marked urgent opens the record at once, and the LADO reviews it afterwards",
                t.urgent == "on",
            ),
            Choice::new(
                "off",
                "No: the LADO approves every request first",
                t.urgent == "off",
            ),
        ],
        retention: t.retention,
        version: s.version,
        changed: match s.updated_by_name {
            Some(by) => format!("Last changed by {by} on {}", format_datetime(s.updated_at)),
            None => "Not changed since Haven was installed".to_owned(),
        },
        conflict,
    };
    Ok((status, Html(page.render()?)).into_response())
}

pub async fn settings(State(state): State<AppState>, user: CurrentUser) -> AppResult<Response> {
    render_settings(&state, &user, Errors::default(), None, false).await
}

fn yes_no(form: &FormData, field: &str, e: &mut Errors, message: &str) -> Option<bool> {
    match form.raw(field) {
        "on" => Some(true),
        "off" => Some(false),
        _ => {
            e.add(field, message);
            None
        }
    }
}

fn number_in(
    form: &FormData,
    field: &str,
    range: std::ops::RangeInclusive<i32>,
    e: &mut Errors,
    message: &str,
) -> Option<i32> {
    let n = form
        .raw(field)
        .trim()
        .parse::<i32>()
        .ok()
        .filter(|d| range.contains(d));
    if n.is_none() {
        e.add(field, message);
    }
    n
}

pub async fn settings_submit(
    State(state): State<AppState>,
    user: CurrentUser,
    form: FormData,
) -> AppResult<Response> {
    form.only(&["days", "local_rule", "urgent", "retention", "version"])?;
    let version: i32 = form
        .raw("version")
        .parse()
        .map_err(|_| AppError::BadRequest("missing version"))?;
    let mut e = Errors::default();
    let days = number_in(
        &form,
        "days",
        0..=20,
        &mut e,
        "Enter a number of working days from 0 to 20",
    );
    let rule = yes_no(
        &form,
        "local_rule",
        &mut e,
        "Select whether to use the local rule",
    );
    let urgent = yes_no(
        &form,
        "urgent",
        &mut e,
        "Select whether an urgent request may open a restricted record before the LADO approves it",
    );
    let retention = number_in(
        &form,
        "retention",
        1..=100,
        &mut e,
        "Enter a number of years from 1 to 100",
    );
    let typed = TypedSettings {
        days: form.raw("days").trim().to_owned(),
        local_rule: form.raw("local_rule").to_owned(),
        urgent: form.raw("urgent").to_owned(),
        retention: form.raw("retention").trim().to_owned(),
    };
    let (Some(days), Some(rule), Some(urgent), Some(retention), true) =
        (days, rule, urgent, retention, e.is_empty())
    else {
        return render_settings(&state, &user, e, Some(typed), false).await;
    };
    let new = db::calendar::NewSettings {
        strategy_discussion_days: days,
        icpc_local_rule: rule,
        urgent_break_glass: urgent,
        lado_file_retention_years: retention,
    };
    let mut tx = state.pool.begin().await?;
    if !db::calendar::update_settings(&mut *tx, version, new, user.id).await? {
        tx.rollback().await?;
        return render_settings(&state, &user, Errors::default(), None, true).await;
    }
    audit::record(
        &mut tx,
        &state.audit,
        &user.actor(),
        Event::new("settings.update", "partnership_settings").details(serde_json::json!({
            "strategy_discussion_days": days,
            "icpc_local_rule": rule,
            "urgent_break_glass": urgent,
            "lado_file_retention_years": retention,
        })),
    )
    .await?;
    tx.commit().await?;
    Ok(Redirect::to("/admin/settings").into_response())
}
