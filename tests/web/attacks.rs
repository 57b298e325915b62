//! The security test of the foundation, replayed: each finding as the attacker carried it out
//! (the same requests, in parallel where they raced), so the suite fails if one ever returns.
//! docs/security.md lists them and what is not tested.

use std::io::{Read, Write};
use std::time::Duration;

use axum::http::{Method, StatusCode};
use haven::audit::{self, Verification};
use haven::auth::Permission;
use haven::domain::{ConcernKind, Role};
use sqlx::Executor;
use uuid::Uuid;

use crate::cases::make_case;
use crate::helpers::{Client, PASSWORD, TestApp, release_link};

/// Every table's content except the audit trail's, one fingerprint per table.
async fn snapshot(app: &TestApp) -> Vec<(String, String)> {
    let mut owner = app.owner().await;
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT tablename::text FROM pg_tables WHERE schemaname = 'public'
           AND tablename NOT IN ('audit_events', 'audit_chain_head', '_sqlx_migrations')
         ORDER BY tablename",
    )
    .fetch_all(&mut owner)
    .await
    .unwrap();
    let mut out = Vec::new();
    for t in tables {
        let fingerprint: String = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            // A session's last_seen_at moves at most once a minute (bookkeeping, not a change
            // a request makes): left out so a slow run cannot trip over it.
            "SELECT coalesce(md5(string_agg((to_jsonb(x) - 'last_seen_at')::text, '|' ORDER BY (to_jsonb(x) - 'last_seen_at')::text)), '') FROM \"{t}\" x"
        )))
        .fetch_one(&mut owner)
        .await
        .unwrap();
        out.push((t, fingerprint));
    }
    out
}

fn changed(before: &[(String, String)], after: &[(String, String)]) -> Vec<String> {
    before
        .iter()
        .zip(after)
        .filter(|(a, b)| a.1 != b.1)
        .map(|(a, _)| a.0.clone())
        .collect()
}

async fn lado_with_factor(app: &TestApp, email: &str) -> (Client, Uuid, String) {
    let id = app.user("lado", email, "LADO team").await;
    let secret = app.enrol_totp(id).await;
    let mut c = app.client();
    c.sign_in(email, PASSWORD).await;
    c.get("/sign-in/code").await;
    let code = haven::auth::totp::code_at(&secret, chrono::Utc::now().timestamp() as u64).unwrap();
    assert_eq!(
        c.post("/sign-in/code", &[("code", &code)]).await.location(),
        "/"
    );
    (c, id, secret)
}

