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
    assert_eq!(r.status, StatusCode::OK);
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
