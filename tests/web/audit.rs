//! The audit trail: append-only in the database, hash-chained, verifiable.

use haven::audit::{self, Actor, Event, Verification};
use sqlx::Executor;

use crate::helpers::TestApp;

#[tokio::test]
async fn the_app_role_cannot_change_or_delete_audit_rows() {
    let app = TestApp::new().await;
    audit::record_alone(
        &app.pool,
        &app.state.audit,
        &Actor::default(),
        Event::new("test.event", "test"),
    )
    .await
    .unwrap();
    for sql in [
        "UPDATE audit_events SET action = 'changed'",
        "DELETE FROM audit_events",
        "TRUNCATE audit_events",
    ] {
        let err = app.pool.execute(sql).await.expect_err(sql);
        assert!(
            err.to_string().contains("denied") || err.to_string().contains("append-only"),
            "{sql}: {err}"
        );
    }
    // Even the owner is stopped by the triggers.
    let mut owner = app.owner().await;
    let err = owner
        .execute("UPDATE audit_events SET action = 'changed'")
        .await
        .unwrap_err();
    assert!(err.to_string().contains("append-only"), "{err}");
    assert_eq!(
        app.count("SELECT count(*) FROM audit_events WHERE action = 'test.event'")
            .await,
        1
    );
}

#[tokio::test]
async fn verify_finds_a_row_altered_by_a_superuser() {
    let app = TestApp::new().await;
    for i in 0..5 {
        audit::record_alone(
            &app.pool,
            &app.state.audit,
            &Actor::default(),
            Event::new("test.event", "test").entity(i),
        )
        .await
        .unwrap();
    }
    assert_eq!(
        audit::verify(&app.pool, &app.state.audit, &[], 0, 2)
            .await
            .unwrap(),
        Verification::Intact {
            rows: 5,
            anchors: 0
        }
    );
    let mut owner = app.owner().await;
    owner
        .execute("SET session_replication_role = replica")
        .await
        .unwrap();
    owner
        .execute("UPDATE audit_events SET entity_id = 'forged' WHERE seq = 3")
        .await
        .unwrap();
    match audit::verify(&app.pool, &app.state.audit, &[], 0, 2)
        .await
        .unwrap()
    {
        Verification::Broken { seq, .. } => assert_eq!(seq, 3),
        other => panic!("tampering not detected: {other:?}"),
    }
    // Deleting the last row is caught through the chain head.
    owner
        .execute("UPDATE audit_events SET entity_id = '2' WHERE seq = 3")
        .await
        .unwrap();
    owner
        .execute("DELETE FROM audit_events WHERE seq = 5")
        .await
        .unwrap();
    assert!(matches!(
        audit::verify(&app.pool, &app.state.audit, &[], 0, 2)
            .await
            .unwrap(),
        Verification::Broken { .. }
    ));
}

#[tokio::test]
async fn concurrent_writers_never_fork_the_chain() {
    let app = TestApp::new().await;
    let mut handles = Vec::new();
    for i in 0..24 {
        let pool = app.pool.clone();
        let key = app.state.audit.clone();
        handles.push(tokio::spawn(async move {
            audit::record_alone(
                &pool,
                &key,
                &Actor::default(),
                Event::new("test.concurrent", "test").entity(i),
            )
            .await
            .unwrap()
        }));
    }
    for h in handles {
        h.await.unwrap();
    }
    assert_eq!(
        audit::verify(&app.pool, &app.state.audit, &[], 0, 1000)
            .await
            .unwrap(),
        Verification::Intact {
            rows: 24,
            anchors: 0
        }
    );
}

#[tokio::test]
async fn a_rolled_back_change_leaves_no_audit_row() {
    let app = TestApp::new().await;
    let mut tx = app.pool.begin().await.unwrap();
    audit::record(
        &mut tx,
        &app.state.audit,
        &Actor::default(),
        Event::new("test.rolled_back", "test"),
    )
    .await
    .unwrap();
    tx.rollback().await.unwrap();
    audit::record_alone(
        &app.pool,
        &app.state.audit,
        &Actor::default(),
        Event::new("test.kept", "test"),
    )
    .await
    .unwrap();
    assert_eq!(app.audit_actions().await, vec!["test.kept"]);
    assert_eq!(
        audit::verify(&app.pool, &app.state.audit, &[], 0, 10)
            .await
            .unwrap(),
        Verification::Intact {
            rows: 1,
            anchors: 0
        }
    );
}
