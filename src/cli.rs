//! The command line: `serve` (default), `migrate`, `create-user`, `seed-demo`, `verify-audit`.

use std::io::{IsTerminal, Read};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};

use crate::app::{self, AppState};
use crate::audit::{self, Actor, Event, Verification};
use crate::auth::password;
use crate::config::Config;
use crate::db;
use crate::domain::{self, Email, Role};

#[derive(Parser, Debug)]
#[command(
    name = "haven",
    version,
    about = "Haven: case management for safeguarding children from online abuse"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the web server (creates the database and runs migrations first).
    Serve,
    /// Create the database if needed and run pending migrations, then exit.
    Migrate,
    /// Create an account. The password is read from standard input (or asked for on a terminal).
    CreateUser {
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: String,
        #[arg(long, value_parser = ["practitioner", "manager", "lado", "admin"])]
        role: String,
        /// The team's name; created if it does not exist.
        #[arg(long)]
        team: Option<String>,
    },
    /// Fill an empty database with fictional teams, people and cases for trying Haven out.
    SeedDemo,
    /// Check the audit trail's chain and its anchors; exits 2 and names the first bad row if it is broken.
    VerifyAudit {
        /// The anchor file to check against (default: HAVEN_AUDIT_ANCHOR_FILE).
        #[arg(long)]
        anchors: Option<std::path::PathBuf>,
        /// Accept rows up to this number without a keyed link: those written before an upgrade
        /// from a Haven that did not key its chain (note the number when you upgrade).
        #[arg(long, default_value_t = 0)]
        accept_unkeyed_until: i64,
    },
    /// Append a signed anchor of the audit chain's head to the anchor file now (the server also
    /// does this every HAVEN_AUDIT_ANCHOR_MINUTES). For a scheduled job that copies anchors off the machine.
    AuditAnchor,
    /// Working days: `add DATE N` prints the date N working days after DATE; `is DATE` says whether
    /// DATE is a working day (exit 0) or not and why (exit 1). Dates as 2026-12-03.
    WorkingDays {
        #[command(subcommand)]
        question: WorkingDaysQuestion,
    },
    /// Work out every open case's deadlines again (after the calendar or the partnership's
    /// settings change), a batch of cases at a time.
    RecomputeDeadlines,
    /// Make and release a set-password link for an account, printed here. For a Haven with a
    /// single administrator: in the browser a second administrator must release links.
    PasswordLink {
        #[arg(long)]
        email: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum WorkingDaysQuestion {
    /// The date N working days after DATE.
    Add { date: String, days: u32 },
    /// Whether DATE is a working day, and if not, why.
    Is { date: String },
}

/// Logs go to standard output: readable text, or one JSON object a line with `HAVEN_LOG_FORMAT=json`
/// (for a log collector). Filter with `HAVEN_LOG` (tracing's `EnvFilter` syntax).
pub fn init_tracing() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("HAVEN_LOG")
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,tower_http=info"));
    // Colours only on a terminal: a file or a log collector gets plain text.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()));
    let _ = if std::env::var("HAVEN_LOG_FORMAT").is_ok_and(|f| f == "json") {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}

pub async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let config = Config::from_env()?;
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => {
            let pool = db::prepare(&config).await?;
            app::serve(AppState::new(pool, Arc::new(config))).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Migrate => {
            // Always as the owner, whatever HAVEN_MIGRATE says: this is the deployment step.
            db::ensure_database(config.database_url.expose()).await?;
            db::migrate(config.database_url.expose()).await?;
            println!("Database is up to date.");
            Ok(ExitCode::SUCCESS)
        }
        Command::CreateUser {
            email,
            name,
            role,
            team,
        } => {
            let pool = db::prepare(&config).await?;
            let key = audit::ChainKey::from_secret(config.secret_key.expose());
            let password = read_password()?;
            create_user(
                &pool,
                &key,
                &email,
                &name,
                &role,
                team.as_deref(),
                &password,
            )
            .await?;
            println!(
                "Created {role} account for {}.",
                email.trim().to_lowercase()
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::SeedDemo => {
            let pool = db::prepare(&config).await?;
            let key = audit::ChainKey::from_secret(config.secret_key.expose());
            let summary = crate::db::demo::seed(&pool, &key).await?;
            println!("{summary}");
            Ok(ExitCode::SUCCESS)
        }
        Command::VerifyAudit {
            anchors,
            accept_unkeyed_until,
        } => {
            let pool = db::prepare(&config).await?;
            let key = audit::ChainKey::from_secret(config.secret_key.expose());
            let path = anchors.or(config.audit_anchor_file.clone());
            let anchors = match path.as_deref().map(std::fs::read_to_string) {
                Some(Ok(text)) => match audit::read_anchors(&text, &key) {
                    Ok(a) => a,
                    Err(problem) => {
                        eprintln!("Audit trail BROKEN: {problem}.");
                        return Ok(ExitCode::from(2));
                    }
                },
                Some(Err(e)) if e.kind() == std::io::ErrorKind::NotFound => {
                    eprintln!(
                        "No anchor file at {}: the chain is checked, but removal of the newest rows could not be.",
                        path.as_deref()
                            .map(|p| p.display().to_string())
                            .unwrap_or_default()
                    );
                    Vec::new()
                }
                Some(Err(e)) => return Err(e).context("cannot read the anchor file"),
                None => Vec::new(),
            };
            // Seal what is final first, so the check covers every finished transaction.
            audit::seal_all(&pool, &key, 10_000).await?;
            match audit::verify(&pool, &key, &anchors, accept_unkeyed_until, 10_000).await? {
                Verification::Intact {
                    rows,
                    unsealed,
                    anchors,
                } => {
                    println!(
                        "Audit trail intact: {rows} sealed rows, {unsealed} rows awaiting their seal and {anchors} anchors checked."
                    );
                    Ok(ExitCode::SUCCESS)
                }
                Verification::Broken { seq, problem } => {
                    eprintln!("Audit trail BROKEN at row {seq}: {problem}.");
                    Ok(ExitCode::from(2))
                }
            }
        }
        Command::AuditAnchor => {
            let pool = db::prepare(&config).await?;
            let key = audit::ChainKey::from_secret(config.secret_key.expose());
            let Some(path) = config.audit_anchor_file.as_deref() else {
                bail!("HAVEN_AUDIT_ANCHOR_FILE is off: there is nowhere to write the anchor");
            };
            audit::seal_all(&pool, &key, 10_000).await?;
            let anchor = audit::current_anchor(&pool).await?;
            audit::append_anchor(path, &key, &anchor)
                .with_context(|| format!("cannot write to {}", path.display()))?;
            println!("{}", anchor.to_line(&key));
            Ok(ExitCode::SUCCESS)
        }
        Command::WorkingDays { question } => working_days(&config, question).await,
        Command::RecomputeDeadlines => {
            let pool = db::prepare(&config).await?;
            let n = recompute_all(&pool, &config).await?;
            println!("Deadlines worked out again for {n} cases.");
            Ok(ExitCode::SUCCESS)
        }
        Command::PasswordLink { email } => {
            let pool = db::prepare(&config).await?;
            let key = audit::ChainKey::from_secret(config.secret_key.expose());
            let link = password_link(&pool, &key, &config, &email).await?;
            println!("{link}");
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// The calendar with administrators' changes when the database can be reached, else the rules.
async fn working_days(config: &Config, q: WorkingDaysQuestion) -> anyhow::Result<ExitCode> {
    let cal = match db::prepare(config).await {
        Ok(pool) => db::calendar::load(&pool, config.working_day_close).await?,
        Err(_) => {
            eprintln!("(The database cannot be reached: using the bank holiday rules only.)");
            domain::calendar::Calendar::new(Default::default(), config.working_day_close)
        }
    };
    let parse = |d: &str| {
        chrono::NaiveDate::parse_from_str(d.trim(), "%Y-%m-%d")
            .with_context(|| format!("expected a date like 2026-12-03, got {d:?}"))
    };
    match q {
        WorkingDaysQuestion::Add { date, days } => {
            println!("{}", cal.add_working_days(parse(&date)?, days));
            Ok(ExitCode::SUCCESS)
        }
        WorkingDaysQuestion::Is { date } => {
            let d = parse(&date)?;
            match cal.check(d) {
                Ok(()) => {
                    println!("{d} is a working day");
                    Ok(ExitCode::SUCCESS)
                }
                Err(why) => {
                    println!("{d} is not a working day: {why}");
                    Ok(ExitCode::from(1))
                }
            }
        }
    }
}

/// Recompute the deadlines of every case that has an open one, 500 cases a transaction.
pub async fn recompute_all(pool: &sqlx::PgPool, config: &Config) -> anyhow::Result<u64> {
    let cal = db::calendar::load(pool, config.working_day_close).await?;
    let settings = db::calendar::settings(pool).await?.rules();
    let mut after = uuid::Uuid::nil();
    let mut done = 0u64;
    loop {
        let ids: Vec<uuid::Uuid> = sqlx::query_scalar!(
            "SELECT id FROM cases WHERE id > $1 AND status <> 'closed' ORDER BY id LIMIT 500",
            after
        )
        .fetch_all(pool)
        .await?;
        let Some(last) = ids.last().copied() else {
            break;
        };
        let mut tx = pool.begin().await?;
        for id in &ids {
            db::deadlines::recompute(&mut tx, *id, &cal, settings).await?;
        }
        tx.commit().await?;
        done += ids.len() as u64;
        after = last;
    }
    Ok(done)
}

/// Ask for and release a set-password link in one step (the person running the command has the
/// server itself, so the two-administrator rule has nothing to add), audited.
pub async fn password_link(
    pool: &sqlx::PgPool,
    key: &audit::ChainKey,
    config: &Config,
    email: &str,
) -> anyhow::Result<String> {
    let email = Email::parse(email).map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut tx = pool.begin().await?;
    let user = db::users::find_by_email(&mut *tx, email.as_str())
        .await?
        .context("no account has that email address")?;
    if user.disabled_at.is_some() {
        bail!("that account is disabled");
    }
    let kind = if user.password_hash.is_some() {
        db::users::LinkKind::Reset
    } else {
        db::users::LinkKind::NewAccount
    };
    let request = db::users::request_password_link(&mut tx, user.id, None, kind).await?;
    let t = crate::auth::token::new_token();
    db::users::release_password_link(
        &mut *tx,
        request,
        None,
        &crate::auth::token::digest(&t),
        chrono::Duration::hours(crate::web::admin::links::LINK_HOURS),
    )
    .await?;
    if kind == db::users::LinkKind::Reset {
        db::notices::add(
            &mut *tx,
            user.id,
            db::notices::NoticeKind::PasswordResetLink,
            None,
        )
        .await?;
    }
    audit::record(
        &mut tx,
        key,
        &Actor::default(),
        Event::new("user.password_link_released", "user")
            .entity(user.id)
            .details(serde_json::json!({ "link": request, "via": "command line" })),
    )
    .await?;
    tx.commit().await?;
    let base = config.public_url.as_str().trim_end_matches('/');
    Ok(format!("{base}/set-password/{t}"))
}

fn read_password() -> anyhow::Result<String> {
    let stdin = std::io::stdin();
    let password = if stdin.is_terminal() {
        let first = rpassword::prompt_password("Password (12+ characters): ")?;
        let second = rpassword::prompt_password("Type it again: ")?;
        if first != second {
            bail!("the passwords do not match");
        }
        first
    } else {
        let mut s = String::new();
        stdin
            .lock()
            .take(4096)
            .read_to_string(&mut s)
            .context("cannot read the password from standard input")?;
        s.lines().next().unwrap_or("").to_owned()
    };
    Ok(password)
}

/// Create an account with a chosen password (command line only: administrators in the web
/// interface can only send set-password links).
pub async fn create_user(
    pool: &sqlx::PgPool,
    key: &audit::ChainKey,
    email: &str,
    name: &str,
    role: &str,
    team: Option<&str>,
    password_text: &str,
) -> anyhow::Result<uuid::Uuid> {
    let email = Email::parse(email).map_err(|e| anyhow::anyhow!("{e}"))?;
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        bail!("the name must be 1 to 200 characters");
    }
    let role = Role::parse(role).context("unknown role")?;
    domain::password::check_new(password_text, password_text)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let hash = password::hash_blocking(password_text.to_owned()).await?;
    let mut tx = pool.begin().await?;
    let team_id = match team.map(str::trim).filter(|t| !t.is_empty()) {
        None => None,
        Some(t) => match db::teams::find_by_name(&mut *tx, t).await? {
            Some(row) => Some(row.id),
            None => db::teams::create(&mut *tx, t).await?,
        },
    };
    let id = db::users::create(&mut tx, &email, name, role, Some(&hash), team_id).await?;
    audit::record(
        &mut tx,
        key,
        &Actor::default(),
        Event::new("user.create", "user")
            .entity(id)
            .details(serde_json::json!({ "role": role.code(), "via": "command line" })),
    )
    .await?;
    tx.commit().await?;
    Ok(id)
}
