//! Fictional demo data for trying Haven out: teams, one account per role and a few cases.
//! Every person here is invented. Refuses to touch a database that already holds cases.

use chrono::{Duration, Utc};
use rand::Rng;
use sqlx::PgPool;

use super::drafts::{AdultDraft, ChildDraft, Received, ReferralDraft, Referrer, Risk, Work};
use crate::audit::{self, Actor, Event};
use crate::auth::password;
use crate::domain::{ConcernKind, Email, Relationship, Role, WorksWithChildren};

fn passphrase() -> String {
    const WORDS: &[&str] = &[
        "harbour", "lantern", "meadow", "pebble", "orchard", "thistle", "copper", "willow",
        "beacon", "saddle", "juniper", "quarry", "falcon", "ember", "tundra", "walnut", "cobalt",
        "marble", "heron", "canyon",
    ];
    let mut rng = rand::thread_rng();
    (0..4)
        .map(|_| WORDS[rng.gen_range(0..WORDS.len())])
        .collect::<Vec<_>>()
        .join("-")
}

struct DemoCase {
    children: &'static [(&'static str, Option<i32>, &'static str)],
    adults: &'static [(&'static str, Relationship)],
    concerns: &'static [ConcernKind],
    referrer: (&'static str, &'static str, &'static str),
    account: &'static str,
    immediate: bool,
    works: WorksWithChildren,
    work_details: &'static str,
    days_ago: i64,
}

const CASES: &[DemoCase] = &[
    DemoCase {
        children: &[("Mia Thornbury", Some(13), "Fernhill Academy")],
        adults: &[
            ("Gary Pellow", Relationship::Alleged),
            ("Dawn Thornbury", Relationship::ParentCarer),
        ],
        concerns: &[ConcernKind::Grooming],
        referrer: (
            "Priya Nandakumar",
            "Designated safeguarding lead",
            "Fernhill Academy",
        ),
        account: "Mia told her form tutor that an adult she met in an online game has been sending her messages every night and has asked to meet her at the weekend. She showed the tutor the messages on her phone.",
        immediate: true,
        works: WorksWithChildren::Unknown,
        work_details: "",
        days_ago: 1,
    },
    DemoCase {
        children: &[("Unnamed child in images (about 9)", Some(9), "")],
        adults: &[("Colin Ashdown", Relationship::Alleged)],
        concerns: &[ConcernKind::IndecentImages],
        referrer: (
            "DC Sam Okafor",
            "Detective constable",
            "Police online child abuse team",
        ),
        account: "Police executed a warrant at the address after a platform report. Devices were seized. The man coaches a junior football team on Saturdays.",
        immediate: false,
        works: WorksWithChildren::Yes,
        work_details: "Volunteer coach, Brookside Juniors FC (under-10s)",
        days_ago: 3,
    },
    DemoCase {
        children: &[
            ("Tyler Brennan", Some(15), "Riverside High School"),
            ("Ava Kowalczyk", Some(15), "Riverside High School"),
        ],
        adults: &[],
        concerns: &[ConcernKind::YouthImagery],
        referrer: ("Helen Marsh", "Head of year 10", "Riverside High School"),
        account: "A semi-nude image of Ava was shared by Tyler in a group chat. Ava is very upset and has not been in school for two days.",
        immediate: false,
        works: WorksWithChildren::No,
        work_details: "",
        days_ago: 6,
    },
    DemoCase {
        children: &[("Jordan Ellery", Some(14), "St Aidan's School")],
        adults: &[("Marie Ellery", Relationship::ParentCarer)],
        concerns: &[ConcernKind::Extremism, ConcernKind::HarmfulMaterial],
        referrer: ("Marie Ellery", "Mother", "Member of the public"),
        account: "Jordan's mother found extremist videos and chat groups on his tablet. He has started repeating phrases from them at home.",
        immediate: false,
        works: WorksWithChildren::No,
        work_details: "",
        days_ago: 10,
    },
];

