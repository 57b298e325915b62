//! People recorded properly: every fact about a child or an adult can be changed after intake,
//! with the row's version, each change in the chronology with its old and new values; a date of
//! birth and a contradictory age, or an NHS number with a bad check digit, are refused with
//! nothing saved; each adult has a relationship to each child.

use axum::http::StatusCode;
use chrono::{TimeZone, Utc};
use uuid::Uuid;

use crate::helpers::TestApp;

async fn person(app: &TestApp, case: Uuid, name: &str) -> (Uuid, i32) {
    sqlx::query_as("SELECT id, version FROM case_people WHERE case_id = $1 AND full_name = $2")
        .bind(case)
        .bind(name)
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

async fn chronology(app: &TestApp, case: Uuid) -> Vec<String> {
    sqlx::query_scalar(
        "SELECT summary FROM chronology_entries WHERE case_id = $1 AND kind = 'person' ORDER BY recorded_at, id",
    )
    .bind(case)
    .fetch_all(&app.pool)
    .await
    .unwrap()
}

/// The whole child form as a browser sends it, with `over` replacing fields.
fn child_form<'a>(version: &'a str, over: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut f = vec![
        ("version", version),
        ("name", "Juniper Ashcombe"),
        ("sex", ""),
        ("gender", ""),
        ("dob-day", ""),
        ("dob-month", ""),
        ("dob-year", ""),
        ("age", ""),
        ("ethnicity", ""),
        ("first_language", ""),
        ("interpreter", ""),
        ("address", ""),
        ("household", ""),
        ("nhs", ""),
        ("school", ""),
        ("send", ""),
        ("send_details", ""),
        ("plan", ""),
        ("looked_after", ""),
    ];
    for (k, v) in over {
        if let Some(slot) = f.iter_mut().find(|(fk, _)| fk == k) {
            slot.1 = v;
        } else {
            f.push((k, v));
        }
    }
    f
}

