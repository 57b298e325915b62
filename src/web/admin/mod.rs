//! Administration: accounts and teams. Administrators never see case content, and never choose
//! or see anyone's password: they ask for one-time set-password links, which a second
//! administrator releases (`links`).

pub mod links;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;
use uuid::Uuid;

use crate::app::AppState;
use crate::audit::{self, Event};
use crate::auth::CurrentUser;
use crate::db;
use crate::db::notices::NoticeKind;
use crate::domain::time::format_datetime;
use crate::domain::{Email, Role};
use crate::error::{AppError, AppResult};

use super::form::{Errors, FormData};
use super::layout::{Layout, Section};
use super::macros_support::Choice;
use super::parse_id;

const PAGE_SIZE: i64 = 50;

pub struct UserView {
    pub id: Uuid,
    pub name: String,
    pub email: String,
    pub role: &'static str,
    pub teams: String,
    pub disabled: bool,
    pub totp: bool,
}

#[derive(Template)]
#[template(path = "admin/users.html")]
struct UsersPage {
    layout: Layout,
    users: Vec<UserView>,
    next_href: String,
    waiting: Vec<links::WaitingView>,
}

#[derive(Deserialize)]
pub struct PageQuery {
    after: Option<String>,
}

pub async fn users(
    State(state): State<AppState>,
    user: CurrentUser,
    Query(q): Query<PageQuery>,
) -> AppResult<Html<String>> {
    let mut rows = db::users::list(
        &state.pool,
        q.after.as_deref().and_then(|a| Uuid::parse_str(a).ok()),
        PAGE_SIZE + 1,
    )
    .await?;
    let more = rows.len() as i64 > PAGE_SIZE;
    rows.truncate(PAGE_SIZE as usize);
    let next_href = match (more, rows.last()) {
        (true, Some(last)) => format!("/admin/users?after={}", last.id),
        _ => String::new(),
    };
    let users = rows
        .into_iter()
        .map(|r| UserView {
            id: r.id,
            name: r.display_name,
            email: r.email,
            role: Role::parse(&r.role).map(Role::label).unwrap_or("Unknown"),
            teams: r.teams.join(", "),
            disabled: r.disabled_at.is_some(),
            totp: r.totp_enabled_at.is_some(),
        })
        .collect();
    let waiting = links::waiting_views(&state, &user).await?;
    let page = UsersPage {
        layout: Layout::for_user("Users", &user, Section::Admin),
        users,
        next_href,
        waiting,
    };
    Ok(Html(page.render()?))
}

#[derive(Template)]
#[template(path = "admin/new_user.html")]
struct NewUserPage {
    layout: Layout,
    errors: Errors,
    email: String,
    name: String,
    roles: Vec<Choice>,
    teams: Vec<Choice>,
}

async fn render_new_user(
    state: &AppState,
    user: &CurrentUser,
    errors: Errors,
    email: String,
    name: String,
    role: &str,
    team: &str,
) -> AppResult<Response> {
    let roles = Role::ALL
        .iter()
        .map(|r| Choice::new(r.code(), r.label(), r.code() == role))
        .collect();
    let mut teams: Vec<Choice> = db::teams::all(&state.pool)
        .await?
        .into_iter()
        .map(|t| {
            let id = t.id.to_string();
            let selected = id == team;
            Choice::new(id, t.name, selected)
        })
        .collect();
    teams.push(Choice::new("none", "No team", team == "none"));
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let layout = Layout::for_user("Create an account", user, Section::Admin).with_errors(&errors);
    Ok((
        status,
        Html(
            NewUserPage {
                layout,
                errors,
                email,
                name,
                roles,
                teams,
            }
            .render()?,
        ),
    )
        .into_response())
}

pub async fn new_user_form(
    State(state): State<AppState>,
    user: CurrentUser,
) -> AppResult<Response> {
    render_new_user(
        &state,
        &user,
        Errors::default(),
        String::new(),
        String::new(),
        "",
        "",
    )
    .await
}

