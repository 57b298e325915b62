//! A child at immediate risk: what must happen now, the police contact recorded (who, when, the
//! reference), and a manager's acknowledgement, until which the case heads its team's managers'
//! work. Each step is in the chronology and the audit trail.

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
use crate::domain::time::format_datetime;
use crate::error::{AppError, AppResult};

use super::cases::open_case;
use super::form::{DateParts, Errors, FormData};
use super::layout::{Layout, Section};
use super::parse_id;

/// What the case page shows about an immediate risk.
pub struct RiskView {
    pub acknowledged: Option<String>,
    pub contacts: Vec<String>,
    pub can_acknowledge: bool,
}

pub async fn view(
    state: &AppState,
    user: &CurrentUser,
    case: uuid::Uuid,
    team: uuid::Uuid,
) -> AppResult<RiskView> {
    let mut conn = state.pool.acquire().await?;
    let (ack, contacts) = db::cases::risk_state(&mut conn, case).await?;
    Ok(RiskView {
        can_acknowledge: ack.is_none()
            && user.role == Role::Manager
            && user.team_ids.contains(&team),
        acknowledged: ack
            .map(|(by, at)| format!("Acknowledged by {by} on {}", format_datetime(at))),
        contacts: contacts
            .into_iter()
            .map(|c| {
                format!(
                    "Police contacted {}: {}{} (recorded by {})",
                    format_datetime(c.contacted_at),
                    c.officer,
                    if c.reference.is_empty() {
                        String::new()
                    } else {
                        format!(", reference {}", c.reference)
                    },
                    c.recorded_by
                )
            })
            .collect(),
    })
}

#[derive(Template)]
#[template(path = "cases/police_contact.html")]
struct PolicePage {
    layout: Layout,
    errors: Errors,
    id: Uuid,
    reference: String,
    when: DateParts,
    time: String,
    officer: String,
    police_reference: String,
    /// The form's one-time key: sent twice (a double click), it records the contact once.
    idem: String,
}

/// `GET /cases/{id}/police-contact`.
pub async fn police_form(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> AppResult<Response> {
    let id = parse_id(&id)?;
    let case = open_case(&state, &user, id, "case.view").await?;
    if !case.immediate_risk {
        return Err(AppError::NotFound);
    }
    let page = PolicePage {
        layout: Layout::for_user("Record the police contact", &user, Section::None),
        errors: Errors::default(),
        id,
        reference: case.reference.clone(),
        when: DateParts::default(),
        time: String::new(),
        officer: String::new(),
        police_reference: String::new(),
        idem: Uuid::new_v4().to_string(),
    };
    Ok(Html(page.render()?).into_response())
}

/// `POST /cases/{id}/police-contact`.
pub async fn police_submit(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
    form: FormData,
) -> AppResult<Response> {
    form.only(&[
        "when-day",
        "when-month",
        "when-year",
        "time",
        "officer",
        "reference",
    ])?;
    let id = parse_id(&id)?;
    let case = open_case(&state, &user, id, "case.view").await?;
    if !case.immediate_risk {
        return Err(AppError::NotFound);
    }
    let now = state.config.clock.now();
    let mut e = Errors::default();
    let when = e.past_moment(
        &form,
        "when",
        "time",
        "the police were contacted",
        true,
        now,
    );
    let officer = e.text(&form, "officer", "Who you spoke to", true, 200);
    let reference = e.text(&form, "reference", "The police reference", false, 100);
    let (Some(at), true) = (when.at, e.is_empty()) else {
        let page = PolicePage {
            layout: Layout::for_user("Record the police contact", &user, Section::None)
                .with_errors(&e),
            errors: e,
            id,
            reference: case.reference.clone(),
            when: when.date,
            time: when.time,
            officer,
            police_reference: reference,
            idem: form.raw("_idem").to_owned(),
        };
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, Html(page.render()?)).into_response());
    };
    let mut tx = state.pool.begin().await?;
    let location = format!("/cases/{id}#immediate-risk");
    // The same form sent again (a double click, a resend): back to where the first one went,
    // nothing recorded twice. Claimed in this transaction, so only one of two at once records.
    if let Ok(idem) = Uuid::parse_str(form.raw("_idem"))
        && let Some(earlier) =
            db::cases::claim_submission(&mut tx, idem, user.id, &location).await?
    {
        return Ok(Redirect::to(&earlier).into_response());
    }
    db::cases::add_police_contact(&mut *tx, id, at, &officer, &reference, user.id).await?;
    db::cases::add_chronology(
        &mut *tx,
        id,
        at,
        "police",
        &format!(
            "The police were contacted about the immediate risk: {officer}{}.",
            if reference.is_empty() {
                String::new()
            } else {
                format!(", reference {reference}")
            }
        ),
        None,
        user.id,
    )
    .await?;
    audit::record(
        &mut tx,
        &state.audit,
        &user.actor(),
        Event::new("case.police_contact", "case")
            .entity(id)
            .case(id),
    )
    .await?;
    tx.commit().await?;
    Ok(Redirect::to(&location).into_response())
}

/// `POST /cases/{id}/risk/acknowledge` (managers): once.
pub async fn acknowledge(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
    form: FormData,
) -> AppResult<Response> {
    form.only(&["_csrf"])?;
    let id = parse_id(&id)?;
    let case = open_case(&state, &user, id, "case.view").await?;
    if !super::allocation::manages(&user, &case) {
        return Err(AppError::Forbidden);
    }
    let now = state.config.clock.now();
    let mut tx = state.pool.begin().await?;
    if !db::cases::acknowledge_risk(&mut *tx, id, user.id, now).await? {
        tx.rollback().await?;
        return Err(AppError::Conflict);
    }
    db::cases::add_chronology(
        &mut *tx,
        id,
        now,
        "risk",
        &format!("{} acknowledged the immediate risk to a child.", user.name),
        None,
        user.id,
    )
    .await?;
    audit::record(
        &mut tx,
        &state.audit,
        &user.actor(),
        Event::new("case.risk_acknowledged", "case")
            .entity(id)
            .case(id),
    )
    .await?;
    tx.commit().await?;
    Ok(Redirect::to(&format!("/cases/{id}#immediate-risk")).into_response())
}
