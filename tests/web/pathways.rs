//! The procedure's other pathways on a case: Prevent, nudes and semi-nudes shared by children,
//! and harmful sexual behaviour by a child. Bad input, optimistic locking, the chronology and
//! the case page, and a reference to another case that reveals nothing.

use axum::http::StatusCode;
use haven::domain::ConcernKind;
use uuid::Uuid;

use crate::cases::make_case;
use crate::helpers::TestApp;

async fn chronology(app: &TestApp, case: Uuid) -> Vec<String> {
    sqlx::query_scalar(
        "SELECT summary FROM chronology_entries WHERE case_id = $1 AND kind = 'pathway' ORDER BY recorded_at, id",
    )
    .bind(case)
    .fetch_all(&app.pool)
    .await
    .unwrap()
}

#[tokio::test]
async fn prevent_needs_a_named_reporter_and_a_channel_outcome_that_fits_the_referral() {
    let app = TestApp::new().await;
    let (mut pat, pat_id) = app.signed_in("practitioner").await;
    let case = make_case(
        &app,
        pat_id,
        "Team A",
        "Tobias Wren",
        ConcernKind::Extremism,
    )
    .await;
    let path = format!("/cases/{case}/pathways/prevent");
    let page = pat.get(&path).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("never anonymously"));
    let good = [
        ("version", "0"),
        ("lead", "Imogen Hale, DSL, Marsh Lane School"),
        (
            "advice",
            "Talked through the videos he watched; school to monitor.",
        ),
        ("referral", "made"),
        ("referral_on-day", "20"),
        ("referral_on-month", "11"),
        ("referral_on-year", "2026"),
        ("referral_reference", "PR-55120"),
        ("channel", "pending"),
        ("material", "yes"),
        ("reported_by", "Imogen Hale"),
        ("reported_to", "Counter-terrorism police online form"),
    ];
    // Reported "anonymously", no referral date, and a Channel outcome without a referral.
    let mut bad: Vec<(&str, &str)> = good.to_vec();
    bad.retain(|(k, _)| !matches!(*k, "reported_by") && !k.starts_with("referral_on"));
    bad.push(("reported_by", ""));
    let r = pat.post(&path, &bad).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        r.error_summary(),
        vec!["Enter the date of the referral", "Enter who reported it",]
    );
    assert_eq!(
        r.attr("#lead", "value"),
        vec!["Imogen Hale, DSL, Marsh Lane School"]
    );
    let mut no_referral: Vec<(&str, &str)> = good.to_vec();
    no_referral.retain(|(k, _)| *k != "referral");
    no_referral.push(("referral", "not_made"));
    let r = pat.post(&path, &no_referral).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        r.error_summary()[0].starts_with("Without a Prevent referral there is no Channel outcome")
    );
    assert!(chronology(&app, case).await.is_empty());

    let r = pat.post(&path, &good).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{:?}", r.error_summary());
    assert_eq!(r.location(), format!("/cases/{case}#pathways"));
    assert_eq!(
        chronology(&app, case).await,
        vec![
            "Prevent: Prevent lead: Imogen Hale, DSL, Marsh Lane School. A Prevent referral was made. Channel: Waiting for the Channel panel; terrorist material reported by Imogen Hale."
        ]
    );
    let shown = pat.get(&format!("/cases/{case}")).await;
    assert!(
        shown
            .select("#pathway-list")
            .join(" ")
            .contains("terrorist material reported by Imogen Hale")
    );
    // The form comes back filled in; a stale second tab is told, and nothing is lost silently.
    let form = pat.get(&path).await;
    assert_eq!(form.attr("#referral_on-day", "value"), vec!["20"]);
    assert_eq!(form.attr("input[name=version]", "value"), vec!["1"]);
    let mut stale = pat.fork();
    let mut later: Vec<(&str, &str)> = good.to_vec();
    later[0] = ("version", "1");
    later.retain(|(k, _)| *k != "channel");
    later.push(("channel", "adopted"));
    assert_eq!(pat.post(&path, &later).await.status, StatusCode::SEE_OTHER);
    let r = stale.post(&path, &later).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert!(r.body.contains("Someone else changed this record"));
    let r = stale.post(&path, &good).await; // version 0 again: the record exists now
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(chronology(&app, case).await.len(), 2);
    assert!(
        app.audit_actions()
            .await
            .iter()
            .filter(|a| *a == "case.pathway")
            .count()
            == 2
    );
    // An unknown pathway is not found.
    assert_eq!(
        pat.get(&format!("/cases/{case}/pathways/gangs"))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn nudes_record_the_triggers_and_an_adult_involved_means_an_urgent_police_referral() {
    let app = TestApp::new().await;
    let (mut pat, pat_id) = app.signed_in("practitioner").await;
    let case = make_case(
        &app,
        pat_id,
        "Team A",
        "Lark Penhale",
        ConcernKind::YouthImagery,
    )
    .await;
    let path = format!("/cases/{case}/pathways/nudes");
    pat.get(&path).await;
    let r = pat
        .post(
            &path,
            &[("version", "0"), ("notes", "Shared in a group chat.")],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.error_summary(), vec!["Select what the police recorded"]);
    assert!(r.body.contains("Shared in a group chat."));
    // An adult involved and "not reported to the police": refused, the ticks kept.
    let r = pat
        .post(
            &path,
            &[
                ("version", "0"),
                ("triggers", "adult"),
                ("police", "not_reported"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        r.error_summary()[0].starts_with("An adult is involved, so this is child sexual abuse")
    );
    assert_eq!(
        r.attr("input[name=triggers][checked]", "value"),
        vec!["adult"]
    );
    // A made-up trigger is refused outright.
    let r = pat
        .post(
            &path,
            &[
                ("version", "0"),
                ("triggers", "gossip"),
                ("police", "pending"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = pat
        .post(
            &path,
            &[
                ("version", "0"),
                ("triggers", "adult"),
                ("triggers", "coercion"),
                ("police", "pending"),
                ("police_reference", "CR/4471/26"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let entries = chronology(&app, case).await;
    assert!(entries[0].contains("Immediate referral to the police and children's social care: An adult is involved; Coercion, blackmail or grooming."), "{entries:?}");
    assert!(entries[0].ends_with(
        "An adult is involved: this is child sexual abuse and needs an urgent police referral."
    ));
    let form = pat.get(&path).await;
    assert_eq!(
        form.attr("input[name=triggers][checked]", "value"),
        vec!["adult", "coercion"]
    );
    // Later the police record it with outcome 21 and nothing else applied.
    let r = pat
        .post(&path, &[("version", "1"), ("police", "outcome_21")])
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert!(chronology(&app, case).await[1].starts_with("Nudes and semi-nudes shared by children: No trigger for an immediate referral applied. Police: Recorded as a crime with outcome 21"));
}

#[tokio::test]
async fn a_child_alleged_to_have_harmed_links_only_to_a_case_the_recorder_may_see() {
    let app = TestApp::new().await;
    let (mut pat, pat_id) = app.signed_in("practitioner").await;
    let (_, other_id) = app
        .signed_in_as("practitioner", "wyn@example.org", "Team B")
        .await;
    let case = make_case(&app, pat_id, "Team A", "Mabli Rowe", ConcernKind::Grooming).await;
    let theirs = make_case(&app, pat_id, "Team A", "Cadoc Pryce", ConcernKind::Bullying).await;
    let elsewhere = make_case(
        &app,
        other_id,
        "Team B",
        "Ffion Tull",
        ConcernKind::Bullying,
    )
    .await;
    let reference = |id: Uuid| {
        let pool = app.pool.clone();
        async move {
            sqlx::query_scalar::<_, String>("SELECT reference FROM cases WHERE id = $1")
                .bind(id)
                .fetch_one(&pool)
                .await
                .unwrap()
        }
    };
    let (theirs_ref, elsewhere_ref) = (reference(theirs).await, reference(elsewhere).await);
    let path = format!("/cases/{case}/pathways/hsb");
    pat.get(&path).await;
    let fields = |age: &'static str, own: String| {
        vec![
            ("version".to_owned(), "0".to_owned()),
            ("child_name".into(), "Cadoc Pryce".into()),
            ("child_age".into(), age.into()),
            ("own_case".into(), own),
            ("setting".into(), "online".into()),
            ("assessment".into(), "Brook traffic light tool".into()),
            ("safety_plan".into(), "yes".into()),
        ]
    };
    let post = |c: &mut crate::helpers::Client, f: Vec<(String, String)>| {
        let path = path.clone();
        let mut c = c.fork();
        async move {
            let f: Vec<(&str, &str)> = f.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            c.post(&path, &f).await
        }
    };
    // An adult is not on this pathway; another team's case and a made-up one get the same words.
    let r = post(&mut pat, fields("19", String::new())).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.error_summary()[0].starts_with("Enter the child's age in years, from 0 to 17"));
    let r1 = post(&mut pat, fields("14", elsewhere_ref.clone())).await;
    let r2 = post(&mut pat, fields("14", "HVN-2099-999999".into())).await;
    assert_eq!(r1.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r1.error_summary(), r2.error_summary());
    assert!(!r1.body.contains("Ffion"));
    assert_eq!(r1.attr("#own_case", "value"), vec![elsewhere_ref.clone()]);
    assert!(chronology(&app, case).await.is_empty());
    // Their own case in the same team, typed in lower case.
    let r = post(&mut pat, fields("14", theirs_ref.to_lowercase())).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{:?}", r.error_summary());
    assert_eq!(
        chronology(&app, case).await,
        vec![format!(
            "Harmful sexual behaviour by a child: The child alleged to have harmed: Cadoc Pryce, aged 14 (their case {theirs_ref}). Safety plan: in place."
        )]
    );
}