pub async fn create_user(
    State(state): State<AppState>,
    user: CurrentUser,
    form: FormData,
) -> AppResult<Response> {
    form.only(&["email", "name", "role", "team"])?;
    let mut errors = Errors::default();
    let email_text = errors.text(&form, "email", "Email address", true, 254);
    let email = if errors.has("email") {
        None
    } else {
        match Email::parse(&email_text) {
            Ok(e) => Some(e),
            Err(e) => {
                errors.add("email", e.to_string());
                None
            }
        }
    };
    let name = errors.text(&form, "name", "Full name", true, 200);
    let role = errors.choice(&form, "role", "Select the person's role", Role::parse);
    let team_text = form.raw("team").to_owned();
    let team: Option<Option<Uuid>> = if team_text == "none" {
        Some(None)
    } else {
        match Uuid::parse_str(&team_text) {
            Ok(id) if db::teams::find(&state.pool, id).await?.is_some() => Some(Some(id)),
            _ => {
                errors.add("team", "Select the person's team, or No team");
                None
            }
        }
    };
    let (Some(email), Some(role), Some(team), true) = (email, role, team, errors.is_empty()) else {
        return render_new_user(
            &state,
            &user,
            errors,
            email_text,
            name,
            form.raw("role"),
            &team_text,
        )
        .await;
    };

    let mut tx = state.pool.begin().await?;
    let id = match db::users::create(&mut tx, &email, &name, role, None, team).await {
        Ok(id) => id,
        Err(db::users::CreateUserError::EmailTaken) => {
            tx.rollback().await?;
            errors.add("email", "An account with this email address already exists");
            return render_new_user(
                &state,
                &user,
                errors,
                email_text,
                name,
                role.code(),
                &team_text,
            )
            .await;
        }
        Err(db::users::CreateUserError::Db(e)) => return Err(e.into()),
    };
    audit::record(
        &mut tx,
        &state.audit,
        &user.actor(),
        Event::new("user.create", "user")
            .entity(id)
            .details(serde_json::json!({ "role": role.code(), "team": team })),
    )
    .await?;
    links::request(&state, &mut tx, &user, id, db::users::LinkKind::NewAccount).await?;
    tx.commit().await?;
    Ok(Redirect::to(&format!("/admin/users/{id}?created=1")).into_response())
}

#[derive(Template)]
#[template(path = "admin/user.html")]
struct UserPage {
    layout: Layout,
    errors: Errors,
    notice: &'static str,
    waiting: Option<links::WaitingView>,
    totp_locked: bool,
    person: UserView,
    created: String,
    is_self: bool,
    roles: Vec<Choice>,
    teams: Vec<Choice>,
    version: i32,
    conflict: bool,
}

/// Render an account's page. `picked` is what the access form should show (the stored values,
/// or what the administrator sent when it comes back with a message).
async fn render_user(
    state: &AppState,
    admin: &CurrentUser,
    id: Uuid,
    errors: Errors,
    picked: Option<(String, Vec<String>)>,
    conflict: bool,
) -> AppResult<Response> {
    render_user_with(state, admin, id, errors, picked, conflict, "").await
}

/// An account's page with a message (for actions that have no form fields of their own).
pub(super) async fn render_user_errors(
    state: &AppState,
    admin: &CurrentUser,
    id: Uuid,
    errors: Errors,
) -> AppResult<Response> {
    render_user_with(state, admin, id, errors, None, false, "").await
}

