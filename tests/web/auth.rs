//! Signing in and out, throttling, sessions and second factors.

use axum::http::StatusCode;

use crate::helpers::{PASSWORD, TestApp};

#[tokio::test]
async fn practitioner_signs_in_and_lands_on_their_work() {
    let app = TestApp::new().await;
    app.user("practitioner", "pat@example.org", "Team A").await;
    let mut c = app.client();
    let r = c.sign_in("  PAT@example.org ", PASSWORD).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(r.location(), "/");
    let r = c.get("/").await;
    assert_eq!(r.location(), "/work");
    // Managers start at their teams' work, administrators at the accounts.
    let (mut mo, _) = app.signed_in("manager").await;
    assert_eq!(mo.get("/").await.location(), "/work/team");
    let (mut admin, _) = app.signed_in("admin").await;
    assert_eq!(admin.get("/").await.location(), "/admin/users");
    assert!(
        app.audit_actions()
            .await
            .contains(&"auth.sign_in".to_owned())
    );
}

#[tokio::test]
async fn wrong_password_and_unknown_account_get_the_same_answer() {
    let app = TestApp::new().await;
    app.user("practitioner", "pat@example.org", "Team A").await;
    let mut c = app.client();
    let wrong = c
        .sign_in("pat@example.org", "not the password at all")
        .await;
    let unknown = c
        .sign_in("nobody@example.org", "not the password at all")
        .await;
    assert_eq!(wrong.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(wrong.status, unknown.status);
    assert_eq!(wrong.error_summary(), unknown.error_summary());
    assert_eq!(
        wrong.error_summary(),
        vec!["Enter a correct email address and password"]
    );
    // What was typed is kept, the password is not.
    assert_eq!(
        unknown.attr("input[name=email]", "value"),
        vec!["nobody@example.org"]
    );
    assert_eq!(unknown.attr("input[name=password]", "value"), vec![""]);
    assert_eq!(
        app.count("SELECT count(*) FROM audit_events WHERE action = 'auth.sign_in_failed'")
            .await,
        2
    );
    assert_eq!(app.count("SELECT count(*) FROM sessions").await, 0);
}

#[tokio::test]
async fn repeated_failures_are_throttled_per_address_without_locking_out_the_owner() {
    let app = TestApp::new().await;
    app.user("practitioner", "pat@example.org", "Team A").await;
    let mut attacker = app.client_from("10.9.9.9");
    for _ in 0..10 {
        let r = attacker
            .sign_in("pat@example.org", "guessing wrongly again")
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    }
    // Even the right password is refused from this address now, with a clear message.
    let r = attacker.sign_in("pat@example.org", PASSWORD).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(r.error_summary()[0].contains("Too many attempts"));
    // The same limit applies to an account that does not exist (no enumeration through throttling).
    for _ in 0..10 {
        attacker
            .sign_in("ghost@example.org", "guessing wrongly again")
            .await;
    }
    assert_eq!(
        attacker.sign_in("ghost@example.org", "x").await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
    // The owner, from their own address, still gets in.
    let mut owner = app.client_from("127.0.0.2");
    assert_eq!(
        owner.sign_in("pat@example.org", PASSWORD).await.status,
        StatusCode::SEE_OTHER
    );
}

#[tokio::test]
async fn sign_in_rotates_the_session_token_and_sign_out_revokes_it() {
    let app = TestApp::new().await;
    app.user("practitioner", "pat@example.org", "Team A").await;
    let mut c = app.client();
    c.sign_in("pat@example.org", PASSWORD).await;
    let first = c.cookies["haven_session"].clone();
    c.sign_in("pat@example.org", PASSWORD).await;
    let second = c.cookies["haven_session"].clone();
    assert_ne!(first, second);
    // The earlier token no longer works.
    let mut old = app.client();
    old.cookies.insert("haven_session".into(), first);
    assert_eq!(old.get("/cases").await.location(), "/sign-in");
    // Sign out ends the session on the server, not just in the browser.
    c.get("/cases").await;
    let r = c.post("/sign-out", &[]).await;
    assert_eq!(r.location(), "/sign-in?signed_out=1");
    let mut replay = app.client();
    replay.cookies.insert("haven_session".into(), second);
    assert_eq!(replay.get("/cases").await.location(), "/sign-in");
    assert_eq!(
        app.count("SELECT count(*) FROM sessions WHERE ended_at IS NULL")
            .await,
        0
    );
}

#[tokio::test]
async fn session_cookie_is_http_only_and_secure_prefixed_over_https() {
    let app = TestApp::with_env(&[
        ("HAVEN_PUBLIC_URL", "https://haven.example.org"),
        (
            "HAVEN_SECRET_KEY",
            "5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a",
        ),
    ])
    .await;
    app.user("practitioner", "pat@example.org", "Team A").await;
    let mut c = app.client();
    c.origin = Some("https://haven.example.org".into());
    let r = c.sign_in("pat@example.org", PASSWORD).await;
    let cookie = r.header("set-cookie").to_owned();
    assert!(cookie.starts_with("__Host-haven_session="), "{cookie}");
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("Secure") && cookie.contains("SameSite=Lax")
    );
    assert!(r.header("strict-transport-security").contains("max-age="));
}

#[tokio::test]
async fn idle_and_absolute_timeouts_end_the_session() {
    let app = TestApp::new().await;
    let (mut c, id) = app.signed_in("practitioner").await;
    assert_eq!(c.get("/cases").await.status, StatusCode::OK);
    sqlx::query(
        "UPDATE sessions SET last_seen_at = now() - interval '31 minutes' WHERE user_id = $1",
    )
    .bind(id)
    .execute(&app.pool)
    .await
    .unwrap();
    assert_eq!(c.get("/cases").await.location(), "/sign-in?ended=1");
    assert_eq!(
        app.count("SELECT count(*) FROM sessions WHERE ended_reason = 'idle_timeout'")
            .await,
        1
    );

    let (mut c, id) = app.signed_in("practitioner").await;
    sqlx::query("UPDATE sessions SET expires_at = now() - interval '1 second' WHERE user_id = $1")
        .bind(id)
        .execute(&app.pool)
        .await
        .unwrap();
    assert_eq!(c.get("/cases").await.location(), "/sign-in?ended=1");
}

#[tokio::test]
async fn disabling_an_account_ends_its_sessions_at_once() {
    let app = TestApp::new().await;
    let (mut admin, _) = app.signed_in("admin").await;
    let (mut pat, pat_id) = app.signed_in("practitioner").await;
    assert_eq!(pat.get("/cases").await.status, StatusCode::OK);
    admin.get(&format!("/admin/users/{pat_id}")).await;
    // Without the confirmation ticked: the page says so and nothing happens.
    let r = admin
        .post(&format!("/admin/users/{pat_id}/disable"), &[])
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.error_summary()[0].starts_with("Confirm that you want to disable this account"));
    assert_eq!(pat.get("/cases").await.status, StatusCode::OK);
    let r = admin
        .post(
            &format!("/admin/users/{pat_id}/disable"),
            &[("confirm", "yes")],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let page = admin.follow(&r).await;
    assert!(page.body.contains("The account is disabled"));
    assert!(page.body.contains("Re-enable account"));
    assert_eq!(pat.get("/cases").await.location(), "/sign-in");
    let email = app_email(&app, pat_id).await;
    let r = pat.sign_in(&email, PASSWORD).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        app.audit_actions()
            .await
            .contains(&"user.disable".to_owned())
    );
    // And undone.
    let r = admin
        .post(&format!("/admin/users/{pat_id}/enable"), &[])
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert!(
        admin
            .follow(&r)
            .await
            .body
            .contains("The account is enabled again")
    );
    let r = pat.sign_in(&email, PASSWORD).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert!(
        app.audit_actions()
            .await
            .contains(&"user.enable".to_owned())
    );
}

