//! The audit trail: append-only in the database, written without a global lock, sealed into a
//! keyed chain by one sealer at a time, verifiable (docs/decisions/012).

use haven::audit::{self, Actor, Event, Verification};
use sqlx::Executor;

use crate::helpers::TestApp;

async fn write(app: &TestApp, action: &str, i: i64) -> i64 {
    audit::record_alone(
        &app.pool,
        &app.state.audit,
        &Actor::default(),
        Event::new(action, "test").entity(i),
    )
    .await
    .unwrap()
}

async fn verify(app: &TestApp) -> Verification {
    audit::verify(&app.pool, &app.state.audit, &[], 0, 7)
        .await
        .unwrap()
}

fn intact(rows: i64, unsealed: i64) -> Verification {
    Verification::Intact {
        rows,
        unsealed,
        anchors: 0,
    }
}

/// `n` rows written and sealed, the trail intact; their row numbers.
async fn sealed_rows(app: &TestApp, n: i64) -> Vec<i64> {
    let mut seqs = Vec::new();
    for i in 0..n {
        seqs.push(write(app, "test.event", i).await);
    }
    app.seal_everything().await;
    assert_eq!(verify(app).await, intact(n, 0));
    seqs
}

#[tokio::test]
async fn the_app_role_cannot_change_or_delete_audit_rows_or_seals() {
    let app = TestApp::new().await;
    write(&app, "test.event", 1).await;
    app.seal_everything().await;
    for sql in [
        "UPDATE audit_events SET action = 'changed'",
        "DELETE FROM audit_events",
        "TRUNCATE audit_events",
        "UPDATE audit_seals SET hash = '\\x00'",
        "DELETE FROM audit_seals",
        "TRUNCATE audit_seals",
        "SELECT setval('audit_events_seq', 1)",
    ] {
        let err = app.pool.execute(sql).await.expect_err(sql);
        assert!(
            err.to_string().contains("denied") || err.to_string().contains("append-only"),
            "{sql}: {err}"
        );
    }
    // Even the owner is stopped by the triggers.
    let mut owner = app.owner().await;
    for sql in [
        "UPDATE audit_events SET action = 'changed'",
        "DELETE FROM audit_events",
        "DELETE FROM audit_seals",
    ] {
        let err = owner.execute(sql).await.unwrap_err();
        assert!(err.to_string().contains("append-only"), "{err}");
    }
    assert_eq!(
        app.count("SELECT count(*) FROM audit_events WHERE action = 'test.event'")
            .await,
        1
    );
    assert_eq!(verify(&app).await, intact(1, 0));
}

#[tokio::test]
async fn verify_finds_a_row_altered_by_a_superuser_sealed_or_not() {
    let app = TestApp::new().await;
    let mut seqs = Vec::new();
    for i in 0..5 {
        seqs.push(write(&app, "test.event", i).await);
    }
    // Before the sealer runs, the rows are checked by their own MACs.
    assert_eq!(verify(&app).await, intact(0, 5));
    app.seal_everything().await;
    assert_eq!(verify(&app).await, intact(5, 0));
    let mut owner = app.superuser().await;
    sqlx::query("UPDATE audit_events SET entity_id = 'forged' WHERE seq = $1")
        .bind(seqs[2])
        .execute(&mut owner)
        .await
        .unwrap();
    match verify(&app).await {
        Verification::Broken { seq, .. } => assert_eq!(seq, seqs[2]),
        other => panic!("tampering not detected: {other:?}"),
    }
    sqlx::query("UPDATE audit_events SET entity_id = '2' WHERE seq = $1")
        .bind(seqs[2])
        .execute(&mut owner)
        .await
        .unwrap();
    assert_eq!(verify(&app).await, intact(5, 0));
    // An unsealed row changed after it was written fails its MAC.
    let fresh = write(&app, "test.event", 9).await;
    assert_eq!(verify(&app).await, intact(5, 1));
    sqlx::query("UPDATE audit_events SET details = '{\"forged\":true}' WHERE seq = $1")
        .bind(fresh)
        .execute(&mut owner)
        .await
        .unwrap();
    match verify(&app).await {
        Verification::Broken { seq, problem } => {
            assert_eq!(seq, fresh);
            assert!(problem.contains("not sealed yet"), "{problem}");
        }
        other => panic!("tampering with an unsealed row not detected: {other:?}"),
    }
    sqlx::query("UPDATE audit_events SET details = '{}' WHERE seq = $1")
        .bind(fresh)
        .execute(&mut owner)
        .await
        .unwrap();
    assert_eq!(verify(&app).await, intact(5, 1));
    // Removing the last seal is caught through the chain head.
    sqlx::query("DELETE FROM audit_seals WHERE seq = $1")
        .bind(seqs[4])
        .execute(&mut owner)
        .await
        .unwrap();
    match verify(&app).await {
        Verification::Broken { problem, .. } => assert!(problem.contains("head"), "{problem}"),
        other => panic!("a removed seal was not detected: {other:?}"),
    }
}