#[tokio::test]
async fn a_child_s_facts_are_changed_with_old_and_new_values_and_bad_ones_refused() {
    let app = TestApp::with_env(&[("HAVEN_FIXED_TIME", "2026-12-04T10:00:00Z")]).await;
    let (mut pat, pat_id) = app
        .signed_in_as("practitioner", "pat@example.org", "Team A")
        .await;
    let (mut bea, _) = app
        .signed_in_as("practitioner", "bea@example.org", "Team B")
        .await;
    let case = crate::procedure::case_with_two_children(
        &app,
        pat_id,
        Utc.with_ymd_and_hms(2026, 12, 3, 9, 0, 0).unwrap(),
        false,
    )
    .await;
    let (juniper, v1) = person(&app, case, "Juniper Ashcombe").await;
    let edit = format!("/cases/{case}/people/{juniper}/edit");
    let page = pat.get(&format!("/cases/{case}")).await;
    assert!(
        page.attr("#children a", "href").contains(&edit),
        "{}",
        page.body
    );
    let form = pat.get(&edit).await;
    assert_eq!(form.status, StatusCode::OK);
    assert_eq!(
        form.attr("input[name=version]", "value"),
        vec![v1.to_string()]
    );
    let v = v1.to_string();

    // A date of birth that makes her 12, with an age of 9: refused, what was typed kept.
    let bad = pat
        .post(
            &edit,
            &child_form(
                &v,
                &[
                    ("sex", "female"),
                    ("dob-day", "15"),
                    ("dob-month", "6"),
                    ("dob-year", "2014"),
                    ("age", "9"),
                    ("nhs", "943 476 5918"),
                    ("school", "Fernhill Academy"),
                ],
            ),
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    let summary = bad.error_summary();
    assert_eq!(summary.len(), 2, "{summary:?}");
    assert!(
        summary[0].contains("makes them 12 years old, not 9"),
        "{summary:?}"
    );
    assert!(summary[1].contains("not a valid NHS number"), "{summary:?}");
    assert_eq!(bad.attr("#school", "value"), vec!["Fernhill Academy"]);
    assert_eq!(bad.attr("#nhs", "value"), vec!["943 476 5918"]);
    assert_eq!(
        bad.attr("input[name=sex][checked]", "value"),
        vec!["female"]
    );
    assert_eq!(
        person(&app, case, "Juniper Ashcombe").await.1,
        v1,
        "nothing saved"
    );
    assert!(chronology(&app, case).await.is_empty());

    // Someone who cannot see the case gets "not found", and nothing changes.
    assert_eq!(bea.get(&edit).await.status, StatusCode::NOT_FOUND);
    let outsider = bea.post(&edit, &child_form(&v, &[("sex", "male")])).await;
    assert_eq!(outsider.status, StatusCode::NOT_FOUND);

    // Now correctly: the change is saved, and the chronology gives old and new values.
    let ok = pat
        .post(
            &edit,
            &child_form(
                &v,
                &[
                    ("name", "Juniper Ashcombe-Reyes"),
                    ("sex", "female"),
                    ("dob-day", "15"),
                    ("dob-month", "6"),
                    ("dob-year", "2014"),
                    ("age", "12"),
                    ("ethnicity", "MWBC"),
                    ("first_language", "English"),
                    ("interpreter", "no"),
                    ("nhs", "943 476 5919"),
                    ("school", "Fernhill Academy"),
                    ("send", "ehc_plan"),
                    ("plan", "yes"),
                    ("looked_after", "no"),
                ],
            ),
        )
        .await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER, "{}", ok.body);
    let stored: (String, Option<i32>, String, String, i32) = sqlx::query_as(
        "SELECT sex, age_estimate, nhs_number, protection_plan, version FROM case_people WHERE id = $1",
    )
    .bind(juniper)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(
        stored,
        (
            "female".into(),
            None,
            "9434765919".into(),
            "yes".into(),
            v1 + 1
        ),
        "the age comes from the date of birth"
    );
    let entries = chronology(&app, case).await;
    assert_eq!(entries.len(), 1);
    assert!(
        entries[0].contains("Name: “Juniper Ashcombe” → “Juniper Ashcombe-Reyes”"),
        "{}",
        entries[0]
    );
    assert!(
        entries[0].contains("Sex: not recorded → “Female”"),
        "{}",
        entries[0]
    );
    assert!(
        entries[0].contains("NHS number: not recorded → “943 476 5919”"),
        "{}",
        entries[0]
    );
    assert!(
        !entries[0].contains("Address"),
        "unchanged facts are not listed: {}",
        entries[0]
    );
    // The search finds her by her new name.
    let names: String = sqlx::query_scalar("SELECT search_names FROM cases WHERE id = $1")
        .bind(case)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert!(names.contains("juniper ashcombe-reyes"), "{names}");
    let page = pat.get(&format!("/cases/{case}")).await;
    let line = page.select("#children li").join(" | ");
    assert!(line.contains("Born 15 June 2014 (12 years old)"), "{line}");
    assert!(line.contains("Child protection plan"), "{line}");

    // A second tab still holding the old version: its change is refused and both are shown.
    let stale = pat
        .post(
            &edit,
            &child_form(
                &v,
                &[("name", "Juniper Ashcombe"), ("school", "Hill Primary")],
            ),
        )
        .await;
    assert_eq!(stale.status, StatusCode::CONFLICT, "{}", stale.body);
    assert!(stale.body.contains("Hill Primary"));
    assert!(stale.body.contains("Fernhill Academy"));
    let school: String = sqlx::query_scalar("SELECT school FROM case_people WHERE id = $1")
        .bind(juniper)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(
        school, "Fernhill Academy",
        "the stale edit overwrote nothing"
    );
    assert_eq!(chronology(&app, case).await.len(), 1);
}

