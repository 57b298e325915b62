//! The LADO path through the router with a fixed clock: the same-day steps and their clocks,
//! breaches that survive late completion, restricted records nobody else can find, break-glass,
//! step-up, the outcome and its review date, and bad input at each form.

use axum::http::StatusCode;
use chrono::{DateTime, TimeZone, Utc};
use uuid::Uuid;

use crate::helpers::{Client, PASSWORD, TestApp};

fn utc(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, h, min, 0).unwrap()
}

/// (day, month, year, time) as the forms take them.
type When<'a> = (&'a str, &'a str, &'a str, &'a str);

/// Open an allegation through the form, as the LADO; returns its id.
pub async fn open_allegation(
    c: &mut Client,
    subject: &str,
    subject_email: &str,
    arose: When<'_>,
    contact: When<'_>,
) -> Uuid {
    c.get("/lado/allegations/new").await;
    let r = c
        .post(
            "/lado/allegations",
            &[
                ("contact_kind", "phone"),
                ("contact-day", contact.0),
                ("contact-month", contact.1),
                ("contact-year", contact.2),
                ("contact_time", contact.3),
                ("contact_from", "Priya Nandakumar, DSL, Fernhill Academy"),
                ("source_case", ""),
                ("subject_name", subject),
                ("subject_role", "Teaching assistant"),
                ("subject_employer", "Fernhill Academy"),
                ("setting", "school"),
                ("subject_email", subject_email),
                ("arose-day", arose.0),
                ("arose-month", arose.1),
                ("arose-year", arose.2),
                ("arose_time", arose.3),
                (
                    "concern_how",
                    "A pupil showed the DSL messages sent on a gaming platform.",
                ),
                ("conduct", "outside_work"),
                ("case_manager", "Head teacher"),
            ],
        )
        .await;
    assert_eq!(
        r.status,
        StatusCode::SEE_OTHER,
        "{}",
        r.error_summary().join("; ")
    );
    r.location().rsplit('/').next().unwrap().parse().unwrap()
}