async fn render_user_with(
    state: &AppState,
    admin: &CurrentUser,
    id: Uuid,
    errors: Errors,
    picked: Option<(String, Vec<String>)>,
    conflict: bool,
    notice: &'static str,
) -> AppResult<Response> {
    let u = db::users::find(&state.pool, id)
        .await?
        .ok_or(AppError::NotFound)?;
    let team_names = db::teams::names_for_user(&state.pool, id).await?;
    let (role, member_of) = match picked {
        Some(p) => p,
        None => (
            u.role.clone(),
            db::users::team_ids(&state.pool, id)
                .await?
                .iter()
                .map(Uuid::to_string)
                .collect(),
        ),
    };
    let roles = Role::ALL
        .iter()
        .map(|r| Choice::new(r.code(), r.label(), r.code() == role))
        .collect();
    let teams = db::teams::all(&state.pool)
        .await?
        .into_iter()
        .map(|t| {
            let id = t.id.to_string();
            let selected = member_of.contains(&id);
            Choice::new(id, t.name, selected)
        })
        .collect();
    let person = UserView {
        id: u.id,
        name: u.display_name.clone(),
        email: u.email.clone(),
        role: u.role().label(),
        teams: team_names.join(", "),
        disabled: u.disabled_at.is_some(),
        totp: u.totp_enabled(),
    };
    let status = if conflict {
        StatusCode::CONFLICT
    } else if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let waiting = links::waiting_view(state, admin, id).await?;
    let page = UserPage {
        layout: Layout::for_user(u.display_name.clone(), admin, Section::Admin)
            .with_errors(&errors),
        errors,
        notice,
        waiting,
        totp_locked: u.totp_locked_at.is_some(),
        person,
        created: format_datetime(u.created_at),
        is_self: u.id == admin.id,
        roles,
        teams,
        version: u.version,
        conflict,
    };
    Ok((status, Html(page.render()?)).into_response())
}

#[derive(Deserialize, Default)]
pub struct UserQuery {
    created: Option<String>,
    link_requested: Option<String>,
    unlocked: Option<String>,
    disabled: Option<String>,
    enabled: Option<String>,
}

pub async fn user(
    State(state): State<AppState>,
    admin: CurrentUser,
    Path(id): Path<String>,
    Query(q): Query<UserQuery>,
) -> AppResult<Response> {
    let id = parse_id(&id)?;
    let notice = if q.created.is_some() {
        "Account created. Another administrator must now release its set-password link."
    } else if q.link_requested.is_some() {
        "A set-password link has been asked for. Another administrator must release it."
    } else if q.unlocked.is_some() {
        "Security codes unlocked. The person has been told."
    } else if q.disabled.is_some() {
        "The account is disabled and the person has been signed out everywhere. You can re-enable it below."
    } else if q.enabled.is_some() {
        "The account is enabled again. The person can sign in with their password and security code."
    } else {
        ""
    };
    render_user_with(&state, &admin, id, Errors::default(), None, false, notice).await
}

/// Change an account's role and teams. Optimistic locking: a stale form changes nothing.
pub async fn change_access(
    State(state): State<AppState>,
    admin: CurrentUser,
    Path(id): Path<String>,
    form: FormData,
) -> AppResult<Response> {
    let id = parse_id(&id)?;
    form.only(&["role", "teams", "version"])?;
    let version: i32 = form
        .raw("version")
        .parse()
        .map_err(|_| AppError::BadRequest("missing version"))?;
    let mut errors = Errors::default();
    let role = errors.choice(&form, "role", "Select the person's role", Role::parse);
    let picked_teams: Vec<String> = form.all("teams").into_iter().map(str::to_owned).collect();
    let mut teams = Vec::new();
    for t in &picked_teams {
        match Uuid::parse_str(t) {
            Ok(team) if db::teams::find(&state.pool, team).await?.is_some() => teams.push(team),
            _ => errors.add("teams", "Select teams from the list"),
        }
    }
    if id == admin.id && role != Some(Role::Admin) {
        errors.add(
            "role",
            "You cannot remove your own administrator role; ask another administrator",
        );
    }
    let Some(role) = role.filter(|_| errors.is_empty()) else {
        let picked = Some((form.raw("role").to_owned(), picked_teams));
        return render_user(&state, &admin, id, errors, picked, false).await;
    };
    let mut tx = state.pool.begin().await?;
    let before = db::users::find(&mut *tx, id)
        .await?
        .ok_or(AppError::NotFound)?;
    match db::users::update_access(&mut tx, id, version, role, &teams).await {
        Ok(()) => {}
        Err(db::users::AccessChangeError::Stale) => {
            tx.rollback().await?;
            return render_user(&state, &admin, id, Errors::default(), None, true).await;
        }
        Err(db::users::AccessChangeError::Db(e)) => return Err(e.into()),
    }
    audit::record(
        &mut tx,
        &state.audit,
        &admin.actor(),
        Event::new("user.access_change", "user")
            .entity(id)
            .details(serde_json::json!({
                "role_from": before.role, "role_to": role.code(), "teams": teams
            })),
    )
    .await?;
    tx.commit().await?;
    Ok(Redirect::to(&format!("/admin/users/{id}")).into_response())
}