async fn app_email(app: &TestApp, id: uuid::Uuid) -> String {
    sqlx::query_scalar("SELECT email FROM users WHERE id = $1")
        .bind(id)
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn role_changes_apply_on_the_next_request() {
    let app = TestApp::new().await;
    let (mut c, id) = app.signed_in("manager").await;
    assert_eq!(c.get("/cases/team").await.status, StatusCode::OK);
    sqlx::query("UPDATE users SET role = 'practitioner' WHERE id = $1")
        .bind(id)
        .execute(&app.pool)
        .await
        .unwrap();
    assert_eq!(c.get("/cases/team").await.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn lado_must_set_up_a_security_code_at_first_sign_in() {
    let app = TestApp::new().await;
    let id = app.user("lado", "lee@example.org", "LADO team").await;
    let mut c = app.client();
    let r = c.sign_in("lee@example.org", PASSWORD).await;
    assert_eq!(r.location(), "/sign-in/set-up-code");
    // Nothing else is reachable until the code is set up.
    assert_eq!(c.get("/cases").await.location(), "/sign-in/set-up-code");
    let page = c.get("/sign-in/set-up-code").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("<svg"), "QR code shown");
    let secret = page.select("#secret")[0].clone();
    // The new key waits on the session, encrypted, never as the text shown on the page; the
    // account has no live key until a code from it is confirmed.
    let stored: String = sqlx::query_scalar(
        "SELECT pending_totp_secret FROM sessions WHERE user_id = $1 AND ended_at IS NULL",
    )
    .bind(id)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(
        app.count("SELECT count(*) FROM users WHERE totp_secret IS NOT NULL")
            .await,
        0
    );
    assert!(
        stored.starts_with("v1.") && !stored.contains(&secret),
        "{stored}"
    );
    let r = c.post("/sign-in/set-up-code", &[("code", "000000")]).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.error_summary()[0].contains("not right"));
    // The same secret is kept after a wrong code.
    assert_eq!(r.select("#secret")[0], secret);
    let code = haven::auth::totp::code_at(&secret, chrono::Utc::now().timestamp() as u64).unwrap();
    let r = c.post("/sign-in/set-up-code", &[("code", &code)]).await;
    assert_eq!(r.status, StatusCode::OK);
    let codes = r.select("#recovery-codes li");
    assert_eq!(codes.len(), 10);
    assert_eq!(c.get("/cases").await.status, StatusCode::OK);
    assert_eq!(
        app.count("SELECT count(*) FROM recovery_codes WHERE used_at IS NULL")
            .await,
        10
    );

    // Next time: password, then code. A recovery code works once.
    let mut c2 = app.client();
    assert_eq!(
        c2.sign_in("lee@example.org", PASSWORD).await.location(),
        "/sign-in/code"
    );
    assert_eq!(c2.get("/cases").await.location(), "/sign-in/code");
    c2.get("/sign-in/code").await;
    let r = c2
        .post("/sign-in/code", &[("code", &codes[0].to_lowercase())])
        .await;
    assert_eq!(r.location(), "/");
    let mut c3 = app.client();
    c3.sign_in("lee@example.org", PASSWORD).await;
    c3.get("/sign-in/code").await;
    let r = c3.post("/sign-in/code", &[("code", &codes[0])]).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let _ = id;
}

#[tokio::test]
async fn a_security_code_cannot_be_used_twice() {
    let app = TestApp::new().await;
    let id = app.user("admin", "ada@example.org", "Admins").await;
    let secret = app.enrol_totp(id).await;
    let code = haven::auth::totp::code_at(&secret, chrono::Utc::now().timestamp() as u64).unwrap();
    let mut c = app.client();
    c.sign_in("ada@example.org", PASSWORD).await;
    c.get("/sign-in/code").await;
    assert_eq!(
        c.post("/sign-in/code", &[("code", &code)]).await.location(),
        "/"
    );
    let mut again = app.client();
    again.sign_in("ada@example.org", PASSWORD).await;
    again.get("/sign-in/code").await;
    let r = again.post("/sign-in/code", &[("code", &code)]).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        app.audit_actions()
            .await
            .contains(&"auth.second_factor_failed".to_owned())
    );
}