#[tokio::test]
async fn thousands_of_concurrent_writers_and_two_sealers_never_fork_or_lose_a_row() {
    let app = TestApp::new().await;
    let writers = 32;
    let each = 64;
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    // Two sealers running all the time, as two instances would.
    let mut sealers = Vec::new();
    for _ in 0..2 {
        let (pool, key, stop) = (app.pool.clone(), app.state.audit.clone(), stop.clone());
        sealers.push(tokio::spawn(async move {
            let mut sealed = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                sealed += audit::seal(&pool, &key, 50).await.unwrap();
                tokio::task::yield_now().await;
            }
            sealed
        }));
    }
    let mut handles = Vec::new();
    for w in 0..writers {
        let (pool, key) = (app.pool.clone(), app.state.audit.clone());
        handles.push(tokio::spawn(async move {
            for i in 0..each {
                // Half in transactions with another change, some of which roll back.
                let mut tx = pool.begin().await.unwrap();
                audit::record(
                    &mut tx,
                    &key,
                    &Actor::default(),
                    Event::new("test.concurrent", "test").entity(w * 1000 + i),
                )
                .await
                .unwrap();
                if i % 10 == 9 {
                    tx.rollback().await.unwrap();
                } else {
                    tx.commit().await.unwrap();
                }
            }
        }));
    }
    for h in handles {
        h.await.unwrap();
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut sealed_while_writing = 0;
    for s in sealers {
        sealed_while_writing += s.await.unwrap();
    }
    app.seal_everything().await;
    let committed = writers * (each - each / 10);
    assert_eq!(
        app.count("SELECT count(*) FROM audit_events").await,
        committed
    );
    assert!(
        sealed_while_writing > 0,
        "the sealers kept up while the writers wrote"
    );
    // One seal per row, positions 1..n without a gap.
    assert_eq!(
        app.count("SELECT count(DISTINCT seq) FROM audit_seals")
            .await,
        committed
    );
    assert_eq!(
        app.count("SELECT max(position) - min(position) + 1 FROM audit_seals")
            .await,
        committed
    );
    assert_eq!(verify(&app).await, intact(committed, 0));
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
    write(&app, "test.kept", 1).await;
    app.seal_everything().await;
    assert_eq!(app.audit_actions().await, vec!["test.kept"]);
    assert_eq!(verify(&app).await, intact(1, 0));
}

/// Terminate the backend behind a connection, as a crashed server or a cut network would.
async fn kill(app: &TestApp, pid: i32) {
    let mut owner = app.owner().await;
    let killed: bool = sqlx::query_scalar("SELECT pg_terminate_backend($1, 5000)")
        .bind(pid)
        .fetch_one(&mut owner)
        .await
        .unwrap();
    assert!(killed);
}

