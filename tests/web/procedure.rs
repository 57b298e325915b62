//! The procedure after the referral, through the router with a fixed clock: the decision and its
//! approval, two strategy discussions (the national conference date holds, the local one moves),
//! per-child Section 47 outcomes, the conference and its core-group and review clocks, closure,
//! dashboards, the calculator and the administrators' calendar; and bad input at each step.

use axum::http::StatusCode;
use chrono::{DateTime, TimeZone, Utc};
use haven::db::cases::{NewCase, create_from_referral};
use haven::db::drafts::{AdultDraft, ChildDraft, Received, ReferralDraft, Referrer, Risk, Work};
use haven::domain::{ConcernKind, Relationship, WorksWithChildren};
use uuid::Uuid;

use crate::helpers::{Client, TestApp};

fn utc(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, h, min, 0).unwrap()
}

/// A case with two children received at `received`, owned by `owner` in Team A, with its
/// deadlines worked out as a submitted referral's are.
pub async fn case_with_two_children(
    app: &TestApp,
    owner: Uuid,
    received: DateTime<Utc>,
    works: bool,
) -> Uuid {
    let team_id: Uuid = sqlx::query_scalar("SELECT id FROM teams WHERE name = 'Team A'")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let child = |name: &str| ChildDraft {
        name: name.into(),
        ..Default::default()
    };
    let draft = ReferralDraft {
        referrer: Some(Referrer {
            name: "Priya Nandakumar".into(),
            role: "Designated safeguarding lead".into(),
            agency: "Fernhill Academy".into(),
            contact: "01632 960 123".into(),
        }),
        received: Some(Received { at: received }),
        children: vec![child("Juniper Ashcombe"), child("Rowan Ashcombe")],
        children_done: true,
        adults: vec![AdultDraft {
            name: "Gary Pellow".into(),
            relationship: Relationship::Alleged,
            household: String::new(),
        }],
        adults_done: true,
        concerns: vec![ConcernKind::Grooming],
        account: Some("A fictional account.".into()),
        risk: Some(Risk {
            immediate: false,
            details: String::new(),
        }),
        work: Some(Work {
            works_with_children: if works {
                WorksWithChildren::Yes
            } else {
                WorksWithChildren::No
            },
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
            now: received,
        },
    )
    .await
    .unwrap();
    haven::db::deadlines::recompute(
        &mut tx,
        id,
        &haven::domain::calendar::Calendar::default(),
        haven::domain::deadlines::Settings::default(),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    id
}

async fn deadline(
    app: &TestApp,
    case: Uuid,
    kind: &str,
    child: Option<&str>,
) -> Option<(DateTime<Utc>, Option<DateTime<Utc>>, Option<DateTime<Utc>>)> {
    sqlx::query_as(
        "SELECT d.due_at, d.local_due_at, d.met_at FROM deadlines d LEFT JOIN case_people p ON p.id = d.person_id
         WHERE d.case_id = $1 AND d.kind = $2 AND ($3::text IS NULL OR p.full_name = $3) ORDER BY d.seq LIMIT 1",
    )
    .bind(case)
    .bind(kind)
    .bind(child)
    .fetch_optional(&app.pool)
    .await
    .unwrap()
}

pub async fn child_id(app: &TestApp, case: Uuid, name: &str) -> Uuid {
    sqlx::query_scalar("SELECT id FROM case_people WHERE case_id = $1 AND full_name = $2")
        .bind(case)
        .bind(name)
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

/// Fill in every page of a draft discussion and record it. `s47` lists (child, start day).
pub async fn hold_discussion(
    app: &TestApp,
    c: &mut Client,
    case: Uuid,
    held: (&str, &str, &str, &str),
    s47: &[(Uuid, Option<&str>)],
    children: &[Uuid],
) -> Uuid {
    c.get(&format!("/cases/{case}/procedure")).await;
    let r = c.post(&format!("/cases/{case}/strategy"), &[]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let base = r.location().to_owned();
    let sid: Uuid = base.rsplit('/').next().unwrap().parse().unwrap();
    let version = |app: &TestApp| {
        let pool = app.pool.clone();
        async move {
            let v: i32 =
                sqlx::query_scalar("SELECT version FROM strategy_discussions WHERE id = $1")
                    .bind(sid)
                    .fetch_one(&pool)
                    .await
                    .unwrap();
            v.to_string()
        }
    };
    let (d, m, y, t) = held;
    c.get(&format!("{base}/when")).await;
    let r = c
        .post(
            &format!("{base}/when"),
            &[
                ("version", &version(app).await),
                ("held-day", d),
                ("held-month", m),
                ("held-year", y),
                ("time", t),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    for (name, agency, role) in [
        ("Sam Whitlock", "social_care", "social_worker"),
        ("Morag Ellery", "social_care", "manager"),
        ("DC Okafor", "police", "officer"),
        ("Nurse Patel", "health", "practitioner"),
    ] {
        let r = c
            .post(
                &format!("{base}/attendees"),
                &[
                    ("version", &version(app).await),
                    ("name", name),
                    ("agency", agency),
                    ("role", role),
                    ("absent_reason", ""),
                    ("action", "add"),
                ],
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    }
    let r = c
        .post(
            &format!("{base}/attendees"),
            &[
                ("version", &version(app).await),
                ("name", ""),
                ("absent_reason", ""),
                ("action", "continue"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let mut fields: Vec<(String, String)> = vec![("version".into(), version(app).await)];
    for child in children {
        match s47.iter().find(|(c, _)| c == child) {
            Some((_, day)) => {
                fields.push((format!("s47-{child}"), "yes".into()));
                fields.push((format!("kind-{child}"), "joint".into()));
                if let Some(day) = day {
                    fields.push((format!("on-{child}-day"), (*day).into()));
                    fields.push((format!("on-{child}-month"), m.into()));
                    fields.push((format!("on-{child}-year"), y.into()));
                }
            }
            None => fields.push((format!("s47-{child}"), "no".into())),
        }
    }
    let refs: Vec<(&str, &str)> = fields
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    let r = c.post(&format!("{base}/children"), &refs).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    for (page, keys) in [
        (
            "risk",
            vec![
                "immediate_risk",
                "impact",
                "visiting_children",
                "imminent_meeting",
            ],
        ),
        (
            "work",
            vec![
                "images_person_work",
                "contact_person_work",
                "images_person_trust",
                "contact_person_trust",
            ],
        ),
        (
            "investigation",
            vec![
                "forensics",
                "contact_management",
                "other_procedures",
                "protective_carer",
                "investigation_delay",
            ],
        ),
    ] {
        let v = version(app).await;
        let mut f: Vec<(&str, &str)> = vec![("version", &v)];
        for k in &keys {
            f.push((k, "Considered: a fictional answer."));
        }
        f.push(("immediate_risk-risk", "yes"));
        let f: Vec<(&str, &str)> = f
            .into_iter()
            .filter(|(k, _)| *k != "immediate_risk-risk" || page == "risk")
            .collect();
        let r = c.post(&format!("{base}/{page}"), &f).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{page}: {}", r.body);
    }
    let r = c
        .post(
            &format!("{base}/decisions"),
            &[
                ("version", &version(app).await),
                ("decisions", "Joint enquiry; devices to be seized."),
                ("action", "add"),
                ("action_text", "Seize the tablet"),
                ("action_owner", "DC Okafor"),
                ("due-day", d),
                ("due-month", m),
                ("due-year", y),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let r = c
        .post(
            &format!("{base}/decisions"),
            &[
                ("version", &version(app).await),
                ("decisions", "Joint enquiry; devices to be seized."),
                ("action", "continue"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let r = c
        .post(
            &format!("{base}/family"),
            &[
                ("version", &version(app).await),
                ("family", "not_yet"),
                ("family_by", "DC Okafor and Morag Ellery"),
                ("family-day", d),
                ("family-month", m),
                ("family-year", y),
                ("time", t),
                ("family_agreed", ""),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    c.get(&format!("{base}/check")).await;
    let r = c
        .post(
            &format!("{base}/check"),
            &[("version", &version(app).await)],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    sid
}

#[tokio::test]
async fn a_case_with_two_children_goes_from_referral_to_review_conference() {
    // Now is 1 April 2027; everything below happened earlier.
    let app = TestApp::with_env(&[("HAVEN_FIXED_TIME", "2027-04-01T09:00:00Z")]).await;
    let (mut pat, pat_id) = app
        .signed_in_as("practitioner", "pat@example.org", "Team A")
        .await;
    let (mut mo, _) = app
        .signed_in_as("manager", "mo@example.org", "Team A")
        .await;
    let case = case_with_two_children(&app, pat_id, utc(2026, 12, 1, 9, 0), false).await;
    // Received Tuesday 1 December 2026: the decision is due by Wednesday's close.
    assert_eq!(
        deadline(&app, case, "referral_decision", None)
            .await
            .unwrap()
            .0,
        utc(2026, 12, 2, 17, 0)
    );

    // The practitioner records the decision; bad input first.
    pat.get(&format!("/cases/{case}/decision")).await;
    let r = pat
        .post(
            &format!("/cases/{case}/decision"),
            &[("outcome", "no_further_action"), ("reasons", "")],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        r.error_summary(),
        vec!["Give the reasons for no further action"]
    );
    assert_eq!(
        r.attr("input[name=outcome][checked]", "value"),
        vec!["no_further_action"]
    );
    let r = pat
        .post(
            &format!("/cases/{case}/decision"),
            &[
                ("outcome", "strategy_discussion"),
                ("reasons", "Grooming by an adult known to the family."),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    // A practitioner cannot approve it.
    let (id, version): (Uuid, i32) =
        sqlx::query_as("SELECT id, version FROM referral_decisions WHERE case_id = $1")
            .bind(case)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    pat.get(&format!("/cases/{case}/procedure")).await;
    let r = pat
        .post(
            &format!("/cases/{case}/decision/review"),
            &[
                ("decision", &id.to_string()),
                ("version", &version.to_string()),
                ("action", "approve"),
                ("note", ""),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    // It waits on the manager's Team work until approved.
    let waiting = mo.get("/work/team").await.select("#waiting li");
    assert_eq!(waiting.len(), 1, "{waiting:?}");
    assert!(
        waiting[0].contains("Decision on the referral, proposed by Test practitioner pat,"),
        "{waiting:?}"
    );
    // The manager approves it (today, so late) and is asked why it was late.
    let page = mo.get(&format!("/cases/{case}/procedure")).await;
    assert!(page.body.contains("Approve the decision"));
    let r = mo
        .post(
            &format!("/cases/{case}/decision/review"),
            &[
                ("decision", &id.to_string()),
                ("version", &version.to_string()),
                ("action", "approve"),
                ("note", ""),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let (_, _, met) = deadline(&app, case, "referral_decision", None)
        .await
        .unwrap();
    assert_eq!(met, Some(utc(2027, 4, 1, 9, 0)));
    let page = mo.get(&format!("/cases/{case}/procedure")).await;
    assert!(page.body.contains("Met late"), "{}", page.body);
    let late: Uuid = sqlx::query_scalar(
        "SELECT id FROM deadlines WHERE case_id = $1 AND kind = 'referral_decision'",
    )
    .bind(case)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    let r = mo
        .post(
            &format!("/cases/{case}/deadlines/{late}/reason"),
            &[("reason", "")],
        )
        .await;
    assert_eq!(
        r.location(),
        format!("/cases/{case}/procedure?reason=missing#deadlines")
    );
    let r = mo
        .post(
            &format!("/cases/{case}/deadlines/{late}/reason"),
            &[("reason", "The duty manager was off sick.")],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    // The strategy discussion clock started at the approval: 3 working days.
    assert_eq!(
        deadline(&app, case, "strategy_discussion", None)
            .await
            .unwrap()
            .0,
        utc(2027, 4, 6, 16, 0)
    );

    let juniper = child_id(&app, case, "Juniper Ashcombe").await;
    let rowan = child_id(&app, case, "Rowan Ashcombe").await;
    // The first discussion, Thursday 3 December 2026: a Section 47 enquiry for Juniper.
    hold_discussion(
        &app,
        &mut pat,
        case,
        ("3", "12", "2026", "14:00"),
        &[(juniper, Some("3"))],
        &[juniper, rowan],
    )
    .await;
    let (due, local, _) = deadline(&app, case, "icpc", Some("Juniper Ashcombe"))
        .await
        .unwrap();
    // The intake warning gives way to the recorded joint decision about telling the family.
    let page = pat.get(&format!("/cases/{case}")).await;
    let family = page.select("#family-decision");
    assert!(
        family[0].contains("Do not tell the family yet") && family[0].contains("DC Okafor"),
        "{family:?}"
    );
    assert_eq!((due, local), (utc(2026, 12, 24, 17, 0), None));
    assert!(
        deadline(&app, case, "icpc", Some("Rowan Ashcombe"))
            .await
            .is_none()
    );
    let status: String = sqlx::query_scalar("SELECT status FROM cases WHERE id = $1")
        .bind(case)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(status, "section47");
    // The second, Thursday 10 December: an enquiry for Rowan. Juniper's national date holds;
    // the local rule's date moves, and the chronology says why.
    hold_discussion(
        &app,
        &mut pat,
        case,
        ("10", "12", "2026", "14:00"),
        &[(juniper, None), (rowan, None)],
        &[juniper, rowan],
    )
    .await;
    let (due, local, _) = deadline(&app, case, "icpc", Some("Juniper Ashcombe"))
        .await
        .unwrap();
    assert_eq!(
        due,
        utc(2026, 12, 24, 17, 0),
        "a later discussion does not reset the national date"
    );
    assert_eq!(local, Some(utc(2027, 1, 5, 17, 0)));
    assert_eq!(
        deadline(&app, case, "icpc", Some("Rowan Ashcombe"))
            .await
            .unwrap()
            .0,
        utc(2027, 1, 5, 17, 0)
    );
    let page = pat.get(&format!("/cases/{case}")).await;
    assert!(
        page.body.contains(
            "the national date, from the discussion at which the enquiry started, does not move"
        ),
        "chronology explains the moved local date"
    );
    assert_eq!(
        app.count("SELECT count(*) FROM section47_enquiries").await,
        2,
        "one enquiry per child, started once"
    );

    // Outcomes: Juniper likely to suffer significant harm; Rowan not substantiated.
    let enquiry = |child: Uuid| {
        let pool = app.pool.clone();
        async move {
            let (id, v): (Uuid, i32) =
                sqlx::query_as("SELECT id, version FROM section47_enquiries WHERE person_id = $1")
                    .bind(child)
                    .fetch_one(&pool)
                    .await
                    .unwrap();
            (id, v.to_string())
        }
    };
    let (ej, vj) = enquiry(juniper).await;
    pat.get(&format!("/cases/{case}/enquiries/{ej}")).await;
    let r = pat
        .post(
            &format!("/cases/{case}/enquiries/{ej}"),
            &[
                ("version", &vj),
                ("outcome", "likely_significant_harm"),
                ("reasons", ""),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    // The proposed outcome waits on the manager's Team work, read by the case's team (each
    // enquiry carries it: migration 0028).
    let waiting = mo.get("/work/team").await.select("#waiting li");
    assert!(
        waiting.iter().any(|w| w.contains("Section 47 outcome")),
        "{waiting:?}"
    );
    assert_eq!(
        app.count(
            "SELECT count(*) FROM section47_enquiries e JOIN cases c ON c.id = e.case_id WHERE e.team_id = c.team_id"
        )
        .await,
        2
    );
    let (er, vr) = enquiry(rowan).await;
    let r = pat
        .post(
            &format!("/cases/{case}/enquiries/{er}"),
            &[
                ("version", &vr),
                ("outcome", "not_substantiated"),
                ("reasons", ""),
            ],
        )
        .await;
    assert_eq!(
        r.error_summary(),
        vec!["Give the reasons: no further child protection action needs them"]
    );
    let r = pat
        .post(
            &format!("/cases/{case}/enquiries/{er}"),
            &[
                ("version", &vr),
                ("outcome", "not_substantiated"),
                ("reasons", "No contact with the adult found."),
                ("hsb", ""),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    // An outcome for a child with no enquiry: no such address.
    let r = pat
        .post(
            &format!("/cases/{case}/enquiries/{}", Uuid::now_v7()),
            &[
                ("version", "1"),
                ("outcome", "not_substantiated"),
                ("reasons", "x"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    // The outcomes take effect only when approved: Rowan's conference clock is still there.
    assert!(
        deadline(&app, case, "icpc", Some("Rowan Ashcombe"))
            .await
            .is_some()
    );
    mo.get(&format!("/cases/{case}/procedure")).await;
    let (_, vr) = enquiry(rowan).await;
    let r = mo
        .post(
            &format!("/cases/{case}/enquiries/{er}/review"),
            &[("version", &vr), ("action", "return"), ("note", "")],
        )
        .await;
    assert_eq!(
        r.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "sending back needs a reason"
    );
    let r = mo
        .post(
            &format!("/cases/{case}/enquiries/{er}/review"),
            &[("version", &vr), ("action", "approve"), ("note", "")],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let (_, vj) = enquiry(juniper).await;
    let r = mo
        .post(
            &format!("/cases/{case}/enquiries/{ej}/review"),
            &[("version", &vj), ("action", "approve"), ("note", "")],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert!(
        deadline(&app, case, "icpc", Some("Rowan Ashcombe"))
            .await
            .is_none(),
        "no conference for Rowan"
    );

    // The conference: not before the enquiry started, then held on Tuesday 22 December.
    pat.get(&format!("/cases/{case}/conferences/new")).await;
    let conf = |day: &str, month: &str, year: &str, kind: &str| -> Vec<(String, String)> {
        vec![
            ("child".into(), juniper.to_string()),
            ("kind".into(), kind.into()),
            ("held-day".into(), day.into()),
            ("held-month".into(), month.into()),
            ("held-year".into(), year.into()),
            ("time".into(), "10:00".into()),
            ("chair".into(), "Independent chair Ruth Adebayo".into()),
            ("plan".into(), "yes".into()),
            ("category".into(), "sexual_abuse".into()),
            ("lead".into(), "Sam Whitlock".into()),
            (
                "core_group".into(),
                "Sam Whitlock (CSC)\nFernhill Academy".into(),
            ),
        ]
    };
    let post = |c: &mut Client, path: String, f: Vec<(String, String)>| {
        let f2 = f.clone();
        let path2 = path.clone();
        let mut c2 = c.fork();
        async move {
            let refs: Vec<(&str, &str)> =
                f2.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
            c2.post(&path2, &refs).await
        }
    };
    let r = post(
        &mut pat,
        format!("/cases/{case}/conferences"),
        conf("2", "12", "2026", "initial"),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        r.error_summary(),
        vec!["The conference cannot be before the Section 47 enquiry started"]
    );
    assert_eq!(
        r.attr("input[name=chair]", "value"),
        vec!["Independent chair Ruth Adebayo"]
    );
    let r = post(
        &mut pat,
        format!("/cases/{case}/conferences"),
        conf("22", "12", "2026", "review"),
    )
    .await;
    assert_eq!(
        r.error_summary(),
        vec!["A review conference comes after the initial conference"]
    );
    let r = post(
        &mut pat,
        format!("/cases/{case}/conferences"),
        conf("22", "12", "2026", "initial"),
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let (_, _, met) = deadline(&app, case, "icpc", Some("Juniper Ashcombe"))
        .await
        .unwrap();
    assert_eq!(met, Some(utc(2026, 12, 22, 10, 0)), "held in time");
    // It starts the core group (10 working days: 8 January) and the first review (22 March).
    assert_eq!(
        deadline(&app, case, "core_group", Some("Juniper Ashcombe"))
            .await
            .unwrap()
            .0,
        utc(2027, 1, 8, 17, 0)
    );
    assert_eq!(
        deadline(&app, case, "review_conference", Some("Juniper Ashcombe"))
            .await
            .unwrap()
            .0,
        utc(2027, 3, 22, 17, 0)
    );
    let r = pat
        .post(
            &format!("/cases/{case}/core-groups"),
            &[
                ("child", &juniper.to_string()),
                ("held-day", "7"),
                ("held-month", "1"),
                ("held-year", "2027"),
                ("time", "11:00"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert!(
        deadline(&app, case, "core_group", None)
            .await
            .unwrap()
            .2
            .is_some()
    );
    let r = post(
        &mut pat,
        format!("/cases/{case}/conferences"),
        conf("18", "3", "2027", "review"),
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let next: DateTime<Utc> = sqlx::query_scalar("SELECT due_at FROM deadlines WHERE case_id = $1 AND kind = 'review_conference' AND seq = 2")
        .bind(case)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(
        next,
        utc(2027, 9, 17, 16, 0),
        "six months later, the Friday before a Saturday, in BST"
    );

    // Recomputing again changes nothing.
    let mut tx = app.pool.begin().await.unwrap();
    let (changes, _) = haven::db::deadlines::recompute(
        &mut tx,
        case,
        &haven::domain::calendar::Calendar::default(),
        haven::domain::deadlines::Settings::default(),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    assert!(changes.is_empty(), "{changes:?}");

    // Closing: proposed by the practitioner, approved by the manager; open deadlines end.
    pat.get(&format!("/cases/{case}/close")).await;
    let r = pat
        .post(&format!("/cases/{case}/close"), &[("reason", "")])
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let r = pat
        .post(
            &format!("/cases/{case}/close"),
            &[(
                "reason",
                "The plan ended; the family moved away with support in place.",
            )],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let closure: Uuid = sqlx::query_scalar("SELECT id FROM case_closures WHERE case_id = $1")
        .bind(case)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let waiting = mo.get("/work/team").await.select("#waiting li");
    assert!(
        waiting.iter().any(|w| w.contains("Closing the case")),
        "{waiting:?}"
    );
    assert!(
        !waiting
            .iter()
            .any(|w| w.contains("Decision on the referral")),
        "approved, so no longer waiting: {waiting:?}"
    );
    mo.get(&format!("/cases/{case}/procedure")).await;
    let r = mo
        .post(
            &format!("/cases/{case}/close/review"),
            &[
                ("closure", &closure.to_string()),
                ("action", "approve"),
                ("note", ""),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let open = app
        .count("SELECT count(*) FROM deadlines WHERE met_at IS NULL AND ended_at IS NULL")
        .await;
    assert_eq!(open, 0);
    let status: String = sqlx::query_scalar("SELECT status FROM cases WHERE id = $1")
        .bind(case)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(status, "closed");
    // Every step is in the audit trail and the chronology.
    let actions = app.audit_actions().await;
    for a in [
        "case.decision_propose",
        "case.decision_review",
        "case.strategy_record",
        "case.outcome_propose",
        "case.outcome_review",
        "case.conference_add",
        "case.core_group_add",
        "case.closure_propose",
        "case.closure_review",
        "case.late_reason",
    ] {
        assert!(actions.contains(&a.to_owned()), "{a}");
    }
    let kinds: Vec<String> =
        sqlx::query_scalar("SELECT DISTINCT kind FROM chronology_entries WHERE case_id = $1")
            .bind(case)
            .fetch_all(&app.pool)
            .await
            .unwrap();
    for k in [
        "decision",
        "strategy",
        "section47",
        "conference",
        "deadline",
        "closure",
    ] {
        assert!(kinds.contains(&k.to_owned()), "{k}");
    }
}

#[tokio::test]
async fn nobody_approves_their_own_decision_and_a_stale_form_changes_nothing() {
    let app = TestApp::with_env(&[("HAVEN_FIXED_TIME", "2026-12-03T10:00:00Z")]).await;
    let (mut mo, mo_id) = app
        .signed_in_as("manager", "mo@example.org", "Team A")
        .await;
    let (mut kim, _) = app
        .signed_in_as("manager", "kim@example.org", "Team A")
        .await;
    let case = case_with_two_children(&app, mo_id, utc(2026, 12, 3, 9, 0), false).await;
    mo.get(&format!("/cases/{case}/decision")).await;
    mo.post(
        &format!("/cases/{case}/decision"),
        &[("outcome", "single_assessment"), ("reasons", "")],
    )
    .await;
    let (id, version): (Uuid, i32) = sqlx::query_as("SELECT id, version FROM referral_decisions")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    mo.get(&format!("/cases/{case}/procedure")).await;
    let r = mo
        .post(
            &format!("/cases/{case}/decision/review"),
            &[
                ("decision", &id.to_string()),
                ("version", &version.to_string()),
                ("action", "approve"),
                ("note", ""),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        r.error_summary(),
        vec!["You recorded this decision, so another manager must approve it"]
    );
    assert_eq!(
        app.count("SELECT count(*) FROM referral_decisions WHERE status = 'approved'")
            .await,
        0
    );
    // The database refuses it too.
    let err = sqlx::query("UPDATE referral_decisions SET status = 'approved', reviewed_by = proposed_by, reviewed_at = now()")
        .execute(&app.pool)
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("referral_decisions_not_own_approval")
    );
    // Another manager approves; a second approval from a stale page changes nothing.
    kim.get(&format!("/cases/{case}/procedure")).await;
    let mut kim2 = kim.fork();
    let r = kim
        .post(
            &format!("/cases/{case}/decision/review"),
            &[
                ("decision", &id.to_string()),
                ("version", &version.to_string()),
                ("action", "approve"),
                ("note", ""),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let r = kim2
        .post(
            &format!("/cases/{case}/decision/review"),
            &[
                ("decision", &id.to_string()),
                ("version", &version.to_string()),
                ("action", "return"),
                ("note", "Wait"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(
        app.count("SELECT count(*) FROM referral_decisions WHERE status = 'approved'")
            .await,
        1
    );
}

#[tokio::test]
async fn a_discussion_refuses_impossible_dates_and_two_people_saving_at_once() {
    let app = TestApp::with_env(&[("HAVEN_FIXED_TIME", "2026-12-10T10:00:00Z")]).await;
    let (mut pat, pat_id) = app
        .signed_in_as("practitioner", "pat@example.org", "Team A")
        .await;
    let case = case_with_two_children(&app, pat_id, utc(2026, 12, 3, 9, 0), false).await;
    pat.get(&format!("/cases/{case}/procedure")).await;
    let base = pat
        .post(&format!("/cases/{case}/strategy"), &[])
        .await
        .location()
        .to_owned();
    pat.get(&format!("{base}/when")).await;
    let when = |d: &'static str, m: &'static str| {
        vec![
            ("version", "1"),
            ("held-day", d),
            ("held-month", m),
            ("held-year", "2026"),
            ("time", "14:00"),
        ]
    };
    // Before the referral was received.
    let r = pat.post(&format!("{base}/when"), &when("2", "12")).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        r.error_summary(),
        vec!["The discussion cannot have been held before the referral was received"]
    );
    assert_eq!(r.attr("input[name=held-day]", "value"), vec!["2"]);
    // In the future.
    let r = pat.post(&format!("{base}/when"), &when("11", "12")).await;
    assert_eq!(
        r.error_summary(),
        vec!["The date and time the discussion was held must be in the past"]
    );
    assert_eq!(
        app.count("SELECT count(*) FROM strategy_discussions WHERE held_at IS NOT NULL")
            .await,
        0
    );
    // Two people on the same version: the first wins, the second gets the conflict page.
    let mut other = pat.fork();
    let r = pat.post(&format!("{base}/when"), &when("4", "12")).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let r = other.post(&format!("{base}/when"), &when("5", "12")).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    let held: DateTime<Utc> = sqlx::query_scalar("SELECT held_at FROM strategy_discussions")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(held, utc(2026, 12, 4, 14, 0));
    // Recording before every part is done lists what is missing, and records nothing.
    pat.get(&format!("{base}/check")).await;
    let r = pat
        .post(&format!("{base}/check"), &[("version", "2")])
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        r.error_summary()
            .contains(&"Complete “Who took part”".to_owned())
    );
    assert_eq!(
        app.count("SELECT count(*) FROM strategy_discussions WHERE status = 'recorded'")
            .await,
        0
    );
    // Missing the police and health: say why, or add them.
    let r = pat
        .post(
            &format!("{base}/attendees"),
            &[
                ("version", "2"),
                ("name", "Sam Whitlock"),
                ("agency", "social_care"),
                ("role", "social_worker"),
                ("absent_reason", ""),
                ("action", "add"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let r = pat
        .post(
            &format!("{base}/attendees"),
            &[
                ("version", "3"),
                ("name", ""),
                ("absent_reason", ""),
                ("action", "continue"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        r.error_summary()[0].contains("the police, health"),
        "{:?}",
        r.error_summary()
    );
}

/// Rows where the kept timeliness figures (once folded) differ from a recount of the deadlines
/// of unrestricted cases.
async fn timeliness_drift(app: &TestApp) -> i64 {
    app.count(
            "WITH counted AS (
               SELECT d.team_id, d.kind, (d.met_at AT TIME ZONE 'Europe/London')::date AS day,
                      count(*) FILTER (WHERE d.met_at <= d.due_at)::int AS in_time, count(*)::int AS met
               FROM deadlines d JOIN cases c ON c.id = d.case_id
               WHERE d.met_at IS NOT NULL AND NOT c.restricted GROUP BY 1, 2, 3
             ), kept AS (SELECT team_id, kind, day, in_time, met FROM timeliness_days WHERE met <> 0)
             SELECT count(*) FROM ((SELECT * FROM counted EXCEPT SELECT * FROM kept)
                                   UNION ALL (SELECT * FROM kept EXCEPT SELECT * FROM counted)) x",
    )
    .await
}

#[tokio::test]
async fn team_timeliness_counts_each_measure_and_leaves_out_restricted_cases() {
    // Thursday 3 December 2026, 16:59.
    let app = TestApp::with_env(&[("HAVEN_FIXED_TIME", "2026-12-03T16:59:00Z")]).await;
    let (_, pat_id) = app
        .signed_in_as("practitioner", "pat@example.org", "Team A")
        .await;
    let (mut mo, _) = app
        .signed_in_as("manager", "mo@example.org", "Team A")
        .await;
    let late = case_with_two_children(&app, pat_id, utc(2026, 12, 1, 10, 0), false).await;
    let in_time = case_with_two_children(&app, pat_id, utc(2026, 12, 2, 10, 0), false).await;
    let early = case_with_two_children(&app, pat_id, utc(2026, 12, 3, 9, 0), false).await;
    let hidden = case_with_two_children(&app, pat_id, utc(2026, 12, 2, 11, 0), false).await;
    let long_ago = case_with_two_children(&app, pat_id, utc(2026, 8, 3, 9, 0), false).await;
    // Decisions: one an hour late, two in time, one in time on a case the manager may not see,
    // one more than 90 days ago.
    for (case, met) in [
        (late, utc(2026, 12, 2, 18, 0)),
        (in_time, utc(2026, 12, 3, 15, 0)),
        (early, utc(2026, 12, 3, 16, 0)),
        (hidden, utc(2026, 12, 3, 10, 0)),
        (long_ago, utc(2026, 8, 3, 12, 0)),
    ] {
        let n = sqlx::query(
            "UPDATE deadlines SET met_at = $2 WHERE case_id = $1 AND kind = 'referral_decision'",
        )
        .bind(case)
        .bind(met)
        .execute(&app.pool)
        .await
        .unwrap()
        .rows_affected();
        assert_eq!(n, 1);
    }
    sqlx::query("UPDATE cases SET restricted = true WHERE id = $1")
        .bind(hidden)
        .execute(&app.pool)
        .await
        .unwrap();
    let r = mo.get("/work/team").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        r.select("#timeliness dd"),
        vec!["66% (2 of 3)", "None in the last 90 days"],
        "{}",
        r.body
    );
    // Named on the restricted case, the manager counts it too (from the deadlines themselves).
    sqlx::query(
        "INSERT INTO record_access (id, record_kind, record_id, user_id, via, reason)
         SELECT gen_random_uuid(), 'case', $1, id, 'named', 'fictional test' FROM users WHERE email = 'mo@example.org'",
    )
    .bind(hidden)
    .execute(&app.pool)
    .await
    .unwrap();
    let shown = |r: crate::helpers::Res| r.select("#timeliness dd")[0].clone();
    assert_eq!(shown(mo.get("/work/team").await), "75% (3 of 4)");
    // No longer restricted, it is in the team's kept figures: still counted once.
    sqlx::query("UPDATE cases SET restricted = false WHERE id = $1")
        .bind(hidden)
        .execute(&app.pool)
        .await
        .unwrap();
    assert_eq!(shown(mo.get("/work/team").await), "75% (3 of 4)");
    // Met late after all, or removed: the kept figures follow.
    sqlx::query(
        "UPDATE deadlines SET met_at = $2 WHERE case_id = $1 AND kind = 'referral_decision'",
    )
    .bind(early)
    .bind(utc(2026, 12, 3, 16, 30))
    .execute(&app.pool)
    .await
    .unwrap();
    sqlx::query(
        "UPDATE deadlines SET due_at = $2 WHERE case_id = $1 AND kind = 'referral_decision'",
    )
    .bind(in_time)
    .bind(utc(2026, 12, 3, 14, 0))
    .execute(&app.pool)
    .await
    .unwrap();
    assert_eq!(shown(mo.get("/work/team").await), "50% (2 of 4)");
    // Folded into the kept figures (as the server does every 30 seconds), nothing changes...
    let folded = haven::db::deadlines::fold_timeliness(&app.pool)
        .await
        .unwrap();
    assert!(folded >= 7, "{folded}");
    assert_eq!(
        app.count("SELECT count(*) FROM timeliness_changes").await,
        0
    );
    assert_eq!(shown(mo.get("/work/team").await), "50% (2 of 4)");
    // ...and they are exactly a count of the deadlines of unrestricted cases.
    assert_eq!(timeliness_drift(&app).await, 0);
    // The server's login reads the figures but cannot write them, nor borrow the triggers'
    // functions (which run as the owner) for a table of its own.
    for sql in [
        "UPDATE timeliness_days SET met = met + 1",
        "INSERT INTO timeliness_changes (team_id, kind, day, in_time, met) SELECT team_id, kind, day, 100, 100 FROM timeliness_days",
        "SELECT haven_timeliness_count(team_id, kind, now(), now(), 100) FROM timeliness_days",
    ] {
        assert!(sqlx::query(sql).execute(&app.pool).await.is_err(), "{sql}");
    }
    let mut conn = app.pool.acquire().await.unwrap();
    sqlx::query("CREATE TEMP TABLE fake (case_id uuid, team_id uuid, kind text, met_at timestamptz, due_at timestamptz)")
        .execute(&mut *conn)
        .await
        .unwrap();
    for f in ["haven_deadline_timeliness", "haven_case_timeliness"] {
        let borrowed = sqlx::query(sqlx::AssertSqlSafe(format!(
            "CREATE TRIGGER borrowed AFTER INSERT ON fake FOR EACH ROW EXECUTE FUNCTION {f}()"
        )))
        .execute(&mut *conn)
        .await;
        assert!(borrowed.is_err(), "{f}");
    }
}

/// "Waiting for a manager's approval" is read per team: each proposal carries its case's team
/// (whatever an insert says), moves with the case, and a restricted case's proposals are passed
/// over before the list's limit.
#[tokio::test]
async fn proposals_wait_on_their_case_s_team_and_move_with_it() {
    let app = TestApp::new().await;
    let (mut mo, _) = app
        .signed_in_as("manager", "mo@example.org", "Team A")
        .await;
    let (mut oz, _) = app
        .signed_in_as("manager", "oz@example.org", "Team B")
        .await;
    let pat = app.user("practitioner", "pat@example.org", "Team A").await;
    let team_b: Uuid = sqlx::query_scalar("SELECT id FROM teams WHERE name = 'Team B'")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let mut owner = app.owner().await;
    // A restricted case whose proposals are the oldest, and two ordinary cases.
    let mut cases = Vec::new();
    for (i, name) in ["Ada Restricted", "Bea Older", "Cy Newer"]
        .iter()
        .enumerate()
    {
        let case = crate::cases::make_case(&app, pat, "Team A", name, ConcernKind::Grooming).await;
        // The insert names Team B; the case decides.
        sqlx::query(
            "INSERT INTO referral_decisions (id, case_id, outcome, proposed_by, proposed_at, team_id)
             VALUES ($1, $2, 'single_assessment', $3, now() - make_interval(hours => $4), $5)",
        )
        .bind(Uuid::now_v7())
        .bind(case)
        .bind(pat)
        .bind(30 - i as i32)
        .bind(team_b)
        .execute(&mut owner)
        .await
        .unwrap();
        sqlx::query(
            "INSERT INTO case_closures (id, case_id, reason, proposed_by, proposed_at)
             VALUES ($1, $2, 'Work finished.', $3, now() - make_interval(hours => $4))",
        )
        .bind(Uuid::now_v7())
        .bind(case)
        .bind(pat)
        .bind(20 - i as i32)
        .execute(&mut owner)
        .await
        .unwrap();
        cases.push(case);
    }
    sqlx::query("UPDATE cases SET restricted = true WHERE id = $1")
        .bind(cases[0])
        .execute(&mut owner)
        .await
        .unwrap();
    assert_eq!(
        app.count("SELECT count(*) FROM referral_decisions d JOIN cases c ON c.id = d.case_id AND c.team_id = d.team_id")
            .await,
        3,
        "every decision carries its case's team, not the one its insert named"
    );
    let waiting = mo.get("/work/team").await.select("#waiting li");
    assert_eq!(waiting.len(), 4, "{waiting:?}");
    assert!(
        waiting.iter().all(|w| !w.contains("Ada Restricted")),
        "{waiting:?}"
    );
    // Oldest first: both decisions (30 and 29 hours ago), then both closures.
    assert!(
        waiting[0].contains("Bea Older") && waiting[0].contains("Decision on the referral"),
        "{waiting:?}"
    );
    assert!(
        waiting[1].contains("Cy Newer") && waiting[1].contains("Decision on the referral"),
        "{waiting:?}"
    );
    assert!(
        waiting[2].contains("Bea Older") && waiting[2].contains("Closing the case"),
        "{waiting:?}"
    );
    assert!(oz.get("/work/team").await.select("#waiting li").is_empty());
    // The case moves to Team B: its proposals go with it.
    sqlx::query("UPDATE cases SET team_id = $2 WHERE id = $1")
        .bind(cases[1])
        .bind(team_b)
        .execute(&mut owner)
        .await
        .unwrap();
    let waiting = mo.get("/work/team").await.select("#waiting li");
    assert_eq!(waiting.len(), 2, "{waiting:?}");
    assert!(
        waiting.iter().all(|w| w.contains("Cy Newer")),
        "{waiting:?}"
    );
    let theirs = oz.get("/work/team").await.select("#waiting li");
    assert_eq!(theirs.len(), 2, "{theirs:?}");
    assert!(theirs.iter().all(|w| w.contains("Bea Older")), "{theirs:?}");
}

/// Mo, a manager in Team A; Oz, a manager in Team B; Pat, a practitioner in Team A; signed in.
async fn managers_and_a_practitioner(app: &TestApp) -> (Client, Uuid, Client, Client, Uuid) {
    let (mo, mo_id) = app
        .signed_in_as("manager", "mo@example.org", "Team A")
        .await;
    let (oz, _) = app
        .signed_in_as("manager", "oz@example.org", "Team B")
        .await;
    let (pat, pat_id) = app
        .signed_in_as("practitioner", "pat@example.org", "Team A")
        .await;
    (mo, mo_id, oz, pat, pat_id)
}

/// Case `i` of a numbered series on Pat's caseload in Team A ("Child 00", "Child 01", ...).
async fn child_case(app: &TestApp, owner: Uuid, i: i32) -> Uuid {
    crate::cases::make_case(
        app,
        owner,
        "Team A",
        &format!("Child {i:02}"),
        ConcernKind::Grooming,
    )
    .await
}

/// Team work shows the 25 longest-waiting proposals and says when there are more; the approvals
/// list pages through all of them, 50 a page, by key: proposals of all three kinds made at the
/// same instant are neither repeated nor skipped across a page boundary, a restricted case's
/// proposals never cut a page short and are listed for a manager who may see the case, and each
/// page's view is recorded with exactly the cases it named.
#[tokio::test]
async fn the_approvals_list_pages_through_everything_waiting() {
    let app = TestApp::new().await;
    let (mut mo, mo_id, mut oz, mut pat, pat_id) = managers_and_a_practitioner(&app).await;
    let mut owner = app.owner().await;
    // 27 cases, each with a decision waiting (each at its own time, 40 to 14 hours ago) and a
    // closure waiting; the first 5 also with a Section 47 outcome waiting. Every closure and
    // outcome was proposed at one instant, half an hour ago. The first case, with the oldest
    // decision, is restricted. 26 + 26 + 4 = 56 proposals anyone in Team A may see.
    let mut refs = Vec::new();
    let mut ids = Vec::new();
    for i in 0..27 {
        let case = child_case(&app, pat_id, i).await;
        sqlx::query(
            "INSERT INTO referral_decisions (id, case_id, outcome, proposed_by, proposed_at)
             VALUES ($1, $2, 'single_assessment', $3, now() - make_interval(hours => $4))",
        )
        .bind(Uuid::now_v7())
        .bind(case)
        .bind(pat_id)
        .bind(40 - i)
        .execute(&mut owner)
        .await
        .unwrap();
        sqlx::query(
            "INSERT INTO case_closures (id, case_id, reason, proposed_by, proposed_at)
             VALUES ($1, $2, 'Work finished.', $3, date_trunc('hour', now()) - interval '30 minutes')",
        )
        .bind(Uuid::now_v7())
        .bind(case)
        .bind(pat_id)
        .execute(&mut owner)
        .await
        .unwrap();
        if i < 5 {
            let discussion = Uuid::now_v7();
            sqlx::query(
                "INSERT INTO strategy_discussions (id, case_id, created_by) VALUES ($1, $2, $3)",
            )
            .bind(discussion)
            .bind(case)
            .bind(pat_id)
            .execute(&mut owner)
            .await
            .unwrap();
            sqlx::query(
                "INSERT INTO section47_enquiries (id, case_id, person_id, started_by, started_on, kind,
                        outcome, outcome_status, proposed_by, proposed_at)
                 SELECT $1, $2, p.id, $3, current_date, 'joint', 'likely_significant_harm', 'proposed', $4,
                        date_trunc('hour', now()) - interval '30 minutes'
                 FROM case_people p WHERE p.case_id = $2 AND p.kind = 'child'",
            )
            .bind(Uuid::now_v7())
            .bind(case)
            .bind(discussion)
            .bind(pat_id)
            .execute(&mut owner)
            .await
            .unwrap();
        }
        if i == 0 {
            sqlx::query("UPDATE cases SET restricted = true WHERE id = $1")
                .bind(case)
                .execute(&mut owner)
                .await
                .unwrap();
        }
        refs.push(app.reference_of(case).await);
        ids.push(case);
    }
    let case_of = |row: &str| -> Uuid {
        let i = refs
            .iter()
            .position(|r| row.contains(r.as_str()))
            .unwrap_or_else(|| panic!("no case in {row}"));
        ids[i]
    };
    // Team work: the 25 longest waiting, and a link to the rest.
    let dash = mo.get("/work/team").await;
    let shown = dash.select("#waiting li");
    assert_eq!(shown.len(), 25, "{shown:?}");
    assert!(
        dash.body
            .contains("Waiting for a manager&#39;s approval (more than 25)")
            || dash
                .body
                .contains("Waiting for a manager's approval (more than 25)"),
        "the heading says there are more"
    );
    assert!(shown[0].contains(&refs[1]) && shown[0].contains("Decision on the referral"));
    assert!(shown.iter().all(|w| !w.contains("Child 00")), "{shown:?}");
    assert_eq!(
        dash.attr("a[href='/work/team/approvals']", "href").len(),
        1,
        "a link to the whole list"
    );
    // The list: 50, then the last 6, each exactly once; the decisions oldest first, then the
    // closures and outcomes made at one instant, across the page boundary.
    let first = mo.get("/work/team/approvals").await;
    assert_eq!(first.status, StatusCode::OK);
    let page1 = first.select("#waiting li");
    assert_eq!(page1.len(), 50, "{page1:?}");
    for (i, r) in refs.iter().skip(1).enumerate() {
        assert!(
            page1[i].contains(r.as_str()) && page1[i].contains("Decision on the referral"),
            "{i}: {}",
            page1[i]
        );
    }
    let next = first.attr("a[rel=next]", "href");
    assert_eq!(next.len(), 1);
    let second = mo.get(&next[0]).await;
    assert_eq!(second.status, StatusCode::OK);
    assert!(
        second.body.contains("(continued)"),
        "a later page says so in its title"
    );
    let page2 = second.select("#waiting li");
    assert_eq!(page2.len(), 6, "{page2:?}");
    assert!(second.attr("a[rel=next]", "href").is_empty());
    let mut same_instant: Vec<(Uuid, bool)> = page1[26..]
        .iter()
        .chain(&page2)
        .map(|w| (case_of(w), w.contains("Section 47 outcome")))
        .collect();
    same_instant.sort();
    same_instant.dedup();
    assert_eq!(same_instant.len(), 30, "every closure and outcome once");
    assert_eq!(
        same_instant.iter().filter(|(_, outcome)| *outcome).count(),
        4
    );
    assert!(same_instant.iter().all(|(c, _)| *c != ids[0]));
    // A mangled cursor, or one before any time PostgreSQL can hold, starts at the top.
    for bad in [
        "nonsense",
        "12_34",
        "99999999999999999999_x",
        "-300000000000000000_00000000-0000-0000-0000-000000000000",
    ] {
        let r = mo.get(&format!("/work/team/approvals?after={bad}")).await;
        assert_eq!(r.status, StatusCode::OK, "{bad}");
        assert_eq!(r.select("#waiting li").len(), 50);
    }
    // Each page's view is recorded with exactly the cases it named, in the order shown.
    let named: Vec<Vec<Uuid>> = sqlx::query_scalar::<_, serde_json::Value>(
        "SELECT details::jsonb->'cases' FROM audit_events
          WHERE action = 'case.list' AND details::jsonb->>'scope' = 'team approvals' ORDER BY seq",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap()
    .into_iter()
    .map(|v| serde_json::from_value(v).unwrap())
    .collect();
    assert_eq!(named.len(), 6);
    assert_eq!(
        named[0],
        page1.iter().map(|w| case_of(w)).collect::<Vec<_>>()
    );
    assert_eq!(
        named[1],
        page2.iter().map(|w| case_of(w)).collect::<Vec<_>>()
    );
    // A manager who may see the restricted case (named on it) sees its proposals too: its
    // decision is the longest waiting of all.
    sqlx::query(
        "INSERT INTO record_access (id, record_kind, record_id, user_id, via, reason)
         VALUES ($1, 'case', $2, $3, 'named', 'Named on the case')",
    )
    .bind(Uuid::now_v7())
    .bind(ids[0])
    .bind(mo_id)
    .execute(&mut owner)
    .await
    .unwrap();
    let with_restricted = mo.get("/work/team/approvals").await.select("#waiting li");
    assert!(
        with_restricted[0].contains(&refs[0]),
        "{:?}",
        with_restricted[0]
    );
    // Another team's manager sees nothing waiting; a practitioner may not open the list.
    let theirs = oz.get("/work/team/approvals").await;
    assert_eq!(theirs.status, StatusCode::OK);
    assert!(theirs.select("#waiting li").is_empty());
    assert!(theirs.body.contains("Nothing is waiting for approval."));
    assert_eq!(
        pat.get("/work/team/approvals").await.status,
        StatusCode::FORBIDDEN
    );
}

/// Team work shows the 25 newest unacknowledged immediate risks and says when there are more;
/// the risks list pages through all of them, 50 a page, newest first by key (cases received at
/// the same instant neither repeated nor skipped across a page boundary), without closed or
/// acknowledged cases or restricted ones the viewer may not see.
#[tokio::test]
async fn the_risks_list_pages_through_every_unacknowledged_immediate_risk() {
    let app = TestApp::new().await;
    let (mut mo, mo_id, mut oz, mut pat, pat_id) = managers_and_a_practitioner(&app).await;
    let mut owner = app.owner().await;
    // 52 cases with a risk nobody has acknowledged: 26 received an hour apart (the newest 26),
    // 26 at one instant two days ago. And the newest of all restricted, one closed and one
    // acknowledged: none of those three is listed.
    let mut newest_first = Vec::new();
    let mut risk_ids = Vec::new();
    let mut restricted_case = Uuid::nil();
    for i in 0..55 {
        let case = child_case(&app, pat_id, i).await;
        let (status, acknowledged, restricted) = match i {
            0 => ("open", false, true),
            1 => ("closed", false, false),
            2 => ("open", true, false),
            _ => ("open", false, false),
        };
        sqlx::query(
            "UPDATE cases SET immediate_risk = true, status = $2, restricted = $3,
                    risk_acknowledged_at = CASE WHEN $4 THEN now() END,
                    received_at = CASE WHEN $5 < 29 THEN now() - make_interval(hours => $5)
                                       ELSE date_trunc('hour', now()) - interval '2 days' END
             WHERE id = $1",
        )
        .bind(case)
        .bind(status)
        .bind(restricted)
        .bind(acknowledged)
        .bind(i)
        .execute(&mut owner)
        .await
        .unwrap();
        if i == 0 {
            restricted_case = case;
        }
        if i > 2 {
            newest_first.push(app.reference_of(case).await);
            risk_ids.push(case);
        }
    }
    let dash = mo.get("/work/team").await;
    let shown = dash.select("#risks li");
    assert_eq!(shown.len(), 25, "{shown:?}");
    assert!(shown[0].contains(&newest_first[0]), "{shown:?}");
    assert!(
        dash.select("#risks h2")[0].contains("(more than 25)"),
        "the heading says there are more"
    );
    assert_eq!(dash.attr("a[href='/work/team/risks']", "href").len(), 1);
    let first = mo.get("/work/team/risks").await;
    assert_eq!(first.status, StatusCode::OK);
    let page1 = first.select("#risks li");
    assert_eq!(page1.len(), 50, "{page1:?}");
    for (i, r) in newest_first.iter().take(26).enumerate() {
        assert!(page1[i].contains(r.as_str()), "{i}: {}", page1[i]);
    }
    let next = first.attr("a[rel=next]", "href");
    assert_eq!(next.len(), 1);
    let second = mo.get(&next[0]).await;
    assert!(second.body.contains("(continued)"));
    let page2 = second.select("#risks li");
    assert_eq!(page2.len(), 2, "{page2:?}");
    assert!(second.attr("a[rel=next]", "href").is_empty());
    let mut listed: Vec<String> = page1
        .iter()
        .chain(&page2)
        .map(|l| {
            newest_first
                .iter()
                .find(|r| l.contains(r.as_str()))
                .cloned()
                .unwrap_or_else(|| panic!("not one of the 52: {l}"))
        })
        .collect();
    listed.sort();
    listed.dedup();
    assert_eq!(listed.len(), 52, "each once");
    // Each view recorded with the cases it named.
    let pages: Vec<serde_json::Value> = sqlx::query_scalar(
        "SELECT details::jsonb->'cases' FROM audit_events
          WHERE action = 'case.list' AND details::jsonb->>'scope' = 'team risks' ORDER BY seq",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(pages.len(), 2);
    let case_of = |row: &String| -> serde_json::Value {
        let i = newest_first
            .iter()
            .position(|r| row.contains(r.as_str()))
            .unwrap_or_else(|| panic!("no case in {row}"));
        serde_json::Value::String(risk_ids[i].to_string())
    };
    assert_eq!(
        pages[0],
        serde_json::Value::Array(page1.iter().map(case_of).collect())
    );
    assert_eq!(
        pages[1],
        serde_json::Value::Array(page2.iter().map(case_of).collect())
    );
    // A manager named on the restricted case sees its risk too: the newest of all.
    sqlx::query(
        "INSERT INTO record_access (id, record_kind, record_id, user_id, via, reason)
         VALUES ($1, 'case', $2, $3, 'named', 'Named on the case')",
    )
    .bind(Uuid::now_v7())
    .bind(restricted_case)
    .bind(mo_id)
    .execute(&mut owner)
    .await
    .unwrap();
    let now_first = mo.get("/work/team/risks").await.select("#risks li");
    assert!(now_first[0].contains("Child 00"), "{:?}", now_first[0]);
    assert_eq!(now_first.len(), 50);
    let bad = mo
        .get("/work/team/risks?after=-300000000000000000_00000000-0000-0000-0000-000000000000")
        .await;
    assert_eq!(bad.status, StatusCode::OK);
    assert_eq!(bad.select("#risks li").len(), 50);
    let theirs = oz.get("/work/team/risks").await;
    assert!(theirs.select("#risks li").is_empty());
    assert!(
        theirs
            .body
            .contains("No immediate risk is waiting to be acknowledged.")
    );
    assert_eq!(
        pat.get("/work/team/risks").await.status,
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn dashboards_show_what_is_overdue_due_today_and_soon() {
    // Thursday 3 December 2026, 16:59.
    let app = TestApp::with_env(&[("HAVEN_FIXED_TIME", "2026-12-03T16:59:00Z")]).await;
    let (mut pat, pat_id) = app
        .signed_in_as("practitioner", "pat@example.org", "Team A")
        .await;
    let (mut mo, _) = app
        .signed_in_as("manager", "mo@example.org", "Team A")
        .await;
    let overdue = case_with_two_children(&app, pat_id, utc(2026, 12, 1, 10, 0), false).await;
    let today = case_with_two_children(&app, pat_id, utc(2026, 12, 2, 10, 0), true).await;
    let soon = case_with_two_children(&app, pat_id, utc(2026, 12, 3, 9, 0), false).await;
    let r = pat.get("/work").await;
    assert_eq!(r.status, StatusCode::OK);
    let o = r.select("#overdue li");
    let t = r.select("#today li");
    let s = r.select("#soon li");
    assert!(
        o.iter()
            .any(|l| l.contains("Decision on the referral") && l.contains("1 working day overdue")),
        "{o:?}"
    );
    assert!(
        t.iter()
            .any(|l| l.contains("Decision on the referral") && l.contains("Due today by 5pm")),
        "{t:?}"
    );
    assert!(
        t.iter()
            .any(|l| l.contains("LADO told about the allegation")),
        "{t:?}"
    );
    assert!(s.iter().any(|l| l.contains("Due tomorrow by 5pm")), "{s:?}");
    let _ = (overdue, today, soon);
    // The navigation counts what is overdue or due today: 1 overdue, 2 due today.
    assert_eq!(
        r.select(".govuk-service-navigation .haven-count"),
        vec!["3 due today or overdue"]
    );
    // The manager's team view, with timeliness (nothing met in the last 90 days yet).
    let r = mo.get("/work/team").await;
    assert!(!r.select("#overdue li").is_empty());
    assert_eq!(r.select("#timeliness dd")[0], "None in the last 90 days");
    // The case page and the list show the next deadline.
    let r = pat.get(&format!("/cases/{today}")).await;
    assert!(
        r.select("#next-deadline")[0].contains("due today by 5pm"),
        "{:?}",
        r.select("#next-deadline")
    );
    let r = pat.get("/cases").await;
    assert!(r.body.contains("Decision on the referral:"));
    // At 17:01 the same deadline is overdue.
    let later = TestApp::with_env(&[("HAVEN_FIXED_TIME", "2026-12-03T17:01:00Z")]).await;
    let (mut p2, p2_id) = later
        .signed_in_as("practitioner", "pat@example.org", "Team A")
        .await;
    case_with_two_children(&later, p2_id, utc(2026, 12, 2, 10, 0), false).await;
    let r = p2.get("/work").await;
    assert!(
        r.select("#overdue li")
            .iter()
            .any(|l| l.contains("Overdue since 5pm today")),
        "{:?}",
        r.select("#overdue li")
    );
}

/// Adds `n` open core-group deadlines due at `due(i)` to a case (as the owner, for the test).
async fn many_deadlines(app: &TestApp, case: Uuid, n: i32, due: impl Fn(i32) -> DateTime<Utc>) {
    let mut owner = app.owner().await;
    for i in 0..n {
        sqlx::query(
            "INSERT INTO deadlines (id, case_id, team_id, owner_id, kind, seq, started_by, started_at, due_at)
             SELECT gen_random_uuid(), c.id, c.team_id, c.owner_id, 'core_group',
                    (SELECT coalesce(max(seq), 0) + 1 FROM deadlines WHERE case_id = c.id), 'test', now(), $2
             FROM cases c WHERE c.id = $1",
        )
        .bind(case)
        .bind(due(i))
        .execute(&mut owner)
        .await
        .unwrap();
    }
}

#[tokio::test]
async fn dashboards_show_the_most_urgent_of_each_part_and_the_list_pages_through_all() {
    // Thursday 3 December 2026, 10:00.
    let app = TestApp::with_env(&[("HAVEN_FIXED_TIME", "2026-12-03T10:00:00Z")]).await;
    let (mut pat, pat_id) = app
        .signed_in_as("practitioner", "pat@example.org", "Team A")
        .await;
    let (mut mo, _) = app
        .signed_in_as("manager", "mo@example.org", "Team A")
        .await;
    let sam_id = app.user("practitioner", "sam@example.org", "Team A").await;
    let bo_id = app.user("practitioner", "bo@example.org", "Team B").await;
    let case = case_with_two_children(&app, pat_id, utc(2026, 12, 3, 9, 0), false).await;
    // 70 overdue (60 of them due at the same moment, so a page ends among them), 30 due at 5pm
    // today, on pat's case.
    many_deadlines(&app, case, 60, |_| utc(2026, 11, 20, 17, 0)).await;
    many_deadlines(&app, case, 10, |i| {
        utc(2026, 11, 23, 9, 0) + chrono::Duration::minutes(i.into())
    })
    .await;
    many_deadlines(&app, case, 30, |_| utc(2026, 12, 3, 17, 0)).await;
    // One due in the evening of the fifth working day (Thursday 10 December): still "soon".
    many_deadlines(&app, case, 1, |_| utc(2026, 12, 10, 20, 0)).await;
    // A restricted case in the same team, which neither pat nor the manager may see, with 60
    // deadlines more overdue than any: never shown, and never cutting a page short.
    let hidden = case_with_two_children(&app, sam_id, utc(2026, 11, 9, 9, 0), false).await;
    let mut owner = app.owner().await;
    sqlx::query("UPDATE cases SET restricted = true WHERE id = $1")
        .bind(hidden)
        .execute(&mut owner)
        .await
        .unwrap();
    many_deadlines(&app, hidden, 60, |_| utc(2026, 11, 10, 17, 0)).await;
    // Another team's case with overdue deadlines: never on Team A's lists.
    let other = case_with_two_children(&app, pat_id, utc(2026, 12, 1, 9, 0), false).await;
    sqlx::query("UPDATE cases SET team_id = (SELECT id FROM teams WHERE name = 'Team B'), owner_id = $2 WHERE id = $1")
        .bind(other)
        .bind(bo_id)
        .execute(&mut owner)
        .await
        .unwrap();
    sqlx::query("UPDATE deadlines SET team_id = (SELECT id FROM teams WHERE name = 'Team B'), owner_id = $2 WHERE case_id = $1")
        .bind(other)
        .bind(bo_id)
        .execute(&mut owner)
        .await
        .unwrap();
    many_deadlines(&app, other, 60, |_| utc(2026, 11, 19, 17, 0)).await;
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
    let (other_ref, hidden_ref) = (reference(other).await, reference(hidden).await);
    // What each list should hold, in order (due time, then id), straight from the table: the
    // cursor of a page is the due time in microseconds and the id of its last deadline.
    let open = |range: &'static str| {
        let pool = app.pool.clone();
        async move {
            sqlx::query_scalar::<_, String>(sqlx::AssertSqlSafe(format!(
                "SELECT ((extract(epoch FROM due_at) * 1000000)::bigint)::text || '_' || id
                 FROM deadlines WHERE met_at IS NULL AND ended_at IS NULL
                   AND team_id = (SELECT id FROM teams WHERE name = 'Team A')
                   AND case_id IN (SELECT id FROM cases WHERE NOT restricted) AND {range}
                 ORDER BY due_at, id"
            )))
            .fetch_all(&pool)
            .await
            .unwrap()
        }
    };
    let overdue = open("due_at <= '2026-12-03T10:00:00Z'").await;
    let today = open("due_at > '2026-12-03T10:00:00Z' AND due_at < '2026-12-04T00:00:00Z'").await;
    let all = open("true").await;
    assert_eq!(overdue.len(), 70);
    assert!(today.len() >= 30, "{}", today.len());

    for (client, home, list) in [
        (&mut pat, "/work", "/work/deadlines"),
        (&mut mo, "/work/team", "/work/team/deadlines"),
    ] {
        // The dashboard: each part's 25 most urgent, and a link to all of that part.
        let r = client.get(home).await;
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(r.select("#overdue li").len(), 25, "{home}");
        assert_eq!(r.select("#today li").len(), 25, "{home}");
        assert!(r.body.contains("Overdue (more than 25)"), "{home}");
        assert!(r.body.contains("Due today (more than 25)"), "{home}");
        let soon = r.select("#soon li");
        assert!(
            soon.iter().any(|l| l
                .contains("First core group meeting. Due in 5 working days (10 December 2026)")),
            "{home}: {soon:?}"
        );
        let links = r.attr("a.govuk-link", "href");
        for part in ["overdue", "today"] {
            let href = format!("{list}?show={part}");
            assert!(links.contains(&href), "{home}: {href} in {links:?}");
        }
        assert!(!r.body.contains(&other_ref), "{home}");
        assert!(!r.body.contains(&hidden_ref), "{home}");

        // Overdue, 50 a page, continuing after the last shown (a page ending among deadlines
        // due at the same moment): every one once, in order.
        let r = client.get(&format!("{list}?show=overdue")).await;
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(r.select("h1"), vec!["Overdue deadlines"]);
        assert_eq!(r.select("#deadlines li").len(), 50, "{list}");
        let next = r.attr("a[rel=next]", "href");
        assert_eq!(
            next,
            vec![format!("{list}?show=overdue&after={}", overdue[49])],
            "{list}"
        );
        let r = client.get(&next[0]).await;
        assert_eq!(r.select("#deadlines li").len(), 20, "{list}");
        assert!(r.attr("a[rel=next]", "href").is_empty());
        assert!(!r.body.contains(&other_ref));
        assert!(!r.body.contains(&hidden_ref));
        // Due today: the 5pm ones and the case's own, none overdue.
        let r = client.get(&format!("{list}?show=today")).await;
        let items = r.select("#deadlines li");
        assert_eq!(items.len(), today.len());
        assert!(items.iter().all(|i| i.contains("Due today")), "{items:?}");
        // Everything open, in pages: each page starts after the last one's last deadline.
        let mut seen = 0;
        let mut next = format!("{list}?show=all");
        loop {
            let r = client.get(&next).await;
            seen += r.select("#deadlines li").len();
            match r.attr("a[rel=next]", "href").first() {
                Some(n) => {
                    assert_eq!(n, &format!("{list}?show=all&after={}", all[seen - 1]));
                    next = n.clone();
                }
                None => break,
            }
        }
        assert_eq!(seen, all.len(), "{list}");
        // A mangled cursor starts at the top.
        for bad in ["nonsense", "12_34", "99999999999999999999_x"] {
            let r = client
                .get(&format!("{list}?show=overdue&after={bad}"))
                .await;
            assert_eq!(r.status, StatusCode::OK);
            assert_eq!(r.select("#deadlines li").len(), 50);
        }
    }
    // The cursor is a position, not a deadline: the last one shown met (or moved, or removed)
    // before "Next page" is followed, the next page is still the 20 after it.
    let r = mo.get("/work/team/deadlines?show=overdue").await;
    let next = r.attr("a[rel=next]", "href")[0].clone();
    let last_id = overdue[49].split_once('_').unwrap().1;
    sqlx::query("UPDATE deadlines SET met_at = now(), met_by = 'test' WHERE id = $1::uuid")
        .bind(last_id)
        .execute(&mut owner)
        .await
        .unwrap();
    assert_eq!(mo.get(&next).await.select("#deadlines li").len(), 20);
    // The lists show cases, so each view is recorded with the cases it showed.
    let scopes: Vec<String> = sqlx::query_scalar(
        "SELECT details::jsonb->>'scope' FROM audit_events WHERE action = 'case.list'
           AND details::jsonb->>'scope' LIKE '%deadlines' ORDER BY seq",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert!(scopes.iter().any(|s| s == "my deadlines"), "{scopes:?}");
    assert!(scopes.iter().any(|s| s == "team deadlines"), "{scopes:?}");
    let named: Vec<Uuid> = sqlx::query_scalar(
        "SELECT DISTINCT jsonb_array_elements_text(details::jsonb->'cases')::uuid FROM audit_events
          WHERE action = 'case.list' AND details::jsonb->>'scope' = 'team deadlines'",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(named, vec![case]);
    // A practitioner cannot open the team list.
    assert_eq!(
        pat.get("/work/team/deadlines").await.status,
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn the_calculator_and_the_administrators_calendar() {
    let app = TestApp::with_env(&[("HAVEN_FIXED_TIME", "2026-11-30T10:00:00Z")]).await;
    let (mut pat, _) = app.signed_in("practitioner").await;
    let r = pat
        .get("/working-days?from-day=3&from-month=12&from-year=2026&days=15")
        .await;
    assert_eq!(
        r.select("#answer"),
        vec!["15 working days after 3 December 2026 is Thursday 24 December 2026."]
    );
    let r = pat
        .get("/working-days?from-day=28&from-month=12&from-year=2026&days=1")
        .await;
    assert_eq!(
        r.select("#is-working"),
        vec!["28 December 2026 is not a working day: Boxing Day (substitute day)."]
    );
    let r = pat
        .get("/working-days?from-day=31&from-month=2&from-year=2026&days=x")
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.error_summary().len(), 2);
    assert_eq!(r.attr("input[name=days]", "value"), vec!["x"]);
    // An administrator adds a closure day; the calculator counts it.
    let (mut admin, _) = app.signed_in("admin").await;
    admin.get("/admin/calendar").await;
    let r = admin
        .post(
            "/admin/calendar",
            &[
                ("day-day", "29"),
                ("day-month", "12"),
                ("day-year", "2026"),
                ("kind", "holiday"),
                ("name", ""),
            ],
        )
        .await;
    assert_eq!(r.error_summary(), vec!["Enter the name of the day"]);
    let r = admin
        .post(
            "/admin/calendar",
            &[
                ("day-day", "30"),
                ("day-month", "12"),
                ("day-year", "2026"),
                ("kind", "working"),
                ("name", ""),
            ],
        )
        .await;
    assert!(r.error_summary()[0].contains("not a bank holiday"));
    let r = admin
        .post(
            "/admin/calendar",
            &[
                ("day-day", "29"),
                ("day-month", "12"),
                ("day-year", "2026"),
                ("kind", "holiday"),
                ("name", "Council closure day"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let page = admin.get("/admin/calendar").await;
    assert!(page.select("#changes")[0].contains("Council closure day"));
    assert!(page.select("#changes")[0].contains("Added by"));
    let r = pat
        .get("/working-days?from-day=24&from-month=12&from-year=2026&days=1")
        .await;
    assert_eq!(
        r.select("#answer"),
        vec!["1 working day after 24 December 2026 is Wednesday 30 December 2026."]
    );
    let r = admin.post("/admin/calendar/2026-12-29/remove", &[]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert!(
        app.audit_actions()
            .await
            .contains(&"calendar.change_add".to_owned())
    );
    assert!(
        app.audit_actions()
            .await
            .contains(&"calendar.change_remove".to_owned())
    );
    // Settings, with optimistic locking.
    admin.get("/admin/settings").await;
    let r = admin
        .post(
            "/admin/settings",
            &[
                ("days", "21"),
                ("local_rule", "on"),
                ("urgent", "maybe"),
                ("retention", "0"),
                ("version", "1"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        r.error_summary(),
        vec![
            "Enter a number of working days from 0 to 20",
            "Select whether an urgent request may open a restricted record before the LADO approves it",
            "Enter a number of years from 1 to 100",
        ]
    );
    assert_eq!(r.attr("input[name=days]", "value"), vec!["21"]);
    assert_eq!(r.attr("input[name=retention]", "value"), vec!["0"]);
    let r = admin
        .post(
            "/admin/settings",
            &[
                ("days", "1"),
                ("local_rule", "off"),
                ("urgent", "on"),
                ("retention", "30"),
                ("version", "1"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let (urgent, years): (bool, i32) = sqlx::query_as(
        "SELECT urgent_break_glass, lado_file_retention_years FROM partnership_settings",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!((urgent, years), (true, 30));
    let page = admin.get("/admin/settings").await;
    assert_eq!(
        page.attr("input[name=urgent][checked]", "value"),
        vec!["on"]
    );
    let r = admin
        .post(
            "/admin/settings",
            &[
                ("days", "2"),
                ("local_rule", "on"),
                ("urgent", "off"),
                ("retention", "25"),
                ("version", "1"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    let days: i32 = sqlx::query_scalar("SELECT strategy_discussion_days FROM partnership_settings")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(days, 1);
}

/// Meeting deadlines appends timeliness changes and shares no counter row: transactions that
/// meet a team's deadlines in opposite orders, while cases of the same team are restricted,
/// all commit (kept counters updated in each transaction deadlocked here), and once folded the
/// figures are exactly a recount.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn meeting_a_team_s_deadlines_at_once_never_deadlocks_and_the_figures_stay_exact() {
    let app = TestApp::with_env(&[("HAVEN_FIXED_TIME", "2026-12-03T16:59:00Z")]).await;
    let (_, pat_id) = app
        .signed_in_as("practitioner", "pat@example.org", "Team A")
        .await;
    let mut cases = Vec::new();
    for _ in 0..8 {
        cases.push(case_with_two_children(&app, pat_id, utc(2026, 12, 1, 10, 0), true).await);
    }
    let kinds: Vec<String> = sqlx::query_scalar(
        "SELECT DISTINCT kind FROM deadlines WHERE case_id = $1 AND met_at IS NULL ORDER BY kind LIMIT 2",
    )
    .bind(cases[0])
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(kinds.len(), 2, "{kinds:?}");
    let mut work = Vec::new();
    for (i, case) in cases.iter().copied().enumerate() {
        let pool = app.pool.clone();
        let mut order = kinds.clone();
        if i % 2 == 1 {
            order.reverse();
        }
        work.push(tokio::spawn(async move {
            let mut tx = pool.begin().await?;
            for k in &order {
                sqlx::query(
                    "UPDATE deadlines SET met_at = '2026-12-02T12:00:00Z' WHERE case_id = $1 AND kind = $2",
                )
                .bind(case)
                .bind(k)
                .execute(&mut *tx)
                .await?;
                sqlx::query("SELECT pg_sleep(0.05)").execute(&mut *tx).await?;
            }
            if i % 4 == 3 {
                sqlx::query("UPDATE cases SET restricted = true WHERE id = $1")
                    .bind(case)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await
        }));
    }
    for w in work {
        w.await.unwrap().expect("no transaction was rolled back");
    }
    haven::db::deadlines::fold_timeliness(&app.pool)
        .await
        .unwrap();
    assert_eq!(timeliness_drift(&app).await, 0);
    assert_eq!(
        app.count("SELECT count(*) FROM cases WHERE restricted")
            .await,
        2
    );
}
