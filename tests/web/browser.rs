//! The browser journeys (`tests/browser/`), run by `cargo test` in Debian's Chromium against a
//! real `haven serve` on a free loopback port and a fresh database, with accounts made by
//! `haven create-user`. Every page and error state they visit is checked with axe-core.
//! Decision 008 says why it is built this way.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::helpers::{PASSWORD, TestApp};

const CHROMIUM: &str = "/usr/bin/chromium";
const INSTALL_CHROMIUM: &str = "apt-get install -y chromium";
const FIXED_TIME: &str = "2026-12-15T10:30:00Z";

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Node's tools, installed from package-lock.json when missing (no browser is downloaded:
/// playwright-core drives the Chromium already on the machine).
fn ensure_node_modules() {
    let node = Command::new("node").arg("--version").output();
    assert!(
        node.is_ok_and(|o| o.status.success()),
        "the browser tests need Node.js 20 or later (Debian: apt-get install -y nodejs npm)"
    );
    let marker = repo().join("node_modules/playwright-core/package.json");
    let axe = repo().join("node_modules/axe-core/package.json");
    if marker.exists() && axe.exists() {
        return;
    }
    let status = Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund", "--ignore-scripts"])
        .current_dir(repo())
        .status()
        .expect("npm could not be started");
    assert!(
        status.success(),
        "npm ci failed: the browser tests cannot run"
    );
}

fn haven(app: &TestApp, args: &[&str], stdin: &str) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_haven"))
        .args(args)
        .env("DATABASE_URL", &app.owner_url)
        .env("HAVEN_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "haven {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
    }
}

#[tokio::test]
async fn browser_journeys_pass_with_no_accessibility_violations() {
    assert!(
        Path::new(CHROMIUM).exists(),
        "Chromium is missing, so the browser journeys cannot run. Install it with: {INSTALL_CHROMIUM}"
    );
    ensure_node_modules();
    let app = TestApp::new().await;
    // Fictional people, in the screenshots too.
    let accounts = [
        (
            "practitioner",
            "pat@example.org",
            "Pat Okonjo",
            "practitioner",
            "North Locality Team",
        ),
        (
            "practitioner2",
            "sam@example.org",
            "Sam Whitlock",
            "practitioner",
            "North Locality Team",
        ),
        (
            "manager",
            "mo@example.org",
            "Morag Ellery",
            "manager",
            "North Locality Team",
        ),
        (
            "lado",
            "lee@example.org",
            "Lee Fairbanks",
            "lado",
            "LADO service",
        ),
        (
            "admin",
            "ada@example.org",
            "Ada Brightwell",
            "admin",
            "Administrators",
        ),
        (
            "admin2",
            "bo@example.org",
            "Bo Castellan",
            "admin",
            "Administrators",
        ),
    ];
    let mut names = serde_json::Map::new();
    for (key, email, name, role, team) in accounts {
        haven(
            &app,
            &[
                "create-user",
                "--email",
                email,
                "--name",
                name,
                "--role",
                role,
                "--team",
                team,
            ],
            &format!("{PASSWORD}\n"),
        );
        names.insert(key.to_owned(), email.into());
    }

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let base = format!("http://127.0.0.1:{port}");
    let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("browser");
    let _ = std::fs::remove_dir_all(&out);
    std::fs::create_dir_all(&out).unwrap();
    let mut server = Command::new(env!("CARGO_BIN_EXE_haven"))
        .arg("serve")
        .env("DATABASE_URL", &app.owner_url)
        .env("HAVEN_LISTEN", format!("127.0.0.1:{port}"))
        .env("HAVEN_AUDIT_ANCHOR_FILE", out.join("audit-anchors.jsonl"))
        // The procedure's clock is fixed (Tuesday 15 December 2026, 10:30), so the journeys'
        // dates and deadlines are the same on every run.
        .env("HAVEN_FIXED_TIME", FIXED_TIME)
        .env("HAVEN_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let mut up = false;
    for _ in 0..200 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            up = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(up, "haven serve did not start");

    let status = tokio::task::spawn_blocking({
        let (base, out) = (base.clone(), out.clone());
        move || {
            Command::new("node")
                .arg("tests/browser/run.mjs")
                .current_dir(repo())
                .env("HAVEN_BROWSER_BASE_URL", base)
                .env("HAVEN_BROWSER_OUT", &out)
                .env("HAVEN_BROWSER_PASSWORD", PASSWORD)
                .env(
                    "HAVEN_BROWSER_ACCOUNTS",
                    serde_json::Value::Object(names).to_string(),
                )
                .env("HAVEN_CHROMIUM", CHROMIUM)
                .env("HAVEN_BROWSER_NOW", FIXED_TIME)
                .status()
        }
    })
    .await
    .unwrap()
    .expect("node could not be started");
    let _ = server.kill();
    let _ = server.wait();
    assert!(
        status.success(),
        "a browser journey failed: its report is above (page address, text and screenshot path)"
    );
    // The screenshots for the README: refreshed in docs/screenshots when asked.
    if std::env::var_os("HAVEN_UPDATE_SCREENSHOTS").is_some() {
        copy_dir(&out.join("screenshots"), &repo().join("docs/screenshots"));
    }
}
