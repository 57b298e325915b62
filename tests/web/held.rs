//! Nothing typed is lost: a form sent after its sender's session timed out is held for them
//! (never for anyone else, never in a URL or a cookie), offered again after they sign in, sent
//! with a fresh form token, and forgotten once accepted or discarded. "Stay signed in" keeps the
//! session alive.

use axum::http::StatusCode;
use chrono::{TimeZone, Utc};
use uuid::Uuid;

use crate::helpers::{PASSWORD, TestApp};

async fn time_out(app: &TestApp, email: &str) {
    sqlx::query(
        "UPDATE sessions SET last_seen_at = now() - interval '3 hours'
         WHERE user_id = (SELECT id FROM users WHERE email = $1) AND ended_at IS NULL",
    )
    .bind(email)
    .execute(&app.pool)
    .await
    .unwrap();
}

#[tokio::test]
async fn a_note_sent_after_the_session_ended_is_held_and_sent_after_signing_in() {
    let app = TestApp::new().await;
    let (mut pat, pat_id) = app
        .signed_in_as("practitioner", "pat@example.org", "Team A")
        .await;
    let (mut bea, bea_id) = app
        .signed_in_as("practitioner", "bea@example.org", "Team A")
        .await;
    let case = crate::procedure::case_with_two_children(
        &app,
        pat_id,
        Utc.with_ymd_and_hms(2026, 11, 20, 9, 0, 0).unwrap(),
        false,
    )
    .await;
    let path = format!("/cases/{case}/notes");
    assert_eq!(
        pat.get(&format!("/cases/{case}")).await.status,
        StatusCode::OK
    );
    assert_eq!(
        bea.get(&format!("/cases/{case}")).await.status,
        StatusCode::OK
    );
    let long = "A long account of the home visit, typed over forty minutes. ".repeat(40);
    let idem = Uuid::new_v4().to_string();
    let fields = [
        ("body", long.as_str()),
        ("when-day", ""),
        ("when-month", ""),
        ("when-year", ""),
        ("time", ""),
        ("corrects", ""),
        ("_idem", idem.as_str()),
    ];
    time_out(&app, "pat@example.org").await;
    time_out(&app, "bea@example.org").await;
    // A GET after the timeout holds nothing (there is nothing typed).
    let page = pat.get(&format!("/cases/{case}")).await;
    assert_eq!(page.location(), "/sign-in?ended=1");
    // The session is ended by that; sign in, time out again, and post the note.
    pat.sign_in("pat@example.org", PASSWORD).await;
    pat.get(&format!("/cases/{case}")).await;
    time_out(&app, "pat@example.org").await;
    let r = pat.post(&path, &fields).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(r.location(), "/sign-in?ended=1&held=1");
    assert_eq!(
        app.count("SELECT count(*) FROM case_notes").await,
        0,
        "nothing saved yet"
    );
    let (held_path, body): (String, String) =
        sqlx::query_as("SELECT path, body FROM held_forms WHERE user_id = $1")
            .bind(pat_id)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(held_path, path);
    assert!(body.contains("home+visit"), "{body}");
    assert!(!body.contains("_csrf"), "the old form token is not kept");
    let sign_in = pat.get("/sign-in?ended=1&held=1").await;
    assert!(sign_in.body.contains("What you typed is kept"));

    // A form without the session's own token (forged, or another tab of someone else) is not
    // held: bea's expired session posting with a made-up token.
    bea.csrf = "forged".into();
    let r = bea.post(&path, &fields).await;
    assert_eq!(r.location(), "/sign-in?ended=1");
    let bea_held: i64 = sqlx::query_scalar("SELECT count(*) FROM held_forms WHERE user_id = $1")
        .bind(bea_id)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(bea_held, 0);

    // Signing in again leads to the held form; it is pat's alone.
    let r = pat.sign_in("pat@example.org", PASSWORD).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let home = pat.get("/").await;
    assert_eq!(home.location(), "/held-form");
    let held = pat.get("/held-form").await;
    assert_eq!(held.status, StatusCode::OK);
    assert!(
        held.select("#held-fields")
            .join(" ")
            .contains("A long account of the home visit")
    );
    assert_eq!(held.attr("#held-send", "action")[0], path);
    let sent: Vec<(String, String)> = held
        .attr("#held-send input[type=hidden]", "name")
        .into_iter()
        .zip(held.attr("#held-send input[type=hidden]", "value"))
        .collect();
    assert!(sent.iter().any(|(k, v)| k == "_held" && v == "1"));
    assert!(sent.iter().any(|(k, v)| k == "body" && v == &long));
    // Someone else signed in sees nothing of it.
    let (mut cy, _) = app
        .signed_in_as("practitioner", "cy@example.org", "Team A")
        .await;
    assert_eq!(cy.get("/held-form").await.location(), "/");

    // Sent again with a fresh token: the note is saved and the held form forgotten.
    let resend: Vec<(&str, &str)> = sent
        .iter()
        .filter(|(k, _)| k != "_csrf")
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let r = pat.post(&path, &resend).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(app.count("SELECT count(*) FROM case_notes").await, 1);
    assert_eq!(app.count("SELECT count(*) FROM held_forms").await, 0);
    assert_ne!(pat.get("/").await.location(), "/held-form");

    // Account and sign-in forms are never held: a password change sent after the timeout is
    // simply refused.
    time_out(&app, "pat@example.org").await;
    let r = pat
        .post(
            "/account/password",
            &[
                ("current", PASSWORD),
                ("password", "a new long passphrase"),
                ("confirm", "a new long passphrase"),
            ],
        )
        .await;
    assert_eq!(r.location(), "/sign-in?ended=1");
    assert_eq!(app.count("SELECT count(*) FROM held_forms").await, 0);
    pat.sign_in("pat@example.org", PASSWORD).await;
    pat.get(&format!("/cases/{case}")).await;

    // Discarding works too.
    time_out(&app, "pat@example.org").await;
    let again = pat.post(&path, &fields).await;
    assert_eq!(again.location(), "/sign-in?ended=1&held=1");
    pat.sign_in("pat@example.org", PASSWORD).await;
    pat.get("/held-form").await;
    let r = pat.post("/held-form/discard", &[]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(app.count("SELECT count(*) FROM held_forms").await, 0);
}

#[tokio::test]
async fn stay_signed_in_keeps_the_session_alive() {
    let app = TestApp::new().await;
    let (mut pat, pat_id) = app
        .signed_in_as("practitioner", "pat@example.org", "Team A")
        .await;
    let page = pat.get("/work").await;
    let idle: Vec<String> = page.attr("#haven-timeout", "data-idle-seconds");
    assert_eq!(idle.len(), 1, "the warning is on every signed-in page");
    assert!(idle[0].parse::<i64>().unwrap() > 120);
    sqlx::query(
        "UPDATE sessions SET last_seen_at = now() - interval '25 minutes' WHERE user_id = $1",
    )
    .bind(pat_id)
    .execute(&app.pool)
    .await
    .unwrap();
    let r = pat.post("/account/keep-alive", &[]).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let idle_for: f64 = sqlx::query_scalar(
        "SELECT extract(epoch FROM now() - last_seen_at)::float8 FROM sessions WHERE user_id = $1 AND ended_at IS NULL",
    )
    .bind(pat_id)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert!(idle_for < 60.0, "{idle_for}");
    // Without a session there is nothing to keep alive.
    let mut stranger = app.client();
    stranger.get("/sign-in").await;
    let r = stranger.post("/account/keep-alive", &[]).await;
    assert_ne!(r.status, StatusCode::NO_CONTENT);
}

/// Session bookkeeping stays off the hot path: a signed-in page view records the session's
/// activity at most once a minute.
#[tokio::test]
async fn a_page_view_touches_the_session_at_most_once_a_minute() {
    let app = TestApp::new().await;
    let (mut pat, pat_id) = app
        .signed_in_as("practitioner", "pat@example.org", "Team A")
        .await;
    let seen = || {
        let pool = app.pool.clone();
        async move {
            sqlx::query_scalar::<_, chrono::DateTime<Utc>>(
                "SELECT last_seen_at FROM sessions WHERE user_id = $1 AND ended_at IS NULL",
            )
            .bind(pat_id)
            .fetch_one(&pool)
            .await
            .unwrap()
        }
    };
    sqlx::query(
        "UPDATE sessions SET last_seen_at = now() - interval '30 seconds' WHERE user_id = $1",
    )
    .bind(pat_id)
    .execute(&app.pool)
    .await
    .unwrap();
    let before = seen().await;
    pat.get("/work").await;
    pat.get("/cases").await;
    assert_eq!(seen().await, before, "touched again within a minute");
    sqlx::query(
        "UPDATE sessions SET last_seen_at = now() - interval '90 seconds' WHERE user_id = $1",
    )
    .bind(pat_id)
    .execute(&app.pool)
    .await
    .unwrap();
    let old = seen().await;
    pat.get("/work").await;
    assert!(seen().await > old, "not touched after a minute");
}