#[tokio::test]
async fn a_crashed_writer_holds_back_the_seal_and_then_leaves_no_row() {
    let app = TestApp::new().await;
    write(&app, "test.before", 0).await;
    app.seal_everything().await;
    // A writer that has recorded its event but not committed...
    let mut crashed = app.pool.acquire().await.unwrap().detach();
    let pid: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
        .fetch_one(&mut crashed)
        .await
        .unwrap();
    crashed.execute("BEGIN").await.unwrap();
    audit::record(
        &mut crashed,
        &app.state.audit,
        &Actor::default(),
        Event::new("test.crashed", "test"),
    )
    .await
    .unwrap();
    // ...while another commits after it: the sealer may not seal past the open transaction,
    // or the crashed one's row could later appear behind the chain's head.
    write(&app, "test.after", 1).await;
    audit::seal_all(&app.pool, &app.state.audit, 100)
        .await
        .unwrap();
    assert_eq!(verify(&app).await, intact(1, 1));
    kill(&app, pid).await;
    drop(crashed);
    app.seal_everything().await;
    assert_eq!(app.audit_actions().await, vec!["test.before", "test.after"]);
    assert_eq!(verify(&app).await, intact(2, 0));
}

#[tokio::test]
async fn a_sealer_that_dies_mid_way_leaves_nothing_half_done_and_the_next_one_carries_on() {
    let app = TestApp::new().await;
    for i in 0..10 {
        write(&app, "test.event", i).await;
    }
    // A small batch, then a sealer that takes the lock, writes a seal and dies before committing.
    app.seal_exactly(3).await;
    assert_eq!(app.count("SELECT count(*) FROM audit_seals").await, 3);
    let mut dying = app.pool.acquire().await.unwrap().detach();
    let pid: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
        .fetch_one(&mut dying)
        .await
        .unwrap();
    dying.execute("BEGIN").await.unwrap();
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(audit::SEALER_LOCK)
        .execute(&mut dying)
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO audit_seals (position, seq, prev_hash, hash)
         SELECT 4, max(seq), '\\x00', '\\x00' FROM audit_events",
    )
    .execute(&mut dying)
    .await
    .unwrap();
    // While it holds the lock, another sealer steps aside at once.
    assert_eq!(
        audit::seal(&app.pool, &app.state.audit, 100).await.unwrap(),
        0
    );
    kill(&app, pid).await;
    drop(dying);
    app.seal_everything().await;
    assert_eq!(verify(&app).await, intact(10, 0));
}

#[tokio::test]
async fn the_sealer_itself_killed_in_the_middle_of_its_work_is_rolled_back_whole() {
    let app = TestApp::new().await;
    for i in 0..10 {
        write(&app, "test.event", i).await;
    }
    app.seal_exactly(3).await;
    // The owner holds the head's table in SHARE mode: the real sealer takes its lock, reads the
    // head and the rows, hashes them and inserts its seals, then waits at its update of the
    // head, the last thing it does before committing. It is killed there.
    let mut blocker = app.superuser().await;
    blocker.execute("BEGIN").await.unwrap();
    blocker
        .execute("LOCK TABLE audit_chain_head IN SHARE MODE")
        .await
        .unwrap();
    let (pool, key) = (app.pool.clone(), app.state.audit.clone());
    let sealing = tokio::spawn(async move { audit::seal(&pool, &key, 100).await });
    let mut waiting = None;
    for _ in 0..200 {
        waiting = sqlx::query_scalar(
            "SELECT pid FROM pg_stat_activity
             WHERE datname = current_database() AND wait_event_type = 'Lock'
               AND query LIKE 'UPDATE audit_chain_head%'",
        )
        .fetch_optional(&app.pool)
        .await
        .unwrap();
        if waiting.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    let pid: i32 = waiting.expect("the sealer reached its update of the head and waited there");
    // By then it had inserted its seals, in its own transaction (an insert's lock on the table).
    let inserted: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE pid = $1 AND granted
                          AND relation = 'audit_seals'::regclass AND mode = 'RowExclusiveLock')",
    )
    .bind(pid)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert!(
        inserted,
        "the sealer had written its seals before it was killed"
    );
    kill(&app, pid).await;
    assert!(
        sealing.await.unwrap().is_err(),
        "the killed sealer reports an error"
    );
    blocker.execute("ROLLBACK").await.unwrap();
    // Nothing of its work stayed: three seals, the head where they left it.
    assert_eq!(app.count("SELECT count(*) FROM audit_seals").await, 3);
    assert_eq!(verify(&app).await, intact(3, 7));
    // The next sealer carries on from there.
    app.seal_everything().await;
    assert_eq!(verify(&app).await, intact(10, 0));
}

