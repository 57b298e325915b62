//! Allocation and supervision: a manager gives a case to someone in its team (its open deadlines
//! follow), sees each person's caseload, and records case supervision, whose notes only managers
//! and the case worker read (the chronology says a supervision happened, never what was said).

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use uuid::Uuid;

use crate::app::AppState;
use crate::audit::{self, Event};
use crate::auth::CurrentUser;
use crate::db;
use crate::domain::Role;
use crate::domain::time::{format_date, format_datetime, london_date};
use crate::error::{AppError, AppResult};

use super::cases::{Audited, open_case, viewer};
use super::form::{DateParts, Errors, FormData};
use super::layout::{Layout, Section};
use super::macros_support::Choice;
use super::parse_id;

/// A manager of the case's own team: access to a case (for example by break-glass) is not
/// authority over it.
pub fn manages(user: &CurrentUser, case: &Audited) -> bool {
    user.role == Role::Manager && user.team_ids.contains(&case.team_id)
}

fn role_words(role: &str) -> &'static str {
    match role {
        "manager" => "Manager",
        _ => "Practitioner",
    }
}

fn load_words(m: &db::cases::Member) -> String {
    format!(
        "{} open case{}{}",
        m.open_cases,
        if m.open_cases == 1 { "" } else { "s" },
        if m.overdue > 0 {
            format!(", {} overdue", m.overdue)
        } else {
            String::new()
        }
    )
}

#[derive(Template)]
#[template(path = "cases/allocate.html")]
struct AllocatePage {
    layout: Layout,
    errors: Errors,
    id: Uuid,
    reference: String,
    hint: String,
    options: Vec<Choice>,
    version: i32,
}

async fn allocate_page(
    state: &AppState,
    user: &CurrentUser,
    case: &Audited,
    errors: Errors,
    picked: &str,
) -> AppResult<Response> {
    let now = state.config.clock.now();
    let members =
        db::cases::members_with_caseloads(&state.pool, case.team_id, now, &viewer(user)).await?;
    let options = members
        .iter()
        .map(|m| {
            let mut c = Choice::new(
                m.id.to_string(),
                format!("{} ({})", m.name, role_words(&m.role)),
                picked == m.id.to_string(),
            );
            c.hint = if m.id == case.owner_id {
                format!("Has this case now. {}", load_words(m))
            } else {
                load_words(m)
            };
            c
        })
        .collect();
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let page = AllocatePage {
        layout: Layout::for_user("Allocate the case", user, Section::None).with_errors(&errors),
        errors,
        id: case.id,
        reference: case.reference.clone(),
        hint: format!(
            "It is with {} now. Only people in {} can take it; its open deadlines go with it.",
            case.owner_name, case.team_name
        ),
        options,
        version: case.version,
    };
    Ok((status, Html(page.render()?)).into_response())
}