#[tokio::test]
async fn each_adult_is_related_to_each_child_and_people_can_be_added_after_intake() {
    let app = TestApp::with_env(&[("HAVEN_FIXED_TIME", "2026-12-04T10:00:00Z")]).await;
    let (mut pat, pat_id) = app
        .signed_in_as("practitioner", "pat@example.org", "Team A")
        .await;
    let case = crate::procedure::case_with_two_children(
        &app,
        pat_id,
        Utc.with_ymd_and_hms(2026, 12, 3, 9, 0, 0).unwrap(),
        false,
    )
    .await;
    let (juniper, _) = person(&app, case, "Juniper Ashcombe").await;
    let (rowan, _) = person(&app, case, "Rowan Ashcombe").await;
    let (gary, gv) = person(&app, case, "Gary Pellow").await;
    let edit = format!("/cases/{case}/people/{gary}/edit");
    let form = pat.get(&edit).await;
    let selects = form.attr("select", "name");
    assert!(selects.contains(&format!("rel-{juniper}")), "{selects:?}");
    assert!(selects.contains(&format!("rel-{rowan}")), "{selects:?}");
    let (rj, rr) = (format!("rel-{juniper}"), format!("rel-{rowan}"));
    let gv = gv.to_string();
    let fields = |age: &'static str, employer: &'static str| {
        vec![
            ("version", gv.as_str()),
            ("name", "Gary Pellow"),
            ("sex", "male"),
            ("gender", ""),
            ("dob-day", ""),
            ("dob-month", ""),
            ("dob-year", ""),
            ("age", age),
            ("ethnicity", ""),
            ("first_language", ""),
            ("interpreter", ""),
            ("address", ""),
            ("household", ""),
            ("nhs", ""),
            ("role", "alleged"),
            ("employer", employer),
            ("job_role", "Swimming coach"),
            ("police_refs", "CR/12345/26"),
            (rj.as_str(), "online_contact"),
            (rr.as_str(), ""),
        ]
    };
    // An adult's age may be over 17; over 120 is refused.
    let bad = pat.post(&edit, &fields("130", "Riverside Leisure")).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        bad.error_summary(),
        vec!["Age must be a whole number from 0 to 120"]
    );
    let ok = pat.post(&edit, &fields("41", "Riverside Leisure")).await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER, "{}", ok.body);
    let rels: Vec<(Uuid, String)> = sqlx::query_as(
        "SELECT child_id, relationship FROM person_relationships WHERE adult_id = $1",
    )
    .bind(gary)
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(rels, vec![(juniper, "online_contact".to_owned())]);
    let entries = chronology(&app, case).await;
    assert!(
        entries[0].contains(
            "Relationship to Juniper Ashcombe: not recorded → “Known to the child only online”"
        ),
        "{}",
        entries[0]
    );
    assert!(entries[0].contains("Employer or organisation: not recorded → “Riverside Leisure”"));
    let page = pat.get(&format!("/cases/{case}")).await;
    let line = page.select("#adults li").join(" | ");
    assert!(
        line.contains("Known to the child only online to Juniper Ashcombe"),
        "{line}"
    );
    assert!(line.contains("Swimming coach, Riverside Leisure"), "{line}");

    // A brother discovered after intake is added, with his own chronology entry; the form's
    // one-time key means a double click adds him once.
    let add_form = pat.get(&format!("/cases/{case}/people/new/child")).await;
    let idem = add_form.attr("input[name=_idem]", "value")[0].clone();
    let add_fields = [
        ("_idem", idem.as_str()),
        ("version", "0"),
        ("name", "Ash Ashcombe"),
        ("sex", "male"),
        ("gender", ""),
        ("dob-day", ""),
        ("dob-month", ""),
        ("dob-year", ""),
        ("age", "7"),
        ("ethnicity", ""),
        ("first_language", ""),
        ("interpreter", ""),
        ("address", ""),
        ("household", "Mother"),
        ("nhs", ""),
        ("school", ""),
        ("send", ""),
        ("send_details", ""),
        ("plan", ""),
        ("looked_after", ""),
    ];
    let added = pat
        .post(&format!("/cases/{case}/people/new/child"), &add_fields)
        .await;
    let twice = pat
        .post(&format!("/cases/{case}/people/new/child"), &add_fields)
        .await;
    assert_eq!(twice.status, StatusCode::SEE_OTHER);
    assert_eq!(added.status, StatusCode::SEE_OTHER, "{}", added.body);
    let (ash, _) = person(&app, case, "Ash Ashcombe").await;
    let ashes: i64 =
        sqlx::query_scalar("SELECT count(*) FROM case_people WHERE full_name = 'Ash Ashcombe'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(ashes, 1, "a double click adds the person once");
    let entries = chronology(&app, case).await;
    assert!(
        entries
            .last()
            .unwrap()
            .contains("added a child, Ash Ashcombe to the case"),
        "{entries:?}"
    );
    // The adult's form now asks about the new child too.
    let form = pat.get(&edit).await;
    assert!(form.attr("select", "name").contains(&format!("rel-{ash}")));
    // A child aged 18 is not a child.
    let adult_child = pat
        .post(
            &format!("/cases/{case}/people/new/child"),
            &[("version", "0"), ("name", "Tall Person"), ("age", "18")],
        )
        .await;
    assert_eq!(adult_child.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        adult_child.error_summary(),
        vec!["Age must be a whole number from 0 to 17"]
    );
}