pub async fn reset_second_factor(
    State(state): State<AppState>,
    admin: CurrentUser,
    Path(id): Path<String>,
    form: FormData,
) -> AppResult<Response> {
    let id = parse_id(&id)?;
    form.only(&[])?;
    let mut tx = state.pool.begin().await?;
    require_account(&mut tx, id).await?;
    // The person sets up a new one themselves at their next sign-in, and is told.
    db::users::reset_second_factor(&mut tx, id, true).await?;
    db::notices::add(&mut *tx, id, NoticeKind::SecondFactorReset, Some(admin.id)).await?;
    sign_out_everywhere(
        &state,
        &mut tx,
        &admin,
        id,
        "user.second_factor_reset",
        "second_factor_reset",
    )
    .await?;
    tx.commit().await?;
    Ok(Redirect::to(&format!("/admin/users/{id}")).into_response())
}

pub async fn unlock_second_factor(
    State(state): State<AppState>,
    admin: CurrentUser,
    Path(id): Path<String>,
    form: FormData,
) -> AppResult<Response> {
    let id = parse_id(&id)?;
    form.only(&[])?;
    let mut tx = state.pool.begin().await?;
    require_account(&mut tx, id).await?;
    if db::users::unlock_totp(&mut *tx, id).await? {
        db::notices::add(
            &mut *tx,
            id,
            NoticeKind::SecondFactorUnlocked,
            Some(admin.id),
        )
        .await?;
        audit::record(
            &mut tx,
            &state.audit,
            &admin.actor(),
            Event::new("user.second_factor_unlocked", "user").entity(id),
        )
        .await?;
    }
    tx.commit().await?;
    Ok(Redirect::to(&format!("/admin/users/{id}?unlocked=1")).into_response())
}

/// Not found unless the account exists.
async fn require_account(tx: &mut sqlx::PgConnection, id: Uuid) -> AppResult<()> {
    db::users::find(&mut *tx, id)
        .await?
        .ok_or(AppError::NotFound)
        .map(|_| ())
}

/// End every session of an account and record `action`, with how many sessions ended.
async fn sign_out_everywhere(
    state: &AppState,
    tx: &mut sqlx::PgConnection,
    admin: &CurrentUser,
    id: Uuid,
    action: &str,
    reason: &str,
) -> AppResult<()> {
    let ended = db::sessions::end_all_for_user(&mut *tx, id, reason).await?;
    audit::record(
        tx,
        &state.audit,
        &admin.actor(),
        Event::new(action, "user")
            .entity(id)
            .details(serde_json::json!({ "sessions_ended": ended })),
    )
    .await?;
    Ok(())
}

