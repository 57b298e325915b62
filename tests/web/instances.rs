//! Two instances on one database behave as one: sessions, form tokens, throttles, idempotency
//! keys and the audit trail live in PostgreSQL, never in a process (issue 10).

use axum::http::StatusCode;
use haven::audit::{self, Verification};
use haven::domain::kinds::ConcernKind;

use crate::cases::make_case;
use crate::helpers::{PASSWORD, TestApp};

#[tokio::test]
async fn two_instances_share_sessions_throttles_idempotency_and_the_audit_trail() {
    let app = TestApp::new().await;
    let (second, b) = app.second_instance();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    // Both instances' sealers run throughout, as `serve` runs them.
    let mut sealers = Vec::new();
    for state in [app.state.clone(), second.clone()] {
        let stop = stop.clone();
        sealers.push(tokio::spawn(async move {
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                audit::seal(&state.pool, &state.audit, 100).await.unwrap();
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            }
        }));
    }

    // Signed in through the first instance; the second knows the session and its form token.
    let (pat_a, pat_id) = app.signed_in("practitioner").await;
    let case = make_case(
        &app,
        pat_id,
        "Team A",
        "Ellis Quarrendon",
        ConcernKind::Grooming,
    )
    .await;
    let mut pat_b = pat_a.on(&b);
    let page = pat_b.get(&format!("/cases/{case}")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("Ellis Quarrendon"));
    let idem = page.attr("input[name=_idem]", "value")[0].clone();
    // The form token the second instance put in that page is good on the first.
    let mut pat_a = pat_b.on(&app.router);

    // A note sent through one instance and retried through the other is added once.
    let fields = [
        (
            "body",
            "Met the child at school with the designated teacher.",
        ),
        ("when-day", ""),
        ("when-month", ""),
        ("when-year", ""),
        ("time", ""),
        ("corrects", ""),
        ("_idem", idem.as_str()),
    ];
    let notes = format!("/cases/{case}/notes");
    let (ra, rb) = tokio::join!(pat_a.post(&notes, &fields), pat_b.post(&notes, &fields));
    assert_eq!(ra.status, StatusCode::SEE_OTHER, "{}", ra.body);
    assert_eq!(rb.status, StatusCode::SEE_OTHER, "{}", rb.body);
    assert_eq!(app.count("SELECT count(*) FROM case_notes").await, 1);

    // Failed sign-ins from one address count together, whichever instance answers: ten at once,
    // split between the two, and the next attempt is refused by both.
    app.user("practitioner", "robin@example.org", "Team A")
        .await;
    let mut attempts = Vec::new();
    for i in 0..10 {
        let mut c = app.client_from("10.7.7.7");
        if i % 2 == 1 {
            c = c.on(&b);
        }
        attempts.push(tokio::spawn(async move {
            c.sign_in("robin@example.org", "not the password at all")
                .await
                .status
        }));
    }
    for a in attempts {
        assert_eq!(a.await.unwrap(), StatusCode::UNPROCESSABLE_ENTITY);
    }
    for instance in [&app.router, &b] {
        let mut c = app.client_from("10.7.7.7").on(instance);
        let r = c.sign_in("robin@example.org", PASSWORD).await;
        assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    }

    // Signing out through the second instance ends the session on the first.
    let r = pat_b.post("/sign-out", &[]).await;
    assert_eq!(r.location(), "/sign-in?signed_out=1");
    assert_eq!(pat_a.get("/cases").await.location(), "/sign-in");

    // Both sealers chained every row exactly once: one chain, intact.
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for s in sealers {
        s.await.unwrap();
    }
    app.seal_everything().await;
    let rows = app.count("SELECT count(*) FROM audit_events").await;
    assert!(
        rows >= 15,
        "the views, note, failures and sign-out were audited"
    );
    assert_eq!(
        audit::verify(&app.pool, &app.state.audit, &[], 0, 1000)
            .await
            .unwrap(),
        Verification::Intact {
            rows,
            unsealed: 0,
            anchors: 0
        }
    );
}

/// One `haven serve` process on the test's database, on a free loopback port, with nothing of
/// this process's environment but the database and its address; killed when dropped.
struct Served {
    child: std::process::Child,
    addr: std::net::SocketAddr,
    log: std::path::PathBuf,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        // Kept when the test failed, with the process's log for the failure report.
        if !std::thread::panicking() {
            let _ = std::fs::remove_file(&self.log);
        }
    }
}

impl Served {
    /// Still running: not gone because it could not take its port, say.
    fn assert_alive(&mut self) {
        if let Ok(Some(status)) = self.child.try_wait() {
            panic!(
                "haven serve on {} stopped ({status}): {}",
                self.addr,
                std::fs::read_to_string(&self.log).unwrap_or_default()
            );
        }
    }
}