/// `GET /cases/{id}/allocate` (managers).
pub async fn allocate_form(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> AppResult<Response> {
    let id = parse_id(&id)?;
    let case = open_case(&state, &user, id, "case.view").await?;
    if !manages(&user, &case) {
        return Err(AppError::Forbidden);
    }
    allocate_page(&state, &user, &case, Errors::default(), "").await
}

/// `POST /cases/{id}/allocate` (managers): to someone active in the case's team, who may see it.
pub async fn allocate_submit(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
    form: FormData,
) -> AppResult<Response> {
    form.only(&["owner", "version"])?;
    let id = parse_id(&id)?;
    let version: i32 = form
        .raw("version")
        .parse()
        .map_err(|_| AppError::BadRequest("missing version"))?;
    let case = open_case(&state, &user, id, "case.view").await?;
    if !manages(&user, &case) {
        return Err(AppError::Forbidden);
    }
    let now = state.config.clock.now();
    let mut e = Errors::default();
    let members =
        db::cases::members_with_caseloads(&state.pool, case.team_id, now, &viewer(&user)).await?;
    let to = Uuid::parse_str(form.raw("owner"))
        .ok()
        .and_then(|o| members.iter().find(|m| m.id == o));
    match to {
        None if form.raw("owner").is_empty() => e.add("owner", "Select who the case goes to"),
        None => e.add(
            "owner",
            format!(
                "Select someone in {}: a case stays in its team",
                case.team_name
            ),
        ),
        Some(m) if m.id == case.owner_id => {
            e.add("owner", format!("The case is already with {}", m.name))
        }
        Some(m) if case.restricted => {
            let may: bool = sqlx::query_scalar!(
                r#"SELECT haven_sees_restricted_case($1, $2, false) AS "may!""#,
                id,
                m.id
            )
            .fetch_one(&state.pool)
            .await?;
            if !may {
                e.add(
                    "owner",
                    format!(
                        "This case is restricted: ask the LADO to give {} access first",
                        m.name
                    ),
                );
            }
        }
        Some(_) => {}
    }
    let (Some(to), true) = (to, e.is_empty()) else {
        return allocate_page(&state, &user, &case, e, form.raw("owner")).await;
    };
    let mut tx = state.pool.begin().await?;
    if !db::cases::allocate(&mut tx, id, version, to.id, user.id, now).await? {
        tx.rollback().await?;
        return Err(AppError::Conflict);
    }
    db::cases::add_chronology(
        &mut *tx,
        id,
        now,
        "allocation",
        &format!(
            "Allocated to {} by {} (it was with {}). Its open deadlines go with it.",
            to.name, user.name, case.owner_name
        ),
        None,
        user.id,
    )
    .await?;
    audit::record(
        &mut tx,
        &state.audit,
        &user.actor(),
        Event::new("case.allocate", "case")
            .entity(id)
            .case(id)
            .details(serde_json::json!({ "from": case.owner_id, "to": to.id })),
    )
    .await?;
    tx.commit().await?;
    Ok(Redirect::to(&format!("/cases/{id}")).into_response())
}

/// One person's row: (name, role, open cases, overdue deadlines).
type Load = (String, &'static str, i64, i64);

#[derive(Template)]
#[template(path = "work/caseloads.html")]
struct CaseloadsPage {
    layout: Layout,
    /// (team name, its people)
    teams: Vec<(String, Vec<Load>)>,
}

/// `GET /work/caseloads` (managers): each person's caseload in the manager's teams.
pub async fn caseloads(State(state): State<AppState>, user: CurrentUser) -> AppResult<Response> {
    let now = state.config.clock.now();
    let mut conn = state.pool.acquire().await?;
    let names = db::teams::names(&mut *conn, &user.team_ids).await?;
    let mut teams = Vec::new();
    for (team_id, name) in names {
        let members =
            db::cases::members_with_caseloads(&mut *conn, team_id, now, &viewer(&user)).await?;
        teams.push((
            name,
            members
                .into_iter()
                .map(|m| (m.name, role_words(&m.role), m.open_cases, m.overdue))
                .collect(),
        ));
    }
    let page = CaseloadsPage {
        layout: Layout::for_user("Caseloads", &user, Section::TeamWork),
        teams,
    };
    Ok(Html(page.render()?).into_response())
}

// Supervision -------------------------------------------------------------------------------------

#[derive(Template)]
#[template(path = "cases/supervision.html")]
struct SupervisionPage {
    layout: Layout,
    errors: Errors,
    id: Uuid,
    reference: String,
    can_record: bool,
    /// (held on, recorded, discussion, decisions, actions)
    records: Vec<(String, String, String, String, String)>,
    held: DateParts,
    discussion: String,
    decisions: String,
    actions: String,
}

fn may_read(user: &CurrentUser, case: &Audited) -> bool {
    manages(user, case) || case.owner_id == user.id
}

async fn supervision_page(
    state: &AppState,
    user: &CurrentUser,
    case: &Audited,
    errors: Errors,
    typed: Option<&FormData>,
) -> AppResult<Response> {
    let rows = db::cases::supervisions(&state.pool, case.id).await?;
    let raw = |k: &str| typed.map(|f| f.raw(k).to_owned()).unwrap_or_default();
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let page = SupervisionPage {
        layout: Layout::for_user("Supervision", user, Section::None).with_errors(&errors),
        errors,
        id: case.id,
        reference: case.reference.clone(),
        can_record: manages(user, case),
        records: rows
            .into_iter()
            .map(|r| {
                (
                    format_date(r.held_on),
                    format!(
                        "Recorded by {} on {}",
                        r.recorded_by,
                        format_datetime(r.created_at)
                    ),
                    r.discussion,
                    r.decisions,
                    r.actions,
                )
            })
            .collect(),
        held: DateParts {
            day: raw("held-day"),
            month: raw("held-month"),
            year: raw("held-year"),
        },
        discussion: raw("discussion"),
        decisions: raw("decisions"),
        actions: raw("actions"),
    };
    Ok((status, Html(page.render()?)).into_response())
}

/// `GET /cases/{id}/supervision`: managers and the case worker.
pub async fn supervision(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> AppResult<Response> {
    let id = parse_id(&id)?;
    let case = open_case(&state, &user, id, "case.supervision_view").await?;
    if !may_read(&user, &case) {
        return Err(AppError::Forbidden);
    }
    supervision_page(&state, &user, &case, Errors::default(), None).await
}

/// `POST /cases/{id}/supervision` (managers).
pub async fn supervision_submit(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
    form: FormData,
) -> AppResult<Response> {
    form.only(&[
        "held-day",
        "held-month",
        "held-year",
        "discussion",
        "decisions",
        "actions",
    ])?;
    let id = parse_id(&id)?;
    let case = open_case(&state, &user, id, "case.supervision_view").await?;
    if !manages(&user, &case) {
        return Err(AppError::Forbidden);
    }
    let now = state.config.clock.now();
    let mut e = Errors::default();
    let (_, held) = e.date(&form, "held", "The date of the supervision", true);
    if held.is_some_and(|d| d > london_date(now)) {
        e.add(
            "held-day",
            "The date of the supervision must be today or in the past",
        );
    }
    let discussion = e.text(&form, "discussion", "What was discussed", true, 10000);
    let decisions = e.text(&form, "decisions", "The decisions", true, 10000);
    let actions = e.text(&form, "actions", "The actions", false, 10000);
    let (Some(held), true) = (held, e.is_empty()) else {
        return supervision_page(&state, &user, &case, e, Some(&form)).await;
    };
    let mut tx = state.pool.begin().await?;
    db::cases::add_supervision(
        &mut *tx,
        id,
        held,
        &discussion,
        &decisions,
        &actions,
        user.id,
    )
    .await?;
    let at = crate::domain::time::london_to_utc(held, chrono::NaiveTime::MIN).unwrap_or(now);
    db::cases::add_chronology_flagged(
        &mut *tx,
        id,
        at,
        false,
        "supervision",
        &format!(
            "Case supervision held by {}. Its notes are for managers and the case worker.",
            user.name
        ),
        None,
        user.id,
    )
    .await?;
    audit::record(
        &mut tx,
        &state.audit,
        &user.actor(),
        Event::new("case.supervision", "case").entity(id).case(id),
    )
    .await?;
    tx.commit().await?;
    Ok(Redirect::to(&format!("/cases/{id}/supervision")).into_response())
}