async fn totp_state(app: &TestApp, id: Uuid) -> (Option<String>, bool) {
    sqlx::query_as("SELECT totp_secret, totp_enabled_at IS NOT NULL FROM users WHERE id = $1")
        .bind(id)
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

// Finding 1 (high): opening the second-factor set-up page switched the factor off -------------

#[tokio::test]
async fn f1_opening_the_set_up_page_never_switches_a_factor_off() {
    let app = TestApp::new().await;
    let (mut lee, id, _) = lado_with_factor(&app, "lee@example.org").await;
    let before = totp_state(&app, id).await;
    assert!(before.1);
    // The attack: a link on another site opens the page in the LADO's browser (GET, and HEAD).
    assert_eq!(lee.get("/account/two-factor").await.status, StatusCode::OK);
    assert_eq!(lee.head("/account/two-factor").await.status, StatusCode::OK);
    assert_eq!(
        totp_state(&app, id).await,
        before,
        "the live factor is untouched"
    );
    // Then, with the password alone, the attacker still meets the second step.
    let mut attacker = app.client_from("203.0.113.66");
    let r = attacker.sign_in("lee@example.org", PASSWORD).await;
    assert_eq!(r.location(), "/sign-in/code");
    assert_eq!(
        attacker.get("/account/two-factor").await.location(),
        "/sign-in/code"
    );
    assert_eq!(
        attacker.get("/sign-in/set-up-code").await.location(),
        "/sign-in/code"
    );
    attacker.get("/sign-in/code").await;
    assert_eq!(
        attacker
            .post("/sign-in/set-up-code/start", &[])
            .await
            .location(),
        "/sign-in/code"
    );
    assert_eq!(totp_state(&app, id).await, before);
}

#[tokio::test]
async fn f1_replacing_or_removing_a_factor_needs_the_password_and_a_current_code() {
    let app = TestApp::new().await;
    let id = app.user("practitioner", "pat@example.org", "Team A").await;
    let secret = app.enrol_totp(id).await;
    let mut pat = app.client();
    pat.sign_in("pat@example.org", PASSWORD).await;
    pat.get("/sign-in/code").await;
    let now = chrono::Utc::now().timestamp() as u64;
    let code = haven::auth::totp::code_at(&secret, now).unwrap();
    assert_eq!(
        pat.post("/sign-in/code", &[("code", &code)])
            .await
            .location(),
        "/"
    );
    let before = totp_state(&app, id).await;
    pat.get("/account/two-factor").await;
    // A session alone (someone at an unlocked computer) cannot remove or replace it.
    for (password, code) in [
        ("", ""),
        (PASSWORD, ""),
        ("not the password at all", "123456"),
        (PASSWORD, "000000"),
    ] {
        let r = pat
            .post(
                "/account/two-factor/change",
                &[("password", password), ("code", code), ("action", "remove")],
            )
            .await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{password:?} {code:?}"
        );
        assert!(!r.error_summary().is_empty());
    }
    assert_eq!(totp_state(&app, id).await, before);
    // With both, the person replaces it: the old key keeps working until the new one is confirmed.
    let next = haven::auth::totp::code_at(&secret, now + 30).unwrap();
    let r = pat
        .post(
            "/account/two-factor/change",
            &[
                ("password", PASSWORD),
                ("code", &next),
                ("action", "replace"),
            ],
        )
        .await;
    assert_eq!(r.location(), "/account/two-factor");
    assert_eq!(totp_state(&app, id).await.0, before.0, "not replaced yet");
    let page = pat.get("/account/two-factor").await;
    let new_secret = page.select("#secret")[0].clone();
    let r = pat
        .post(
            "/account/two-factor",
            &[(
                "code",
                &haven::auth::totp::code_at(&new_secret, now).unwrap(),
            )],
        )
        .await;
    assert_eq!(r.select("#recovery-codes li").len(), 10);
    assert_ne!(totp_state(&app, id).await.0, before.0, "replaced now");
    // The person is told.
    assert_eq!(
        app.count("SELECT count(*) FROM account_notices WHERE kind = 'second_factor_changed'")
            .await,
        1
    );
    // A LADO may not turn it off at all.
    let (mut lee, _, _) = lado_with_factor(&app, "lee@example.org").await;
    lee.get("/account/two-factor").await;
    let r = lee
        .post(
            "/account/two-factor/change",
            &[("password", PASSWORD), ("code", "x"), ("action", "remove")],
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
}

/// Real ids for every kind of placeholder a route takes.
pub struct Ids {
    pub case: Uuid,
    pub user: Uuid,
    pub draft: Uuid,
    pub token: String,
    pub discussion: Uuid,
    pub enquiry: Uuid,
    pub allegation: Uuid,
    /// A document on the case, and one on the allegation.
    pub case_doc: Uuid,
    pub allegation_doc: Uuid,
    /// A child on the case.
    pub person: Uuid,
}

/// Every concrete path for a route: one per value of its repeating placeholders.
pub fn concrete(path: &str, ids: &Ids) -> Vec<String> {
    let (id, doc) = if path.starts_with("/cases/") {
        (ids.case, ids.case_doc)
    } else if path.starts_with("/lado/allegations/") {
        (ids.allegation, ids.allegation_doc)
    } else if path.starts_with("/admin/users/") {
        (ids.user, ids.draft)
    } else {
        (ids.draft, ids.draft)
    };
    let base = path
        .replace("{id}", &id.to_string())
        .replace("{doc}", &doc.to_string())
        .replace("{token}", &ids.token)
        .replace("{sid}", &ids.discussion.to_string())
        .replace("{eid}", &ids.enquiry.to_string())
        .replace("{pid}", &ids.person.to_string());
    let expand = |p: String, key: &str, values: &[&str]| -> Vec<String> {
        if p.contains(key) {
            values.iter().map(|v| p.replace(key, v)).collect()
        } else {
            vec![p]
        }
    };
    let steps = [
        "referrer", "received", "children", "adults", "concerns", "account", "risk", "work",
        "check",
    ];
    let pages = [
        "when",
        "attendees",
        "children",
        "risk",
        "work",
        "investigation",
        "decisions",
        "family",
        "check",
    ];
    expand(base, "{step}", &steps)
        .into_iter()
        .flat_map(|p| expand(p, "{page}", &pages))
        .flat_map(|p| {
            expand(
                p,
                "{kind}",
                &[
                    "lado-told",
                    "assessment-completed",
                    "prevent",
                    "nudes",
                    "hsb",
                    "child",
                ],
            )
        })
        .flat_map(|p| {
            expand(
                p,
                "{form}",
                &[
                    "step-tell_manager",
                    "threshold",
                    "strand-police",
                    "told",
                    "link",
                    "access",
                ],
            )
        })
        .collect()
}

#[tokio::test]
async fn f1_no_get_or_head_changes_anything_but_the_audit_trail() {
    let app = TestApp::new().await;
    // Real records for every kind of id a GET route takes.
    let (mut pat, pat_id) = app
        .signed_in_as("practitioner", "pat@example.org", "Team A")
        .await;
    // A case with the procedure under way: a recorded discussion that started an enquiry, and
    // a draft one.
    let now = chrono::Utc::now();
    let case = crate::procedure::case_with_two_children(
        &app,
        pat_id,
        now - chrono::Duration::days(3),
        true,
    )
    .await;
    let juniper = crate::procedure::child_id(&app, case, "Juniper Ashcombe").await;
    let rowan = crate::procedure::child_id(&app, case, "Rowan Ashcombe").await;
    let held = crate::domain_date(now - chrono::Duration::days(1));
    crate::procedure::hold_discussion(
        &app,
        &mut pat,
        case,
        (&held.0, &held.1, &held.2, "09:00"),
        &[(juniper, None)],
        &[juniper, rowan],
    )
    .await;
    pat.get(&format!("/cases/{case}/procedure")).await;
    let discussion: Uuid = pat
        .post(&format!("/cases/{case}/strategy"), &[])
        .await
        .location()
        .rsplit('/')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let enquiry: Uuid = sqlx::query_scalar("SELECT id FROM section47_enquiries")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    pat.get("/referrals/new").await;
    let r = pat.post("/referrals", &[]).await;
    let draft: Uuid = r.location().split('/').nth(2).unwrap().parse().unwrap();
    let waiting = app.user("practitioner", "new@example.org", "Team A").await;
    let link = release_link(&app, waiting).await;
    let token = link.trim_start_matches("/set-password/").to_owned();
    let mut people: Vec<(Role, Client)> = vec![(Role::Practitioner, pat)];
    for role in [Role::Manager, Role::Lado, Role::Admin] {
        let (c, _) = app.signed_in(role.code()).await;
        people.push((role, c));
    }
    // An allegation, opened by the LADO yesterday.
    let day = crate::domain_date(now - chrono::Duration::days(1));
    let allegation = crate::lado::open_allegation(
        &mut people[2].1,
        "Ulric Fenwick",
        "",
        (&day.0, &day.1, &day.2, "09:00"),
        (&day.0, &day.1, &day.2, "09:30"),
    )
    .await;
    // A document on each.
    let text = b"Fictional notes of a call.\n";
    people[0]
        .1
        .get(&format!("/cases/{case}/documents/new"))
        .await;
    let r = people[0]
        .1
        .upload(&format!("/cases/{case}/documents"), &[], "call.txt", text)
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    people[2]
        .1
        .get(&format!("/lado/allegations/{allegation}/documents/new"))
        .await;
    let r = people[2]
        .1
        .upload(
            &format!("/lado/allegations/{allegation}/documents"),
            &[],
            "call.txt",
            text,
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let doc_of = |sql: &'static str| sqlx::query_scalar::<_, Uuid>(sql).fetch_one(&app.pool);
    let case_doc = doc_of("SELECT id FROM documents WHERE case_id IS NOT NULL")
        .await
        .unwrap();
    let allegation_doc = doc_of("SELECT id FROM documents WHERE allegation_id IS NOT NULL")
        .await
        .unwrap();
    // Half signed in: a second factor to enter, and one to set up.
    let (_, lee_id, _) = lado_with_factor(&app, "lee@example.org").await;
    let mut entering = app.client();
    entering.sign_in("lee@example.org", PASSWORD).await;
    app.user("admin", "new-admin@example.org", "Admins").await;
    let mut enrolling = app.client();
    enrolling.sign_in("new-admin@example.org", PASSWORD).await;
    let _ = lee_id;

    let ids = Ids {
        case,
        user: pat_id,
        draft,
        token,
        discussion,
        enquiry,
        allegation,
        case_doc,
        allegation_doc,
        person: juniper,
    };
    let mut checked = 0;
    for r in app.routes.iter().filter(|r| r.method == Method::GET) {
        let paths = concrete(r.path, &ids);
        let mut clients: Vec<&mut Client> = Vec::new();
        let mut anonymous = app.client();
        match r.permission {
            Permission::Public => clients.push(&mut anonymous),
            Permission::SigningIn => {
                clients.push(&mut entering);
                clients.push(&mut enrolling);
            }
            Permission::Roles(allowed) => {
                for (role, c) in people.iter_mut() {
                    if allowed.contains(role) {
                        clients.push(c);
                    }
                }
            }
            _ => clients.extend(people.iter_mut().map(|(_, c)| c)),
        }
        for c in clients {
            for path in &paths {
                for method in [Method::GET, Method::HEAD] {
                    let before = snapshot(&app).await;
                    let res = c.send(method.clone(), path, None).await;
                    assert!(
                        res.status != StatusCode::INTERNAL_SERVER_ERROR,
                        "{method} {path}"
                    );
                    let after = snapshot(&app).await;
                    assert_eq!(
                        changed(&before, &after),
                        Vec::<String>::new(),
                        "{method} {path} changed these tables"
                    );
                    checked += 1;
                }
            }
        }
    }
    assert!(checked > 150, "walked only {checked} requests");
}

// Finding 2 (high): anonymous sign-in attempts exhausted memory --------------------------------

#[tokio::test]
async fn f2_a_flood_of_sign_ins_runs_at_most_the_gates_workers_and_turns_the_rest_away() {
    let app = TestApp::with_env(&[("HAVEN_HASH_WORKERS", "2"), ("HAVEN_HASH_QUEUE", "4")]).await;
    let mut tasks = Vec::new();
    for i in 0..60 {
        // Many addresses and accounts, as the attacker had, so no throttle stops them first.
        let mut c = app.client_from(&format!("198.51.100.{}", i + 1));
        c.get("/sign-in").await;
        tasks.push(tokio::spawn(async move {
            let r = c
                .post(
                    "/sign-in",
                    &[
                        ("email", &format!("nobody{i}@example.org")),
                        ("password", "wrong password for anyone"),
                    ],
                )
                .await;
            (r.status, r.header("retry-after").to_owned(), r.select("h1"))
        }));
    }
    let mut busy = 0;
    let mut checked = 0;
    for t in tasks {
        let (status, retry_after, h1) = t.await.unwrap();
        match status {
            StatusCode::SERVICE_UNAVAILABLE => {
                busy += 1;
                assert_eq!(retry_after, "5");
                assert_eq!(h1, vec!["Haven is busy"]);
            }
            StatusCode::UNPROCESSABLE_ENTITY => checked += 1,
            other => panic!("unexpected {other}"),
        }
    }
    assert!(app.state.hash_gate.most_running() <= 2);
    assert!(busy > 0, "nobody was turned away");
    assert!(checked >= 2);
    // Turned-away attempts were never checked, so they do not count against anyone.
    assert_eq!(
        app.count("SELECT count(*) FROM sign_in_failures").await,
        checked
    );
}

#[tokio::test]
async fn f2_a_made_up_sign_in_form_token_is_refused_before_any_password_is_checked() {
    let app = TestApp::new().await;
    let mut c = app.client();
    // The attack set the double-submit cookie and the field to the same invented value.
    let invented = "A".repeat(54);
    c.cookies.insert("haven_csrf".into(), invented.clone());
    c.csrf = invented;
    let r = c
        .post(
            "/sign-in",
            &[("email", "a@example.org"), ("password", "whatever it is")],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(
        app.state.hash_gate.most_running(),
        0,
        "no password was hashed"
    );
    // A token Haven issued works.
    c.cookies.clear();
    c.get("/sign-in").await;
    let r = c
        .post(
            "/sign-in",
            &[("email", "a@example.org"), ("password", "whatever it is")],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// One HTTP/1.1 exchange on a new connection; the whole response as text.
fn exchange(addr: &str, request: &str) -> String {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    s.write_all(request.as_bytes()).unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

fn resident_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap()
}

#[tokio::test]
async fn f2_memory_returns_to_its_baseline_after_a_burst_of_sign_ins() {
    let app = TestApp::new().await;
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let mut server = std::process::Command::new(env!("CARGO_BIN_EXE_haven"))
        .arg("serve")
        .env("DATABASE_URL", &app.owner_url)
        .env("HAVEN_LISTEN", &addr)
        .env("HAVEN_HASH_WORKERS", "2")
        .env("HAVEN_HASH_QUEUE", "4")
        .env("HAVEN_TRUSTED_PROXIES", "127.0.0.1")
        .env("HAVEN_AUDIT_ANCHOR_FILE", "off")
        .env("HAVEN_LOG", "error")
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let pid = server.id();
    let mut ready = false;
    for _ in 0..300 {
        if std::net::TcpStream::connect(&addr).is_ok() {
            ready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(ready, "the server did not start");
    let page = exchange(
        &addr,
        "GET /sign-in HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    let cookie = page
        .lines()
        .find_map(|l| l.strip_prefix("set-cookie: "))
        .and_then(|c| c.split(';').next())
        .unwrap()
        .to_owned();
    let token = cookie.split_once('=').unwrap().1.to_owned();
    let post = move |i: usize| {
        let body =
            format!("_csrf={token}&email=nobody{i}%40example.org&password=wrong+password+here");
        format!(
            "POST /sign-in HTTP/1.1\r\nHost: x\r\nConnection: close\r\nCookie: {cookie}\r\nX-Forwarded-For: 198.51.100.{}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
            i % 250 + 1,
            body.len()
        )
    };
    // Warm up (the first check makes the dummy hash), then take the baseline.
    exchange(&addr, &post(0));
    let baseline = resident_kib(pid);
    let peak = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(baseline));
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let sampler = {
        let (peak, done) = (peak.clone(), done.clone());
        std::thread::spawn(move || {
            while !done.load(std::sync::atomic::Ordering::SeqCst) {
                peak.fetch_max(resident_kib(pid), std::sync::atomic::Ordering::SeqCst);
                std::thread::sleep(Duration::from_millis(5));
            }
        })
    };
    let attackers: Vec<_> = (1..=100)
        .map(|i| {
            let (addr, request) = (addr.clone(), post(i));
            std::thread::spawn(move || exchange(&addr, &request))
        })
        .collect();
    let answers: Vec<String> = attackers.into_iter().map(|t| t.join().unwrap()).collect();
    done.store(true, std::sync::atomic::Ordering::SeqCst);
    sampler.join().unwrap();
    let turned_away = answers
        .iter()
        .filter(|a| a.starts_with("HTTP/1.1 503"))
        .count();
    // After the burst: a few moments for the last responses' threads to finish.
    let mut after = resident_kib(pid);
    for _ in 0..40 {
        if after <= baseline + 30 * 1024 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        after = resident_kib(pid);
    }
    let peak = peak.load(std::sync::atomic::Ordering::SeqCst);
    let _ = server.kill();
    let _ = server.wait();
    println!(
        "resident memory: baseline {baseline} KiB, peak {peak} KiB, after {after} KiB; {turned_away} of 100 turned away"
    );
    assert!(turned_away > 0, "the gate turned nobody away");
    // Before the fix, 100 attempts took the process to 1.9 GB. Two workers at 19 MiB each,
    // plus buffers for a hundred connections, stay far below 200 MiB over the baseline.
    assert!(
        peak < baseline + 200 * 1024,
        "peak {peak} KiB against a baseline of {baseline} KiB"
    );
    assert!(
        after <= baseline + 30 * 1024,
        "after the burst {after} KiB against a baseline of {baseline} KiB"
    );
}

// Finding 3 (medium): the app's own database login could rewrite the audit trail --------------

#[tokio::test]
async fn f3_the_servers_login_cannot_lift_its_own_restrictions() {
    let app = TestApp::new().await;
    audit::record_alone(
        &app.pool,
        &app.state.audit,
        &audit::Actor::default(),
        audit::Event::new("case.view", "case"),
    )
    .await
    .unwrap();
    let mut conn = app.pool.acquire().await.unwrap();
    let me: String = sqlx::query_scalar("SELECT current_user::text")
        .fetch_one(&mut *conn)
        .await
        .unwrap();
    assert_eq!(me, "haven_app");
    // What the attacker did: drop the role switch, then act as the owner.
    for sql in [
        "RESET ROLE; DELETE FROM audit_events",
        "SET ROLE postgres",
        "ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only",
        "SET session_replication_role = replica",
        "DELETE FROM audit_events",
        "UPDATE audit_events SET action = 'nothing'",
        "TRUNCATE audit_events",
        "UPDATE audit_chain_head SET seq = 0",
        "DROP TRIGGER audit_events_append_only ON audit_events",
    ] {
        let r = (&mut *conn).execute(sql).await;
        assert!(
            r.is_err() || sql.starts_with("UPDATE audit_chain_head"),
            "{sql} was allowed"
        );
    }
    assert_eq!(app.count("SELECT count(*) FROM audit_events").await, 1);
    // The server refuses to run as a login that could.
    haven::db::check_app_login(&app.pool).await.unwrap();
    let owner = sqlx::PgPool::connect(&app.owner_url).await.unwrap();
    let refusal = haven::db::check_app_login(&owner).await.unwrap_err();
    assert!(
        refusal.to_string().contains("undo its own restrictions"),
        "{refusal}"
    );
}

async fn three_views(app: &TestApp) {
    for i in 0..3 {
        audit::record_alone(
            &app.pool,
            &app.state.audit,
            &audit::Actor::default(),
            audit::Event::new("case.view", "case").entity(i),
        )
        .await
        .unwrap();
    }
}

#[tokio::test]
async fn f3_a_rechained_trail_is_caught_without_the_key() {
    let app = TestApp::new().await;
    three_views(&app).await;
    app.seal_everything().await;
    let key = &app.state.audit;
    assert_eq!(
        audit::verify(&app.pool, key, &[], 0, 100).await.unwrap(),
        Verification::Intact {
            rows: 3,
            unsealed: 0,
            anchors: 0
        }
    );
    // As the owner: delete row 2 and its seal and re-chain the rest, as the attacker did (they
    // cannot compute the keyed links, so they use plain SHA-256, or a key of their own).
    let mut owner = app.superuser().await;
    owner
        .execute("DELETE FROM audit_seals WHERE seq = 2; DELETE FROM audit_events WHERE seq = 2")
        .await
        .unwrap();
    let rows: Vec<(i64, i64, Vec<u8>)> = sqlx::query_as(
        "SELECT s.position, s.seq, e.mac FROM audit_seals s JOIN audit_events e USING (seq) ORDER BY s.position",
    )
    .fetch_all(&mut owner)
    .await
    .unwrap();
    for forger in [None, Some(audit::ChainKey::from_secret(&[9; 32]))] {
        let mut prev = vec![0u8; 32];
        for (i, (old_position, seq, mac)) in rows.iter().enumerate() {
            let position = i as i64 + 1;
            let canonical = audit::seal_canonical(position, *seq, mac);
            let hash = match &forger {
                None => audit::chain_hash(&prev, &canonical),
                Some(k) => audit::keyed_hash(k, &prev, &canonical),
            };
            sqlx::query(
                "UPDATE audit_seals SET position = $1, prev_hash = $2, hash = $3 WHERE seq = $4",
            )
            .bind(position)
            .bind(&prev)
            .bind(&hash)
            .bind(seq)
            .execute(&mut owner)
            .await
            .unwrap();
            let _ = old_position;
            prev = hash;
        }
        sqlx::query("UPDATE audit_chain_head SET seq = $1, hash = $2")
            .bind(rows.len() as i64)
            .bind(&prev)
            .execute(&mut owner)
            .await
            .unwrap();
        match audit::verify(&app.pool, key, &[], 0, 100).await.unwrap() {
            Verification::Broken { seq, .. } => assert_eq!(seq, 1),
            other => panic!("a re-chained trail passed: {other:?}"),
        }
    }
}

#[tokio::test]
async fn f3_removing_the_newest_rows_is_caught_by_the_anchors() {
    let app = TestApp::new().await;
    three_views(&app).await;
    let key = &app.state.audit;
    let dir = std::env::temp_dir().join(format!("haven-anchors-{}", Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("anchors.jsonl");
    app.seal_everything().await;
    audit::append_anchor(&file, key, &audit::current_anchor(&app.pool).await.unwrap()).unwrap();
    let anchors = audit::read_anchors(&std::fs::read_to_string(&file).unwrap(), key).unwrap();
    assert_eq!(
        audit::verify(&app.pool, key, &anchors, 0, 100)
            .await
            .unwrap(),
        Verification::Intact {
            rows: 3,
            unsealed: 0,
            anchors: 1
        }
    );
    // As the owner: remove the newest row and move the head back. The rest still chains.
    let mut owner = app.superuser().await;
    owner
        .execute("DELETE FROM audit_seals WHERE seq = 3; DELETE FROM audit_events WHERE seq = 3")
        .await
        .unwrap();
    owner
        .execute(
            "UPDATE audit_chain_head h SET seq = 2, hash = s.hash, sealed_xid = e.xid, sealed_seq = e.seq
             FROM audit_seals s JOIN audit_events e USING (seq) WHERE s.position = 2",
        )
        .await
        .unwrap();
    assert!(
        matches!(
            audit::verify(&app.pool, key, &[], 0, 100).await.unwrap(),
            Verification::Intact { .. }
        ),
        "without anchors the shorter chain fits"
    );
    match audit::verify(&app.pool, key, &anchors, 0, 100)
        .await
        .unwrap()
    {
        Verification::Broken { problem, .. } => assert!(problem.contains("removed"), "{problem}"),
        other => panic!("removal not caught: {other:?}"),
    }
    // An anchor edited to match the shorter chain is not genuine.
    let edited = std::fs::read_to_string(&file)
        .unwrap()
        .replace("\"seq\":3", "\"seq\":2");
    assert!(audit::read_anchors(&edited, key).is_err());
    std::fs::remove_dir_all(&dir).unwrap();
}

// Finding 4 (medium): reading a case without an access record ----------------------------------

/// Audit rows that mention the case (as its case id, or among the cases a list showed).
async fn mentions(app: &TestApp, case: Uuid) -> i64 {
    sqlx::query_scalar(
        "SELECT count(*) FROM audit_events WHERE case_id = $1 OR details LIKE '%' || $1::text || '%'",
    )
    .bind(case)
    .fetch_one(&app.pool)
    .await
    .unwrap()
}

#[tokio::test]
async fn f4_every_response_that_shows_a_case_writes_its_access_record() {
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
        "Zephyrine Quillfeather",
        ConcernKind::Grooming,
    )
    .await;
    // The procedure's pages need their records: a draft discussion and an enquiry (for a child
    // added to the case for the purpose).
    pat.get(&format!("/cases/{case}/procedure")).await;
    let discussion = pat
        .post(&format!("/cases/{case}/strategy"), &[])
        .await
        .location()
        .rsplit('/')
        .next()
        .unwrap()
        .to_owned();
    let (started_by, child): (Uuid, Uuid) = (
        discussion.parse().unwrap(),
        sqlx::query_scalar("SELECT id FROM case_people WHERE case_id = $1 AND kind = 'child'")
            .bind(case)
            .fetch_one(&app.pool)
            .await
            .unwrap(),
    );
    let enquiry = Uuid::now_v7();
    let mut owner = app.owner().await;
    sqlx::query("INSERT INTO section47_enquiries (id, case_id, person_id, started_by, started_on, kind) VALUES ($1, $2, $3, $4, current_date, 'joint')")
        .bind(enquiry)
        .bind(case)
        .bind(child)
        .bind(started_by)
        .execute(&mut owner)
        .await
        .unwrap();
    let mut requests = 0;
    let mut shown = 0;
    let kinds_of = |p: &str| {
        if p.contains("{kind}") {
            vec!["lado-told", "prevent", "nudes", "hsb", "child"]
        } else {
            vec![""]
        }
    };
    for (r, kind) in app
        .routes
        .iter()
        .flat_map(|r| kinds_of(r.path).into_iter().map(move |k| (r, k)))
    {
        let Permission::Roles(roles) = r.permission else {
            continue;
        };
        if roles.contains(&Role::Admin) {
            continue;
        }
        let path = r
            .path
            .replace("{id}", &case.to_string())
            .replace("{step}", "check")
            .replace("{index}", "0")
            .replace("{sid}", &discussion)
            .replace("{page}", "when")
            .replace("{eid}", &enquiry.to_string())
            .replace("{kind}", kind)
            .replace("{pid}", &child.to_string())
            .replace("{aid}", &Uuid::now_v7().to_string())
            .replace("{did}", &Uuid::now_v7().to_string());
        // Each route as a browser would use it, and with what an attacker would send: nothing,
        // or a field that makes the form come back with its errors.
        let bodies: Vec<Vec<(&str, &str)>> = if r.method == Method::GET {
            vec![vec![]]
        } else {
            vec![
                vec![],
                vec![
                    ("body", ""),
                    ("_idem", "0190a0a0-0000-7000-8000-000000000000"),
                ],
                vec![("title", ""), ("status", "open"), ("version", "1")],
                vec![("title", "Changed"), ("status", "open"), ("version", "999")],
                vec![("name", "quill")],
                vec![("name", "quill"), ("scope", "team")],
                // The procedure's forms, left empty or wrong.
                vec![("version", "1")],
                vec![
                    ("version", "1"),
                    ("held-day", "31"),
                    ("held-month", "2"),
                    ("held-year", "2026"),
                    ("time", "9am"),
                ],
                vec![("outcome", "no_further_action"), ("reasons", "")],
                vec![("reason", "")],
                vec![
                    ("version", "1"),
                    ("outcome", "not_substantiated"),
                    ("reasons", ""),
                ],
                vec![("child", ""), ("held-day", "1")],
                vec![("when-day", "1"), ("time", "")],
                // A person's details, with the name left out.
                vec![("version", "1"), ("name", "")],
            ]
        };
        for c in [&mut pat, &mut mo] {
            c.get("/cases").await;
            for body in &bodies {
                let before = mentions(&app, case).await;
                let res = if r.method == Method::GET {
                    c.get(&path).await
                } else {
                    c.post(&path, body).await
                };
                requests += 1;
                if res.body.contains("Quillfeather") {
                    shown += 1;
                    assert!(
                        mentions(&app, case).await > before,
                        "{} {path} with {body:?} ({}) showed the case without an access record",
                        r.method,
                        res.status
                    );
                }
            }
        }
    }
    assert!(requests > 200);
    println!("{shown} of {requests} responses showed the case");
    assert!(shown > 30, "only {shown} responses showed the case");
}

#[tokio::test]
async fn f4_a_search_records_the_shape_of_its_terms_and_the_cases_never_the_name() {
    let app = TestApp::new().await;
    let (mut pat, pat_id) = app
        .signed_in_as("practitioner", "pat@example.org", "Team A")
        .await;
    let case = make_case(
        &app,
        pat_id,
        "Team A",
        "Zephyrine Quillfeather",
        ConcernKind::Grooming,
    )
    .await;
    pat.get("/cases").await;
    let r = pat
        .post("/cases/search", &[("name", "zephyrine quill")])
        .await;
    assert_eq!(r.select("#cases tbody tr").len(), 1);
    let details: String = sqlx::query_scalar(
        "SELECT details FROM audit_events WHERE action = 'case.search' ORDER BY seq DESC LIMIT 1",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    let v: serde_json::Value = serde_json::from_str(&details).unwrap();
    assert_eq!(v["terms"]["characters"], 15);
    assert_eq!(v["terms"]["words"], 2);
    assert_eq!(v["cases"][0], case.to_string());
    let all: Vec<String> = sqlx::query_scalar("SELECT details FROM audit_events")
        .fetch_all(&app.pool)
        .await
        .unwrap();
    assert!(all.iter().all(|d| !d.to_lowercase().contains("zephyrine")));
    // The list pages are recorded too.
    pat.get("/cases").await;
    assert!(app.audit_actions().await.contains(&"case.list".to_owned()));
}

// Finding 5 (medium): an administrator could reach case content ---------------------------------

#[tokio::test]
async fn f5_an_administrator_cannot_sign_in_as_a_practitioner() {
    let app = TestApp::new().await;
    let pat_id = app.user("practitioner", "pat@example.org", "Team A").await;
    make_case(
        &app,
        pat_id,
        "Team A",
        "Juniper Ashcombe",
        ConcernKind::Grooming,
    )
    .await;
    let (mut admin, _) = app.signed_in("admin").await;
    // The attack: ask for a set-password link for the practitioner and use it.
    admin.get(&format!("/admin/users/{pat_id}")).await;
    let r = admin
        .post(&format!("/admin/users/{pat_id}/password-link"), &[])
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let page = admin.follow(&r).await;
    assert!(
        !page.body.contains("/set-password/"),
        "the asker never sees a link"
    );
    assert_eq!(
        app.count("SELECT count(*) FROM password_tokens WHERE token_hash IS NOT NULL AND used_at IS NULL AND retired_at IS NULL")
            .await,
        0,
        "no token exists until someone else releases it"
    );
    let r = admin
        .post(&format!("/admin/users/{pat_id}/password-link/release"), &[])
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(!r.body.contains("/set-password/"));
    assert!(r.error_summary()[0].contains("different administrator"));
    // Even straight in the database, the releaser cannot be the asker.
    let asker: Uuid =
        sqlx::query_scalar("SELECT created_by FROM password_tokens WHERE user_id = $1")
            .bind(pat_id)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    let err = sqlx::query("UPDATE password_tokens SET released_by = $1, released_at = now(), token_hash = '\\x00', expires_at = now() WHERE user_id = $2")
        .bind(asker)
        .bind(pat_id)
        .execute(&app.pool)
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("password_tokens_two_people"),
        "{err}"
    );
    // The practitioner is told a link was asked for.
    assert_eq!(
        app.count("SELECT count(*) FROM account_notices WHERE kind = 'password_reset_link'")
            .await,
        1
    );
}

#[tokio::test]
async fn f5_using_a_reset_link_needs_a_new_second_factor_set_up_by_the_person() {
    let app = TestApp::new().await;
    let pat_id = app.user("practitioner", "pat@example.org", "Team A").await;
    app.enrol_totp(pat_id).await;
    let path = release_link(&app, pat_id).await;
    let mut holder = app.client();
    holder.get(&path).await;
    let new_password = "a brand new long passphrase";
    let r = holder
        .post(
            &path,
            &[("password", new_password), ("confirm", new_password)],
        )
        .await;
    assert_eq!(r.location(), "/sign-in?password_set=1");
    // The old factor is gone and the session reaches nothing until a new one is set up.
    assert_eq!(totp_state(&app, pat_id).await, (None, false));
    let r = holder.sign_in("pat@example.org", new_password).await;
    assert_eq!(r.location(), "/sign-in/set-up-code");
    assert_eq!(
        holder.get("/cases").await.location(),
        "/sign-in/set-up-code"
    );
    let page = holder.get("/sign-in/set-up-code").await;
    let secret = page.select("#secret")[0].clone();
    let code = haven::auth::totp::code_at(&secret, chrono::Utc::now().timestamp() as u64).unwrap();
    holder
        .post("/sign-in/set-up-code", &[("code", &code)])
        .await;
    let cases = holder.get("/cases").await;
    assert_eq!(cases.status, StatusCode::OK);
    // The person sees what happened to their account.
    assert!(cases.body.contains("security settings have changed"));
    let account = holder.get("/account").await;
    assert!(account.body.contains("A new password was set"));
    holder.post("/account/notices/seen", &[]).await;
    assert!(
        !holder
            .get("/cases")
            .await
            .body
            .contains("security settings have changed")
    );
}

// Finding 6 (medium): slow and idle connections were never closed -------------------------------

/// Read until the server closes the connection; true if it did within `limit`.
fn closed_within(s: &mut std::net::TcpStream, limit: Duration) -> bool {
    s.set_read_timeout(Some(limit)).unwrap();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return true,
            Err(_) => return false,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn f6_slow_and_idle_connections_are_closed_and_the_cap_holds() {
    let app = TestApp::with_env(&[
        ("HAVEN_MAX_CONNECTIONS", "4"),
        ("HAVEN_HEADER_TIMEOUT_SECONDS", "1"),
    ])
    .await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(haven::app::serve_on(listener, app.state.clone(), async {
        let _ = stopped.await;
    }));
    let addr2 = addr.clone();
    tokio::task::spawn_blocking(move || {
        let addr = addr2;
        // Three idle connections and one dripping its headers a byte at a time.
        let mut idle: Vec<_> = (0..3)
            .map(|_| std::net::TcpStream::connect(&addr).unwrap())
            .collect();
        let mut drip = std::net::TcpStream::connect(&addr).unwrap();
        // Let the server accept all four before the fifth arrives.
        std::thread::sleep(Duration::from_millis(200));
        // Over the cap: closed at once.
        let mut fifth = std::net::TcpStream::connect(&addr).unwrap();
        assert!(
            closed_within(&mut fifth, Duration::from_secs(5)),
            "the cap did not hold"
        );
        let dripping = std::thread::spawn(move || {
            for b in b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: 1234567890" {
                if drip.write_all(&[*b]).is_err() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            closed_within(&mut drip, Duration::from_secs(10))
        });
        for s in idle.iter_mut() {
            assert!(
                closed_within(s, Duration::from_secs(10)),
                "an idle connection stayed open"
            );
        }
        assert!(
            dripping.join().unwrap(),
            "a dripping client kept its connection"
        );
        // A kept-alive connection that goes quiet after a request is closed too.
        let mut kept = std::net::TcpStream::connect(&addr).unwrap();
        kept.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        let mut first = [0u8; 15];
        kept.read_exact(&mut first).unwrap();
        assert_eq!(&first, b"HTTP/1.1 200 OK");
        assert!(closed_within(&mut kept, Duration::from_secs(10)));
        // And the health check still answers.
        let answer = exchange(
            &addr,
            "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        );
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    })
    .await
    .unwrap();
    let _ = stop.send(());
    server.await.unwrap();
}

// Finding 7 (medium): the sign-in throttle could be raced ---------------------------------------

#[tokio::test]
async fn f7_parallel_wrong_passwords_cannot_pass_the_limit() {
    let app = TestApp::with_env(&[("HAVEN_HASH_QUEUE", "100")]).await;
    app.user("practitioner", "pat@example.org", "Team A").await;
    let mut tasks = Vec::new();
    for _ in 0..60 {
        let mut c = app.client_from("203.0.113.9");
        c.get("/sign-in").await;
        tasks.push(tokio::spawn(async move {
            c.post(
                "/sign-in",
                &[
                    ("email", "pat@example.org"),
                    ("password", "a wrong password"),
                ],
            )
            .await
            .status
        }));
    }
    let mut checked = 0;
    let mut throttled = 0;
    for t in tasks {
        match t.await.unwrap() {
            StatusCode::UNPROCESSABLE_ENTITY => checked += 1,
            StatusCode::TOO_MANY_REQUESTS => throttled += 1,
            other => panic!("unexpected {other}"),
        }
    }
    assert_eq!(
        (checked, throttled),
        (10, 50),
        "the limit of 10 did not hold exactly"
    );
    assert_eq!(
        app.count("SELECT count(*) FROM audit_events WHERE action = 'auth.sign_in_failed'")
            .await,
        10
    );
    // The owner, from their own address, still gets in.
    let mut owner = app.client_from("192.0.2.44");
    assert_eq!(
        owner.sign_in("pat@example.org", PASSWORD).await.location(),
        "/"
    );
}

#[tokio::test]
async fn f7_parallel_wrong_codes_cannot_pass_the_limit() {
    let app = TestApp::new().await;
    let id = app.user("lado", "lee@example.org", "LADO team").await;
    app.enrol_totp(id).await;
    let mut c = app.client();
    c.sign_in("lee@example.org", PASSWORD).await;
    c.get("/sign-in/code").await;
    let mut tasks = Vec::new();
    for i in 0..80 {
        let mut tab = c.fork();
        tasks.push(tokio::spawn(async move {
            tab.post("/sign-in/code", &[("code", &format!("{:06}", 100000 + i))])
                .await
                .status
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(
        app.count("SELECT count(*) FROM audit_events WHERE action = 'auth.second_factor_failed'")
            .await,
        10,
        "exactly ten codes were checked"
    );
}

// Finding 8 (low) ---------------------------------------------------------------------------------

#[tokio::test]
async fn f8_a_newer_or_used_link_retires_the_older_ones() {
    let app = TestApp::new().await;
    let id = app.user("practitioner", "pat@example.org", "Team A").await;
    let first = release_link(&app, id).await;
    let second = release_link(&app, id).await;
    let mut c = app.client();
    assert_eq!(
        c.get(&first).await.status,
        StatusCode::NOT_FOUND,
        "retired by the newer one"
    );
    assert_eq!(c.get(&second).await.status, StatusCode::OK);
    let r = c
        .post(
            &second,
            &[
                ("password", "another fine passphrase"),
                ("confirm", "another fine passphrase"),
            ],
        )
        .await;
    assert_eq!(r.location(), "/sign-in?password_set=1");
    assert_eq!(c.get(&second).await.status, StatusCode::NOT_FOUND);
    assert_eq!(
        app.count(
            "SELECT count(*) FROM password_tokens WHERE used_at IS NULL AND retired_at IS NULL"
        )
        .await,
        0
    );
}

#[tokio::test]
async fn f8_a_multibyte_time_gets_a_message_not_a_500() {
    let app = TestApp::new().await;
    let (mut pat, pat_id) = app.signed_in("practitioner").await;
    let case = make_case(
        &app,
        pat_id,
        "Team A",
        "Juniper Ashcombe",
        ConcernKind::Grooming,
    )
    .await;
    let page = pat.get(&format!("/cases/{case}")).await;
    let idem = page.attr("input[name=_idem]", "value")[0].clone();
    for time in ["0é30", "１２:３０", "é"] {
        let r = pat
            .post(
                &format!("/cases/{case}/notes"),
                &[
                    ("body", "A fictional note."),
                    ("when-day", "1"),
                    ("when-month", "3"),
                    ("when-year", "2026"),
                    ("time", time),
                    ("_idem", &idem),
                ],
            )
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{time}");
        assert_eq!(r.attr("input[name=time]", "value"), vec![time.to_owned()]);
    }
}

#[tokio::test]
async fn f8_a_draft_from_a_team_left_is_logged_in_a_team_the_person_is_in() {
    let app = TestApp::new().await;
    let (mut pat, pat_id) = app
        .signed_in_as("practitioner", "pat@example.org", "Team A")
        .await;
    let base =
        crate::referrals::fill_referral(&mut pat, "Juniper Ashcombe", "A fictional account.").await;
    app.user("practitioner", "bea@example.org", "Team B").await;
    let (team_a, team_b): (Uuid, Uuid) = sqlx::query_as(
        "SELECT (SELECT id FROM teams WHERE name = 'Team A'), (SELECT id FROM teams WHERE name = 'Team B')",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    // Moved from Team A to Team B while the draft was open.
    sqlx::query("UPDATE team_memberships SET team_id = $2 WHERE user_id = $1 AND team_id = $3")
        .bind(pat_id)
        .bind(team_b)
        .bind(team_a)
        .execute(&app.pool)
        .await
        .unwrap();
    pat.get(&format!("{base}/check")).await;
    let r = pat.post(&format!("{base}/check"), &[]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let team: Uuid = sqlx::query_scalar("SELECT team_id FROM cases")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(team, team_b);
    // With no team at all, nothing is created and the answers are kept.
    let base =
        crate::referrals::fill_referral(&mut pat, "Rowan Pellow", "Another fictional account.")
            .await;
    sqlx::query("DELETE FROM team_memberships WHERE user_id = $1")
        .bind(pat_id)
        .execute(&app.pool)
        .await
        .unwrap();
    pat.get("/account").await;
    let r = pat.post(&format!("{base}/check"), &[]).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.error_summary()[0].contains("not in a team"));
    assert_eq!(app.count("SELECT count(*) FROM cases").await, 1);
}

#[tokio::test]
async fn f8_ten_wrong_codes_in_a_row_lock_the_factor_until_an_administrator_unlocks_it() {
    let app = TestApp::new().await;
    let id = app.user("lado", "lee@example.org", "LADO team").await;
    let secret = app.enrol_totp(id).await;
    // From ten addresses, so the per-address throttle never steps in first.
    for i in 0..10 {
        let mut c = app.client_from(&format!("192.0.2.{}", i + 1));
        c.sign_in("lee@example.org", PASSWORD).await;
        c.get("/sign-in/code").await;
        let r = c.post("/sign-in/code", &[("code", "000000")]).await;
        if i < 9 {
            assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
        } else {
            assert_eq!(r.status, StatusCode::FORBIDDEN);
            assert_eq!(r.select("h1"), vec!["Your security codes are locked"]);
        }
    }
    // Locked: even the right code does nothing now.
    let mut lee = app.client_from("192.0.2.200");
    lee.sign_in("lee@example.org", PASSWORD).await;
    lee.get("/sign-in/code").await;
    let code = haven::auth::totp::code_at(&secret, chrono::Utc::now().timestamp() as u64).unwrap();
    assert_eq!(
        lee.post("/sign-in/code", &[("code", &code)]).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        app.count("SELECT count(*) FROM account_notices WHERE kind = 'second_factor_locked'")
            .await,
        1
    );
    // An administrator unlocks it; the person is told.
    let (mut admin, _) = app.signed_in("admin").await;
    let page = admin.get(&format!("/admin/users/{id}")).await;
    assert!(page.body.contains("Unlock security codes"));
    let r = admin
        .post(&format!("/admin/users/{id}/unlock-second-factor"), &[])
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let mut lee = app.client_from("192.0.2.201");
    lee.sign_in("lee@example.org", PASSWORD).await;
    lee.get("/sign-in/code").await;
    let code =
        haven::auth::totp::code_at(&secret, chrono::Utc::now().timestamp() as u64 + 30).unwrap();
    assert_eq!(
        lee.post("/sign-in/code", &[("code", &code)])
            .await
            .location(),
        "/"
    );
    assert_eq!(
        app.count("SELECT count(*) FROM account_notices WHERE kind = 'second_factor_unlocked'")
            .await,
        1
    );
}

#[tokio::test]
async fn f8_addresses_in_one_ipv6_64_share_a_throttle() {
    let app = TestApp::new().await;
    app.user("practitioner", "pat@example.org", "Team A").await;
    for i in 0..10 {
        let mut c = app.client_from(&format!("2001:db8:aa:bb::{:x}", i + 1));
        let r = c.sign_in("pat@example.org", "a wrong password").await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    }
    let mut rotated = app.client_from("2001:db8:aa:bb:ffff:1:2:3");
    let r = rotated.sign_in("pat@example.org", "a wrong password").await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    // Another network is not held back.
    let mut elsewhere = app.client_from("2001:db8:aa:cc::1");
    assert_eq!(
        elsewhere
            .sign_in("pat@example.org", PASSWORD)
            .await
            .location(),
        "/"
    );
}

#[tokio::test]
async fn f8_an_unusable_request_id_is_replaced_not_echoed() {
    let app = TestApp::new().await;
    let send = |id: String| {
        let router = app.router.clone();
        async move {
            let req = axum::http::Request::builder()
                .uri("/healthz")
                .header("x-request-id", id)
                .body(axum::body::Body::empty())
                .unwrap();
            let res = tower::ServiceExt::oneshot(router, req).await.unwrap();
            res.headers()["x-request-id"].to_str().unwrap().to_owned()
        }
    };
    assert_eq!(send("lb-4f2a-77".into()).await, "lb-4f2a-77");
    for bad in ["x".repeat(10_000), "forged\tline".into(), "a b".into()] {
        let echoed = send(bad.clone()).await;
        assert_ne!(echoed, bad);
        assert_eq!(echoed.len(), 36, "a fresh id instead");
    }
}

#[tokio::test]
async fn f8_a_cursor_naming_another_teams_case_behaves_like_a_missing_one() {
    let app = TestApp::new().await;
    let (mut mo, mo_id) = app
        .signed_in_as("manager", "mo@example.org", "Team A")
        .await;
    let bea = app.user("practitioner", "bea@example.org", "Team B").await;
    for i in 0..3 {
        make_case(
            &app,
            mo_id,
            "Team A",
            &format!("Child {i}"),
            ConcernKind::Grooming,
        )
        .await;
    }
    let other = make_case(&app, bea, "Team B", "Hidden Child", ConcernKind::Grooming).await;
    let missing = Uuid::now_v7();
    for list in ["/cases", "/cases/team"] {
        let a = mo.get(&format!("{list}?after={other}")).await;
        let b = mo.get(&format!("{list}?after={missing}")).await;
        assert_eq!(a.status, b.status);
        assert_eq!(
            a.select("#cases tbody tr"),
            b.select("#cases tbody tr"),
            "{list}"
        );
    }
    mo.get("/cases").await;
    let a = mo
        .post(
            "/cases/search",
            &[("name", "child"), ("after", &other.to_string())],
        )
        .await;
    let b = mo
        .post(
            "/cases/search",
            &[("name", "child"), ("after", &missing.to_string())],
        )
        .await;
    assert_eq!(a.select("#cases tbody tr"), b.select("#cases tbody tr"));
}

#[tokio::test]
async fn f8_people_change_their_own_password_with_the_current_one() {
    let app = TestApp::new().await;
    let (mut pat, _) = app
        .signed_in_as("practitioner", "pat@example.org", "Team A")
        .await;
    let mut other_tab = app.client();
    other_tab.sign_in("pat@example.org", PASSWORD).await;
    pat.get("/account/password").await;
    let new = "a completely different passphrase";
    let r = pat
        .post(
            "/account/password",
            &[
                ("current", "not it at all, sorry"),
                ("password", new),
                ("confirm", new),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        r.error_summary(),
        vec!["Your current password is not right"]
    );
    let r = pat
        .post(
            "/account/password",
            &[
                ("current", PASSWORD),
                ("password", "short"),
                ("confirm", "short"),
            ],
        )
        .await;
    assert_eq!(
        r.error_summary(),
        vec!["Password must be 12 characters or more"]
    );
    let r = pat
        .post(
            "/account/password",
            &[("current", PASSWORD), ("password", new), ("confirm", new)],
        )
        .await;
    assert_eq!(r.location(), "/account?password_changed=1");
    // This session carries on; the other is signed out; the new password works.
    assert_eq!(pat.get("/cases").await.status, StatusCode::OK);
    assert_eq!(other_tab.get("/cases").await.location(), "/sign-in");
    let mut again = app.client();
    assert_eq!(again.sign_in("pat@example.org", new).await.location(), "/");
    assert_eq!(
        app.count("SELECT count(*) FROM audit_events WHERE action = 'auth.password_changed'")
            .await,
        1
    );
}