#[tokio::test]
async fn rows_slipped_in_without_the_key_are_caught() {
    let app = TestApp::new().await;
    write(&app, "test.event", 1).await;
    let genuine = write(&app, "test.event", 2).await;
    app.seal_everything().await;
    // A copy of a genuine row (same identifier and MAC) cannot be inserted again.
    let copy = app
        .pool
        .execute(sqlx::query(
            "INSERT INTO audit_events (occurred_at, actor_user_id, actor_ip, action, entity_type, entity_id, case_id, reason, details, event_id, mac)
             SELECT occurred_at, actor_user_id, actor_ip, action, entity_type, entity_id, case_id, reason, details, event_id, mac
             FROM audit_events WHERE seq = $1",
        ).bind(genuine))
        .await;
    assert!(copy.is_err(), "a replayed row was accepted");
    // A row with a made-up MAC, through the server's own login, is sealed but named.
    let forged: i64 = sqlx::query_scalar(
        "INSERT INTO audit_events (occurred_at, action, entity_type, details, event_id, mac)
         VALUES (now(), 'case.view', 'case', '{}', gen_random_uuid(), '\\x0102') RETURNING seq",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    match verify(&app).await {
        Verification::Broken { seq, .. } => assert_eq!(seq, forged),
        other => panic!("a forged unsealed row passed: {other:?}"),
    }
    app.seal_everything().await;
    match verify(&app).await {
        Verification::Broken { seq, problem } => {
            assert_eq!(seq, forged);
            assert!(problem.contains("MAC"), "{problem}");
        }
        other => panic!("a forged sealed row passed: {other:?}"),
    }
}