#[tokio::test]
async fn the_printable_summary_holds_the_people_and_a_filtered_chronology_and_is_audited() {
    let app = TestApp::with_env(&[("HAVEN_FIXED_TIME", "2026-12-04T10:00:00Z")]).await;
    let (mut pat, pat_id) = app
        .signed_in_as("practitioner", "pat@example.org", "Team A")
        .await;
    let (mut bea, bea_id) = app
        .signed_in_as("practitioner", "bea@example.org", "Team B")
        .await;
    let case = crate::procedure::case_with_two_children(
        &app,
        pat_id,
        Utc.with_ymd_and_hms(2026, 12, 1, 9, 0, 0).unwrap(),
        false,
    )
    .await;
    let idem = Uuid::new_v4().to_string();
    assert_eq!(
        pat.get(&format!("/cases/{case}")).await.status,
        StatusCode::OK
    );
    let note = pat
        .post(
            &format!("/cases/{case}/notes"),
            &[
                ("body", "Spoke to the school nurse about Juniper."),
                ("when-day", "3"),
                ("when-month", "12"),
                ("when-year", "2026"),
                ("time", "11:15"),
                ("corrects", ""),
                ("_idem", &idem),
            ],
        )
        .await;
    assert_eq!(note.status, StatusCode::SEE_OTHER, "{}", note.body);
    let prints = |who: Uuid| {
        let pool = app.pool.clone();
        async move {
            sqlx::query_scalar::<_, String>(
                "SELECT details FROM audit_events WHERE action = 'case.print' AND actor_user_id = $1 ORDER BY seq",
            )
            .bind(who)
            .fetch_all(&pool)
            .await
            .unwrap()
        }
    };

    let all = pat.get(&format!("/cases/{case}/print")).await;
    assert_eq!(all.status, StatusCode::OK);
    assert!(all.body.contains("OFFICIAL-SENSITIVE"));
    let people = all.select("h3").join(" | ");
    assert!(people.contains("Juniper Ashcombe (Child)"), "{people}");
    assert!(people.contains("Gary Pellow (Adult)"), "{people}");
    assert!(all.body.contains("A fictional account."));
    let rows = all.select("tbody tr");
    assert!(
        rows.iter().any(|r| r.contains("Spoke to the school nurse")),
        "{rows:?}"
    );
    assert!(
        rows.iter().any(|r| r.starts_with("1 December 2026")),
        "oldest first: {rows:?}"
    );
    assert_eq!(prints(pat_id).await.len(), 1, "every print is audited");

    // Only notes.
    let notes = pat.get(&format!("/cases/{case}/print?kind=note")).await;
    let rows = notes.select("tbody tr");
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert!(rows[0].contains("Spoke to the school nurse"));
    assert!(notes.body.contains("Chronology entries only note"));
    // A date range that ends before the note.
    let early = pat
        .get(&format!(
            "/cases/{case}/print?from-day=1&from-month=12&from-year=2026&to-day=2&to-month=12&to-year=2026"
        ))
        .await;
    let rows = early.select("tbody tr");
    assert!(!rows.is_empty());
    assert!(rows.iter().all(|r| !r.contains("school nurse")), "{rows:?}");
    // A last date before the first: a clear message, what was typed kept, nothing filtered.
    let bad = pat
        .get(&format!(
            "/cases/{case}/print?from-day=3&from-month=12&from-year=2026&to-day=1&to-month=12&to-year=2026"
        ))
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        bad.error_summary(),
        vec!["The last date must be the same as or after the first date"]
    );
    assert_eq!(bad.attr("#to-day", "value"), vec!["1"]);
    let details = prints(pat_id).await;
    assert_eq!(details.len(), 4);
    assert!(
        details[1].contains("\"kinds\":[\"note\"]"),
        "{}",
        details[1]
    );

    // Someone who may not see the case: not found, and no print recorded for them.
    let denied = bea.get(&format!("/cases/{case}/print")).await;
    assert_eq!(denied.status, StatusCode::NOT_FOUND);
    assert!(!denied.body.contains("Juniper"));
    assert!(prints(bea_id).await.is_empty());
}

