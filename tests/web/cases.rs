//! Case lists, the case page, notes, editing with optimistic locking and the access record.

use axum::http::StatusCode;
use chrono::Utc;
use haven::db::cases::{NewCase, create_from_referral};
use haven::db::drafts::{ChildDraft, Received, ReferralDraft, Referrer, Risk, Work};
use haven::domain::{ConcernKind, WorksWithChildren};
use uuid::Uuid;

use crate::helpers::TestApp;

/// Make a case directly (for list tests), owned by `owner` in `team`.
pub async fn make_case(
    app: &TestApp,
    owner: Uuid,
    team: &str,
    child: &str,
    concern: ConcernKind,
) -> Uuid {
    let team_id: Uuid = sqlx::query_scalar("SELECT id FROM teams WHERE name = $1")
        .bind(team)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let draft = ReferralDraft {
        referrer: Some(Referrer {
            name: "R".into(),
            role: "Teacher".into(),
            agency: "School".into(),
            contact: "01632".into(),
        }),
        received: Some(Received { at: Utc::now() }),
        children: vec![ChildDraft {
            name: child.into(),
            ..Default::default()
        }],
        children_done: true,
        adults: vec![],
        adults_done: true,
        concerns: vec![concern],
        account: Some("Fictional account.".into()),
        risk: Some(Risk {
            immediate: false,
            details: String::new(),
        }),
        work: Some(Work {
            works_with_children: WorksWithChildren::Unknown,
            details: String::new(),
        }),
    };
    let mut tx = app.pool.begin().await.unwrap();
    let (id, _) = create_from_referral(
        &mut tx,
        NewCase {
            draft: &draft,
            team_id,
            owner_id: owner,
            now: Utc::now(),
        },
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    id
}

#[tokio::test]
async fn managers_see_their_teams_cases_and_nobody_sees_other_teams_cases() {
    let app = TestApp::new().await;
    let (mut pat, pat_id) = app
        .signed_in_as("practitioner", "pat@example.org", "Team A")
        .await;
    let (mut mo, _) = app
        .signed_in_as("manager", "mo@example.org", "Team A")
        .await;
    let (mut other, _) = app
        .signed_in_as("manager", "oz@example.org", "Team B")
        .await;
    let case = make_case(
        &app,
        pat_id,
        "Team A",
        "Mia Thornbury",
        ConcernKind::Grooming,
    )
    .await;

    let mine = pat.get("/cases").await;
    assert_eq!(mine.select("#cases tbody tr").len(), 1);
    let team = mo.get("/cases/team").await;
    assert!(team.select("#cases tbody tr")[0].contains("Mia Thornbury"));
    assert_eq!(
        mo.get(&format!("/cases/{case}")).await.status,
        StatusCode::OK
    );

    let theirs = other.get("/cases/team").await;
    assert!(theirs.select("#cases tbody tr").is_empty());
    // Another team's case looks exactly like a case that does not exist.
    let hidden = other.get(&format!("/cases/{case}")).await;
    let missing = other.get(&format!("/cases/{}", Uuid::now_v7())).await;
    assert_eq!(hidden.status, StatusCode::NOT_FOUND);
    assert_eq!(hidden.select("h1"), missing.select("h1"));
    assert!(!hidden.body.contains("Mia"));
    assert_eq!(
        other.get("/cases/not-a-uuid").await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        other.get(&format!("/cases/{case}/audit")).await.status,
        StatusCode::NOT_FOUND
    );
    other.get("/cases").await;
    let r = other
        .post(
            &format!("/cases/{case}/notes"),
            &[("body", "x"), ("_idem", &Uuid::new_v4().to_string())],
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(app.count("SELECT count(*) FROM case_notes").await, 0);
    // Administrators never see case content.
    let (mut admin, _) = app.signed_in("admin").await;
    assert_eq!(
        admin.get(&format!("/cases/{case}")).await.status,
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn lists_filter_and_page_by_key() {
    let app = TestApp::new().await;
    let (mut pat, pat_id) = app.signed_in("practitioner").await;
    for i in 0..27 {
        let kind = if i % 3 == 0 {
            ConcernKind::Extremism
        } else {
            ConcernKind::Bullying
        };
        make_case(&app, pat_id, "Team A", &format!("Child {i:02}"), kind).await;
    }
    let first = pat.get("/cases").await;
    assert_eq!(first.select("#cases tbody tr").len(), 25);
    assert!(
        first.select("#cases tbody tr")[0].contains("Child 26"),
        "newest first"
    );
    let next = first.attr("a[rel=next]", "href")[0].clone();
    let second = pat.get(&next).await;
    assert_eq!(second.select("#cases tbody tr").len(), 2);
    assert!(second.attr("a[rel=next]", "href").is_empty());

    let filtered = pat.get("/cases?concern=extremism").await;
    assert_eq!(filtered.select("#cases tbody tr").len(), 9);
    let closed = pat.get("/cases?status=closed").await;
    assert_eq!(closed.select("#no-cases").len(), 1);
    // Junk in the query string is ignored, not a 500.
    assert_eq!(
        pat.get("/cases?status=%00&concern=zzz&after=nope")
            .await
            .status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn lists_put_the_most_recently_received_referral_first() {
    let app = TestApp::new().await;
    let (mut pat, pat_id) = app.signed_in("practitioner").await;
    let (mut mo, _) = app.signed_in("manager").await;
    make_case(&app, pat_id, "Team A", "Esme Today", ConcernKind::Grooming).await;
    // Typed in later, but received three days ago (a referral logged after a weekend).
    let older = make_case(
        &app,
        pat_id,
        "Team A",
        "Otto Earlier",
        ConcernKind::Grooming,
    )
    .await;
    sqlx::query("UPDATE cases SET received_at = now() - interval '3 days' WHERE id = $1")
        .bind(older)
        .execute(&app.pool)
        .await
        .unwrap();
    for (c, path) in [(&mut pat, "/cases"), (&mut mo, "/cases/team")] {
        let rows = c.get(path).await.select("#cases tbody tr");
        assert!(rows[0].contains("Esme Today"), "{path}: {rows:?}");
        assert!(rows[1].contains("Otto Earlier"), "{path}: {rows:?}");
    }
    // A search lists the people found, closest match first (not by date), whoever was
    // received last.
    make_case(
        &app,
        pat_id,
        "Team A",
        "Esmeralda Todd",
        ConcernKind::Grooming,
    )
    .await;
    pat.get("/cases").await;
    let r = pat
        .post("/cases/search", &[("name", "esme"), ("scope", "mine")])
        .await;
    let rows = r.select("#cases tbody tr");
    assert!(rows.len() >= 2, "{rows:?}");
    assert!(rows[0].contains("Found: Esme Today"), "{rows:?}");
    assert!(rows[1].contains("Found: Esmeralda Todd"), "{rows:?}");
    assert!(!rows.iter().any(|r| r.contains("Otto")), "{rows:?}");
    assert!(r.select("caption")[0].contains("closest match first"));
}

#[tokio::test]
async fn name_search_is_a_post_and_finds_people_on_the_case() {
    let app = TestApp::new().await;
    let (mut pat, pat_id) = app.signed_in("practitioner").await;
    make_case(
        &app,
        pat_id,
        "Team A",
        "Mia Thornbury",
        ConcernKind::Grooming,
    )
    .await;
    make_case(
        &app,
        pat_id,
        "Team A",
        "Jordan Ellery",
        ConcernKind::Extremism,
    )
    .await;
    pat.get("/cases").await;
    let r = pat
        .post("/cases/search", &[("name", "thorn"), ("scope", "mine")])
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let rows = r.select("#cases tbody tr");
    assert_eq!(rows.len(), 1);
    assert!(rows[0].contains("Mia Thornbury"));
    // Wildcards typed by a person are matched literally.
    let r = pat
        .post("/cases/search", &[("name", "%%"), ("scope", "mine")])
        .await;
    assert!(r.select("#cases tbody tr").is_empty());
    let r = pat
        .post("/cases/search", &[("name", "m"), ("scope", "mine")])
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.attr("input[name=name]", "value"), vec!["m"]);
    // Spaces only are an error, not a list of every case.
    let r = pat
        .post("/cases/search", &[("name", "   "), ("scope", "mine")])
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        r.error_summary(),
        vec!["Enter at least 2 letters of a name to search for"]
    );
    assert!(r.select("#cases tbody tr").is_empty());
}

#[tokio::test]
async fn notes_are_added_once_and_corrections_point_at_the_original() {
    let app = TestApp::new().await;
    let (mut pat, pat_id) = app.signed_in("practitioner").await;
    let case = make_case(
        &app,
        pat_id,
        "Team A",
        "Mia Thornbury",
        ConcernKind::Grooming,
    )
    .await;
    let page = pat.get(&format!("/cases/{case}")).await;
    let idem = page.attr("input[name=_idem]", "value")[0].clone();
    let fields = [
        ("body", "Spoke to the school; device handed to police."),
        ("when-day", ""),
        ("when-month", ""),
        ("when-year", ""),
        ("time", ""),
        ("corrects", ""),
        ("_idem", idem.as_str()),
    ];
    let r = pat.post(&format!("/cases/{case}/notes"), &fields).await;
    assert_eq!(r.location(), format!("/cases/{case}#chronology"));
    // The same form sent twice creates one note.
    let again = pat.post(&format!("/cases/{case}/notes"), &fields).await;
    assert_eq!(again.location(), format!("/cases/{case}#chronology"));
    assert_eq!(app.count("SELECT count(*) FROM case_notes").await, 1);
    let page = pat.get(&format!("/cases/{case}")).await;
    assert!(page.body.contains("device handed to police"));
    let note_id: Uuid = sqlx::query_scalar("SELECT id FROM case_notes")
        .fetch_one(&app.pool)
        .await
        .unwrap();

    // A correction is a new note that refers to the first; the first is untouched.
    let form = pat.get(&format!("/cases/{case}?correct={note_id}")).await;
    assert_eq!(
        form.attr("input[name=corrects]", "value"),
        vec![note_id.to_string()]
    );
    let idem2 = form.attr("input[name=_idem]", "value")[0].clone();
    let r = pat
        .post(
            &format!("/cases/{case}/notes"),
            &[
                (
                    "body",
                    "Correction: the device went to the police on Tuesday.",
                ),
                ("when-day", ""),
                ("when-month", ""),
                ("when-year", ""),
                ("time", ""),
                ("corrects", &note_id.to_string()),
                ("_idem", &idem2),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let corrects: Option<Uuid> = sqlx::query_scalar(
        "SELECT corrects_note_id FROM case_notes WHERE corrects_note_id IS NOT NULL",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(corrects, Some(note_id));
    assert_eq!(
        app.count("SELECT count(*) FROM chronology_entries WHERE kind = 'correction'")
            .await,
        1
    );
    // Notes cannot be edited or deleted, even by the app's own database role.
    assert!(
        sqlx::query("UPDATE case_notes SET body = 'changed'")
            .execute(&app.pool)
            .await
            .is_err()
    );
    assert!(
        sqlx::query("DELETE FROM case_notes")
            .execute(&app.pool)
            .await
            .is_err()
    );
    assert!(
        app.audit_actions()
            .await
            .iter()
            .filter(|a| *a == "case.note_add")
            .count()
            == 2
    );
}

#[tokio::test]
async fn a_note_with_a_bad_date_comes_back_with_the_text_kept() {
    let app = TestApp::new().await;
    let (mut pat, pat_id) = app.signed_in("practitioner").await;
    let case = make_case(
        &app,
        pat_id,
        "Team A",
        "Mia Thornbury",
        ConcernKind::Grooming,
    )
    .await;
    let page = pat.get(&format!("/cases/{case}")).await;
    let idem = page.attr("input[name=_idem]", "value")[0].clone();
    let r = pat
        .post(
            &format!("/cases/{case}/notes"),
            &[
                ("body", "Home visit <b>done</b>"),
                ("when-day", "31"),
                ("when-month", "2"),
                ("when-year", "2026"),
                ("time", "10:00"),
                ("corrects", ""),
                ("_idem", &idem),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        r.error_summary(),
        vec!["The date it happened must be a real date"]
    );
    assert_eq!(
        r.select("textarea[name=body]"),
        vec!["Home visit <b>done</b>"]
    );
    assert_eq!(app.count("SELECT count(*) FROM case_notes").await, 0);
    assert_eq!(app.count("SELECT count(*) FROM form_submissions").await, 0);
}

#[tokio::test]
async fn a_stale_edit_shows_a_conflict_and_overwrites_nothing() {
    let app = TestApp::new().await;
    let (mut pat, pat_id) = app.signed_in("practitioner").await;
    let (mut mo, _) = app.signed_in("manager").await;
    let case = make_case(
        &app,
        pat_id,
        "Team A",
        "Mia Thornbury",
        ConcernKind::Grooming,
    )
    .await;
    let pat_form = pat.get(&format!("/cases/{case}/edit")).await;
    let mo_form = mo.get(&format!("/cases/{case}/edit")).await;
    let v1 = pat_form.attr("input[name=version]", "value")[0].clone();
    assert_eq!(mo_form.attr("input[name=version]", "value")[0], v1);

    let r = mo
        .post(
            &format!("/cases/{case}/edit"),
            &[
                ("title", "Mia T."),
                ("status", "strategy"),
                ("version", &v1),
            ],
        )
        .await;
    assert_eq!(r.location(), format!("/cases/{case}"));
    let r = pat
        .post(
            &format!("/cases/{case}/edit"),
            &[
                ("title", "Mia Thornbury (13)"),
                ("status", "closed"),
                ("version", &v1),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(r.select("h1"), vec!["Someone else changed this case"]);
    assert!(r.body.contains("Mia Thornbury (13)") && r.body.contains("Mia T."));
    let (title, status, version): (String, String, i32) =
        sqlx::query_as("SELECT title, status, version FROM cases WHERE id = $1")
            .bind(case)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(
        (title.as_str(), status.as_str(), version),
        ("Mia T.", "strategy", 2)
    );
    // The status change is in the chronology.
    let page = pat.get(&format!("/cases/{case}")).await;
    assert!(
        page.body
            .contains("Status changed from Referral received to Strategy discussion.")
    );
    // Sending the winning change again (a double click) is not a conflict.
    let r = mo
        .post(
            &format!("/cases/{case}/edit"),
            &[
                ("title", "Mia T."),
                ("status", "strategy"),
                ("version", &v1),
            ],
        )
        .await;
    assert_eq!(r.location(), format!("/cases/{case}"));
    assert_eq!(
        app.count("SELECT count(*) FROM chronology_entries WHERE kind = 'status'")
            .await,
        1
    );
    // Bad input on the edit form.
    let r = pat
        .post(
            &format!("/cases/{case}/edit"),
            &[("title", ""), ("status", "nonsense"), ("version", "2")],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.error_summary().len(), 2);
}

#[tokio::test]
async fn a_manager_sees_who_viewed_and_changed_a_case() {
    let app = TestApp::new().await;
    let (mut pat, pat_id) = app
        .signed_in_as("practitioner", "pat@example.org", "Team A")
        .await;
    let (mut mo, _) = app
        .signed_in_as("manager", "mo@example.org", "Team A")
        .await;
    let case = make_case(
        &app,
        pat_id,
        "Team A",
        "Mia Thornbury",
        ConcernKind::Grooming,
    )
    .await;
    pat.get(&format!("/cases/{case}")).await;
    let page = mo.get(&format!("/cases/{case}/audit")).await;
    assert_eq!(page.status, StatusCode::OK);
    let rows = page.select("#access tbody tr");
    assert!(
        rows.iter()
            .any(|r| r.contains("Test practitioner pat") && r.contains("Viewed the case")),
        "{rows:?}"
    );
    assert!(rows[0].contains("Looked at this record of access"));
    // Practitioners cannot open the access record.
    assert_eq!(
        pat.get(&format!("/cases/{case}/audit")).await.status,
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn a_manager_of_two_teams_sees_both_teams_cases_merged_newest_first() {
    let app = TestApp::new().await;
    let (_, pat_a) = app
        .signed_in_as("practitioner", "pa@example.org", "Team A")
        .await;
    let (_, pat_b) = app
        .signed_in_as("practitioner", "pb@example.org", "Team B")
        .await;
    app.signed_in_as("practitioner", "pc@example.org", "Team C")
        .await;
    let (mut mo, mo_id) = app
        .signed_in_as("manager", "mo@example.org", "Team A")
        .await;
    let team_b: Uuid = sqlx::query_scalar("SELECT id FROM teams WHERE name = 'Team B'")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    sqlx::query("INSERT INTO team_memberships (user_id, team_id) VALUES ($1, $2)")
        .bind(mo_id)
        .bind(team_b)
        .execute(&app.pool)
        .await
        .unwrap();
    for i in 0..30 {
        let (owner, team) = if i % 2 == 0 {
            (pat_a, "Team A")
        } else {
            (pat_b, "Team B")
        };
        make_case(
            &app,
            owner,
            team,
            &format!("Child {i:02}"),
            ConcernKind::Grooming,
        )
        .await;
    }
    let pc: Uuid = sqlx::query_scalar("SELECT id FROM users WHERE email = 'pc@example.org'")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    make_case(
        &app,
        pc,
        "Team C",
        "Other team child",
        ConcernKind::Grooming,
    )
    .await;

    let first = mo.get("/cases/team").await;
    let rows = first.select("#cases tbody tr td:nth-child(2)");
    assert_eq!(rows.len(), 25);
    let expected: Vec<String> = (5..30).rev().map(|i| format!("Child {i:02}")).collect();
    assert_eq!(rows, expected, "both teams, newest first");
    let second = mo.get(&first.attr("a[rel=next]", "href")[0]).await;
    let rows = second.select("#cases tbody tr td:nth-child(2)");
    let expected: Vec<String> = (0..5).rev().map(|i| format!("Child {i:02}")).collect();
    assert_eq!(rows, expected);
    assert!(!second.body.contains("Other team child"));
}

#[tokio::test]
async fn a_post_from_an_expired_session_changes_nothing() {
    let app = TestApp::new().await;
    let (mut pat, pat_id) = app.signed_in("practitioner").await;
    let case = make_case(
        &app,
        pat_id,
        "Team A",
        "Mia Thornbury",
        ConcernKind::Grooming,
    )
    .await;
    let page = pat.get(&format!("/cases/{case}")).await;
    let idem = page.attr("input[name=_idem]", "value")[0].clone();
    sqlx::query("UPDATE sessions SET last_seen_at = now() - interval '2 hours' WHERE user_id = $1")
        .bind(pat_id)
        .execute(&app.pool)
        .await
        .unwrap();
    let r = pat
        .post(
            &format!("/cases/{case}/notes"),
            &[
                ("body", "Written after the session ended"),
                ("corrects", ""),
                ("_idem", &idem),
            ],
        )
        .await;
    // Held for after signing in again (tests/web/held.rs), but nothing saved.
    assert_eq!(r.location(), "/sign-in?ended=1&held=1");
    assert_eq!(app.count("SELECT count(*) FROM case_notes").await, 0);
}

#[tokio::test]
async fn lists_put_a_child_at_immediate_risk_first_when_asked() {
    let app = TestApp::new().await;
    let (mut mo, mo_id) = app.signed_in("manager").await;
    let mut made = Vec::new();
    for name in [
        "Older At Risk",
        "Middle Case",
        "Newest Case",
        "Latest At Risk",
    ] {
        made.push(make_case(&app, mo_id, "Team A", name, ConcernKind::Grooming).await);
    }
    // Received an hour apart, oldest first; the first and the last made are at immediate risk.
    for (i, id) in made.iter().enumerate() {
        sqlx::query("UPDATE cases SET received_at = now() - make_interval(hours => $2), immediate_risk = $3 WHERE id = $1")
            .bind(id)
            .bind(10 - i as i32)
            .bind(i == 0 || i == 3)
            .execute(&app.pool)
            .await
            .unwrap();
    }
    let titles = |r: &crate::helpers::Res| r.select("#cases tbody tr td:nth-child(2) bdi");
    for list in ["/cases", "/cases/team"] {
        let newest = mo.get(list).await;
        assert_eq!(
            titles(&newest),
            vec![
                "Latest At Risk",
                "Newest Case",
                "Middle Case",
                "Older At Risk"
            ],
            "{list}"
        );
        let risk = mo.get(&format!("{list}?order=risk")).await;
        assert_eq!(
            titles(&risk),
            vec![
                "Latest At Risk",
                "Older At Risk",
                "Newest Case",
                "Middle Case"
            ],
            "{list}"
        );
        assert!(risk.select("caption")[0].contains("immediate risk first"));
        // The next page continues by key in the same order.
        let after = mo
            .get(&format!("{list}?order=risk&after={}", made[0]))
            .await;
        assert_eq!(titles(&after), vec!["Newest Case", "Middle Case"], "{list}");
    }
}

#[tokio::test]
async fn the_chronology_reads_either_way_and_pages_by_key() {
    let app = TestApp::new().await;
    let (mut mo, mo_id) = app.signed_in("manager").await;
    let case = make_case(
        &app,
        mo_id,
        "Team A",
        "Mia Thornbury",
        ConcernKind::Grooming,
    )
    .await;
    let start = Utc::now() - chrono::Duration::days(30);
    // The newest note has another author (the page reads each author's name once).
    let other = app
        .user("practitioner", "pra-author@example.org", "Team A")
        .await;
    let mut tx = app.pool.begin().await.unwrap();
    let mut first = None;
    for i in 0..55 {
        let id = haven::db::cases::add_note(
            &mut tx,
            case,
            &format!("Note number {i:03}"),
            start + chrono::Duration::hours(i),
            true,
            None,
            if i == 54 { other } else { mo_id },
        )
        .await
        .unwrap();
        first.get_or_insert(id);
    }
    // The first note is corrected by one far from it (on another page either way).
    haven::db::cases::add_note(
        &mut tx,
        case,
        "Correction: the first note's date was wrong",
        start + chrono::Duration::minutes(53 * 60 + 30),
        true,
        first,
        mo_id,
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    // Newest first (the default): the referral and case-opened entries (now), then the notes.
    let page = mo.get(&format!("/cases/{case}")).await;
    let entries = page.select(".haven-entry");
    assert_eq!(entries.len(), 50);
    assert!(entries[0].contains("opened"), "{}", entries[0]);
    assert!(entries[2].contains("Note number 054"), "{}", entries[2]);
    assert!(
        entries[2].contains("by Test practitioner pra"),
        "{}",
        entries[2]
    );
    assert!(entries[4].contains("Note number 053"), "{}", entries[4]);
    assert!(entries[4].contains("by Test manager man"), "{}", entries[4]);
    let older = page.attr("a[rel=next]", "href")[0].clone();
    assert!(older.contains("order=newest"));
    let page2 = mo.get(&older).await;
    let rest = page2.select(".haven-entry");
    assert_eq!(rest.len(), 58 - 50);
    assert!(rest.last().unwrap().contains("Note number 000"));
    // Marked as corrected though its correction is on the other page.
    assert!(
        rest.last().unwrap().contains("Corrected by a later note"),
        "{}",
        rest.last().unwrap()
    );
    assert!(
        entries[3].contains("Correction: the first note"),
        "{}",
        entries[3]
    );
    assert!(!entries[3].contains("Corrected by a later note"));
    // Oldest first: starts at the earliest note and reads forward.
    let page = mo.get(&format!("/cases/{case}?order=oldest")).await;
    let entries = page.select(".haven-entry");
    assert!(entries[0].contains("Note number 000"), "{}", entries[0]);
    assert!(entries[0].contains("Corrected by a later note"));
    assert!(!entries[1].contains("Corrected by a later note"));
    let later = page.attr("a[rel=next]", "href")[0].clone();
    let page2 = mo.get(&later).await;
    assert!(
        page2
            .select(".haven-entry")
            .last()
            .unwrap()
            .contains("opened")
    );
}

#[tokio::test]
async fn a_note_can_be_about_a_day_without_a_time() {
    let app = TestApp::with_env(&[("HAVEN_FIXED_TIME", "2026-12-15T10:30:00Z")]).await;
    let (mut pat, pat_id) = app.signed_in("practitioner").await;
    let case = make_case(&app, pat_id, "Team A", "Nell Garrow", ConcernKind::Grooming).await;
    let note = |day: &'static str, time: &'static str| {
        vec![
            ("body", "The school says the messages began that week."),
            ("when-day", day),
            ("when-month", "12"),
            ("when-year", "2026"),
            ("time", time),
        ]
    };
    let post = |c: &mut crate::helpers::Client, fields: Vec<(&'static str, &'static str)>| {
        let mut c = c.fork();
        async move {
            let page = c.get(&format!("/cases/{case}")).await;
            let idem = page.attr("input[name=_idem]", "value")[0].clone();
            let mut f: Vec<(&str, &str)> = fields;
            f.push(("_idem", &idem));
            c.post(&format!("/cases/{case}/notes"), &f).await
        }
    };
    // Tomorrow is refused, with the day kept.
    let r = post(&mut pat, note("16", "")).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        r.error_summary(),
        vec!["The date it happened must be today or in the past"]
    );
    assert_eq!(r.attr("#when-day", "value"), vec!["16"]);
    // A bad time is still an error; a day alone is taken.
    let r = post(&mut pat, note("3", "25:99")).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let r = post(&mut pat, note("3", "")).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{:?}", r.error_summary());
    let page = pat.get(&format!("/cases/{case}")).await;
    assert!(
        page.body.contains("3 December 2026 (no time given)"),
        "{}",
        page.body
    );
    let (at, known): (chrono::DateTime<Utc>, bool) = sqlx::query_as(
        "SELECT occurred_at, occurred_time_known FROM case_notes WHERE case_id = $1",
    )
    .bind(case)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(at.to_rfc3339(), "2026-12-03T00:00:00+00:00");
    assert!(!known);
    assert_eq!(
        app.count("SELECT count(*) FROM chronology_entries WHERE occurred_time_known = false")
            .await,
        1
    );
}

#[tokio::test]
async fn own_cases_search_pages_through_one_worker_s_people_once_each() {
    let app = TestApp::new().await;
    let (mut pat, pat_id) = app
        .signed_in_as("practitioner", "pat@example.org", "Team A")
        .await;
    let (_, sam_id) = app
        .signed_in_as("practitioner", "sam@example.org", "Team A")
        .await;
    // 30 Smiths on pat's cases, as many on a colleague's: pat's own search finds only pat's,
    // each once, over two pages, and a status filter narrows them.
    for i in 0..30 {
        for owner in [pat_id, sam_id] {
            make_case(
                &app,
                owner,
                "Team A",
                &format!("Kid{i:02} Smith"),
                ConcernKind::Grooming,
            )
            .await;
        }
    }
    sqlx::query(
        "UPDATE cases SET status = 'closed' WHERE owner_id = $1
         AND id IN (SELECT case_id FROM case_people WHERE full_name LIKE 'Kid0%')",
    )
    .bind(pat_id)
    .execute(&app.pool)
    .await
    .unwrap();
    pat.get("/cases").await;
    let first = pat
        .post("/cases/search", &[("name", "smith"), ("scope", "mine")])
        .await;
    let after = first.attr("input[name=after]", "value");
    assert_eq!(after.len(), 1, "{}", first.body);
    let second = pat
        .post(
            "/cases/search",
            &[("name", "smith"), ("scope", "mine"), ("after", &after[0])],
        )
        .await;
    let mut seen: Vec<String> = first
        .select("#cases tbody tr")
        .into_iter()
        .chain(second.select("#cases tbody tr"))
        .collect();
    assert_eq!(seen.len(), 30, "{seen:#?}");
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 30, "a person shown twice");
    let owned: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM case_people p JOIN cases c ON c.id = p.case_id
         WHERE c.owner_id = $1 AND p.full_name LIKE 'Kid% Smith'",
    )
    .bind(pat_id)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(owned, 30);
    let open = pat
        .post(
            "/cases/search",
            &[("name", "smith"), ("scope", "mine"), ("status", "open")],
        )
        .await;
    let rows = open.select("#cases tbody tr");
    assert_eq!(rows.len(), 20, "{rows:#?}");
    assert!(rows.iter().all(|r| !r.contains("Kid0")), "{rows:#?}");
}

#[tokio::test]
async fn a_date_of_birth_narrows_a_name_search_to_the_person_meant_on_every_page() {
    let app = TestApp::new().await;
    let (mut pat, pat_id) = app
        .signed_in_as("practitioner", "pat@example.org", "Team A")
        .await;
    let (mut mo, _) = app
        .signed_in_as("manager", "mo@example.org", "Team A")
        .await;
    // 30 children called Smith born on one day, 10 born on another, 5 with no date known; and
    // two children with the same rarer name, told apart only by their dates of birth.
    let mut children: Vec<(String, Option<&str>)> = (0..45)
        .map(|i| {
            let born = match i {
                0..30 => Some("2013-11-04"),
                30..40 => Some("2015-02-01"),
                _ => None,
            };
            (format!("Kid{i:02} Smith"), born)
        })
        .collect();
    children.push(("Wren Halloway".into(), Some("2012-06-30")));
    children.push(("Wren Halloway".into(), Some("2016-01-15")));
    for (name, born) in &children {
        let case = make_case(&app, pat_id, "Team A", name, ConcernKind::Grooming).await;
        sqlx::query("UPDATE case_people SET date_of_birth = $2::date WHERE case_id = $1")
            .bind(case)
            .bind(born)
            .execute(&app.pool)
            .await
            .unwrap();
    }
    pat.get("/cases").await;
    let both = pat
        .post(
            "/cases/search",
            &[("name", "wren halloway"), ("scope", "mine")],
        )
        .await;
    assert_eq!(both.select("#cases tbody tr").len(), 2, "{}", both.body);
    let dob = |d: &'static str, m: &'static str, y: &'static str| {
        [("dob-day", d), ("dob-month", m), ("dob-year", y)]
    };
    let mut form = vec![("name", "wren halloway"), ("scope", "mine")];
    form.extend(dob("15", "1", "2016"));
    let one = pat.post("/cases/search", &form).await;
    assert_eq!(one.status, StatusCode::OK);
    let rows = one.select("#cases tbody tr");
    assert_eq!(rows.len(), 1, "{rows:#?}");
    assert!(rows[0].contains("born 15 January 2016"), "{rows:#?}");
    // The form shows the date back, to change or clear it.
    assert_eq!(one.attr("input[name=dob-year]", "value"), vec!["2016"]);

    // A manager's team search narrows the same way, and the date carries to the next page.
    mo.get("/cases/team").await;
    let mut form = vec![("name", "smith"), ("scope", "team")];
    form.extend(dob("4", "11", "2013"));
    let first = mo.post("/cases/search", &form).await;
    assert_eq!(first.status, StatusCode::OK);
    let after = first.attr("input[name=after]", "value");
    assert_eq!(after.len(), 1, "{}", first.body);
    assert_eq!(
        first.attr("input[type=hidden][name=dob-day]", "value"),
        vec!["4"]
    );
    assert_eq!(
        first.attr("input[type=hidden][name=dob-month]", "value"),
        vec!["11"]
    );
    assert_eq!(
        first.attr("input[type=hidden][name=dob-year]", "value"),
        vec!["2013"]
    );
    let mut next = vec![
        ("name", "smith"),
        ("scope", "team"),
        ("after", after[0].as_str()),
    ];
    next.extend(dob("4", "11", "2013"));
    let second = mo.post("/cases/search", &next).await;
    let mut seen: Vec<String> = first
        .select("#cases tbody tr")
        .into_iter()
        .chain(second.select("#cases tbody tr"))
        .collect();
    assert!(
        seen.iter().all(|r| r.contains("born 4 November 2013")),
        "{seen:#?}"
    );
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 30, "each of the 30 once: {seen:#?}");

    // The trail says a date narrowed the search, never which.
    let details: serde_json::Value = sqlx::query_scalar(
        "SELECT details::jsonb FROM audit_events WHERE action = 'case.search' ORDER BY seq DESC LIMIT 1",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(
        details["terms"],
        serde_json::json!({"characters": 5, "words": 1, "date_of_birth": true}),
        "{details}"
    );
    let text = details.to_string();
    assert!(
        !text.contains("2013-11-04") && !text.contains("November"),
        "{details}"
    );

    // A date that is not one, or is still to come: the message on the form, what was typed kept,
    // nothing searched and nothing recorded.
    let searches = app
        .count("SELECT count(*) FROM audit_events WHERE action = 'case.search'")
        .await;
    for (d, m, y, message) in [
        ("31", "2", "2013", "Date of birth must be a real date"),
        (
            "4",
            "11",
            "2099",
            "Date of birth must be today or in the past",
        ),
        (
            "4",
            "nov",
            "2013",
            "Date of birth must be a real date, with the day, month and year as numbers",
        ),
    ] {
        let mut form = vec![("name", "smith"), ("scope", "mine")];
        form.extend([("dob-day", d), ("dob-month", m), ("dob-year", y)]);
        let r = pat.post("/cases/search", &form).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{d} {m} {y}");
        assert_eq!(r.error_summary(), vec![message]);
        assert_eq!(r.attr("input[name=name]", "value"), vec!["smith"]);
        assert_eq!(r.attr("input[name=dob-month]", "value"), vec![m]);
        assert!(r.select("#cases tbody tr").is_empty());
    }
    // A name too short and a wrong date: both said at once.
    let r = pat
        .post(
            "/cases/search",
            &[
                ("name", "s"),
                ("scope", "mine"),
                ("dob-day", "31"),
                ("dob-month", "2"),
                ("dob-year", "2013"),
            ],
        )
        .await;
    assert_eq!(
        r.error_summary(),
        vec![
            "Enter at least 2 letters of the name",
            "Date of birth must be a real date"
        ]
    );
    assert_eq!(
        app.count("SELECT count(*) FROM audit_events WHERE action = 'case.search'")
            .await,
        searches
    );
}

#[tokio::test]
async fn name_search_walks_each_team_s_people_and_follows_a_case_to_its_new_team() {
    let app = TestApp::new().await;
    let (mut pat, pat_id) = app
        .signed_in_as("practitioner", "pat@example.org", "Team A")
        .await;
    let (mut mo, mo_id) = app
        .signed_in_as("manager", "mo@example.org", "Team A")
        .await;
    let (mut bea, _) = app
        .signed_in_as("practitioner", "bea@example.org", "Team B")
        .await;
    // Many Smiths in the team, only one of them on pat's own case.
    for i in 0..30 {
        make_case(
            &app,
            mo_id,
            "Team A",
            &format!("Child{i} Smith"),
            ConcernKind::Grooming,
        )
        .await;
    }
    let mine = make_case(&app, pat_id, "Team A", "Quinn Smith", ConcernKind::Grooming).await;
    pat.get("/cases").await;
    let r = pat
        .post("/cases/search", &[("name", "smith"), ("scope", "mine")])
        .await;
    let rows = r.select("#cases tbody tr");
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert!(rows[0].contains("Quinn Smith"));
    // The team search pages by key, closest first.
    mo.get("/cases/team").await;
    let first = mo
        .post("/cases/search", &[("name", "smith"), ("scope", "team")])
        .await;
    let after = first.attr("input[name=after]", "value");
    assert_eq!(
        first.select("#cases tbody tr").len(),
        25,
        "a full first page"
    );
    assert_eq!(after.len(), 1, "{}", first.body);
    let second = mo
        .post(
            "/cases/search",
            &[("name", "smith"), ("scope", "team"), ("after", &after[0])],
        )
        .await;
    assert_eq!(second.select("#cases tbody tr").len(), 6);
    // Another team finds none of them; moved to Team B, the case is found there and not here.
    bea.get("/cases").await;
    let none = bea
        .post(
            "/cases/search",
            &[("name", "quinn smith"), ("scope", "mine")],
        )
        .await;
    assert!(none.select("#cases tbody tr").is_empty());
    sqlx::query(
        "UPDATE cases SET team_id = (SELECT id FROM teams WHERE name = 'Team B') WHERE id = $1",
    )
    .bind(mine)
    .execute(&app.pool)
    .await
    .unwrap();
    let team_of_person: String = sqlx::query_scalar(
        "SELECT t.name FROM case_people p JOIN teams t ON t.id = p.team_id WHERE p.case_id = $1",
    )
    .bind(mine)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(team_of_person, "Team B");
}

#[tokio::test]
async fn name_search_indexes_keep_signatures_long_enough_to_rule_out_pages() {
    // With the default 12-byte signatures, a rare surname across a large team walked most of the
    // team's part of the index (1,853 buffers, 16.6 ms, at a million cases; docs/performance.md,
    // sixth round). Both indexes the search walks are built with 64-byte ones.
    let app = TestApp::new().await;
    let defs: Vec<(String, String)> = sqlx::query_as(
        "SELECT indexname::text, indexdef FROM pg_indexes
         WHERE indexname IN ('case_people_team_name', 'case_people_owner_name') ORDER BY indexname",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(defs.len(), 2, "{defs:?}");
    for (name, def) in defs {
        assert!(def.contains("gist_trgm_ops (siglen='64')"), "{name}: {def}");
    }
}

#[tokio::test]
async fn a_correction_must_be_a_note_of_the_same_case() {
    // The case page reads a case's corrections from the case's own notes, so the database
    // refuses a correction that points at another case's note.
    let app = TestApp::new().await;
    let (_mo, mo_id) = app.signed_in("manager").await;
    let one = make_case(
        &app,
        mo_id,
        "Team A",
        "Ivy Marchbank",
        ConcernKind::Grooming,
    )
    .await;
    let other = make_case(&app, mo_id, "Team A", "Otis Fenwick", ConcernKind::Grooming).await;
    let mut conn = app.pool.acquire().await.unwrap();
    let note = haven::db::cases::add_note(&mut conn, one, "First", Utc::now(), true, None, mo_id)
        .await
        .unwrap();
    let across = haven::db::cases::add_note(
        &mut conn,
        other,
        "Wrong",
        Utc::now(),
        true,
        Some(note),
        mo_id,
    )
    .await;
    let err = across.expect_err("a correction from another case was saved");
    assert!(err.to_string().contains("same case"), "{err}");
    haven::db::cases::add_note(&mut conn, one, "Right", Utc::now(), true, Some(note), mo_id)
        .await
        .expect("a correction in the same case");
}
