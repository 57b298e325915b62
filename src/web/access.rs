//! Getting at restricted records: step-up (the password, and code, again when the last was more
//! than 15 minutes ago) and break-glass (asking the LADO to open a record you were told exists,
//! with a reason).
//!
//! A break-glass request answers the same whether or not the reference names a restricted record
//! the person may ask for, so the form cannot be used to find out what exists. A Haven user who is
//! the subject of an allegation gets the same answer, and no request is made.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;

use crate::app::AppState;
use crate::audit::{self, Event};
use crate::auth::{CurrentUser, throttle};
use crate::db;
use crate::error::{AppError, AppResult};

use super::form::{Errors, FormData};
use super::layout::{Layout, Section};

/// Where to send someone whose last sign-in is too old for what they asked for.
pub fn step_up(user: &CurrentUser, back_to: &str) -> Option<Response> {
    if user.recently_authenticated() {
        return None;
    }
    let next = percent_encoding::utf8_percent_encode(back_to, percent_encoding::NON_ALPHANUMERIC);
    Some(Redirect::to(&format!("/account/confirm?next={next}")).into_response())
}

/// A local path to go back to: starts with one "/", nothing that could leave Haven.
fn safe_next(next: &str) -> String {
    let ok = next.starts_with('/')
        && !next.starts_with("//")
        && !next.contains('\\')
        && next.len() <= 300
        && next.chars().all(|c| c.is_ascii_graphic());
    if ok { next.to_owned() } else { "/".to_owned() }
}

#[derive(Template)]
#[template(path = "account/confirm.html")]
struct ConfirmPage {
    layout: Layout,
    errors: Errors,
    next: String,
    code: bool,
}

#[derive(Deserialize, Default)]
pub struct NextQuery {
    next: Option<String>,
}

async fn confirm_page(
    state: &AppState,
    user: &CurrentUser,
    errors: Errors,
    next: String,
) -> AppResult<Response> {
    let u = db::users::find(&state.pool, user.id)
        .await?
        .ok_or(AppError::NotFound)?;
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let page = ConfirmPage {
        layout: Layout::for_user("Confirm it is you", user, Section::None).with_errors(&errors),
        errors,
        next,
        code: u.totp_enabled(),
    };
    Ok((status, Html(page.render()?)).into_response())
}

pub async fn confirm_form(
    State(state): State<AppState>,
    user: CurrentUser,
    Query(q): Query<NextQuery>,
) -> AppResult<Response> {
    let next = safe_next(q.next.as_deref().unwrap_or("/"));
    confirm_page(&state, &user, Errors::default(), next).await
}

/// The password (and a code, when the person uses them) again: the session counts as freshly
/// signed in for the next 15 minutes.
pub async fn confirm_submit(
    State(state): State<AppState>,
    user: CurrentUser,
    form: FormData,
) -> AppResult<Response> {
    form.only(&["password", "code", "next"])?;
    let next = safe_next(form.raw("next"));
    let u = db::users::find(&state.pool, user.id)
        .await?
        .ok_or(AppError::NotFound)?;
    let mut e = Errors::default();
    if form.raw("password").is_empty() {
        e.add("password", "Enter your password");
    }
    if u.totp_enabled() && form.raw("code").trim().is_empty() {
        e.add("code", "Enter the 6-digit code from your app");
    }
    if !e.is_empty() {
        return confirm_page(&state, &user, e, next).await;
    }
    let key = throttle::account_key(&user.email);
    let address = throttle::address_key(user.ip.as_deref());
    let Some(attempt) = throttle::reserve(&state.pool, &key, &address).await? else {
        e.add(
            "password",
            "Too many wrong attempts. Wait 15 minutes, then try again",
        );
        return confirm_page(&state, &user, e, next).await;
    };
    let right = state
        .hash_gate
        .verify(
            u.password_hash.clone().unwrap_or_default(),
            form.raw("password").to_owned(),
        )
        .await?;
    let code_right = if u.totp_enabled() {
        let secret = u
            .totp_secret
            .as_deref()
            .and_then(|s| crate::auth::secret_box::open(state.config.secret_key.expose(), s));
        let now = chrono::Utc::now().timestamp().max(0) as u64;
        match secret
            .and_then(|s| crate::auth::totp::verify(&s, form.raw("code"), now, u.totp_last_step))
        {
            Some(step) => {
                db::users::record_totp_step(&state.pool, u.id, step).await?;
                true
            }
            None => false,
        }
    } else {
        true
    };
    if !right || !code_right {
        audit::record_alone(
            &state.pool,
            &state.audit,
            &user.actor(),
            Event::new("auth.reauthentication_failed", "user").entity(user.id),
        )
        .await?;
        e.add(
            if right { "code" } else { "password" },
            if right {
                "The code is not right"
            } else {
                "The password is not right"
            },
        );
        return confirm_page(&state, &user, e, next).await;
    }
    let mut tx = state.pool.begin().await?;
    throttle::forgive(&mut *tx, attempt, &key, &address).await?;
    db::sessions::reauthenticated(&mut *tx, user.session_id).await?;
    audit::record(
        &mut tx,
        &state.audit,
        &user.actor(),
        Event::new("auth.reauthenticated", "session").entity(user.session_id),
    )
    .await?;
    tx.commit().await?;
    Ok(Redirect::to(&next).into_response())
}

