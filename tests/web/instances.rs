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