pub async fn disable_user(
    State(state): State<AppState>,
    admin: CurrentUser,
    Path(id): Path<String>,
    form: FormData,
) -> AppResult<Response> {
    form.only(&["confirm", "_csrf"])?;
    let id = parse_id(&id)?;
    if id == admin.id {
        return Err(AppError::BadRequest(
            "administrators cannot disable themselves",
        ));
    }
    if form.raw("confirm") != "yes" {
        let mut e = Errors::default();
        e.add(
            "confirm",
            "Confirm that you want to disable this account: the person is signed out at once",
        );
        return render_user_errors(&state, &admin, id, e).await;
    }
    let mut tx = state.pool.begin().await?;
    require_account(&mut tx, id).await?;
    if db::users::disable(&mut *tx, id).await? {
        sign_out_everywhere(
            &state,
            &mut tx,
            &admin,
            id,
            "user.disable",
            "account_disabled",
        )
        .await?;
    }
    tx.commit().await?;
    Ok(Redirect::to(&format!("/admin/users/{id}?disabled=1")).into_response())
}

/// Undo a disabling: the person may sign in again (their sessions stay ended).
pub async fn enable_user(
    State(state): State<AppState>,
    admin: CurrentUser,
    Path(id): Path<String>,
) -> AppResult<Response> {
    let id = parse_id(&id)?;
    let mut tx = state.pool.begin().await?;
    require_account(&mut tx, id).await?;
    if db::users::enable(&mut *tx, id).await? {
        audit::record(
            &mut tx,
            &state.audit,
            &admin.actor(),
            Event::new("user.enable", "user").entity(id),
        )
        .await?;
    }
    tx.commit().await?;
    Ok(Redirect::to(&format!("/admin/users/{id}?enabled=1")).into_response())
}

pub async fn end_sessions(
    State(state): State<AppState>,
    admin: CurrentUser,
    Path(id): Path<String>,
) -> AppResult<Response> {
    let id = parse_id(&id)?;
    let mut tx = state.pool.begin().await?;
    require_account(&mut tx, id).await?;
    sign_out_everywhere(
        &state,
        &mut tx,
        &admin,
        id,
        "user.sessions_ended",
        "ended_by_admin",
    )
    .await?;
    tx.commit().await?;
    Ok(Redirect::to(&format!("/admin/users/{id}")).into_response())
}

#[derive(Template)]
#[template(path = "admin/teams.html")]
struct TeamsPage {
    layout: Layout,
    errors: Errors,
    name: String,
    teams: Vec<String>,
}

async fn render_teams(
    state: &AppState,
    user: &CurrentUser,
    errors: Errors,
    name: String,
) -> AppResult<Response> {
    let teams = db::teams::all(&state.pool)
        .await?
        .into_iter()
        .map(|t| t.name)
        .collect();
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let layout = Layout::for_user("Teams", user, Section::Admin).with_errors(&errors);
    Ok((
        status,
        Html(
            TeamsPage {
                layout,
                errors,
                name,
                teams,
            }
            .render()?,
        ),
    )
        .into_response())
}

pub async fn teams(State(state): State<AppState>, user: CurrentUser) -> AppResult<Response> {
    render_teams(&state, &user, Errors::default(), String::new()).await
}

pub async fn create_team(
    State(state): State<AppState>,
    user: CurrentUser,
    form: FormData,
) -> AppResult<Response> {
    form.only(&["name"])?;
    let mut errors = Errors::default();
    let name = errors.text(&form, "name", "Team name", true, 200);
    if !errors.is_empty() {
        return render_teams(&state, &user, errors, name).await;
    }
    let mut tx = state.pool.begin().await?;
    match db::teams::create(&mut *tx, &name).await? {
        None => {
            tx.rollback().await?;
            errors.add("name", "A team with this name already exists");
            render_teams(&state, &user, errors, name).await
        }
        Some(id) => {
            audit::record(
                &mut tx,
                &state.audit,
                &user.actor(),
                Event::new("team.create", "team").entity(id),
            )
            .await?;
            tx.commit().await?;
            Ok(Redirect::to("/admin/teams").into_response())
        }
    }
}
