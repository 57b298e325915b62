//! Allocation, caseloads and supervision: a manager gives a case to someone in its team, its
//! open deadlines follow, the new worker sees it as newly allocated, and supervision notes are
//! read only by managers and the case worker.

use axum::http::StatusCode;
use chrono::{TimeZone, Utc};
use uuid::Uuid;

use crate::helpers::TestApp;

#[tokio::test]
async fn a_manager_allocates_within_the_team_and_the_deadlines_follow() {
    let app = TestApp::with_env(&[("HAVEN_FIXED_TIME", "2026-12-04T10:00:00Z")]).await;
    let (mut pat, pat_id) = app
        .signed_in_as("practitioner", "pat@example.org", "Team A")
        .await;
    let (mut sam, sam_id) = app
        .signed_in_as("practitioner", "sam@example.org", "Team A")
        .await;
    let (_, bea_id) = app
        .signed_in_as("practitioner", "bea@example.org", "Team B")
        .await;
    let (mut mo, _) = app
        .signed_in_as("manager", "mo@example.org", "Team A")
        .await;
    let case = crate::procedure::case_with_two_children(
        &app,
        pat_id,
        Utc.with_ymd_and_hms(2026, 12, 3, 9, 0, 0).unwrap(),
        true,
    )
    .await;
    let open_deadlines = |owner: Uuid| {
        let pool = app.pool.clone();
        async move {
            sqlx::query_scalar::<_, i64>(
                "SELECT count(*) FROM deadlines WHERE case_id = $1 AND owner_id = $2 AND met_at IS NULL AND ended_at IS NULL",
            )
            .bind(case)
            .bind(owner)
            .fetch_one(&pool)
            .await
            .unwrap()
        }
    };
    assert!(open_deadlines(pat_id).await > 0);
    // Practitioners cannot allocate; the refusal keeps their navigation and Sign out.
    let denied = pat.get(&format!("/cases/{case}/allocate")).await;
    assert_eq!(denied.status, StatusCode::FORBIDDEN);
    assert!(
        denied
            .select(".govuk-service-navigation a")
            .iter()
            .any(|a| a.contains("My cases")),
        "{}",
        denied.body
    );
    assert!(denied.body.contains("Sign out"));
    assert_eq!(denied.header("cache-control"), "no-store");
    // So does a "not found" inside Haven (a handler's own refusal goes the same way).
    let missing = pat.get(&format!("/cases/{}", Uuid::now_v7())).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert!(missing.body.contains("Sign out"));
    assert!(missing.body.contains("Page not found"));
    let form = mo.get(&format!("/cases/{case}/allocate")).await;
    assert_eq!(form.status, StatusCode::OK);
    let offered = form.attr("input[name=owner]", "value");
    assert!(offered.contains(&sam_id.to_string()));
    assert!(
        !offered.contains(&bea_id.to_string()),
        "someone outside the team was offered"
    );
    assert!(form.body.contains("Has this case now."));
    let version = || {
        let pool = app.pool.clone();
        async move {
            sqlx::query_scalar::<_, i32>("SELECT version FROM cases WHERE id = $1")
                .bind(case)
                .fetch_one(&pool)
                .await
                .unwrap()
                .to_string()
        }
    };
    // Outside the team, nobody, and the current worker: each refused, nothing changed.
    for (owner, says) in [
        (bea_id.to_string(), "Select someone in Team A"),
        (String::new(), "Select who the case goes to"),
        (pat_id.to_string(), "The case is already with"),
    ] {
        let r = mo
            .post(
                &format!("/cases/{case}/allocate"),
                &[("owner", &owner), ("version", &version().await)],
            )
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{owner}");
        assert!(
            r.error_summary()[0].starts_with(says),
            "{:?}",
            r.error_summary()
        );
    }
    let before = version().await;
    let r = mo
        .post(
            &format!("/cases/{case}/allocate"),
            &[("owner", &sam_id.to_string()), ("version", &before)],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{:?}", r.error_summary());
    // The deadlines went with it; the old worker's list no longer has it.
    assert_eq!(open_deadlines(pat_id).await, 0);
    assert!(open_deadlines(sam_id).await > 0);
    let mine = sam.get("/cases").await;
    let rows = mine.select("#cases tbody tr");
    assert_eq!(rows.len(), 1);
    assert!(rows[0].contains("Newly allocated"), "{rows:?}");
    assert!(pat.get("/cases").await.select("#cases tbody tr").is_empty());
    // Name search in one's own cases follows the case too (each person carries its owner).
    let search_mine = |r: crate::helpers::Res| r.select("#cases tbody tr");
    let found = search_mine(
        sam.post(
            "/cases/search",
            &[("name", "juniper ashcombe"), ("scope", "mine")],
        )
        .await,
    );
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].contains("Juniper Ashcombe"));
    pat.get("/cases").await;
    let gone = search_mine(
        pat.post(
            "/cases/search",
            &[("name", "juniper ashcombe"), ("scope", "mine")],
        )
        .await,
    );
    assert!(gone.is_empty(), "{gone:?}");
    assert_eq!(
        app.count(
            "SELECT count(*) FROM case_people p JOIN cases c ON c.id = p.case_id WHERE p.owner_id <> c.owner_id"
        )
        .await,
        0
    );
    // A stale form (the version before) is a conflict.
    let r = mo
        .post(
            &format!("/cases/{case}/allocate"),
            &[("owner", &pat_id.to_string()), ("version", &before)],
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    // The chronology and the audit trail say who moved it.
    let page = sam.get(&format!("/cases/{case}")).await;
    assert!(page.body.contains("Allocated to Test practitioner sam by Test manager mo@ (it was with Test practitioner pat)."), "{}", page.body);
    assert_eq!(
        app.count("SELECT count(*) FROM audit_events WHERE action = 'case.allocate'")
            .await,
        1
    );
    // The caseloads page counts it under Sam.
    let loads = mo.get("/work/caseloads").await;
    assert_eq!(loads.status, StatusCode::OK);
    let sam_row = loads
        .select("table tbody tr")
        .into_iter()
        .find(|r| r.contains("Test practitioner sam"))
        .unwrap();
    assert!(sam_row.contains("Practitioner1"), "{sam_row}");
    assert_eq!(
        pat.get("/work/caseloads").await.status,
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn supervision_notes_are_for_managers_and_the_case_worker() {
    let app = TestApp::with_env(&[("HAVEN_FIXED_TIME", "2026-12-04T10:00:00Z")]).await;
    let (mut pat, pat_id) = app
        .signed_in_as("practitioner", "pat@example.org", "Team A")
        .await;
    let (mut sam, _) = app
        .signed_in_as("practitioner", "sam@example.org", "Team A")
        .await;
    let (mut mo, _) = app
        .signed_in_as("manager", "mo@example.org", "Team A")
        .await;
    let case = crate::cases::make_case(
        &app,
        pat_id,
        "Team A",
        "Tegan Morrow",
        haven::domain::ConcernKind::Grooming,
    )
    .await;
    let path = format!("/cases/{case}/supervision");
    mo.get(&path).await;
    let r = mo
        .post(
            &path,
            &[
                ("held-day", "5"),
                ("held-month", "12"),
                ("held-year", "2026"),
                ("discussion", "Whether the school should tell the parents."),
                ("decisions", ""),
                ("actions", ""),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        r.error_summary(),
        vec![
            "The date of the supervision must be today or in the past",
            "Enter the decisions",
        ]
    );
    assert!(
        r.body
            .contains("Whether the school should tell the parents.")
    );
    let r = mo
        .post(
            &path,
            &[
                ("held-day", "4"),
                ("held-month", "12"),
                ("held-year", "2026"),
                ("discussion", "Whether the school should tell the parents."),
                (
                    "decisions",
                    "Not until the police have spoken to the adult.",
                ),
                ("actions", "Pat to call the DSL by Friday."),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    // The case worker reads it; a team-mate sees only that it happened.
    assert!(
        pat.get(&path)
            .await
            .body
            .contains("Not until the police have spoken")
    );
    assert_eq!(sam.get(&path).await.status, StatusCode::FORBIDDEN);
    let case_page = sam.get(&format!("/cases/{case}")).await;
    assert!(
        case_page
            .body
            .contains("Case supervision held by Test manager mo@.")
    );
    assert!(!case_page.body.contains("Not until the police"));
    // Only managers record it.
    let r = pat
        .post(
            &path,
            &[
                ("held-day", "4"),
                ("held-month", "12"),
                ("held-year", "2026"),
                ("discussion", "x"),
                ("decisions", "y"),
                ("actions", ""),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(app.count("SELECT count(*) FROM case_supervisions").await, 1);
}

#[tokio::test]
async fn an_immediate_risk_heads_the_managers_work_until_acknowledged_and_the_police_contact_is_recorded()
 {
    let app = TestApp::with_env(&[("HAVEN_FIXED_TIME", "2026-12-04T10:00:00Z")]).await;
    let (mut pat, pat_id) = app
        .signed_in_as("practitioner", "pat@example.org", "Team A")
        .await;
    let (mut mo, _) = app
        .signed_in_as("manager", "mo@example.org", "Team A")
        .await;
    let (mut other, _) = app
        .signed_in_as("manager", "nia@example.org", "Team B")
        .await;
    let case = crate::cases::make_case(
        &app,
        pat_id,
        "Team A",
        "Ivo Brannock",
        haven::domain::ConcernKind::Grooming,
    )
    .await;
    sqlx::query("UPDATE cases SET immediate_risk = true WHERE id = $1")
        .bind(case)
        .execute(&app.pool)
        .await
        .unwrap();
    let reference: String = sqlx::query_scalar("SELECT reference FROM cases WHERE id = $1")
        .bind(case)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    // At the top of the team's managers' work; not another team's.
    let work = mo.get("/work/team").await;
    assert!(
        work.select("#risks").join(" ").contains(&reference),
        "{}",
        work.body
    );
    assert!(other.get("/work/team").await.select("#risks").is_empty());
    // The case says what must happen now.
    let page = pat.get(&format!("/cases/{case}")).await;
    let panel = page.select("#immediate-risk").join(" ");
    assert!(panel.contains("call 999"), "{panel}");
    assert!(panel.contains("No police contact recorded yet"));
    assert!(
        page.select("#immediate-risk form").is_empty(),
        "a practitioner was offered the acknowledgement"
    );
    // The police contact: bad input first.
    let path = format!("/cases/{case}/police-contact");
    let form = pat.get(&path).await;
    assert_eq!(form.status, StatusCode::OK);
    let idem = form.attr("input[name=_idem]", "value")[0].clone();
    let r = pat
        .post(
            &path,
            &[
                ("when-day", "4"),
                ("when-month", "12"),
                ("when-year", "2026"),
                ("time", "11:30"),
                ("officer", ""),
                ("reference", "CAD 0412-77"),
                ("_idem", &idem),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let errors = r.error_summary().join("; ");
    assert!(errors.contains("must be in the past"), "{errors}");
    assert!(errors.contains("Enter who you spoke to"), "{errors}");
    assert_eq!(r.attr("#reference", "value"), vec!["CAD 0412-77"]);
    // The form shown again keeps its key, so the corrected form is still the same sending.
    assert_eq!(r.attr("input[name=_idem]", "value"), vec![idem.clone()]);
    // Sent eight times at once (a double click, a resend): recorded once, every one answered
    // with the same place.
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let mut tab = pat.fork();
        let (path, idem) = (path.clone(), idem.clone());
        tasks.push(tokio::spawn(async move {
            let r = tab
                .post(
                    &path,
                    &[
                        ("when-day", "4"),
                        ("when-month", "12"),
                        ("when-year", "2026"),
                        ("time", "09:40"),
                        ("officer", "PC Dara Quayle, Child Abuse Investigation Team"),
                        ("reference", "CAD 0412-77"),
                        ("_idem", &idem),
                    ],
                )
                .await;
            (r.status, r.header("location").to_owned(), r.error_summary())
        }));
    }
    for t in tasks {
        let (status, location, errors) = t.await.unwrap();
        assert_eq!(status, StatusCode::SEE_OTHER, "{errors:?}");
        assert_eq!(location, format!("/cases/{case}#immediate-risk"));
    }
    assert_eq!(app.count("SELECT count(*) FROM police_contacts").await, 1);
    assert_eq!(
        app.count("SELECT count(*) FROM chronology_entries WHERE kind = 'police'")
            .await,
        1
    );
    assert_eq!(
        app.count("SELECT count(*) FROM audit_events WHERE action = 'case.police_contact'")
            .await,
        1
    );
    let page = pat.get(&format!("/cases/{case}")).await;
    assert!(
        page.select("#immediate-risk")
            .join(" ")
            .contains("PC Dara Quayle")
    );
    assert!(page.body.contains("The police were contacted about the immediate risk: PC Dara Quayle, Child Abuse Investigation Team, reference CAD 0412-77."));
    // Only a manager acknowledges, once; then it leaves the top of the team's work.
    let ack = format!("/cases/{case}/risk/acknowledge");
    assert_eq!(pat.post(&ack, &[]).await.status, StatusCode::FORBIDDEN);
    mo.get(&format!("/cases/{case}")).await;
    assert_eq!(mo.post(&ack, &[]).await.status, StatusCode::SEE_OTHER);
    assert_eq!(mo.post(&ack, &[]).await.status, StatusCode::CONFLICT);
    assert!(mo.get("/work/team").await.select("#risks").is_empty());
    let page = mo.get(&format!("/cases/{case}")).await;
    assert!(
        page.select("#immediate-risk")
            .join(" ")
            .contains("Acknowledged by Test manager mo@")
    );
    assert!(
        page.body
            .contains("acknowledged the immediate risk to a child.")
    );
}

#[tokio::test]
async fn access_to_a_case_from_another_team_is_not_authority_over_it() {
    let app = TestApp::with_env(&[("HAVEN_FIXED_TIME", "2026-12-04T10:00:00Z")]).await;
    let (_, pat_id) = app
        .signed_in_as("practitioner", "pat@example.org", "Team A")
        .await;
    let (mut nia, nia_id) = app
        .signed_in_as("manager", "nia@example.org", "Team B")
        .await;
    let case = crate::cases::make_case(
        &app,
        pat_id,
        "Team A",
        "Lio Farnham",
        haven::domain::ConcernKind::Grooming,
    )
    .await;
    // Restricted, with a child at immediate risk, and Nia given access (as break-glass would).
    let mut owner = app.owner().await;
    sqlx::query("UPDATE cases SET restricted = true, immediate_risk = true WHERE id = $1")
        .bind(case)
        .execute(&mut owner)
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO record_access (id, record_kind, record_id, user_id, via, reason) VALUES ($1, 'case', $2, $3, 'break_glass', 'Urgent')",
    )
    .bind(Uuid::now_v7())
    .bind(case)
    .bind(nia_id)
    .execute(&mut owner)
    .await
    .unwrap();
    let page = nia.get(&format!("/cases/{case}")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(!page.body.contains("Allocate or reallocate"));
    assert!(page.select("#immediate-risk form").is_empty());
    for path in [
        format!("/cases/{case}/allocate"),
        format!("/cases/{case}/supervision"),
    ] {
        assert_eq!(nia.get(&path).await.status, StatusCode::FORBIDDEN, "{path}");
    }
    assert_eq!(
        nia.post(&format!("/cases/{case}/risk/acknowledge"), &[])
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    let still: Option<chrono::DateTime<Utc>> =
        sqlx::query_scalar("SELECT risk_acknowledged_at FROM cases WHERE id = $1")
            .bind(case)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert!(still.is_none());
    // Nor may Nia approve or return what Team A proposes on it.
    let any = Uuid::now_v7().to_string();
    for (path, fields) in [
        (
            format!("/cases/{case}/decision/review"),
            vec![
                ("decision", any.as_str()),
                ("version", "1"),
                ("action", "approve"),
            ],
        ),
        (
            format!("/cases/{case}/enquiries/{any}/review"),
            vec![("version", "1"), ("action", "approve")],
        ),
        (
            format!("/cases/{case}/close/review"),
            vec![("closure", any.as_str()), ("action", "approve")],
        ),
    ] {
        let r = nia.post(&path, &fields).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{path}");
    }
    // Pat's restricted case does not show in the team's caseload counts either.
    let (mut mo, _) = app
        .signed_in_as("manager", "mo@example.org", "Team A")
        .await;
    let loads = mo.get("/work/caseloads").await;
    let pat_row = loads
        .select("table tbody tr")
        .into_iter()
        .find(|r| r.contains("Test practitioner pat"))
        .unwrap();
    assert!(pat_row.ends_with("00"), "{pat_row}");
}
