//! The `haven` binary's commands, run as a person would run them.

use std::io::Write;
use std::process::{Command, Stdio};

use sqlx::Executor;

use crate::helpers::TestApp;

fn haven(app: &TestApp, args: &[&str], stdin: &str) -> std::process::Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_haven"))
        .args(args)
        .env("DATABASE_URL", &app.owner_url)
        .env("HAVEN_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

#[tokio::test]
async fn create_user_reads_the_password_from_stdin_and_checks_it() {
    let app = TestApp::new().await;
    let out = haven(
        &app,
        &[
            "create-user",
            "--email",
            "Ada@Example.org",
            "--name",
            "Ada B",
            "--role",
            "admin",
            "--team",
            "Admins",
        ],
        "short\n",
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("12 characters"));
    let out = haven(
        &app,
        &[
            "create-user",
            "--email",
            "Ada@Example.org",
            "--name",
            "Ada B",
            "--role",
            "admin",
            "--team",
            "Admins",
        ],
        "a long enough passphrase here\n",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        app.count("SELECT count(*) FROM users WHERE email = 'ada@example.org' AND role = 'admin'")
            .await,
        1
    );
    assert_eq!(
        app.count("SELECT count(*) FROM teams WHERE name = 'Admins'")
            .await,
        1
    );
    let mut c = app.client();
    assert_eq!(
        c.sign_in("ada@example.org", "a long enough passphrase here")
            .await
            .location(),
        "/sign-in/set-up-code"
    );
}

#[tokio::test]
async fn seed_demo_fills_an_empty_database_and_refuses_a_used_one() {
    let app = TestApp::new().await;
    let out = haven(&app, &["seed-demo"], "");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("pat.practitioner@example.org") && stdout.contains("Password: "));
    assert_eq!(app.count("SELECT count(*) FROM cases").await, 4);
    assert_eq!(app.count("SELECT count(*) FROM users").await, 4);
    // The printed password works.
    let password = stdout
        .lines()
        .find_map(|l| l.strip_prefix("Password: "))
        .unwrap()
        .trim()
        .to_owned();
    let mut c = app.client();
    assert_eq!(
        c.sign_in("pat.practitioner@example.org", &password)
            .await
            .location(),
        "/"
    );
    assert_eq!(c.get("/cases").await.select("#cases tbody tr").len(), 4);
    let again = haven(&app, &["seed-demo"], "");
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("only runs on an empty database"));
    assert_eq!(app.count("SELECT count(*) FROM cases").await, 4);
}

#[tokio::test]
async fn verify_audit_command_names_the_first_bad_row() {
    let app = TestApp::new().await;
    haven(&app, &["seed-demo"], "");
    let ok = haven(&app, &["verify-audit"], "");
    assert!(ok.status.success());
    assert!(String::from_utf8_lossy(&ok.stdout).contains("intact"));
    let mut owner = app.owner().await;
    owner
        .execute("SET session_replication_role = replica")
        .await
        .unwrap();
    owner
        .execute("UPDATE audit_events SET action = 'case.forged' WHERE seq = 2")
        .await
        .unwrap();
    let bad = haven(&app, &["verify-audit"], "");
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("row 2"),
        "{}",
        String::from_utf8_lossy(&bad.stderr)
    );
}