#[tokio::test]
async fn a_row_dated_before_the_horizon_so_it_is_never_sealed_is_caught() {
    let app = TestApp::new().await;
    write(&app, "test.event", 1).await;
    app.seal_everything().await;
    let hidden: i64 = sqlx::query_scalar(
        "INSERT INTO audit_events (occurred_at, action, entity_type, details, event_id, mac, xid)
         VALUES (now(), 'case.view', 'case', '{}', gen_random_uuid(), '\\x0102', '3') RETURNING seq",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    audit::seal_all(&app.pool, &app.state.audit, 100)
        .await
        .unwrap();
    match verify(&app).await {
        Verification::Broken { seq, problem } => {
            assert_eq!(seq, hidden);
            assert!(problem.contains("never sealed"), "{problem}");
        }
        other => panic!("a row hidden behind the horizon passed: {other:?}"),
    }
}

#[tokio::test]
async fn a_long_transaction_in_another_database_does_not_hold_back_the_seal() {
    let app = TestApp::new().await;
    // A batch job writing in another database on the same server, still open.
    let mut elsewhere = app.server().await;
    elsewhere.execute("BEGIN").await.unwrap();
    sqlx::query("SELECT pg_current_xact_id()")
        .execute(&mut elsewhere)
        .await
        .unwrap();
    write(&app, "test.event", 1).await;
    assert_eq!(
        audit::seal_all(&app.pool, &app.state.audit, 100)
            .await
            .unwrap(),
        1
    );
    assert_eq!(verify(&app).await, intact(1, 0));
    elsewhere.execute("ROLLBACK").await.unwrap();
}

#[tokio::test]
async fn seals_and_a_head_moved_by_the_servers_login_are_caught() {
    let app = TestApp::new().await;
    for i in 0..3 {
        write(&app, "test.event", i).await;
    }
    app.seal_everything().await;
    let forged: i64 = sqlx::query_scalar(
        "INSERT INTO audit_events (occurred_at, action, entity_type, details, event_id, mac, xid)
         VALUES (now(), 'case.view', 'case', '{}', gen_random_uuid(), '\\x0102', '3') RETURNING seq",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    // A seal before the chain's start is refused outright...
    let before_start = sqlx::query(
        "INSERT INTO audit_seals (position, seq, prev_hash, hash) VALUES (-7, $1, '\\x00', '\\x00')",
    )
    .bind(forged)
    .execute(&app.pool)
    .await;
    assert!(before_start.is_err(), "a seal at position -7 was accepted");
    // ...and one past the head is named by verify.
    sqlx::query(
        "INSERT INTO audit_seals (position, seq, prev_hash, hash) VALUES (1000, $1, '\\x00', '\\x00')",
    )
    .bind(forged)
    .execute(&app.pool)
    .await
    .unwrap();
    match verify(&app).await {
        Verification::Broken { seq, problem } => {
            assert_eq!(seq, forged);
            assert!(problem.contains("outside the chain"), "{problem}");
        }
        other => panic!("a stray seal passed: {other:?}"),
    }
}

#[tokio::test]
async fn a_head_wound_back_or_a_sealed_rows_transaction_changed_is_caught() {
    let app = TestApp::new().await;
    sealed_rows(&app, 3).await;
    // The server's login winds the head's horizon back to the start.
    app.pool
        .execute("UPDATE audit_chain_head SET sealed_xid = '0', sealed_seq = 0")
        .await
        .unwrap();
    match verify(&app).await {
        Verification::Broken { problem, .. } => assert!(problem.contains("head"), "{problem}"),
        other => panic!("a wound-back head passed: {other:?}"),
    }
    app.pool
        .execute(
            "UPDATE audit_chain_head h SET sealed_xid = e.xid, sealed_seq = e.seq
             FROM audit_seals s JOIN audit_events e USING (seq) WHERE s.position = h.seq",
        )
        .await
        .unwrap();
    assert_eq!(verify(&app).await, intact(3, 0));
    // A superuser moves a sealed row to another transaction.
    let mut owner = app.superuser().await;
    owner
        .execute("UPDATE audit_events SET xid = '1' WHERE seq = (SELECT seq FROM audit_seals WHERE position = 2)")
        .await
        .unwrap();
    match verify(&app).await {
        Verification::Broken { problem, .. } => assert!(problem.contains("order"), "{problem}"),
        other => panic!("a changed transaction id passed: {other:?}"),
    }
}

#[tokio::test]
async fn a_server_from_before_the_sealer_cannot_write_rows_the_sealer_would_miss() {
    let app = TestApp::new().await;
    // What a still-running older server writes: a row of the locked chain, with the column's
    // transaction id filled in by default.
    let old = app
        .pool
        .execute(
            "INSERT INTO audit_events (seq, occurred_at, action, entity_type, details, prev_hash, hash, chain)
             VALUES (999999, now(), 'case.view', 'case', '{}', '\\x00', '\\x00', 'hmac-sha256')",
        )
        .await;
    assert!(old.is_err(), "an old-style row was accepted");
}

#[tokio::test]
async fn sealing_writes_nothing_to_the_rows_it_seals() {
    // The sealer is the one step that runs one at a time for every instance; a foreign key from
    // each seal to its row locked the row (a second write of it) on every seal (migration 0036).
    let app = TestApp::new().await;
    let seqs = sealed_rows(&app, 3).await;
    let lockers: Vec<String> =
        sqlx::query_scalar("SELECT xmax::text FROM audit_events WHERE seq = ANY($1) ORDER BY seq")
            .bind(&seqs)
            .fetch_all(&app.pool)
            .await
            .unwrap();
    assert_eq!(
        lockers,
        ["0", "0", "0"],
        "a sealed row was locked or changed"
    );
}

#[tokio::test]
async fn verify_names_a_seal_whose_row_a_superuser_deleted() {
    let app = TestApp::new().await;
    let seqs = sealed_rows(&app, 3).await;
    let mut owner = app.superuser().await;
    sqlx::query("DELETE FROM audit_events WHERE seq = $1")
        .bind(seqs[1])
        .execute(&mut owner)
        .await
        .unwrap();
    match verify(&app).await {
        Verification::Broken { problem, .. } => {
            assert!(problem.contains("is missing"), "{problem}")
        }
        other => panic!("a sealed row's deletion passed: {other:?}"),
    }
}