#[tokio::test]
async fn people_see_and_end_their_own_sessions() {
    let app = TestApp::new().await;
    let (mut laptop, _) = app
        .signed_in_as("practitioner", "pat@example.org", "Team A")
        .await;
    let mut phone = app.client_from("127.0.0.9");
    phone.sign_in("pat@example.org", PASSWORD).await;
    let page = laptop.get("/account").await;
    let rows = page.select("tbody tr");
    assert_eq!(rows.len(), 2);
    assert!(page.body.contains("127.0.0.9"));
    let other: uuid::Uuid = sqlx::query_scalar("SELECT id FROM sessions WHERE ip = '127.0.0.9'")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let r = laptop
        .post(&format!("/account/sessions/{other}/end"), &[])
        .await;
    assert_eq!(r.location(), "/account");
    assert_eq!(phone.get("/cases").await.location(), "/sign-in");
    // Someone else's session id is not found.
    let (mut someone, _) = app.signed_in("practitioner").await;
    someone.get("/account").await;
    let mine: uuid::Uuid = sqlx::query_scalar("SELECT id FROM sessions WHERE ended_at IS NULL AND ip = '127.0.0.1' ORDER BY created_at LIMIT 1")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let r = someone
        .post(&format!("/account/sessions/{mine}/end"), &[])
        .await;
    assert!(r.status == StatusCode::NOT_FOUND || r.location() == "/sign-in?signed_out=1");
}