// Break-glass ---------------------------------------------------------------------------------------

#[derive(Template)]
#[template(path = "access/request.html")]
struct RequestPage {
    layout: Layout,
    errors: Errors,
    reference: String,
    reason: String,
    urgent_allowed: bool,
    sent: bool,
}

async fn request_page(
    state: &AppState,
    user: &CurrentUser,
    errors: Errors,
    reference: String,
    reason: String,
    sent: bool,
) -> AppResult<Response> {
    let settings =
        sqlx::query_scalar!("SELECT urgent_break_glass FROM partnership_settings WHERE id = 1")
            .fetch_one(&state.pool)
            .await?;
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let page = RequestPage {
        layout: Layout::for_user("Ask to open a restricted record", user, Section::None)
            .with_errors(&errors),
        errors,
        reference,
        reason,
        urgent_allowed: settings,
        sent,
    };
    Ok((status, Html(page.render()?)).into_response())
}

#[derive(Deserialize, Default)]
pub struct SentQuery {
    sent: Option<String>,
}

pub async fn request_form(
    State(state): State<AppState>,
    user: CurrentUser,
    Query(q): Query<SentQuery>,
) -> AppResult<Response> {
    if let Some(r) = step_up(&user, "/access-requests") {
        return Ok(r);
    }
    request_page(
        &state,
        &user,
        Errors::default(),
        String::new(),
        String::new(),
        q.sent.is_some(),
    )
    .await
}

pub async fn request_submit(
    State(state): State<AppState>,
    user: CurrentUser,
    form: FormData,
) -> AppResult<Response> {
    form.only(&["reference", "reason", "urgent"])?;
    if let Some(r) = step_up(&user, "/access-requests") {
        return Ok(r);
    }
    let mut e = Errors::default();
    let reference = e
        .text(&form, "reference", "The record's reference", true, 40)
        .to_uppercase();
    let reason = e.text(
        &form,
        "reason",
        "The reason you need to open it",
        true,
        2000,
    );
    if !e.is_empty() {
        return request_page(&state, &user, e, reference, reason, false).await;
    }
    let urgent_allowed =
        sqlx::query_scalar!("SELECT urgent_break_glass FROM partnership_settings WHERE id = 1")
            .fetch_one(&state.pool)
            .await?;
    let urgent = urgent_allowed && form.raw("urgent") == "yes";
    let mut tx = state.pool.begin().await?;
    let found = db::allegations::restricted_by_reference(&mut *tx, &reference).await?;
    let mut made = None;
    if let Some((kind, id, subject)) = found
        && subject != Some(user.id)
    {
        let request =
            db::allegations::add_break_glass(&mut *tx, &kind, id, user.id, &reason, urgent).await?;
        if urgent {
            db::allegations::grant(&mut *tx, &kind, id, user.id, "break_glass", None, &reason)
                .await?;
        }
        made = Some((kind, id, request));
    }
    // The audit row says what was asked, and whether a request was made; the page never does.
    audit::record(
        &mut tx,
        &state.audit,
        &user.actor(),
        Event {
            reason: Some(&reason),
            ..Event::new("access.break_glass_request", "record").details(serde_json::json!({
                "made": made.is_some(),
                "urgent": urgent,
                "record": made.as_ref().map(|m| m.1),
                "request": made.as_ref().map(|m| m.2),
            }))
        },
    )
    .await?;
    tx.commit().await?;
    Ok(Redirect::to("/access-requests?sent=1").into_response())
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn next_never_leaves_haven() {
        assert_eq!(safe_next("/lado/allegations/x"), "/lado/allegations/x");
        for bad in [
            "//evil.example/x",
            "https://evil.example",
            "/\\evil.example",
            "javascript:alert(1)",
            "",
            "/a b",
        ] {
            assert_eq!(safe_next(bad), "/", "{bad}");
        }
    }
}