#[tokio::test]
async fn earlier_involvement_names_the_team_to_ask_and_never_a_restricted_case() {
    let app = TestApp::new().await;
    let (mut pat, pat_id) = app
        .signed_in_as("practitioner", "pat@example.org", "Team A")
        .await;
    let (mut bea, bea_id) = app
        .signed_in_as("practitioner", "bea@example.org", "Team B")
        .await;
    let received = Utc::now() - chrono::Duration::days(400);
    let known = crate::procedure::case_with_two_children(&app, pat_id, received, false).await;
    sqlx::query("UPDATE case_people SET date_of_birth = '2013-11-04' WHERE case_id = $1 AND full_name = 'Juniper Ashcombe'")
        .bind(known)
        .execute(&app.pool)
        .await
        .unwrap();
    // A restricted case about a child of the same name, and one about a different child of that
    // name (another date of birth): neither may show.
    let hidden = crate::procedure::case_with_two_children(&app, pat_id, received, false).await;
    sqlx::query("UPDATE cases SET restricted = true WHERE id = $1")
        .bind(hidden)
        .execute(&app.pool)
        .await
        .unwrap();
    let other = crate::procedure::case_with_two_children(&app, pat_id, received, false).await;
    sqlx::query("UPDATE case_people SET date_of_birth = '2015-02-01' WHERE case_id = $1 AND full_name = 'Juniper Ashcombe'")
        .bind(other)
        .execute(&app.pool)
        .await
        .unwrap();
    sqlx::query(
        "UPDATE case_people SET full_name = 'Wendell Crisp' WHERE case_id = $1 AND kind = 'adult'",
    )
    .bind(other)
    .execute(&app.pool)
    .await
    .unwrap();
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
    let (known_ref, hidden_ref, other_ref) = (
        reference(known).await,
        reference(hidden).await,
        reference(other).await,
    );

    // Someone in another team: the team to ask, never the case.
    let base =
        crate::referrals::fill_referral(&mut bea, "Juniper Ashcombe", "A fictional account.").await;
    let check = bea.get(&format!("{base}/check")).await;
    assert_eq!(check.status, StatusCode::OK);
    let lines = check.select("#earlier-involvement li");
    let juniper: Vec<&String> = lines
        .iter()
        .filter(|l| l.starts_with("Juniper Ashcombe:"))
        .collect();
    assert_eq!(juniper.len(), 1, "{lines:?}");
    assert!(
        juniper[0]
            .contains("someone with a similar name and the same date of birth is known to Team A"),
        "{lines:?}"
    );
    assert!(check.attr("#earlier-involvement a", "href").is_empty());
    for r in [&known_ref, &hidden_ref, &other_ref] {
        assert!(
            !check.body.contains(r.as_str()),
            "{r} shown to another team"
        );
    }
    let audited: Vec<String> = sqlx::query_scalar(
        "SELECT details FROM audit_events WHERE action = 'referral.involvement_check' AND actor_user_id = $1",
    )
    .bind(bea_id)
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(audited.len(), 1);
    assert!(audited[0].contains(&known.to_string()), "{}", audited[0]);
    assert!(!audited[0].contains(&hidden.to_string()), "{}", audited[0]);

    // Someone in the case's own team gets the case itself.
    let base =
        crate::referrals::fill_referral(&mut pat, "Juniper Ashcombe", "A fictional account.").await;
    let check = pat.get(&format!("{base}/check")).await;
    let links = check.attr("#earlier-involvement a", "href");
    assert!(links.contains(&format!("/cases/{known}")), "{links:?}");
    assert!(!links.contains(&format!("/cases/{hidden}")), "{links:?}");
    assert!(
        !links.contains(&format!("/cases/{other}")),
        "another child's case: {links:?}"
    );
    assert!(check.body.contains(&known_ref));
}