async fn due(app: &TestApp, id: Uuid, step: &str) -> Option<DateTime<Utc>> {
    sqlx::query_scalar("SELECT due_at FROM escalation_steps WHERE allegation_id = $1 AND step = $2")
        .bind(id)
        .bind(step)
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

async fn breaches(app: &TestApp, id: Uuid) -> Vec<String> {
    sqlx::query_scalar(
        "SELECT step FROM allegation_breaches WHERE allegation_id = $1 ORDER BY step",
    )
    .bind(id)
    .fetch_all(&app.pool)
    .await
    .unwrap()
}

async fn record_step(c: &mut Client, id: Uuid, step: &str, done: When<'_>) -> crate::helpers::Res {
    c.get(&format!("/lado/allegations/{id}/forms/step-{step}"))
        .await;
    c.post(
        &format!("/lado/allegations/{id}/steps/{step}"),
        &[
            ("done-day", done.0),
            ("done-month", done.1),
            ("done-year", done.2),
            ("time", done.3),
            ("done_by", "Morag Ellery, deputy head"),
            ("route", "line_manager"),
            ("notes", ""),
            ("version", "1"),
        ],
    )
    .await
}

#[tokio::test]
async fn same_day_steps_run_to_the_close_of_the_working_day() {
    // 1 April 2027, in British Summer Time.
    let app = TestApp::with_env(&[("HAVEN_FIXED_TIME", "2027-04-01T09:00:00Z")]).await;
    let (mut lee, _) = app.signed_in("lado").await;
    // A minute before the close (Thursday 3 December 2026, GMT): due at 17:00 the same day.
    let a = open_allegation(
        &mut lee,
        "Avery Tollemache",
        "",
        ("3", "12", "2026", "16:59"),
        ("3", "12", "2026", "16:59"),
    )
    .await;
    assert_eq!(
        due(&app, a, "tell_manager").await,
        Some(utc(2026, 12, 3, 17, 0))
    );
    assert_eq!(
        due(&app, a, "secure_device").await,
        Some(utc(2026, 12, 3, 17, 0))
    );
    // "Immediately" is an hour; the last two steps have no fixed clock.
    assert_eq!(
        due(&app, a, "contact_police").await,
        Some(utc(2026, 12, 3, 17, 59))
    );
    assert_eq!(due(&app, a, "immediate_actions").await, None);
    assert_eq!(due(&app, a, "procedures_followed").await, None);
    // A minute after the close: the next working day (Friday).
    let b = open_allegation(
        &mut lee,
        "Blaise Penhallow",
        "",
        ("3", "12", "2026", "17:01"),
        ("4", "12", "2026", "09:00"),
    )
    .await;
    assert_eq!(
        due(&app, b, "tell_manager").await,
        Some(utc(2026, 12, 4, 17, 0))
    );
    // Friday evening: Monday.
    let c = open_allegation(
        &mut lee,
        "Corin Vassallo",
        "",
        ("4", "12", "2026", "18:30"),
        ("7", "12", "2026", "09:00"),
    )
    .await;
    assert_eq!(
        due(&app, c, "tell_manager").await,
        Some(utc(2026, 12, 7, 17, 0))
    );
    // Christmas Eve evening: Christmas Day (Friday) and the Boxing Day substitute (Monday 28th)
    // are bank holidays, so Tuesday 29 December.
    let d = open_allegation(
        &mut lee,
        "Dorian Quenby",
        "",
        ("24", "12", "2026", "17:30"),
        ("29", "12", "2026", "09:00"),
    )
    .await;
    assert_eq!(
        due(&app, d, "tell_manager").await,
        Some(utc(2026, 12, 29, 17, 0))
    );
    // The clocks go forward on Easter Sunday, 28 March 2027. A concern on the Thursday evening
    // before: Good Friday and Easter Monday are bank holidays, so the steps are due at 17:00
    // London time on Tuesday 30 March, which is 16:00 UTC.
    let e = open_allegation(
        &mut lee,
        "Ellis Marchbank",
        "",
        ("25", "3", "2027", "18:00"),
        ("30", "3", "2027", "09:00"),
    )
    .await;
    assert_eq!(
        due(&app, e, "tell_manager").await,
        Some(utc(2027, 3, 30, 16, 0))
    );
    // The LADO heard the next working day after the close: contacting the LADO was late.
    assert_eq!(breaches(&app, b).await, Vec::<String>::new());
    let f = open_allegation(
        &mut lee,
        "Farrah Ogunleye",
        "",
        ("1", "3", "2027", "10:00"),
        ("2", "3", "2027", "09:00"),
    )
    .await;
    assert_eq!(breaches(&app, f).await, vec!["contact_lado".to_owned()]);
    // ... and the chronology says so at once.
    let logged: Vec<String> = sqlx::query_scalar(
        "SELECT summary FROM allegation_events WHERE allegation_id = $1 AND kind = 'breach'",
    )
    .bind(f)
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(
        logged,
        vec![
            "Breach: the LADO was contacted after the close of the working day on which the concern arose (17:00 on 01 Mar 2027)."
        ]
    );
    // The page says how each clock stands.
    let page = lee.get(&format!("/lado/allegations/{a}")).await;
    assert_eq!(page.status, StatusCode::OK);
    let steps = page.select("#step-list .govuk-summary-list__value");
    assert!(
        steps[0].contains("due by 3 December 2026 at 5pm") || steps[0].contains("was due by"),
        "{steps:?}"
    );
    assert!(page.body.contains("Done"));
}

#[tokio::test]
async fn a_breach_is_recorded_by_the_sweep_and_survives_late_completion() {
    let app = TestApp::with_env(&[("HAVEN_FIXED_TIME", "2026-12-04T10:00:00Z")]).await;
    let (mut lee, _) = app.signed_in("lado").await;
    let a = open_allegation(
        &mut lee,
        "Gideon Ashworth",
        "",
        ("3", "12", "2026", "09:00"),
        ("3", "12", "2026", "09:30"),
    )
    .await;
    let now = app.config.clock.now();
    // Several instances sweep at once: each breach is recorded once.
    let (x, y) = tokio::join!(
        haven::db::allegations::sweep_breaches(&app.pool, now),
        haven::db::allegations::sweep_breaches(&app.pool, now)
    );
    assert_eq!(x.unwrap() + y.unwrap(), 3);
    assert_eq!(
        haven::db::allegations::sweep_breaches(&app.pool, now)
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        breaches(&app, a).await,
        vec!["contact_police", "secure_device", "tell_manager"]
    );
    // Done late: still a breach.
    let r = record_step(&mut lee, a, "secure_device", ("3", "12", "2026", "18:15")).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    // Done in time but recorded late: still on the list, said as such.
    let r = record_step(&mut lee, a, "tell_manager", ("3", "12", "2026", "11:00")).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(breaches(&app, a).await.len(), 3);
    let page = lee.get(&format!("/lado/allegations/{a}")).await;
    let tags = page.select("#step-list .govuk-tag");
    assert_eq!(tags[0], "Done, recorded late");
    assert_eq!(tags[1], "Done late: breach");
    assert_eq!(tags[3], "Breach: not done");
    assert!(
        page.body
            .contains("was not recorded as done by 17:00 on 03 Dec 2026"),
        "sweep entry missing"
    );
    // Recording a step twice is a conflict, not a second entry.
    let again = record_step(&mut lee, a, "secure_device", ("3", "12", "2026", "18:20")).await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    // The dashboard lists the breaches; acknowledging one takes it off the list but keeps it.
    let dash = lee.get("/lado").await;
    assert_eq!(dash.select("#breach-list li").len(), 3);
    assert!(dash.body.contains(
        "done in time on 3 December 2026 at 11am but not recorded until after it was due"
    ));
    let r = lee
        .post(
            &format!("/lado/allegations/{a}/steps/tell_manager/acknowledge"),
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(lee.get("/lado").await.select("#breach-list li").len(), 2);
    assert_eq!(breaches(&app, a).await.len(), 3);
    // A breach cannot be deleted, even by the server's own login.
    let deleted = sqlx::query("DELETE FROM allegation_breaches")
        .execute(&app.pool)
        .await;
    assert!(deleted.is_err());
    // Nor moved or renamed: only its acknowledgement may be added, once.
    for change in [
        "UPDATE allegation_breaches SET due_at = due_at + interval '1 day'",
        "UPDATE allegation_breaches SET step = 'immediate_actions'",
        "UPDATE allegation_breaches SET acknowledged_by = NULL WHERE acknowledged_by IS NOT NULL",
    ] {
        let changed = sqlx::query(change).execute(&app.pool).await;
        assert!(changed.is_err(), "{change}");
    }

    // Without a sweep in between, completing late records the breach at once, with an entry.
    let b = open_allegation(
        &mut lee,
        "Hollis Treadwell",
        "",
        ("3", "12", "2026", "09:00"),
        ("3", "12", "2026", "09:30"),
    )
    .await;
    let r = record_step(&mut lee, b, "secure_device", ("3", "12", "2026", "17:30")).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(breaches(&app, b).await, vec!["secure_device"]);
    let page = lee.get(&format!("/lado/allegations/{b}")).await;
    assert!(
        page.body
            .contains("Breach: Securing the device was done after it was due.")
    );
    assert!(
        app.audit_actions()
            .await
            .contains(&"allegation.step".to_owned())
    );
}

#[tokio::test]
async fn steps_and_forms_refuse_bad_input_and_keep_what_was_typed() {
    let app = TestApp::with_env(&[("HAVEN_FIXED_TIME", "2026-12-04T10:00:00Z")]).await;
    let (mut lee, _) = app.signed_in("lado").await;
    // The opening form: nothing filled in.
    lee.get("/lado/allegations/new").await;
    let r = lee
        .post("/lado/allegations", &[("subject_name", "Imogen Strand")])
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.error_summary().len() >= 8, "{:?}", r.error_summary());
    assert_eq!(r.attr("#subject_name", "value"), vec!["Imogen Strand"]);
    // Contacted before the concern arose.
    let r = lee
        .post(
            "/lado/allegations",
            &[
                ("contact_kind", "email"),
                ("contact-day", "1"),
                ("contact-month", "12"),
                ("contact-year", "2026"),
                ("contact_time", "09:00"),
                ("contact_from", "DSL"),
                ("subject_name", "Imogen Strand"),
                ("subject_role", "Coach"),
                ("subject_employer", "Club"),
                ("setting", "sport"),
                ("arose-day", "2"),
                ("arose-month", "12"),
                ("arose-year", "2026"),
                ("arose_time", "09:00"),
                ("concern_how", "Messages"),
                ("conduct", "at_work"),
                ("subject_email", "nobody@example.org"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let errors = r.error_summary().join("; ");
    assert!(
        errors.contains("cannot have been contacted before the concern arose"),
        "{errors}"
    );
    assert!(
        errors.contains("No Haven account has that email address"),
        "{errors}"
    );
    assert_eq!(app.count("SELECT count(*) FROM allegations").await, 0);

    let a = open_allegation(
        &mut lee,
        "Jasper Okonjo",
        "",
        ("3", "12", "2026", "09:00"),
        ("3", "12", "2026", "09:30"),
    )
    .await;
    // A step done before the concern arose, or in the future, is refused, with what was typed.
    let r = record_step(&mut lee, a, "tell_manager", ("2", "12", "2026", "09:00")).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.error_summary()[0].contains("cannot be before the concern arose"));
    assert_eq!(
        r.attr("#done_by", "value"),
        vec!["Morag Ellery, deputy head"]
    );
    let r = record_step(&mut lee, a, "tell_manager", ("5", "12", "2026", "09:00")).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    // Telling a manager needs the route it took.
    let r = lee
        .post(
            &format!("/lado/allegations/{a}/steps/tell_manager"),
            &[
                ("done-day", "3"),
                ("done-month", "12"),
                ("done-year", "2026"),
                ("time", "10:00"),
                ("done_by", "TA"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.error_summary(), vec!["Select how the employee raised it"]);
    assert_eq!(
        app.count("SELECT count(*) FROM escalation_steps WHERE done_at IS NOT NULL")
            .await,
        1,
        "only contacting the LADO is done"
    );
    // An unknown step or form is not found.
    assert_eq!(
        lee.get(&format!("/lado/allegations/{a}/forms/step-nonsense"))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        lee.post(
            &format!("/lado/allegations/{a}/steps/nonsense"),
            &[("done_by", "x")]
        )
        .await
        .status,
        StatusCode::NOT_FOUND
    );
    // Every form page renders, for a device too.
    let r = lee
        .post(
            &format!("/lado/allegations/{a}/evidence"),
            &[
                ("description", "School laptop, asset 4471"),
                ("location", "Head's safe"),
                ("secured_by", "Morag Ellery"),
                ("secured-day", "3"),
                ("secured-month", "12"),
                ("secured-year", "2026"),
                ("time", "12:00"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let item: Uuid = sqlx::query_scalar("SELECT id FROM evidence_items")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    for form in [
        "step-tell_manager".to_owned(),
        "threshold".into(),
        "told".into(),
        "meeting".into(),
        "strand-police".into(),
        "action".into(),
        "evidence".into(),
        format!("evidence-{item}-access"),
        format!("evidence-{item}-custody"),
        "link".into(),
        "access".into(),
    ] {
        let r = lee
            .get(&format!("/lado/allegations/{a}/forms/{form}"))
            .await;
        assert_eq!(r.status, StatusCode::OK, "{form}");
        assert_eq!(r.select("h1").len(), 1, "{form}");
    }
    // The custody trail: handed to the police, and printed.
    let r = lee
        .post(
            &format!("/lado/allegations/{a}/evidence/{item}/custody"),
            &[
                ("kind", "handed_to_police"),
                ("when-day", "3"),
                ("when-month", "12"),
                ("when-year", "2026"),
                ("time", "15:00"),
                ("by_person", "Morag Ellery"),
                ("to_person", "DC Okafor 4471"),
                ("details", ""),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let print = lee.get(&format!("/lado/allegations/{a}/evidence")).await;
    assert_eq!(print.select("ol li").len(), 2, "{}", print.body);
    assert!(print.body.contains("Handed to the police"));
    // The threshold: none of the tests met needs the advice given.
    let v: i32 = sqlx::query_scalar("SELECT version FROM allegations WHERE id = $1")
        .bind(a)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let r = lee
        .post(
            &format!("/lado/allegations/{a}/threshold"),
            &[("version", &v.to_string()), ("advice_given", "")],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let r = lee
        .post(
            &format!("/lado/allegations/{a}/threshold"),
            &[
                ("version", &v.to_string()),
                ("harm_tests", "unsuitable"),
                ("harm_tests", "risk_of_harm"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    // A stale version is a conflict.
    let r = lee
        .post(
            &format!("/lado/allegations/{a}/threshold"),
            &[("version", &v.to_string()), ("harm_tests", "harmed")],
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
}

#[tokio::test]
async fn the_outcome_needs_the_work_behind_it_and_a_date_of_birth_for_the_review_date() {
    let app = TestApp::with_env(&[("HAVEN_FIXED_TIME", "2026-12-04T10:00:00Z")]).await;
    let (mut lee, _) = app.signed_in("lado").await;
    let a = open_allegation(
        &mut lee,
        "Kit Farrant",
        "",
        ("3", "12", "2026", "09:00"),
        ("3", "12", "2026", "09:30"),
    )
    .await;
    let version = |app: &TestApp| {
        let pool = app.pool.clone();
        async move {
            sqlx::query_scalar::<_, i32>("SELECT version FROM allegations WHERE id = $1")
                .bind(a)
                .fetch_one(&pool)
                .await
                .unwrap()
                .to_string()
        }
    };
    let v = version(&app).await;
    let outcome = |v: String, dob: (&'static str, &'static str, &'static str)| {
        vec![
            ("version".to_owned(), v),
            ("outcome".into(), "malicious".into()),
            ("on-day".into(), "4".into()),
            ("on-month".into(), "12".into()),
            ("on-year".into(), "2026".into()),
            (
                "reasons".into(),
                "Messages were shown to have been made up.".into(),
            ),
            ("child_referral_considered".into(), "".into()),
            ("dbs_referred".into(), "no".into()),
            ("dbs_not_referred_reason".into(), "Not substantiated".into()),
            ("dob-day".into(), dob.0.into()),
            ("dob-month".into(), dob.1.into()),
            ("dob-year".into(), dob.2.into()),
        ]
    };
    lee.get(&format!("/lado/allegations/{a}/outcome")).await;
    let fields = outcome(v.clone(), ("", "", ""));
    let pairs: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let r = lee
        .post(&format!("/lado/allegations/{a}/outcome"), &pairs)
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let errors = r.error_summary().join("; ");
    // No strand under way; a malicious outcome asks about referring the child; no date of birth.
    assert!(errors.contains("strand"), "{errors}");
    assert!(
        errors.contains("referred to children's social care"),
        "{errors}"
    );
    assert!(errors.to_lowercase().contains("date of birth"), "{errors}");
    assert!(r.body.contains("Messages were shown to have been made up."));
    // The police strand concludes.
    lee.get(&format!("/lado/allegations/{a}/forms/strand-police"))
        .await;
    let sv: i32 = sqlx::query_scalar(
        "SELECT version FROM allegation_strands WHERE allegation_id = $1 AND strand = 'police'",
    )
    .bind(a)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    let r = lee
        .post(
            &format!("/lado/allegations/{a}/strands/police"),
            &[
                ("status", "concluded"),
                ("owner", "DC Okafor"),
                ("version", &sv.to_string()),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let mut fields = outcome(version(&app).await, ("14", "5", "1950"));
    fields.push((
        "child_referral_considered".into(),
        "Yes: referred for support on 4 December.".into(),
    ));
    fields.retain(|(k, v)| !(k == "child_referral_considered" && v.is_empty()));
    let pairs: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let r = lee
        .post(&format!("/lado/allegations/{a}/outcome"), &pairs)
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{:?}", r.error_summary());
    let (status, review): (String, Option<chrono::NaiveDate>) =
        sqlx::query_as("SELECT status, review_on FROM allegations WHERE id = $1")
            .bind(a)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(status, "closed");
    // A closed allegation's threshold cannot be changed (which would reopen it).
    lee.get(&format!("/lado/allegations/{a}/forms/threshold"))
        .await;
    let r = lee
        .post(
            &format!("/lado/allegations/{a}/threshold"),
            &[("version", &version(&app).await), ("harm_tests", "harmed")],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.error_summary()[0].contains("closed with its outcome"));
    let still: String = sqlx::query_scalar("SELECT status FROM allegations WHERE id = $1")
        .bind(a)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(still, "closed");
    // Closing swept first: the steps still undone a day later are breaches, not quietly ended.
    let breached: Vec<String> = breaches(&app, a).await;
    assert!(
        breached.contains(&"contact_police".to_owned()),
        "{breached:?}"
    );
    assert!(
        breached.contains(&"tell_manager".to_owned()),
        "{breached:?}"
    );
    // Born 14 May 1950: past pension age already, so ten years from the date of the allegation
    // (3 December 2026, the day before the outcome).
    assert_eq!(review, chrono::NaiveDate::from_ymd_opt(2036, 12, 3));
    let page = lee.get(&format!("/lado/allegations/{a}")).await;
    assert!(
        page.body
            .contains("No: only substantiated allegations may be")
    );
    assert!(
        page.body
            .contains("personnel file, unless they consent to keeping it")
    );
}

#[tokio::test]
async fn a_restricted_allegation_and_its_cases_are_invisible_to_everyone_not_named() {
    let app = TestApp::with_env(&[("HAVEN_FIXED_TIME", "2026-12-04T10:00:00Z")]).await;
    let (mut lee, _) = app.signed_in("lado").await;
    let (mut pat, pat_id) = app
        .signed_in_as("practitioner", "pat@example.org", "Team A")
        .await;
    let (mut sam, _) = app
        .signed_in_as("practitioner", "sam@example.org", "Team A")
        .await;
    // The allegation is about a manager in the same team, who uses Haven.
    let (mut mo, _) = app
        .signed_in_as("manager", "mo@example.org", "Team A")
        .await;
    let (mut other_manager, _) = app
        .signed_in_as("manager", "nia@example.org", "Team A")
        .await;
    let (mut officer, _) = app
        .signed_in_as("practitioner", "dc.okafor@example.org", "Team B")
        .await;
    let (mut admin, _) = app.signed_in("admin").await;
    let case =
        crate::procedure::case_with_two_children(&app, pat_id, utc(2026, 12, 3, 9, 0), true).await;
    let case_ref: String = sqlx::query_scalar("SELECT reference FROM cases WHERE id = $1")
        .bind(case)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let a = open_allegation(
        &mut lee,
        "Quentin Marlowe",
        "MO@example.org",
        ("3", "12", "2026", "09:00"),
        ("3", "12", "2026", "09:30"),
    )
    .await;
    let reference: String = sqlx::query_scalar("SELECT reference FROM allegations WHERE id = $1")
        .bind(a)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    // Before the link, the team sees the case, in its lists, dashboards and searches.
    assert_eq!(
        sam.get(&format!("/cases/{case}")).await.status,
        StatusCode::OK
    );
    assert!(
        other_manager
            .get("/cases/team")
            .await
            .body
            .contains(&case_ref)
    );
    assert!(
        other_manager
            .get("/work/team")
            .await
            .body
            .contains(&case_ref)
    );
    other_manager.get("/cases").await;
    assert!(
        other_manager
            .post("/cases/search", &[("name", "Ashcombe"), ("scope", "team")])
            .await
            .body
            .contains(&case_ref)
    );
    // The case's deadlines count in the team's navigation badge, and in the case worker's.
    let badge = |r: &crate::helpers::Res, href: &str| {
        r.select(&format!(
            ".govuk-service-navigation a[href='{href}'] .haven-count"
        ))
    };
    let before = other_manager.get("/cases/team").await;
    assert_eq!(badge(&before, "/work/team").len(), 1, "{}", before.body);
    let mine_before = pat.get("/cases").await;
    assert_eq!(badge(&mine_before, "/work").len(), 1);
    // A document on the case, whose words must not leak either.
    pat.get(&format!("/cases/{case}/documents/new")).await;
    let r = pat
        .upload(
            &format!("/cases/{case}/documents"),
            &[],
            "call.txt",
            b"Notes of the call about the Ashcombe children.\n",
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let case_doc: Uuid = sqlx::query_scalar("SELECT id FROM documents WHERE case_id = $1")
        .bind(case)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    lee.get(&format!("/lado/allegations/{a}/forms/link")).await;
    let r = lee
        .post(
            &format!("/lado/allegations/{a}/cases"),
            &[("reference", &case_ref.to_lowercase()), ("restrict", "yes")],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    // Restricted: it leaves the counts of everyone not named, and stays in the case worker's
    // (who keeps it), with its place in their list and dashboard.
    let after = other_manager.get("/cases/team").await;
    assert!(
        badge(&after, "/work/team").is_empty(),
        "{:?}",
        badge(&after, "/work/team")
    );
    let mine = pat.get("/cases").await;
    assert_eq!(badge(&mine, "/work").len(), 1);
    assert!(
        mine.body.contains(&case_ref),
        "the case worker lost the case from My cases"
    );
    assert!(pat.get("/work").await.body.contains(&case_ref));
    // The subject can never be named.
    let r = lee
        .post(
            &format!("/lado/allegations/{a}/access"),
            &[("email", "mo@example.org")],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.error_summary()[0].contains("can never be given access"));
    let r = lee
        .post(
            &format!("/lado/allegations/{a}/access"),
            &[("email", "dc.okafor@example.org")],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);

    let allegation_urls = [
        format!("/lado/allegations/{a}"),
        format!("/lado/allegations/{a}/evidence"),
    ];
    let case_urls = [
        format!("/cases/{case}"),
        format!("/cases/{case}/procedure"),
        format!("/cases/{case}/edit"),
    ];
    // Not named: every address is "not found", and the case is in no list or search.
    for (who, c) in [
        ("sam", &mut sam),
        ("mo (the subject)", &mut mo),
        ("another manager", &mut other_manager),
    ] {
        for url in allegation_urls.iter().chain(case_urls.iter()) {
            assert_eq!(
                c.get(url).await.status,
                StatusCode::NOT_FOUND,
                "{who} {url}"
            );
        }
        for list in ["/cases", "/cases/team", "/work", "/work/team"] {
            let r = c.get(list).await;
            assert!(!r.body.contains(&case_ref), "{who} saw the case in {list}");
            assert!(
                !r.body.contains("Ashcombe"),
                "{who} saw a child's name in {list}"
            );
        }
        c.get("/cases").await;
        let r = c
            .post("/cases/search", &[("name", "Ashcombe"), ("scope", "team")])
            .await;
        assert!(!r.body.contains(&case_ref), "{who} found it by searching");
        assert_eq!(c.get("/lado").await.status, StatusCode::FORBIDDEN, "{who}");
    }
    // The administrator has no route to any of it.
    for url in allegation_urls.iter().chain(case_urls.iter()) {
        assert_eq!(admin.get(url).await.status, StatusCode::FORBIDDEN, "{url}");
    }
    // Every GET route in the table (a new one is walked without being listed here), with the
    // restricted case's and the allegation's ids in every placeholder, as each person not named:
    // nothing of either shows on any page, list, dashboard or download.
    let ids = crate::attacks::Ids {
        case,
        user: pat_id,
        draft: Uuid::now_v7(),
        token: "x".into(),
        discussion: Uuid::now_v7(),
        enquiry: Uuid::now_v7(),
        allegation: a,
        case_doc,
        allegation_doc: Uuid::now_v7(),
        person: sqlx::query_scalar("SELECT id FROM case_people WHERE case_id = $1 LIMIT 1")
            .bind(case)
            .fetch_one(&app.pool)
            .await
            .unwrap(),
    };
    let markers = [
        case_ref.as_str(),
        "Ashcombe",
        reference.as_str(),
        "Quentin Marlowe",
    ];
    let mut walked = 0;
    for (who, c) in [
        ("sam", &mut sam),
        ("mo (the subject)", &mut mo),
        ("another manager", &mut other_manager),
        ("an administrator", &mut admin),
    ] {
        for route in app
            .routes
            .iter()
            .filter(|r| r.method == axum::http::Method::GET)
        {
            for path in crate::attacks::concrete(route.path, &ids) {
                let r = c.get(&path).await;
                assert_ne!(r.status, StatusCode::INTERNAL_SERVER_ERROR, "{who} {path}");
                for m in markers {
                    assert!(!r.body.contains(m), "{who} saw {m:?} at {path}");
                }
                walked += 1;
            }
        }
        // Searches, by a child's name and by the reference, in every scope.
        c.get("/cases").await;
        for scope in ["mine", "team"] {
            for term in ["Ashcombe", case_ref.as_str()] {
                let r = c
                    .post("/cases/search", &[("name", term), ("scope", scope)])
                    .await;
                // The words typed come back in the search box; nothing else may.
                for m in markers.iter().filter(|m| **m != term) {
                    assert!(!r.body.contains(m), "{who} found {m:?} searching {term:?}");
                }
            }
        }
    }
    assert!(walked > 250, "walked only {walked} pages");
    // The case's worker keeps the case (not the allegation); the named officer has both.
    assert_eq!(
        pat.get(&format!("/cases/{case}")).await.status,
        StatusCode::OK
    );
    assert_eq!(
        pat.get(&format!("/lado/allegations/{a}")).await.status,
        StatusCode::NOT_FOUND
    );
    for url in allegation_urls
        .iter()
        .chain([format!("/cases/{case}")].iter())
    {
        let r = officer.get(url).await;
        assert_eq!(r.status, StatusCode::OK, "officer {url}");
    }
    let page = officer.get(&format!("/lado/allegations/{a}")).await;
    assert!(page.body.contains("Quentin Marlowe"));
    assert!(
        page.select("form[action*='/access/']").is_empty(),
        "only the LADO manages access"
    );
    // Every view is recorded.
    let views: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM audit_events WHERE action = 'allegation.view' AND entity_id = $1",
    )
    .bind(a.to_string())
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert!(views >= 2);
    // Withdrawn: gone again, from the allegation and its case.
    let officer_id: Uuid =
        sqlx::query_scalar("SELECT id FROM users WHERE email = 'dc.okafor@example.org'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    lee.get(&format!("/lado/allegations/{a}")).await;
    let r = lee
        .post(
            &format!("/lado/allegations/{a}/access/{officer_id}/remove"),
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(
        officer.get(&format!("/lado/allegations/{a}")).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        officer.get(&format!("/cases/{case}")).await.status,
        StatusCode::NOT_FOUND
    );
    // A non-LADO cannot change anything on it, even by posting.
    for c in [&mut pat, &mut officer] {
        let r = c
            .post(
                &format!("/lado/allegations/{a}/access"),
                &[("email", "sam@example.org")],
            )
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
    }
    let _ = reference;
}

#[tokio::test]
async fn break_glass_answers_the_same_whatever_exists_and_the_lado_decides() {
    let app = TestApp::with_env(&[("HAVEN_FIXED_TIME", "2026-12-04T10:00:00Z")]).await;
    let (mut lee, _) = app.signed_in("lado").await;
    let (mut pat, _) = app
        .signed_in_as("practitioner", "pat@example.org", "Team A")
        .await;
    let (mut mo, _) = app
        .signed_in_as("manager", "mo@example.org", "Team A")
        .await;
    let a = open_allegation(
        &mut lee,
        "Rafe Linwood",
        "mo@example.org",
        ("3", "12", "2026", "09:00"),
        ("3", "12", "2026", "09:30"),
    )
    .await;
    let reference: String = sqlx::query_scalar("SELECT reference FROM allegations WHERE id = $1")
        .bind(a)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    // No reason: the form comes back with the reference kept.
    pat.get("/access-requests").await;
    let r = pat
        .post(
            "/access-requests",
            &[("reference", &reference), ("reason", " ")],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.attr("#reference", "value"), vec![reference.clone()]);
    // A made-up reference, the subject asking, and a real request: the same answer each time.
    let made_up = pat
        .post(
            "/access-requests",
            &[
                ("reference", "LADO-2026-999999"),
                ("reason", "Assigned to it"),
            ],
        )
        .await;
    mo.get("/access-requests").await;
    let subject = mo
        .post(
            "/access-requests",
            &[("reference", &reference), ("reason", "Curious")],
        )
        .await;
    let real = pat
        .post(
            "/access-requests",
            &[
                ("reference", &reference),
                ("reason", "I am the child's social worker"),
            ],
        )
        .await;
    for r in [&made_up, &subject, &real] {
        assert_eq!(r.status, StatusCode::SEE_OTHER);
        assert_eq!(r.location(), "/access-requests?sent=1");
    }
    let sent = pat.get("/access-requests?sent=1").await;
    assert_eq!(sent.select(".govuk-notification-banner__heading").len(), 1);
    assert_eq!(
        app.count("SELECT count(*) FROM break_glass_requests").await,
        1
    );
    assert_eq!(
        app.count("SELECT count(*) FROM audit_events WHERE action = 'access.break_glass_request'")
            .await,
        3
    );
    // Still closed until the LADO approves.
    assert_eq!(
        pat.get(&format!("/lado/allegations/{a}")).await.status,
        StatusCode::NOT_FOUND
    );
    let dash = lee.get("/lado").await;
    assert!(dash.body.contains("social worker"));
    let request: Uuid = sqlx::query_scalar("SELECT id FROM break_glass_requests")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let r = lee
        .post(
            &format!("/lado/access-requests/{request}"),
            &[("action", "approve")],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(
        pat.get(&format!("/lado/allegations/{a}")).await.status,
        StatusCode::OK
    );
    // Deciding twice is a conflict.
    let r = lee
        .post(
            &format!("/lado/access-requests/{request}"),
            &[("action", "refuse")],
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    // Urgent opening, when the partnership allows it: at once, then reviewed by the LADO.
    let (mut sam, _) = app
        .signed_in_as("practitioner", "sam@example.org", "Team A")
        .await;
    let form = sam.get("/access-requests").await;
    assert!(
        form.select("#urgent").is_empty(),
        "urgent opening is off by default"
    );
    let mut owner = app.owner().await;
    sqlx::query("UPDATE partnership_settings SET urgent_break_glass = true")
        .execute(&mut owner)
        .await
        .unwrap();
    assert_eq!(sam.get("/access-requests").await.select("#urgent").len(), 1);
    let r = sam
        .post(
            "/access-requests",
            &[
                ("reference", &reference.to_lowercase()),
                ("reason", "Child missing tonight"),
                ("urgent", "yes"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(
        sam.get(&format!("/lado/allegations/{a}")).await.status,
        StatusCode::OK
    );
    let dash = lee.get("/lado").await;
    assert!(
        dash.body
            .contains("opened it at once because it was urgent")
    );
    let urgent: Uuid =
        sqlx::query_scalar("SELECT id FROM break_glass_requests WHERE status = 'opened_urgently'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    let r = lee
        .post(
            &format!("/lado/access-requests/{urgent}"),
            &[("action", "review")],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert!(
        !lee.get("/lado")
            .await
            .body
            .contains("Child missing tonight")
    );
    // The allegation's chronology says who opened it and why.
    let page = lee.get(&format!("/lado/allegations/{a}")).await;
    assert!(page.body.contains("Break-glass request by"));
}

#[tokio::test]
async fn opening_a_restricted_record_long_after_signing_in_asks_for_the_password_again() {
    let app = TestApp::with_env(&[("HAVEN_FIXED_TIME", "2026-12-04T10:00:00Z")]).await;
    let (mut lee, lee_id) = app.signed_in("lado").await;
    let a = open_allegation(
        &mut lee,
        "Sorcha Pennant",
        "",
        ("3", "12", "2026", "09:00"),
        ("3", "12", "2026", "09:30"),
    )
    .await;
    sqlx::query(
        "UPDATE sessions SET reauthenticated_at = now() - interval '20 minutes' WHERE user_id = $1",
    )
    .bind(lee_id)
    .execute(&app.pool)
    .await
    .unwrap();
    let r = lee.get(&format!("/lado/allegations/{a}")).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert!(
        r.location().starts_with("/account/confirm?next="),
        "{}",
        r.location()
    );
    let form = lee.follow(&r).await;
    assert_eq!(form.status, StatusCode::OK);
    assert_eq!(
        form.attr("input[name=next]", "value"),
        vec![format!("/lado/allegations/{a}")]
    );
    // A GET of the confirm page changed nothing: the allegation is still out of reach.
    assert_eq!(
        lee.get(&format!("/lado/allegations/{a}")).await.status,
        StatusCode::SEE_OTHER
    );
    let r = lee
        .post(
            "/account/confirm",
            &[
                ("password", "wrong password entirely"),
                ("code", "000000"),
                ("next", &format!("/lado/allegations/{a}")),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        app.audit_actions()
            .await
            .contains(&"auth.reauthentication_failed".to_owned())
    );
    // Right password and code: back where they were going.
    let secret: String = {
        let sealed: String = sqlx::query_scalar("SELECT totp_secret FROM users WHERE id = $1")
            .bind(lee_id)
            .fetch_one(&app.pool)
            .await
            .unwrap();
        haven::auth::secret_box::open(app.config.secret_key.expose(), &sealed).unwrap()
    };
    // A code from the next 30-second step (the sign-in used this one).
    let code =
        haven::auth::totp::code_at(&secret, chrono::Utc::now().timestamp() as u64 + 30).unwrap();
    let r = lee
        .post(
            "/account/confirm",
            &[
                ("password", PASSWORD),
                ("code", &code),
                ("next", &format!("/lado/allegations/{a}")),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{:?}", r.error_summary());
    assert_eq!(r.location(), format!("/lado/allegations/{a}"));
    assert_eq!(
        lee.get(&format!("/lado/allegations/{a}")).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn every_lado_response_that_shows_the_allegation_writes_its_access_record() {
    let app = TestApp::with_env(&[("HAVEN_FIXED_TIME", "2026-12-04T10:00:00Z")]).await;
    let (mut lee, _) = app.signed_in("lado").await;
    let a = open_allegation(
        &mut lee,
        "Tamsin Wolverton",
        "",
        ("3", "12", "2026", "09:00"),
        ("3", "12", "2026", "09:30"),
    )
    .await;
    let reference: String = sqlx::query_scalar("SELECT reference FROM allegations WHERE id = $1")
        .bind(a)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let views = |app: &TestApp| {
        let pool = app.pool.clone();
        async move {
            sqlx::query_scalar::<_, i64>(
                "SELECT count(*) FROM audit_events WHERE action LIKE 'allegation.%'",
            )
            .fetch_one(&pool)
            .await
            .unwrap()
        }
    };
    let mut shown = 0;
    for r in app.routes.iter().filter(|r| r.path.starts_with("/lado")) {
        let path = r
            .path
            .replace("{id}", &a.to_string())
            .replace("{step}", "tell_manager")
            .replace("{strand}", "police")
            .replace("{form}", "threshold")
            .replace("{item}", &Uuid::now_v7().to_string())
            .replace("{person}", &Uuid::now_v7().to_string())
            .replace("{request}", &Uuid::now_v7().to_string());
        for body in [vec![], vec![("version", "1"), ("done-day", "1")]] {
            let before = views(&app).await;
            let res = if r.method == axum::http::Method::GET {
                lee.get(&path).await
            } else {
                lee.post(&path, &body).await
            };
            assert_ne!(
                res.status,
                StatusCode::INTERNAL_SERVER_ERROR,
                "{} {path}",
                r.method
            );
            if res.body.contains("Wolverton") || res.body.contains(&reference) {
                shown += 1;
                assert!(
                    views(&app).await > before,
                    "{} {path} showed the allegation without an access record",
                    r.method
                );
            }
        }
    }
    assert!(shown >= 8, "only {shown} responses showed it");
}

/// One allegation as the annual figures see it, put straight into the table.
#[allow(clippy::too_many_arguments)]
async fn fixture_allegation(
    app: &TestApp,
    owner: Uuid,
    n: u32,
    setting: &str,
    employer: &str,
    contact_kind: &str,
    arose: DateTime<Utc>,
    contact: DateTime<Utc>,
    harm_tests: &[&str],
    threshold: Option<bool>,
    outcome: Option<(&str, chrono::NaiveDate)>,
) {
    let status = match (threshold, outcome) {
        (_, Some(_)) => "closed",
        (Some(false), None) => "advice_only",
        _ => "open",
    };
    sqlx::query(
        "INSERT INTO allegations (id, reference, owner_id, contact_kind, contact_at, contact_from,
            subject_name, subject_role, subject_employer, setting, concern_arose_at, concern_how,
            conduct, created_by, harm_tests, threshold_met, outcome, outcome_on, status)
         VALUES ($1, $2, $3, $4, $5, 'A DSL', 'Fictional Person', 'Coach', $6, $7, $8,
            'Fictional account.', 'at_work', $3, $9, $10, $11, $12, $13)",
    )
    .bind(Uuid::now_v7())
    .bind(format!("LADO-2026-9{n:05}"))
    .bind(owner)
    .bind(contact_kind)
    .bind(contact)
    .bind(employer)
    .bind(setting)
    .bind(arose)
    .bind(harm_tests.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    .bind(threshold)
    .bind(outcome.map(|o| o.0))
    .bind(outcome.map(|o| o.1))
    .bind(status)
    .execute(&app.pool)
    .await
    .unwrap();
}

#[tokio::test]
async fn the_annual_figures_match_a_hand_worked_fixture_and_the_export_is_guarded_and_audited() {
    use sha2::Digest;
    let app = TestApp::with_env(&[("HAVEN_FIXED_TIME", "2027-05-10T10:00:00Z")]).await;
    let (mut lee, lee_id) = app.signed_in("lado").await;
    let day = |y, m, d| chrono::NaiveDate::from_ymd_opt(y, m, d).unwrap();
    let formula = "=HYPERLINK(\"http://example.org\")";
    // A: a school, told in time, substantiated two weeks later (14 calendar days; 8 working
    // days, Good Friday and Easter Monday 2026 falling between).
    fixture_allegation(
        &app,
        lee_id,
        1,
        "school",
        "Fernhill Academy",
        "phone",
        utc(2026, 4, 1, 9, 0),
        utc(2026, 4, 1, 10, 0),
        &["unsuitable"],
        Some(true),
        Some(("substantiated", day(2026, 4, 15))),
    )
    .await;
    // B: the same school by another spelling; arose Thursday 2 April, told after the close of
    // the next working day (Tuesday 7 April, 16:00 UTC): late. Advice only.
    fixture_allegation(
        &app,
        lee_id,
        2,
        "school",
        " fernhill academy",
        "email",
        utc(2026, 4, 2, 9, 0),
        utc(2026, 4, 7, 16, 30),
        &[],
        Some(false),
        None,
    )
    .await;
    // C: contacted before the period, concluded in it (40 calendar days, 26 working days).
    fixture_allegation(
        &app,
        lee_id,
        3,
        "sport",
        "Harbour Swim Club",
        "phone",
        utc(2026, 3, 20, 9, 0),
        utc(2026, 3, 20, 9, 30),
        &["harmed"],
        Some(true),
        Some(("unfounded", day(2026, 4, 29))),
    )
    .await;
    // D: after the period: 23:30 UTC on 31 March 2027 is 1 April in London.
    fixture_allegation(
        &app,
        lee_id,
        4,
        "health",
        formula,
        "in_person",
        utc(2027, 3, 31, 23, 30),
        utc(2027, 3, 31, 23, 30),
        &[],
        None,
        None,
    )
    .await;
    // E and F: a health employer whose name looks like a formula; in time, undecided.
    fixture_allegation(
        &app,
        lee_id,
        5,
        "health",
        formula,
        "in_person",
        utc(2026, 10, 26, 8, 0),
        utc(2026, 10, 26, 9, 0),
        &[],
        None,
        None,
    )
    .await;
    fixture_allegation(
        &app,
        lee_id,
        6,
        "health",
        formula,
        "phone",
        utc(2026, 11, 2, 8, 0),
        utc(2026, 11, 3, 9, 0),
        &[],
        None,
        None,
    )
    .await;

    // With no dates, the last complete reporting year: 1 April 2026 to 31 March 2027.
    let dash = lee.get("/lado").await;
    assert!(dash.body.contains("href=\"/lado/report\""));
    let r = lee.get("/lado/report").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        r.select("h2#figures"),
        vec!["1 April 2026 to 31 March 2027"]
    );
    assert_eq!(
        r.select("#headline dd"),
        vec![
            "4",
            "1 (25%)",
            "1 (25%)",
            "2",
            "3 (75%)",
            "2",
            "27.0 calendar days (17.0 working days)",
            "27.0 calendar days (17.0 working days)",
        ]
    );
    let settings = r.select("#settings tbody tr");
    assert!(
        settings[0].contains("School or college") && settings[0].ends_with("211"),
        "{settings:?}"
    );
    assert!(
        settings[2].contains("Health") && settings[2].ends_with("200"),
        "{settings:?}"
    );
    assert!(r.body.contains("Fernhill Academy"));
    let viewed: i64 = sqlx::query_scalar(
        "SELECT jsonb_array_length(details::jsonb->'allegations')::bigint FROM audit_events WHERE action = 'lado.report' ORDER BY seq DESC LIMIT 1",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(viewed, 5);

    // The export: the same figures, every cell guarded, audited with what it held.
    let fields = [
        ("from-day", "1"),
        ("from-month", "4"),
        ("from-year", "2026"),
        ("to-day", "31"),
        ("to-month", "3"),
        ("to-year", "2027"),
    ];
    let r = lee.post("/lado/report/export", &fields).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.header("content-type"), "text/csv; charset=utf-8");
    assert_eq!(
        r.header("content-disposition"),
        "attachment; filename=\"lado-figures-2026-04-01-to-2027-03-31.csv\""
    );
    assert_eq!(r.header("x-content-type-options"), "nosniff");
    let csv = r.body.trim_start_matches('\u{feff}');
    for line in [
        "Section,Measure,Value",
        "Contacts,Contacts with the LADO,4",
        "Timeliness,LADO told within one working day (%),75",
        "Setting: contacts,School or college,2",
        "Outcomes,Substantiated,1",
        "Outcomes,Unfounded,1",
        "Time to outcome,Mean working days,17.0",
        "Employers with more than one contact,\"'=HYPERLINK(\"\"http://example.org\"\")\",2",
        "Employers with more than one contact,Fernhill Academy,2",
    ] {
        assert!(csv.lines().any(|l| l == line), "missing {line:?} in\n{csv}");
    }
    let (held, digest): (i64, String) = sqlx::query_as(
        "SELECT jsonb_array_length(details::jsonb->'allegations')::bigint, details::jsonb->>'sha256'
         FROM audit_events WHERE action = 'lado.report.export'",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(held, 5);
    assert_eq!(
        digest,
        hex::encode(sha2::Sha256::digest(r.bytes.as_slice()))
    );

    // Bad periods come back with the message and what was typed.
    let r = lee
        .get("/lado/report?from-day=31&from-month=2&from-year=2026&to-day=31&to-month=3&to-year=2027")
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        r.error_summary(),
        vec!["The start of the period must be a real date"]
    );
    assert_eq!(r.attr("#from-day", "value"), vec!["31"]);
    assert!(r.select("#headline").is_empty());
    let r = lee
        .get(
            "/lado/report?from-day=1&from-month=4&from-year=2026&to-day=31&to-month=3&to-year=2026",
        )
        .await;
    assert_eq!(
        r.error_summary(),
        vec!["The end of the period must be on or after its start"]
    );
    let r = lee
        .get("/lado/report?from-day=1&from-month=4&from-year=2020&to-day=1&to-month=4&to-year=2025")
        .await;
    assert_eq!(
        r.error_summary(),
        vec!["Choose a period of 5 years or less"]
    );
    let r = lee
        .post(
            "/lado/report/export",
            &[
                ("from-day", "x"),
                ("from-month", "4"),
                ("from-year", "2026"),
                ("to-day", "31"),
                ("to-month", "3"),
                ("to-year", "2027"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.attr("#from-day", "value"), vec!["x"]);

    // An export long after signing in asks for the password first, then comes back here.
    sqlx::query(
        "UPDATE sessions SET reauthenticated_at = now() - interval '20 minutes' WHERE user_id = $1",
    )
    .bind(lee_id)
    .execute(&app.pool)
    .await
    .unwrap();
    lee.get("/lado/report").await;
    let r = lee.post("/lado/report/export", &fields).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(
        r.location(),
        "/account/confirm?next=%2Flado%2Freport%3Ffrom%2Dday%3D1%26from%2Dmonth%3D4%26from%2Dyear%3D2026%26to%2Dday%3D31%26to%2Dmonth%3D3%26to%2Dyear%3D2027"
    );
    assert_eq!(
        app.count("SELECT count(*) FROM audit_events WHERE action = 'lado.report.export'")
            .await,
        1
    );
}

#[tokio::test]
async fn an_action_about_the_employee_records_why_and_whether_they_were_told_in_writing_in_time() {
    // Tuesday 8 December 2026, 10:00.
    let app = TestApp::with_env(&[("HAVEN_FIXED_TIME", "2026-12-08T10:00:00Z")]).await;
    let (mut lee, _) = app.signed_in("lado").await;
    let a = open_allegation(
        &mut lee,
        "Odile Farrant",
        "",
        ("3", "12", "2026", "09:00"),
        ("3", "12", "2026", "09:30"),
    )
    .await;
    let path = format!("/lado/allegations/{a}/actions");
    lee.get(&format!("/lado/allegations/{a}/forms/action"))
        .await;
    // Nothing chosen, no reasons, agreed before the concern arose: each said, nothing saved.
    let r = lee
        .post(
            &path,
            &[
                ("action", ""),
                ("alternatives", ""),
                ("rationale", ""),
                ("agreed_by", ""),
                ("agreed-day", "2"),
                ("agreed-month", "12"),
                ("agreed-year", "2026"),
                ("agreed_time", "10:00"),
                ("police_view", "Police content with suspension"),
                ("written-day", ""),
                ("written-month", ""),
                ("written-year", ""),
                ("written_time", ""),
                ("named_contact", ""),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let errors = r.error_summary();
    assert!(
        errors
            .iter()
            .any(|e| e == "Select the action about the employee"),
        "{errors:?}"
    );
    assert!(
        errors
            .iter()
            .any(|e| e.contains("before the concern arose")),
        "{errors:?}"
    );
    // What was typed is kept.
    assert!(r.body.contains("Police content with suspension"));
    assert_eq!(app.count("SELECT count(*) FROM employee_actions").await, 0);
    // Two actions agreed on Friday 4 December: one confirmed in writing the next working day
    // (Monday 7th), one never; by Tuesday the second is overdue.
    for (action, written) in [("suspension", "7"), ("redeployment", "")] {
        let r = lee
            .post(
                &path,
                &[
                    ("action", action),
                    (
                        "alternatives",
                        "Working from home was considered: the role needs contact with pupils.",
                    ),
                    (
                        "rationale",
                        "Agreed with the head teacher while the police enquire.",
                    ),
                    ("agreed_by", "Head teacher and LADO"),
                    ("agreed-day", "4"),
                    ("agreed-month", "12"),
                    ("agreed-year", "2026"),
                    ("agreed_time", "11:00"),
                    ("police_view", "No objection."),
                    ("written-day", written),
                    ("written-month", if written.is_empty() { "" } else { "12" }),
                    ("written-year", if written.is_empty() { "" } else { "2026" }),
                    (
                        "written_time",
                        if written.is_empty() { "" } else { "16:00" },
                    ),
                    ("named_contact", "Deputy head"),
                ],
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{:?}", r.error_summary());
    }
    let page = lee.get(&format!("/lado/allegations/{a}")).await;
    assert!(
        page.body
            .contains("Written confirmation: sent 7 December 2026 at 4pm (within one working day)"),
        "{}",
        page.body
    );
    assert!(
        page.body
            .contains("Written confirmation: not sent, and overdue since 7 December 2026 at 5pm")
    );
    assert!(page.body.contains("Working from home was considered"));
    // The letter for the second went out on Tuesday morning: recorded now, once, and shown late.
    let links = page.attr("#action-list a", "href");
    assert_eq!(links.len(), 1, "{links:?}");
    let form = lee.get(&links[0]).await;
    assert_eq!(form.status, StatusCode::OK);
    let action: Uuid = links[0]
        .trim_end_matches("-written")
        .rsplit("action-")
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let post = format!("/lado/allegations/{a}/actions/{action}/written");
    let when = |d: &'static str, t: &'static str| {
        [
            ("written-day", d),
            ("written-month", "12"),
            ("written-year", "2026"),
            ("written_time", t),
        ]
    };
    // Before the action was agreed: refused, typed values kept.
    let r = lee.post(&post, &when("4", "09:00")).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        r.error_summary()[0]
            .starts_with("Written confirmation cannot be sent before the action was agreed")
    );
    assert_eq!(r.attr("#written-day", "value"), vec!["4"]);
    let r = lee.post(&post, &when("8", "09:15")).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{:?}", r.error_summary());
    assert_eq!(
        lee.post(&post, &when("8", "09:20")).await.status,
        StatusCode::CONFLICT
    );
    let page = lee.get(&format!("/lado/allegations/{a}")).await;
    assert!(page.body.contains("Written confirmation: sent 8 December 2026 at 9:15am, later than one working day (it was due by 7 December 2026 at 5pm)"), "{}", page.body);
    assert!(page.attr("#action-list a", "href").is_empty());
    assert!(page.body.contains("Written confirmation of the action about the employee was sent 8 December 2026 at 9:15am, later than one working day."));
}

#[tokio::test]
async fn a_lado_who_is_the_subject_of_an_allegation_never_sees_it_or_decides_who_may() {
    let app = TestApp::with_env(&[("HAVEN_FIXED_TIME", "2026-12-04T10:00:00Z")]).await;
    let (mut lee, _) = app.signed_in("lado").await;
    let (mut kit, _) = app
        .signed_in_as("lado", "kit.lado@example.org", "Team A")
        .await;
    let (mut pat, _) = app
        .signed_in_as("practitioner", "pat@example.org", "Team A")
        .await;
    // The concern is about Kit, a LADO who uses Haven; a step is overdue by now.
    let a = open_allegation(
        &mut lee,
        "Kit Ambrose",
        "kit.lado@example.org",
        ("3", "12", "2026", "09:00"),
        ("3", "12", "2026", "09:30"),
    )
    .await;
    haven::db::allegations::sweep_breaches(&app.pool, utc(2026, 12, 4, 10, 0))
        .await
        .unwrap();
    let reference: String = sqlx::query_scalar("SELECT reference FROM allegations WHERE id = $1")
        .bind(a)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    pat.get("/access-requests").await;
    let r = pat
        .post(
            "/access-requests",
            &[
                ("reference", &reference),
                ("reason", "The child is on my caseload"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let request: Uuid = sqlx::query_scalar("SELECT id FROM break_glass_requests")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    // The other LADO sees all of it.
    let dash = lee.get("/lado").await;
    assert!(dash.body.contains(&reference));
    assert!(dash.body.contains("The child is on my caseload"));
    // Kit sees none of it, anywhere, and cannot decide the request.
    for path in [
        "/lado",
        "/lado/reviews",
        "/lado/report?from-day=1&from-month=4&from-year=2026&to-day=31&to-month=3&to-year=2027",
    ] {
        let r = kit.get(path).await;
        assert!(!r.body.contains(&reference), "{path}");
        assert!(!r.body.contains("Kit Ambrose"), "{path}");
        assert!(!r.body.contains("on my caseload"), "{path}");
    }
    let report = kit
        .get(
            "/lado/report?from-day=1&from-month=4&from-year=2026&to-day=31&to-month=3&to-year=2027",
        )
        .await;
    assert_eq!(report.select("#headline dd")[0], "0");
    assert_eq!(
        kit.get(&format!("/lado/allegations/{a}")).await.status,
        StatusCode::NOT_FOUND
    );
    let r = kit
        .post(
            &format!("/lado/access-requests/{request}"),
            &[("action", "approve")],
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let status: String = sqlx::query_scalar("SELECT status FROM break_glass_requests")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(status, "pending");
}

#[tokio::test]
async fn the_lado_takes_over_a_section_47_hand_over_and_the_case_is_linked_and_restricted() {
    let app = TestApp::with_env(&[("HAVEN_FIXED_TIME", "2026-12-04T10:00:00Z")]).await;
    let (mut lee, _) = app.signed_in("lado").await;
    let (mut pat, pat_id) = app
        .signed_in_as("practitioner", "pat@example.org", "Team A")
        .await;
    let (mut sam, _) = app
        .signed_in_as("practitioner", "sam@example.org", "Team A")
        .await;
    let case =
        crate::procedure::case_with_two_children(&app, pat_id, utc(2026, 12, 2, 9, 0), true).await;
    let juniper = crate::procedure::child_id(&app, case, "Juniper Ashcombe").await;
    let rowan = crate::procedure::child_id(&app, case, "Rowan Ashcombe").await;
    crate::procedure::hold_discussion(
        &app,
        &mut pat,
        case,
        ("3", "12", "2026", "09:00"),
        &[(juniper, None)],
        &[juniper, rowan],
    )
    .await;
    let mut owner = app.owner().await;
    sqlx::query("UPDATE section47_enquiries SET lado_handover = true WHERE case_id = $1")
        .bind(case)
        .execute(&mut owner)
        .await
        .unwrap();
    let case_ref: String = sqlx::query_scalar("SELECT reference FROM cases WHERE id = $1")
        .bind(case)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    // The hand-over waits on the LADO's dashboard.
    let dash = lee.get("/lado").await;
    let waiting = dash.select("#handover-list li");
    assert_eq!(waiting.len(), 1);
    assert!(waiting[0].contains(&case_ref));
    // The form knows where it came from; a made-up source is ignored, not trusted.
    let form = lee.get(&format!("/lado/allegations/new?from={case}")).await;
    assert_eq!(
        form.attr("input[name=source_case]", "value"),
        vec![case.to_string()]
    );
    let stranger = lee
        .get(&format!("/lado/allegations/new?from={}", Uuid::now_v7()))
        .await;
    assert_eq!(
        stranger.attr("input[name=source_case]", "value"),
        vec![String::new()]
    );
    lee.get(&format!("/lado/allegations/new?from={case}")).await;
    let r = lee
        .post(
            "/lado/allegations",
            &[
                ("contact_kind", "section47"),
                ("contact-day", "4"),
                ("contact-month", "12"),
                ("contact-year", "2026"),
                ("contact_time", "09:30"),
                ("contact_from", "Pat, the case's social worker"),
                ("source_case", &case.to_string()),
                ("subject_name", "Gary Pellow"),
                ("subject_role", "Youth club volunteer"),
                ("subject_employer", "Harbour Youth Club"),
                ("setting", "voluntary"),
                ("subject_email", ""),
                ("arose-day", "3"),
                ("arose-month", "12"),
                ("arose-year", "2026"),
                ("arose_time", "09:00"),
                ("concern_how", "Handed over from the Section 47 enquiry."),
                ("conduct", "outside_work"),
                ("case_manager", ""),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{:?}", r.error_summary());
    let a: Uuid = r.location().rsplit('/').next().unwrap().parse().unwrap();
    let (source, restricted): (Option<Uuid>, bool) = sqlx::query_as(
        "SELECT a.source_case_id, c.restricted FROM allegations a JOIN cases c ON c.id = $2 WHERE a.id = $1",
    )
    .bind(a)
    .bind(case)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(source, Some(case));
    assert!(restricted);
    // Taken over: off the waiting list, on the allegation page, and the team-mate no longer
    // finds the case; its worker keeps it.
    assert!(
        lee.get("/lado")
            .await
            .select("#handover-list li")
            .is_empty()
    );
    assert!(
        lee.get(&format!("/lado/allegations/{a}"))
            .await
            .body
            .contains(&case_ref)
    );
    assert_eq!(
        sam.get(&format!("/cases/{case}")).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        pat.get(&format!("/cases/{case}")).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn learning_later_that_the_person_uses_haven_shuts_them_out_at_once() {
    let app = TestApp::with_env(&[("HAVEN_FIXED_TIME", "2026-12-04T10:00:00Z")]).await;
    let (mut lee, lee_id) = app.signed_in("lado").await;
    let (mut rhys, _) = app
        .signed_in_as("practitioner", "rhys@example.org", "Team B")
        .await;
    let a = open_allegation(
        &mut lee,
        "Rhys Calloway",
        "",
        ("3", "12", "2026", "09:00"),
        ("3", "12", "2026", "09:30"),
    )
    .await;
    // Named on it before anyone knew it was about him.
    lee.get(&format!("/lado/allegations/{a}/forms/access"))
        .await;
    let r = lee
        .post(
            &format!("/lado/allegations/{a}/access"),
            &[("email", "rhys@example.org")],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(
        rhys.get(&format!("/lado/allegations/{a}")).await.status,
        StatusCode::OK
    );
    let version = || async {
        sqlx::query_scalar::<_, i32>("SELECT version FROM allegations WHERE id = $1")
            .bind(a)
            .fetch_one(&app.pool)
            .await
            .unwrap()
            .to_string()
    };
    let form = lee
        .get(&format!("/lado/allegations/{a}/forms/subject"))
        .await;
    assert_eq!(form.status, StatusCode::OK);
    assert_eq!(form.attr("#case_manager", "value"), vec!["Head teacher"]);
    // An address with no account, and the LADO's own: refused, typed values kept.
    for (email, says) in [
        (
            "nobody@example.org",
            "No Haven account has that email address",
        ),
        ("", ""),
    ] {
        if email.is_empty() {
            break;
        }
        let r = lee
            .post(
                &format!("/lado/allegations/{a}/subject"),
                &[
                    ("version", &version().await),
                    ("case_manager", "Deputy head"),
                    ("subject_email", email),
                ],
            )
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(r.error_summary()[0].starts_with(says));
        assert_eq!(r.attr("#case_manager", "value"), vec!["Deputy head"]);
    }
    let lee_email: String = sqlx::query_scalar("SELECT email FROM users WHERE id = $1")
        .bind(lee_id)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let r = lee
        .post(
            &format!("/lado/allegations/{a}/subject"),
            &[
                ("version", &version().await),
                ("case_manager", ""),
                ("subject_email", &lee_email),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let r = lee
        .post(
            &format!("/lado/allegations/{a}/subject"),
            &[
                ("version", &version().await),
                ("case_manager", "Deputy head"),
                ("subject_email", "RHYS@example.org"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{:?}", r.error_summary());
    // At once: no route for him, and the change is in the chronology.
    assert_eq!(
        rhys.get(&format!("/lado/allegations/{a}")).await.status,
        StatusCode::NOT_FOUND
    );
    let page = lee.get(&format!("/lado/allegations/{a}")).await;
    assert!(page.body.contains("case manager: Deputy head."));
    assert!(
        page.body
            .contains("their account can never open this allegation")
    );
    // A stale form is a conflict.
    let r = lee
        .post(
            &format!("/lado/allegations/{a}/subject"),
            &[
                ("version", "1"),
                ("case_manager", "x"),
                ("subject_email", ""),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
}
