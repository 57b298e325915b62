//! Administration of accounts and teams.

use axum::http::StatusCode;

use crate::helpers::TestApp;

#[tokio::test]
async fn admin_creates_an_account_with_errors_shown_on_the_form() {
    let app = TestApp::new().await;
    let (mut admin, _) = app.signed_in("admin").await;
    admin.get("/admin/users/new").await;
    let r = admin
        .post(
            "/admin/users",
            &[
                ("name", ""),
                ("email", "not-an-email"),
                ("role", "overlord"),
                ("team", "x"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.error_summary().len(), 4);
    assert_eq!(r.attr("input[name=email]", "value"), vec!["not-an-email"]);
    assert!(r.select("title")[0].starts_with("Error:"));
    // A field the form does not have is refused outright.
    let r = admin
        .post(
            "/admin/users",
            &[
                ("name", "A"),
                ("email", "a@example.org"),
                ("role", "admin"),
                ("team", "none"),
                ("password", "x"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        app.count("SELECT count(*) FROM users WHERE email = 'a@example.org'")
            .await,
        0
    );
    // Duplicate email.
    let r = admin
        .post(
            "/admin/users",
            &[
                ("name", "Dup"),
                ("email", "ADMIN-x@example.org"),
                ("role", "manager"),
                ("team", "none"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let r = admin
        .post(
            "/admin/users",
            &[
                ("name", "Dup"),
                ("email", "admin-x@example.org"),
                ("role", "manager"),
                ("team", "none"),
            ],
        )
        .await;
    assert_eq!(
        r.error_summary(),
        vec!["An account with this email address already exists"]
    );
}

#[tokio::test]
async fn admin_lists_users_page_by_page() {
    let app = TestApp::new().await;
    let (mut admin, _) = app.signed_in("admin").await;
    for i in 0..55 {
        app.user("practitioner", &format!("p{i:02}@example.org"), "Team A")
            .await;
    }
    let first = admin.get("/admin/users").await;
    assert_eq!(first.select("tbody tr").len(), 50);
    let next = first.attr("a[rel=next]", "href")[0].clone();
    assert!(
        !next.contains('@') && !next.contains("Test"),
        "no personal data in the cursor: {next}"
    );
    let second = admin.get(&next).await;
    assert_eq!(second.select("tbody tr").len(), 6);
    assert!(second.attr("a[rel=next]", "href").is_empty());
}

#[tokio::test]
async fn admin_makes_teams() {
    let app = TestApp::new().await;
    let (mut admin, _) = app.signed_in("admin").await;
    admin.get("/admin/teams").await;
    let r = admin.post("/admin/teams", &[("name", "North Hub")]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let r = admin.post("/admin/teams", &[("name", "North Hub")]).await;
    assert_eq!(
        r.error_summary(),
        vec!["A team with this name already exists"]
    );
    let page = admin.get("/admin/teams").await;
    assert!(page.select("li").contains(&"North Hub".to_owned()));
}

#[tokio::test]
async fn admin_changes_role_and_teams_and_a_stale_form_changes_nothing() {
    let app = TestApp::new().await;
    let (mut admin, admin_id) = app.signed_in("admin").await;
    let (mut pat, pat_id) = app
        .signed_in_as("practitioner", "pat@example.org", "Team A")
        .await;
    admin.get("/admin/teams").await;
    admin.post("/admin/teams", &[("name", "Team B")]).await;
    let team_b: String = sqlx::query_scalar("SELECT id::text FROM teams WHERE name = 'Team B'")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let team_a: String = sqlx::query_scalar("SELECT id::text FROM teams WHERE name = 'Team A'")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let page = admin.get(&format!("/admin/users/{pat_id}")).await;
    let version = page.attr("input[name=version]", "value")[0].clone();
    assert_eq!(
        page.attr("input[name=teams][checked]", "value"),
        vec![team_a.clone()]
    );

    let r = admin
        .post(
            &format!("/admin/users/{pat_id}/access"),
            &[
                ("role", "manager"),
                ("teams", &team_a),
                ("teams", &team_b),
                ("version", &version),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    // The change applies on the person's next request.
    assert_eq!(pat.get("/cases/team").await.status, StatusCode::OK);
    assert_eq!(app.count("SELECT count(*) FROM team_memberships m JOIN users u ON u.id = m.user_id WHERE u.email = 'pat@example.org'").await, 2);

    // The same (now stale) form again: a conflict, and nothing changes.
    let r = admin
        .post(
            &format!("/admin/users/{pat_id}/access"),
            &[("role", "practitioner"), ("version", &version)],
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert!(r.body.contains("Someone else changed this account"));
    let role: String = sqlx::query_scalar("SELECT role FROM users WHERE id = $1")
        .bind(pat_id)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(role, "manager");

    // An administrator cannot demote themselves.
    let page = admin.get(&format!("/admin/users/{admin_id}")).await;
    let v = page.attr("input[name=version]", "value")[0].clone();
    let r = admin
        .post(
            &format!("/admin/users/{admin_id}/access"),
            &[("role", "practitioner"), ("version", &v)],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.error_summary()[0].contains("your own administrator role"));
    assert!(
        page.select("button").iter().all(|b| b != "Disable account"),
        "no self-disable button"
    );
    assert!(
        app.audit_actions()
            .await
            .contains(&"user.access_change".to_owned())
    );
}

#[tokio::test]
async fn admin_turns_off_a_lost_second_factor() {
    let app = TestApp::new().await;
    let (mut admin, _) = app.signed_in("admin").await;
    let (mut lee, lee_id) = app
        .signed_in_as("lado", "lee@example.org", "LADO team")
        .await;
    assert_eq!(lee.get("/cases").await.status, StatusCode::OK);
    admin.get(&format!("/admin/users/{lee_id}")).await;
    let r = admin
        .post(&format!("/admin/users/{lee_id}/reset-second-factor"), &[])
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    // Signed out, and must set up a new app at the next sign-in.
    assert_eq!(lee.get("/cases").await.location(), "/sign-in");
    let mut again = app.client();
    assert_eq!(
        again
            .sign_in("lee@example.org", crate::helpers::PASSWORD)
            .await
            .location(),
        "/sign-in/set-up-code"
    );
    assert!(
        app.audit_actions()
            .await
            .contains(&"user.second_factor_reset".to_owned())
    );
}

#[tokio::test]
async fn someone_made_lado_must_set_up_a_security_code_before_going_on() {
    let app = TestApp::new().await;
    let (mut admin, _) = app.signed_in("admin").await;
    let (mut pat, pat_id) = app
        .signed_in_as("practitioner", "pat@example.org", "Team A")
        .await;
    assert_eq!(pat.get("/cases").await.status, StatusCode::OK);
    let page = admin.get(&format!("/admin/users/{pat_id}")).await;
    let version = page.attr("input[name=version]", "value")[0].clone();
    let team: String = sqlx::query_scalar("SELECT id::text FROM teams WHERE name = 'Team A'")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let r = admin
        .post(
            &format!("/admin/users/{pat_id}/access"),
            &[("role", "lado"), ("teams", &team), ("version", &version)],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    // The existing session may now only set up a security code.
    assert_eq!(pat.get("/cases").await.location(), "/sign-in/set-up-code");
    // This session has no new key yet: the page offers to make one (a GET never does).
    let setup = pat.get("/sign-in/set-up-code").await;
    assert!(setup.select("#secret").is_empty());
    let r = pat.post("/sign-in/set-up-code/start", &[]).await;
    assert_eq!(r.location(), "/sign-in/set-up-code");
    let setup = pat.get("/sign-in/set-up-code").await;
    let secret = setup.select("#secret")[0].clone();
    let code = haven::auth::totp::code_at(&secret, chrono::Utc::now().timestamp() as u64).unwrap();
    let r = pat.post("/sign-in/set-up-code", &[("code", &code)]).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(pat.get("/cases").await.status, StatusCode::OK);
}