/// A case's people carry its owner (for "My cases" search). Changing a person and reallocating
/// the case at the same moment must neither deadlock (a person edit locked the person, then the
/// case; an allocation the case, then its people) nor leave a person with the old owner (one
/// added while the case moved).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn people_changed_while_the_case_moves_keep_its_owner_and_never_deadlock() {
    let app = TestApp::with_env(&[("HAVEN_FIXED_TIME", "2026-12-04T10:00:00Z")]).await;
    let (pat, pat_id) = app
        .signed_in_as("practitioner", "pat@example.org", "Team A")
        .await;
    let (_, sam_id) = app
        .signed_in_as("practitioner", "sam@example.org", "Team A")
        .await;
    let (mo, _) = app
        .signed_in_as("manager", "mo@example.org", "Team A")
        .await;
    let received = Utc.with_ymd_and_hms(2026, 12, 3, 9, 0, 0).unwrap();
    let case = crate::procedure::case_with_two_children(&app, pat_id, received, false).await;
    let (juniper, _) = person(&app, case, "Juniper Ashcombe").await;
    const ROUNDS: usize = 12;
    let changes = {
        let mut pat = pat.fork();
        let app = &app;
        async move {
            let mut statuses = Vec::new();
            for i in 0..ROUNDS {
                let (_, v) = person(app, case, "Juniper Ashcombe").await;
                let (v, school) = (v.to_string(), format!("School {i}"));
                let edit = format!("/cases/{case}/people/{juniper}/edit");
                pat.get(&edit).await;
                let fields = child_form(&v, &[("school", school.as_str())]);
                statuses.push(pat.post(&edit, &fields).await.status);
                let add = format!("/cases/{case}/people/new/child");
                let idem = pat.get(&add).await.attr("input[name=_idem]", "value")[0].clone();
                let name = format!("Extra{i} Ashcombe");
                let mut fields = child_form("0", &[("name", name.as_str())]);
                fields.push(("_idem", idem.as_str()));
                statuses.push(pat.post(&add, &fields).await.status);
            }
            statuses
        }
    };
    let moves = {
        let mut mo = mo.fork();
        let app = &app;
        async move {
            let mut statuses = Vec::new();
            for i in 0..ROUNDS {
                let to = if i % 2 == 0 { sam_id } else { pat_id };
                let version: i32 = sqlx::query_scalar("SELECT version FROM cases WHERE id = $1")
                    .bind(case)
                    .fetch_one(&app.pool)
                    .await
                    .unwrap();
                mo.get(&format!("/cases/{case}/allocate")).await;
                let r = mo
                    .post(
                        &format!("/cases/{case}/allocate"),
                        &[
                            ("owner", &to.to_string()),
                            ("version", &version.to_string()),
                        ],
                    )
                    .await;
                statuses.push(r.status);
            }
            statuses
        }
    };
    let (changed, moved) = tokio::join!(changes, moves);
    // Every change saved or, for a stale version, refused as a conflict: none failed.
    for s in changed.iter().chain(&moved) {
        assert!(
            [StatusCode::SEE_OTHER, StatusCode::CONFLICT].contains(s),
            "{changed:?} {moved:?}"
        );
    }
    assert!(changed.contains(&StatusCode::SEE_OTHER) && moved.contains(&StatusCode::SEE_OTHER));
    assert_eq!(
        app.count(
            "SELECT count(*) FROM case_people p JOIN cases c ON c.id = p.case_id WHERE p.owner_id <> c.owner_id"
        )
        .await,
        0
    );
}