/// Fill the database with demo data; returns what to print.
pub async fn seed(pool: &PgPool, key: &audit::ChainKey) -> anyhow::Result<String> {
    let existing: i64 = sqlx::query_scalar!(r#"SELECT count(*) AS "count!" FROM cases"#)
        .fetch_one(pool)
        .await?;
    // The README makes the first administrator before trying the demo: administrators (who
    // never see case content) may already be there; anything else means real use.
    let users: i64 =
        sqlx::query_scalar!(r#"SELECT count(*) AS "count!" FROM users WHERE role <> 'admin'"#)
            .fetch_one(pool)
            .await?;
    let teams: i64 = sqlx::query_scalar!(r#"SELECT count(*) AS "count!" FROM teams"#)
        .fetch_one(pool)
        .await?;
    if existing > 0 || users > 0 || teams > 0 {
        anyhow::bail!(
            "this database already holds {existing} cases, {teams} teams and {users} accounts besides administrators; seed-demo only runs on a database with nothing but administrators in it"
        );
    }
    let pass = passphrase();
    let hash = password::hash_blocking(pass.clone()).await?;
    let mut tx = pool.begin().await?;
    let north = super::teams::create(&mut *tx, "North online safety hub")
        .await?
        .ok_or_else(|| anyhow::anyhow!("team exists"))?;
    let south = super::teams::create(&mut *tx, "South safeguarding team")
        .await?
        .ok_or_else(|| anyhow::anyhow!("team exists"))?;
    let lado_team = super::teams::create(&mut *tx, "LADO service")
        .await?
        .ok_or_else(|| anyhow::anyhow!("team exists"))?;
    let accounts = [
        (
            "pat.practitioner@example.org",
            "Pat Okonjo",
            Role::Practitioner,
            Some(north),
        ),
        (
            "mo.manager@example.org",
            "Morgan Fielding",
            Role::Manager,
            Some(north),
        ),
        (
            "lee.lado@example.org",
            "Lee Achterberg",
            Role::Lado,
            Some(lado_team),
        ),
        ("noor.admin@example.org", "Noor Haddad", Role::Admin, None),
        (
            "sam.practitioner@example.org",
            "Sam Rahman",
            Role::Practitioner,
            Some(south),
        ),
    ];
    let mut ids = Vec::new();
    for (email, name, role, team) in accounts {
        let email = Email::parse(email).map_err(|e| anyhow::anyhow!("{e}"))?;
        let id = super::users::create(&mut tx, &email, name, role, Some(&hash), team).await?;
        ids.push(id);
    }
    for (i, c) in CASES.iter().enumerate() {
        // The last case belongs to the south team, so the north manager's list shows the
        // boundary between teams.
        let (team_id, practitioner) = if i + 1 == CASES.len() {
            (south, ids[4])
        } else {
            (north, ids[0])
        };
        let received_at =
            Utc::now() - Duration::days(c.days_ago) - Duration::minutes(37 * i as i64);
        let draft = ReferralDraft {
            referrer: Some(Referrer {
                name: c.referrer.0.into(),
                role: c.referrer.1.into(),
                agency: c.referrer.2.into(),
                contact: "01632 960 000 (fictional)".into(),
            }),
            received: Some(Received { at: received_at }),
            children: c
                .children
                .iter()
                .map(|(n, age, school)| ChildDraft {
                    name: (*n).into(),
                    sex: String::new(),
                    date_of_birth: None,
                    age_estimate: *age,
                    school: (*school).into(),
                    household: String::new(),
                })
                .collect(),
            children_done: true,
            adults: c
                .adults
                .iter()
                .map(|(n, r)| AdultDraft {
                    name: (*n).into(),
                    relationship: *r,
                    household: String::new(),
                })
                .collect(),
            adults_done: true,
            concerns: c.concerns.to_vec(),
            account: Some(c.account.into()),
            risk: Some(Risk {
                immediate: c.immediate,
                details: if c.immediate {
                    "Planned meeting this Saturday.".into()
                } else {
                    String::new()
                },
            }),
            work: Some(Work {
                works_with_children: c.works,
                details: c.work_details.into(),
            }),
        };
        let (case_id, reference) = super::cases::create_from_referral(
            &mut tx,
            super::cases::NewCase {
                draft: &draft,
                team_id,
                owner_id: practitioner,
                now: Utc::now(),
            },
        )
        .await?;
        // Its clocks, so the dashboards have something to show.
        super::deadlines::recompute(
            &mut tx,
            case_id,
            &crate::domain::calendar::Calendar::default(),
            crate::domain::deadlines::Settings::default(),
        )
        .await?;
        audit::record(
            &mut tx,
            key,
            &Actor {
                user_id: Some(practitioner),
                ip: None,
            },
            Event::new("case.create", "case")
                .entity(case_id)
                .case(case_id)
                .details(serde_json::json!({ "reference": reference.as_str(), "demo": true })),
        )
        .await?;
    }
    audit::record(
        &mut tx,
        key,
        &Actor::default(),
        Event::new("demo.seed", "database"),
    )
    .await?;
    tx.commit().await?;
    let mut out = String::from(
        "Demo data created (all people are fictional).\n\nAccounts (one password for all):\n",
    );
    for (email, name, role, _) in accounts {
        out.push_str(&format!("  {:<32} {:<18} {}\n", email, name, role.label()));
    }
    out.push_str(&format!("\nPassword: {pass}\n"));
    out.push_str(
        "\nThe LADO and administrator accounts set up an authenticator app at first sign-in.\n",
    );
    Ok(out)
}
