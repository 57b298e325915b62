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

const CREATE_ADA: &[&str] = &[
    "create-user",
    "--email",
    "Ada@Example.org",
    "--name",
    "Ada B",
    "--role",
    "admin",
    "--team",
    "Admins",
];

#[tokio::test]
async fn create_user_reads_the_password_from_stdin_and_checks_it() {
    let app = TestApp::new().await;
    let out = haven(&app, CREATE_ADA, "short\n");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("12 characters"));
    let out = haven(&app, CREATE_ADA, "a long enough passphrase here\n");
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
    // The README's order: the first administrator, then the demo.
    let admin = haven(
        &app,
        &[
            "create-user",
            "--email",
            "ada@example.org",
            "--name",
            "Ada Brightwell",
            "--role",
            "admin",
        ],
        "a long enough passphrase for ada\n",
    );
    assert!(
        admin.status.success(),
        "{}",
        String::from_utf8_lossy(&admin.stderr)
    );
    let out = haven(&app, &["seed-demo"], "");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("pat.practitioner@example.org") && stdout.contains("Password: "));
    assert_eq!(app.count("SELECT count(*) FROM cases").await, 4);
    assert_eq!(app.count("SELECT count(*) FROM users").await, 6);
    assert!(
        !stdout.contains("Ada Brightwell"),
        "the demo's names are its own"
    );
    assert_eq!(app.count("SELECT count(*) FROM teams").await, 3);
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
    assert_eq!(c.get("/cases").await.select("#cases tbody tr").len(), 3);
    let again = haven(&app, &["seed-demo"], "");
    assert!(!again.status.success());
    assert!(
        String::from_utf8_lossy(&again.stderr)
            .contains("seed-demo only runs on a database with nothing but administrators")
    );
    assert_eq!(app.count("SELECT count(*) FROM cases").await, 4);
}

#[tokio::test]
async fn verify_audit_command_names_the_first_bad_row() {
    let app = TestApp::new().await;
    haven(&app, &["seed-demo"], "");
    let ok = haven(&app, &["verify-audit"], "");
    assert!(ok.status.success());
    assert!(String::from_utf8_lossy(&ok.stdout).contains("intact"));
    let mut owner = app.superuser().await;
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

/// Ask a running server for a path over plain HTTP/1.1; None if it does not answer.
fn http_get(addr: &str, path: &str) -> Option<String> {
    use std::io::Read;
    let mut s = std::net::TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(std::time::Duration::from_secs(5)))
        .ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    Some(out)
}

#[tokio::test]
async fn serve_creates_its_database_answers_health_checks_and_stops_on_sigterm() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr = format!("127.0.0.1:{port}");
    let name = crate::helpers::test_db_name();
    let server = std::env::var("HAVEN_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into());
    let mut child = Command::new(env!("CARGO_BIN_EXE_haven"))
        .env("DATABASE_URL", format!("{server}/{name}"))
        .env("HAVEN_LISTEN", &addr)
        .env("HAVEN_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Wait (bounded) until it listens.
    let mut ready = None;
    for _ in 0..300 {
        if let Some(r) = http_get(&addr, "/readyz") {
            ready = Some(r);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let ready = ready.expect("the server never answered");
    assert!(ready.starts_with("HTTP/1.1 200"), "{ready}");
    assert!(http_get(&addr, "/healthz").unwrap().ends_with("ok"));
    let sign_in = http_get(&addr, "/sign-in").unwrap();
    assert!(sign_in.contains("Sign in to Haven"));
    // The database was created and migrated by `serve` itself.
    let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(&format!("{server}/{name}"))
        .await
        .unwrap();
    let tables: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = 'cases'",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert_eq!(tables, 1);
    // SIGTERM: it finishes and exits cleanly.
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let mut exited = None;
    for _ in 0..300 {
        if let Some(s) = child.try_wait().unwrap() {
            exited = Some(s);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let exited = exited.expect("the server did not stop after SIGTERM");
    assert!(exited.success(), "exit status {exited:?}");
    // With HAVEN_LOG=info, one line per request, with its route and status.
    let mut log = String::new();
    std::io::Read::read_to_string(&mut child.stdout.take().unwrap(), &mut log).unwrap();
    let lines: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("finished processing request"))
        .collect();
    assert!(
        lines
            .iter()
            .any(|l| l.contains("route=/healthz") && l.contains("status=200")),
        "{log}"
    );
    assert_eq!(
        lines
            .iter()
            .filter(|l| l.contains("route=/sign-in"))
            .count(),
        1,
        "{log}"
    );
    // Passed: the database `serve` made goes too.
    drop(conn);
    let mut admin =
        <sqlx::PgConnection as sqlx::Connection>::connect(&format!("{server}/postgres"))
            .await
            .unwrap();
    sqlx::Executor::execute(
        &mut admin,
        sqlx::AssertSqlSafe(format!("DROP DATABASE \"{name}\" WITH (FORCE)")),
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn working_days_on_the_command_line() {
    let app = TestApp::new().await;
    let out = haven(&app, &["working-days", "add", "2026-12-03", "15"], "");
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "2026-12-24");
    let out = haven(&app, &["working-days", "is", "2026-12-28"], "");
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "2026-12-28 is not a working day: Boxing Day (substitute day)"
    );
    let out = haven(&app, &["working-days", "is", "2026-12-29"], "");
    assert_eq!(out.status.code(), Some(0));
    let out = haven(&app, &["working-days", "is", "29/12/2026"], "");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("2026-12-03"));
    // An administrator's change in the database counts too.
    let admin = app.user("admin", "ada@example.org", "Admins").await;
    sqlx::query("INSERT INTO calendar_changes (day, kind, name, added_by) VALUES ('2026-12-29', 'holiday', 'Council closure day', $1)")
        .bind(admin)
        .execute(&app.pool)
        .await
        .unwrap();
    let out = haven(&app, &["working-days", "is", "2026-12-29"], "");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("Council closure day"));
    let out = haven(&app, &["recompute-deadlines"], "");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