#[tokio::test]
async fn set_password_link_works_once_and_enforces_the_rules() {
    let app = TestApp::new().await;
    let (mut admin, _) = app.signed_in("admin").await;
    admin.get("/admin/users/new").await;
    let team: String = sqlx::query_scalar("SELECT id::text FROM teams WHERE name = 'Team A'")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let r = admin
        .post(
            "/admin/users",
            &[
                ("name", "Robin Example"),
                ("email", "robin@example.org"),
                ("role", "practitioner"),
                ("team", &team),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let robin_id: uuid::Uuid =
        sqlx::query_scalar("SELECT id FROM users WHERE email = 'robin@example.org'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    let path = crate::helpers::release_link(&app, robin_id).await;
    // The admin never sets a password: the account has none until the link is used.
    assert_eq!(
        app.count(
            "SELECT count(*) FROM users WHERE email = 'robin@example.org' AND password_hash IS NULL"
        )
        .await,
        1
    );

    let mut robin = app.client();
    robin.get(&path).await;
    let r = robin
        .post(&path, &[("password", "short"), ("confirm", "short")])
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        r.error_summary(),
        vec!["Password must be 12 characters or more"]
    );
    let r = robin
        .post(
            &path,
            &[("password", "password1234"), ("confirm", "password1234")],
        )
        .await;
    assert!(r.error_summary()[0].contains("commonly used"));
    let r = robin
        .post(&path, &[("password", PASSWORD), ("confirm", PASSWORD)])
        .await;
    assert_eq!(r.location(), "/sign-in?password_set=1");
    assert_eq!(
        robin
            .sign_in("robin@example.org", PASSWORD)
            .await
            .location(),
        "/"
    );
    // The link is spent.
    let r = robin.get(&path).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert!(r.body.contains("This link has expired"));
}

#[tokio::test]
async fn a_weak_stored_hash_is_upgraded_at_sign_in() {
    use argon2::password_hash::{PasswordHasher, SaltString, rand_core::OsRng};
    let app = TestApp::new().await;
    let id = app.user("practitioner", "pat@example.org", "Team A").await;
    let weak = argon2::Argon2::new(
        argon2::Algorithm::Argon2id,
        argon2::Version::V0x13,
        argon2::Params::new(1024, 1, 1, None).unwrap(),
    )
    .hash_password(PASSWORD.as_bytes(), &SaltString::generate(&mut OsRng))
    .unwrap()
    .to_string();
    sqlx::query("UPDATE users SET password_hash = $2 WHERE id = $1")
        .bind(id)
        .bind(&weak)
        .execute(&app.pool)
        .await
        .unwrap();
    let mut c = app.client();
    assert_eq!(c.sign_in("pat@example.org", PASSWORD).await.location(), "/");
    let now: String = sqlx::query_scalar("SELECT password_hash FROM users WHERE id = $1")
        .bind(id)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_ne!(now, weak);
    assert!(now.contains("m=19456,t=2,p=1"), "{now}");
}

#[tokio::test]
async fn failures_older_than_a_day_are_cleared_when_the_account_fails_again() {
    let app = TestApp::new().await;
    let mut c = app.client();
    c.sign_in("pat@example.org", "wrong wrong wrong").await;
    sqlx::query("UPDATE sign_in_failures SET created_at = now() - interval '2 days'")
        .execute(&mut app.owner().await)
        .await
        .unwrap();
    c.sign_in("pat@example.org", "wrong wrong wrong").await;
    assert_eq!(app.count("SELECT count(*) FROM sign_in_failures").await, 1);
    assert_eq!(
        app.count(
            "SELECT count(*) FROM sign_in_failures WHERE created_at > now() - interval '1 minute'"
        )
        .await,
        1
    );
}
