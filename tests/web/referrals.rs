//! The referral journey, end to end through the router, and what it does with bad input.

use axum::http::StatusCode;
use chrono::{Datelike, Duration, Utc};
use haven::domain::time::london_date;

use crate::helpers::{Client, TestApp};

fn yesterday() -> (String, String, String) {
    let d = london_date(Utc::now() - Duration::days(1));
    (
        d.day().to_string(),
        d.month().to_string(),
        d.year().to_string(),
    )
}

/// Start a referral and return the draft's address prefix (`/referrals/{id}`).
pub async fn start(c: &mut Client) -> String {
    let page = c.get("/referrals/new").await;
    assert_eq!(page.status, StatusCode::OK);
    let r = c.post("/referrals", &[]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let loc = r.location().to_owned();
    assert!(loc.ends_with("/referrer"), "{loc}");
    c.get(&loc).await;
    loc.trim_end_matches("/referrer").to_owned()
}

/// Answer every page with good data; returns the draft prefix, ready for the check page.
pub async fn fill_referral(c: &mut Client, child: &str, account: &str) -> String {
    let base = start(c).await;
    let r = c
        .post(
            &format!("{base}/referrer"),
            &[
                ("name", "Priya Nandakumar"),
                ("role", "Designated safeguarding lead"),
                ("agency", "Fernhill Academy"),
                ("contact", "01632 960 123"),
            ],
        )
        .await;
    assert_eq!(r.location(), format!("{base}/received"));
    c.get(r.location()).await;
    let (d, m, y) = yesterday();
    let r = c
        .post(
            &format!("{base}/received"),
            &[
                ("received-day", &d),
                ("received-month", &m),
                ("received-year", &y),
                ("time", "9:15am"),
            ],
        )
        .await;
    assert_eq!(r.location(), format!("{base}/children"), "{}", r.body);
    c.get(r.location()).await;
    let r = c
        .post(
            &format!("{base}/children"),
            &[
                ("name", child),
                ("sex", "female"),
                ("dob-day", "4"),
                ("dob-month", "11"),
                ("dob-year", "2013"),
                ("age", ""),
                ("school", "Fernhill Academy"),
                ("household", "Mother and stepfather"),
                ("action", "add"),
            ],
        )
        .await;
    assert_eq!(r.location(), format!("{base}/children"), "{}", r.body);
    let page = c.get(r.location()).await;
    assert!(page.body.contains(child));
    let r = c
        .post(
            &format!("{base}/children"),
            &[
                ("name", ""),
                ("dob-day", ""),
                ("dob-month", ""),
                ("dob-year", ""),
                ("age", ""),
                ("school", ""),
                ("household", ""),
                ("action", "continue"),
            ],
        )
        .await;
    assert_eq!(r.location(), format!("{base}/adults"));
    c.get(r.location()).await;
    let r = c
        .post(
            &format!("{base}/adults"),
            &[
                ("name", "Gary Pellow"),
                ("relationship", "alleged"),
                ("household", ""),
                ("action", "add"),
            ],
        )
        .await;
    assert_eq!(r.location(), format!("{base}/adults"), "{}", r.body);
    c.get(r.location()).await;
    let r = c
        .post(
            &format!("{base}/adults"),
            &[("name", ""), ("household", ""), ("action", "continue")],
        )
        .await;
    assert_eq!(r.location(), format!("{base}/concerns"));
    c.get(r.location()).await;
    let r = c
        .post(
            &format!("{base}/concerns"),
            &[("concerns", "grooming"), ("concerns", "harmful_material")],
        )
        .await;
    assert_eq!(r.location(), format!("{base}/account"));
    c.get(r.location()).await;
    let r = c
        .post(&format!("{base}/account"), &[("account", account)])
        .await;
    assert_eq!(r.location(), format!("{base}/risk"));
    c.get(r.location()).await;
    let r = c
        .post(
            &format!("{base}/risk"),
            &[("risk", "yes"), ("details", "Planned meeting on Saturday")],
        )
        .await;
    assert_eq!(r.location(), format!("{base}/work"));
    c.get(r.location()).await;
    let r = c
        .post(
            &format!("{base}/work"),
            &[("works", "yes"), ("details", "Volunteer at a youth club")],
        )
        .await;
    assert_eq!(r.location(), format!("{base}/check"));
    base
}

#[tokio::test]
async fn practitioner_logs_a_referral_and_lands_on_the_new_case() {
    let app = TestApp::new().await;
    let (mut c, me) = app.signed_in("practitioner").await;
    let start_page = c.get("/referrals/new").await;
    assert!(
        start_page
            .body
            .contains("Do not tell the child&#x27;s family")
            || start_page.body.contains("Do not tell the child's family")
    );
    let account = "She said: <script>alert('x')</script> and '; DROP TABLE cases; --";
    let base = fill_referral(&mut c, "Mia Thornbury", account).await;

    let check = c.get(&format!("{base}/check")).await;
    assert_eq!(check.status, StatusCode::OK);
    let text = check.select(".govuk-summary-list__value").join(" | ");
    assert!(text.contains("Mia Thornbury") || check.body.contains("Mia Thornbury"));
    assert!(
        text.contains("Grooming") && text.contains("Harmful material"),
        "{text}"
    );
    assert!(check.body.contains("Do not tell"));
    assert!(
        check
            .attr(".govuk-summary-list__actions a", "href")
            .iter()
            .any(|h| h.ends_with("/children"))
    );

    let r = c.post(&format!("{base}/check"), &[]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let case_path = r.location().trim_end_matches("?created=1").to_owned();
    let page = c.follow(&r).await;
    assert_eq!(page.status, StatusCode::OK);
    let year = Utc::now().year();
    assert_eq!(
        page.select(".govuk-caption-l")[0],
        format!("HVN-{year}-000001")
    );
    assert_eq!(page.select("h1"), vec!["Mia Thornbury"]);
    assert!(page.select(".govuk-notification-banner__heading")[0].contains("saved"));
    // The sex given at intake is on the case.
    assert!(
        page.select("#children li")[0].contains("Female"),
        "{:?}",
        page.select("#children li")
    );
    // The narrative is escaped, not executed, and stored exactly as typed.
    assert!(!page.body.contains("<script>alert"));
    assert!(
        page.body.contains("&lt;script&gt;") || page.body.contains("&#60;script&#62;"),
        "escaped"
    );
    assert_eq!(
        page.select("#account")[0],
        account.split_whitespace().collect::<Vec<_>>().join(" ")
    );
    let stored: String = sqlx::query_scalar("SELECT account FROM referrals")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(stored, account);

    // The case, its people, its referral and its chronology.
    let (owner, status, concerns, risk): (uuid::Uuid, String, Vec<String>, bool) =
        sqlx::query_as("SELECT owner_id, status, concern_kinds, immediate_risk FROM cases")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(owner, me);
    assert_eq!(status, "open");
    assert_eq!(concerns, vec!["grooming", "harmful_material"]);
    assert!(risk);
    let people: Vec<(String, String, Option<String>)> =
        sqlx::query_as("SELECT kind, full_name, relationship FROM case_people ORDER BY kind DESC")
            .fetch_all(&app.pool)
            .await
            .unwrap();
    assert_eq!(
        people,
        vec![
            ("child".into(), "Mia Thornbury".into(), None),
            ("adult".into(), "Gary Pellow".into(), Some("alleged".into()))
        ]
    );
    let kinds: Vec<String> =
        sqlx::query_scalar("SELECT kind FROM chronology_entries ORDER BY occurred_at, kind")
            .fetch_all(&app.pool)
            .await
            .unwrap();
    let events: Vec<&String> = kinds.iter().filter(|k| *k != "deadline").collect();
    assert_eq!(events.len(), 3);
    assert!(
        kinds.contains(&"referral".to_owned())
            && kinds.contains(&"risk".to_owned())
            && kinds.contains(&"case".to_owned())
    );
    // The clocks the referral starts are set, and say so in the chronology: the decision, the
    // same-day strategy discussion (a child at immediate risk), the assessment and the LADO.
    assert_eq!(kinds.iter().filter(|k| *k == "deadline").count(), 4);
    assert_eq!(page.select(".haven-entry").len(), kinds.len());
    let actions = app.audit_actions().await;
    for a in [
        "referral.start",
        "referral.draft_update",
        "case.create",
        "case.view",
    ] {
        assert!(
            actions.contains(&a.to_owned()),
            "missing audit {a}: {actions:?}"
        );
    }
    let audited_case: Option<uuid::Uuid> =
        sqlx::query_scalar("SELECT case_id FROM audit_events WHERE action = 'case.create'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(format!("/cases/{}", audited_case.unwrap()), case_path);

    // Submitting again (double click, back button) creates nothing new and goes to the same case.
    let again = c.post(&format!("{base}/check"), &[]).await;
    assert_eq!(again.location(), case_path);
    assert_eq!(app.count("SELECT count(*) FROM cases").await, 1);
    // The draft's pages now lead to the case too.
    assert_eq!(
        c.get(&format!("{base}/referrer")).await.location(),
        case_path
    );
    // An answer sent from a page of it left open in another tab is not saved, and the case says
    // so; nothing is recorded as a change to the draft.
    let updates = app
        .count("SELECT count(*) FROM audit_events WHERE action = 'referral.draft_update'")
        .await;
    let late = c
        .post(
            &format!("{base}/referrer"),
            &[
                ("name", "Someone Else"),
                ("role", "Teacher"),
                ("agency", "Another School"),
                ("contact", "01632 960 999"),
            ],
        )
        .await;
    assert_eq!(late.status, StatusCode::SEE_OTHER);
    assert_eq!(late.location(), format!("{case_path}?not_saved=1"));
    let shown = c.follow(&late).await;
    assert_eq!(
        shown.select(".govuk-notification-banner__title"),
        vec!["Your last answer was not saved"]
    );
    let agency: String =
        sqlx::query_scalar("SELECT data->'referrer'->>'agency' FROM referral_drafts")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(agency, "Fernhill Academy");
    assert_eq!(
        app.count("SELECT count(*) FROM audit_events WHERE action = 'referral.draft_update'")
            .await,
        updates
    );
    // Removing a person from the sent referral is refused the same way.
    let removed = c.post(&format!("{base}/children/remove/0"), &[]).await;
    assert_eq!(removed.location(), format!("{case_path}?not_saved=1"));
}

#[tokio::test]
async fn the_check_page_is_not_reachable_until_every_question_is_answered() {
    let app = TestApp::new().await;
    let (mut c, _) = app.signed_in("practitioner").await;
    let base = start(&mut c).await;
    assert_eq!(
        c.get(&format!("{base}/check")).await.location(),
        format!("{base}/referrer")
    );
    assert_eq!(
        c.post(&format!("{base}/check"), &[]).await.location(),
        format!("{base}/referrer")
    );
    assert_eq!(app.count("SELECT count(*) FROM cases").await, 0);
}

#[tokio::test]
async fn empty_and_overlong_answers_come_back_with_messages_and_what_was_typed() {
    let app = TestApp::new().await;
    let (mut c, _) = app.signed_in("practitioner").await;
    let base = start(&mut c).await;
    let r = c
        .post(
            &format!("{base}/referrer"),
            &[
                ("name", ""),
                ("role", "  "),
                ("agency", "Fernhill"),
                ("contact", ""),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.error_summary().len(), 3);
    assert_eq!(r.attr("input[name=agency]", "value"), vec!["Fernhill"]);
    assert!(r.select("title")[0].starts_with("Error:"));
    // Each summary entry links to its field.
    assert_eq!(
        r.attr(".govuk-error-summary__list a", "href"),
        vec!["#name", "#role", "#contact"]
    );

    let big = "x".repeat(100 * 1024);
    let r = c
        .post(
            &format!("{base}/referrer"),
            &[
                ("name", &big),
                ("role", "Teacher"),
                ("agency", "Fernhill"),
                ("contact", "01632"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        r.error_summary(),
        vec!["The referrer's name must be 200 characters or fewer"]
    );
    let draft: serde_json::Value = sqlx::query_scalar("SELECT data FROM referral_drafts")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert!(
        draft.get("referrer").is_none_or(|v| v.is_null()),
        "nothing saved half-way: {draft}"
    );
}

#[tokio::test]
async fn nul_bytes_and_invalid_utf8_get_a_message_not_a_500() {
    let app = TestApp::new().await;
    let (mut c, _) = app.signed_in("practitioner").await;
    let base = start(&mut c).await;
    let r = c
        .post_raw(
            &format!("{base}/referrer"),
            b"name=Sam%00Lee&role=Teacher%FF&agency=School&contact=01632",
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let errors = r.error_summary();
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert!(errors.iter().all(|e| e.contains("cannot store")));
    // What could be kept is kept.
    assert_eq!(r.attr("input[name=agency]", "value"), vec!["School"]);
}

#[tokio::test]
async fn impossible_dates_and_times_are_refused_clearly() {
    let app = TestApp::new().await;
    let (mut c, _) = app.signed_in("practitioner").await;
    let base = start(&mut c).await;
    let r = c
        .post(
            &format!("{base}/received"),
            &[
                ("received-day", "31"),
                ("received-month", "2"),
                ("received-year", "2026"),
                ("time", "25:00"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let errors = r.error_summary();
    assert!(
        errors.contains(&"The date the referral was received must be a real date".to_owned()),
        "{errors:?}"
    );
    assert!(
        errors.iter().any(|e| e.contains("hours and minutes")),
        "{errors:?}"
    );
    assert_eq!(r.attr("input[name=received-day]", "value"), vec!["31"]);
    // A child's date of birth and an age that contradicts it: refused, nothing added.
    let dob = chrono::NaiveDate::from_ymd_opt(2013, 11, 4).unwrap();
    let today = haven::domain::time::london_date(chrono::Utc::now());
    let real_age = haven::domain::people::age_on(dob, today);
    let wrong_age = (real_age - 4).to_string();
    let r = c
        .post(
            &format!("{base}/children"),
            &[
                ("name", "Mira Quell"),
                ("sex", "female"),
                ("dob-day", "4"),
                ("dob-month", "11"),
                ("dob-year", "2013"),
                ("age", &wrong_age),
                ("school", ""),
                ("household", ""),
                ("action", "add"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        r.error_summary(),
        vec![format!(
            "The date of birth makes the child {real_age} years old, not {wrong_age}: correct one, or leave the age blank"
        )]
    );
    assert_eq!(r.attr("input[name=sex][checked]", "value"), vec!["female"]);
    assert_eq!(r.attr("#name", "value"), vec!["Mira Quell"]);
    let data: String = sqlx::query_scalar("SELECT data::text FROM referral_drafts")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert!(!data.contains("Mira"), "nothing saved: {data}");
    // Spring-forward hour.
    let r = c
        .post(
            &format!("{base}/received"),
            &[
                ("received-day", "29"),
                ("received-month", "3"),
                ("received-year", "2026"),
                ("time", "01:30"),
            ],
        )
        .await;
    assert!(r.error_summary()[0].contains("clocks went forward"));
    // In the future.
    let r = c
        .post(
            &format!("{base}/received"),
            &[
                ("received-day", "1"),
                ("received-month", "1"),
                ("received-year", "2099"),
                ("time", "10:00"),
            ],
        )
        .await;
    assert!(r.error_summary()[0].contains("in the past"));
    // A child's date of birth of 31 February.
    let r = c
        .post(
            &format!("{base}/children"),
            &[
                ("name", "Sam"),
                ("dob-day", "31"),
                ("dob-month", "2"),
                ("dob-year", "2014"),
                ("age", ""),
                ("school", ""),
                ("household", ""),
                ("action", "add"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.error_summary(), vec!["Date of birth must be a real date"]);
    assert_eq!(r.attr("input[name=name]", "value"), vec!["Sam"]);
    // An adult is not a child.
    let r = c
        .post(
            &format!("{base}/children"),
            &[
                ("name", "Sam"),
                ("dob-day", "1"),
                ("dob-month", "1"),
                ("dob-year", "1990"),
                ("age", ""),
                ("school", ""),
                ("household", ""),
                ("action", "add"),
            ],
        )
        .await;
    assert!(r.error_summary()[0].contains("under 18"));
    // Continue with no children.
    let r = c
        .post(&format!("{base}/children"), &[("action", "continue")])
        .await;
    assert!(r.error_summary()[0].contains("at least one child"));
}

#[tokio::test]
async fn questions_that_need_an_answer_say_so() {
    let app = TestApp::new().await;
    let (mut c, _) = app.signed_in("practitioner").await;
    let base = start(&mut c).await;
    let r = c.post(&format!("{base}/concerns"), &[]).await;
    assert_eq!(
        r.error_summary(),
        vec!["Select at least one kind of concern"]
    );
    let r = c
        .post(&format!("{base}/concerns"), &[("concerns", "not_a_kind")])
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let r = c
        .post(&format!("{base}/risk"), &[("risk", "yes"), ("details", "")])
        .await;
    assert_eq!(r.error_summary(), vec!["Enter what the immediate risk is"]);
    assert_eq!(r.attr("input[name=risk][checked]", "value"), vec!["yes"]);
    let r = c
        .post(
            &format!("{base}/work"),
            &[("works", "maybe"), ("details", "")],
        )
        .await;
    assert_eq!(
        r.error_summary(),
        vec!["Select whether the person works or volunteers with children"]
    );
    let r = c
        .post(&format!("{base}/account"), &[("account", "   ")])
        .await;
    assert_eq!(
        r.error_summary(),
        vec!["Enter what happened, in the referrer's words"]
    );
}

#[tokio::test]
async fn someone_elses_draft_is_not_found() {
    let app = TestApp::new().await;
    let (mut a, _) = app.signed_in("practitioner").await;
    let base = start(&mut a).await;
    let (mut b, _) = app.signed_in("practitioner").await;
    b.get("/referrals/new").await;
    assert_eq!(
        b.get(&format!("{base}/referrer")).await.status,
        StatusCode::NOT_FOUND
    );
    let r = b
        .post(
            &format!("{base}/referrer"),
            &[
                ("name", "X"),
                ("role", "Y"),
                ("agency", "Z"),
                ("contact", "W"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(
        b.get(&format!("{base}/not-a-step")).await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn an_unfinished_referral_can_be_picked_up_again() {
    let app = TestApp::new().await;
    let (mut c, _) = app.signed_in("practitioner").await;
    let base = start(&mut c).await;
    c.post(
        &format!("{base}/referrer"),
        &[
            ("name", "Priya Nandakumar"),
            ("role", "DSL"),
            ("agency", "Fernhill Academy"),
            ("contact", "01632"),
        ],
    )
    .await;
    let page = c.get("/referrals/new").await;
    assert_eq!(
        page.select("#drafts li a"),
        vec!["Referral from Priya Nandakumar"]
    );
    // The link goes to the first unanswered question.
    assert_eq!(
        page.attr("#drafts li a", "href"),
        vec![format!("{base}/received")]
    );
    // Another practitioner does not see it.
    let (mut other, _) = app.signed_in("practitioner").await;
    assert!(
        other
            .get("/referrals/new")
            .await
            .select("#drafts li")
            .is_empty()
    );
}

#[tokio::test]
async fn a_person_half_way_through_signing_in_can_sign_out() {
    let app = TestApp::new().await;
    app.user("lado", "lee@example.org", "LADO team").await;
    let mut c = app.client();
    c.sign_in("lee@example.org", crate::helpers::PASSWORD).await;
    let page = c.get("/sign-in/set-up-code").await;
    assert_eq!(
        page.select("button.haven-link-button"),
        vec!["Cancel and sign out"]
    );
    let r = c.post("/sign-out", &[]).await;
    assert_eq!(r.location(), "/sign-in?signed_out=1");
    assert_eq!(
        app.count("SELECT count(*) FROM sessions WHERE ended_at IS NULL")
            .await,
        0
    );
}

/// A referral takes the year's next number last, just before its commit: the counter's row is
/// locked from then until the commit, so by the time a submission waits for it, everything else
/// (the case, its people, its deadlines, its chronology) is already written, and referrals queue
/// on the counter only for each other's last few statements.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_referral_takes_its_number_last_and_never_keeps_a_stand_in() {
    let app = TestApp::new().await;
    let (mut c, _) = app.signed_in("practitioner").await;
    let base = fill_referral(&mut c, "Ida Quarrington", "A fictional account.").await;
    c.get(&format!("{base}/check")).await;
    // Someone else holds this year's counter.
    let year = Utc::now().year();
    let mut holder = app.owner().await;
    sqlx::query("INSERT INTO case_reference_counters (year, last_number) VALUES ($1, 0) ON CONFLICT DO NOTHING")
        .bind(year)
        .execute(&mut holder)
        .await
        .unwrap();
    sqlx::query("BEGIN").execute(&mut holder).await.unwrap();
    sqlx::query("SELECT last_number FROM case_reference_counters WHERE year = $1 FOR UPDATE")
        .bind(year)
        .execute(&mut holder)
        .await
        .unwrap();
    let path = format!("{base}/check");
    let submit = tokio::spawn(async move { c.post(&path, &[]).await });
    // Wait until the submission waits for the counter, then see what it has already written.
    let mut watcher = app.owner().await;
    let mut waiting = None;
    for _ in 0..200 {
        waiting = sqlx::query_scalar::<_, i32>(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database()
               AND wait_event_type = 'Lock' AND query LIKE '%case_reference_counters%'",
        )
        .fetch_optional(&mut watcher)
        .await
        .unwrap();
        if waiting.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    let pid = waiting.expect("the submission waits for the counter");
    let written: Vec<String> = sqlx::query_scalar(
        "SELECT l.relation::regclass::text FROM pg_locks l
         WHERE l.pid = $1 AND l.granted AND l.mode = 'RowExclusiveLock'
           AND l.relation IN ('cases'::regclass, 'case_people'::regclass, 'deadlines'::regclass,
                              'chronology_entries'::regclass, 'referral_drafts'::regclass)
         ORDER BY 1",
    )
    .bind(pid)
    .fetch_all(&mut watcher)
    .await
    .unwrap();
    assert_eq!(
        written,
        vec![
            "case_people",
            "cases",
            "chronology_entries",
            "deadlines",
            "referral_drafts"
        ],
        "everything but the number is written before the counter is asked"
    );
    sqlx::query("ROLLBACK").execute(&mut holder).await.unwrap();
    let r = submit.await.unwrap();
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let reference: String = sqlx::query_scalar("SELECT reference FROM cases")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(reference, format!("HVN-{year}-000001"));
    assert_eq!(
        app.count("SELECT count(*) FROM chronology_entries WHERE summary LIKE 'Case HVN-%opened.'")
            .await,
        1
    );
}