async fn serve(app: &TestApp) -> Served {
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let log = std::env::temp_dir().join(format!("haven-serve-{}.log", addr.port()));
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_haven"));
    cmd.arg("serve");
    // The same settings as the test's own instance (its key, its public address), so a
    // session, a form token or an audit row from one is good on the other.
    for (k, _) in std::env::vars() {
        if k.starts_with("HAVEN_") || k == "DATABASE_URL" {
            cmd.env_remove(k);
        }
    }
    let child = cmd
        .env("DATABASE_URL", &app.owner_url)
        .env("HAVEN_LISTEN", addr.to_string())
        .env("HAVEN_PUBLIC_URL", app.config.public_origin())
        .env("HAVEN_DB_MAX_CONNECTIONS", "3")
        .env("HAVEN_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let mut served = Served { child, addr, log };
    // Ready once it has migrated and answers /readyz.
    let mut probe = app.client().on_process(addr);
    for _ in 0..600 {
        served.assert_alive();
        if tokio::net::TcpStream::connect(addr).await.is_ok()
            && probe.get("/readyz").await.status == StatusCode::OK
        {
            served.assert_alive();
            return served;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!(
        "haven serve on {addr} was not ready in a minute: {}",
        std::fs::read_to_string(&served.log).unwrap_or_default()
    );
}

#[tokio::test]
async fn two_serve_processes_on_one_database_behave_as_one() {
    let app = TestApp::new().await;
    // Started at the same moment: both migrate (under the migration lock), then serve and run
    // their own sealers, as two instances behind a load balancer do.
    let (mut one, mut two) = tokio::join!(serve(&app), serve(&app));
    // Two processes on two ports (a process that failed to take its port has stopped, and
    // `serve` says so).
    assert_ne!(one.addr, two.addr);
    let pat_id = app.user("practitioner", "pat@example.org", "Team A").await;
    let case = make_case(
        &app,
        pat_id,
        "Team A",
        "Ellis Quarrendon",
        ConcernKind::Grooming,
    )
    .await;

    // Signed in through one process; the other knows the session.
    let mut via_one = app.client().on_process(one.addr);
    let r = via_one.sign_in("pat@example.org", PASSWORD).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let mut via_two = via_one.on_process(two.addr);
    let page = via_two.get(&format!("/cases/{case}")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("Ellis Quarrendon"));
    let idem = page.attr("input[name=_idem]", "value")[0].clone();
    // The form token the second process put in that page is good on the first.
    let mut via_one = via_two.on_process(one.addr);

    // A note sent to both processes at once with one idempotency key is added once.
    let fields = [
        ("body", "Spoke with the child's aunt about the weekend."),
        ("when-day", ""),
        ("when-month", ""),
        ("when-year", ""),
        ("time", ""),
        ("corrects", ""),
        ("_idem", idem.as_str()),
    ];
    let notes = format!("/cases/{case}/notes");
    let (ra, rb) = tokio::join!(via_one.post(&notes, &fields), via_two.post(&notes, &fields));
    assert_eq!(ra.status, StatusCode::SEE_OTHER, "{}", ra.body);
    assert_eq!(rb.status, StatusCode::SEE_OTHER, "{}", rb.body);
    assert_eq!(app.count("SELECT count(*) FROM case_notes").await, 1);

    // Signing out through the second ends the session on the first.
    let r = via_two.post("/sign-out", &[]).await;
    assert_eq!(r.location(), "/sign-in?signed_out=1");
    assert_eq!(via_one.get("/cases").await.location(), "/sign-in");

    // Failed sign-ins count together, whichever process answers: ten at once, split between
    // the two, and the next attempt is refused by both.
    app.user("practitioner", "robin@example.org", "Team A")
        .await;
    let mut attempts = Vec::new();
    for i in 0..10 {
        let mut c = app
            .client()
            .on_process(if i % 2 == 0 { one.addr } else { two.addr });
        attempts.push(tokio::spawn(async move {
            c.sign_in("robin@example.org", "not the password at all")
                .await
                .status
        }));
    }
    for a in attempts {
        assert_eq!(a.await.unwrap(), StatusCode::UNPROCESSABLE_ENTITY);
    }
    for addr in [one.addr, two.addr] {
        let r = app
            .client()
            .on_process(addr)
            .sign_in("robin@example.org", PASSWORD)
            .await;
        assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    }

    // The processes' own sealers (one at a time, under their advisory lock) chain every row:
    // one intact chain with nothing left unsealed.
    let mut last = None;
    for _ in 0..100 {
        let v = audit::verify(&app.pool, &app.state.audit, &[], 0, 1000)
            .await
            .unwrap();
        if matches!(v, Verification::Intact { unsealed: 0, .. }) {
            last = Some(v);
            break;
        }
        last = Some(v);
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    // Both answered to the end.
    one.assert_alive();
    two.assert_alive();
    let rows = app.count("SELECT count(*) FROM audit_events").await;
    assert!(
        rows >= 15,
        "the view, note, failures and sign-out were audited"
    );
    assert_eq!(
        last,
        Some(Verification::Intact {
            rows,
            unsealed: 0,
            anchors: 0
        })
    );
}
