//! The database: creating it, migrating it, the connection pool, and one module per aggregate.

pub mod allegations;
pub mod audit_log;
pub mod calendar;
pub mod case_page;
pub mod cases;
pub mod deadlines;
pub mod demo;
pub mod documents;
pub mod drafts;
pub mod held_forms;
pub mod notices;
pub mod pathways;
pub mod people;
pub mod procedure;
pub mod sessions;
pub mod teams;
pub mod users;

use std::str::FromStr;

use anyhow::Context;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, Connection, Executor, PgConnection, PgPool};

use crate::config::Config;

/// The role the application works as; created by the first migration.
pub const APP_ROLE: &str = "haven_app";

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// Create the database named in `database_url` if it does not exist yet.
pub async fn ensure_database(database_url: &str) -> anyhow::Result<()> {
    let options =
        PgConnectOptions::from_str(database_url).context("DATABASE_URL is not a PostgreSQL URL")?;
    let name = options.get_database().unwrap_or("haven").to_owned();
    if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') || name.is_empty() {
        anyhow::bail!("database name {name:?} may only contain letters, digits and underscores");
    }
    let mut admin = options
        .clone()
        .database("postgres")
        .connect()
        .await
        .context("cannot connect to PostgreSQL")?;
    let exists: Option<i32> = sqlx::query_scalar("SELECT 1 FROM pg_database WHERE datname = $1")
        .bind(&name)
        .fetch_optional(&mut admin)
        .await?;
    if exists.is_none() {
        // The name was checked above to hold only [A-Za-z0-9_].
        let sql = format!("CREATE DATABASE \"{name}\"");
        match admin.execute(sqlx::AssertSqlSafe(sql)).await {
            Ok(_) => tracing::info!(database = %name, "created database"),
            // Another instance created it at the same moment.
            Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("42P04") => {}
            Err(e) => return Err(e).context("cannot create the database"),
        }
    }
    admin.close().await.ok();
    Ok(())
}

/// Run pending migrations as the connecting (owner) role.
pub async fn migrate(database_url: &str) -> anyhow::Result<()> {
    let mut conn = PgConnection::connect(database_url)
        .await
        .context("cannot connect to the database")?;
    MIGRATOR.run(&mut conn).await.context("migrations failed")?;
    conn.close().await.ok();
    Ok(())
}

/// The pool the application uses, logged in as the restricted app role (`haven_app`), so the
/// database itself enforces what the app may not do (e.g. change the audit trail).
pub fn pool(config: &Config) -> anyhow::Result<PgPool> {
    pool_for(
        config.app_database_url.expose(),
        config.db_max_connections,
        config.db_acquire_timeout,
    )
}

pub fn pool_for(
    database_url: &str,
    max: u32,
    acquire_timeout: std::time::Duration,
) -> anyhow::Result<PgPool> {
    pool_planning(database_url, max, acquire_timeout, Plans::Custom)
}

/// How a pool's connections plan their statements (decision 005).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Plans {
    /// Planned afresh for each execution's values: statements with optional filters
    /// (`$n IS NULL OR …`), whose generic plans PostgreSQL gets badly wrong.
    Custom,
    /// One generic plan a prepared statement, made once per connection and reused
    /// (`force_generic_plan`). For the statements whose plan does not depend on their values
    /// (the session, the case page, the dashboards, a note, name search): planning them again
    /// each time was a third to most of their cost. PostgreSQL's `auto` kept re-planning some of
    /// them (search: 2 ms to plan, 0.3 ms to run) because it guessed the generic plan dearer;
    /// each statement here is checked with `force_generic_plan` in `EXPLAIN` at a million cases.
    Reused,
}

pub fn pool_planning(
    database_url: &str,
    max: u32,
    acquire_timeout: std::time::Duration,
    plans: Plans,
) -> anyhow::Result<PgPool> {
    let options = PgConnectOptions::from_str(database_url)
        .context("the app's database URL is not a PostgreSQL URL")?;
    let settings = match plans {
        Plans::Custom => "SET TIME ZONE 'UTC'; SET plan_cache_mode = force_custom_plan",
        Plans::Reused => "SET TIME ZONE 'UTC'; SET plan_cache_mode = force_generic_plan",
    };
    Ok(PgPoolOptions::new()
        .max_connections(max)
        .acquire_timeout(acquire_timeout)
        // No ping before each acquisition (a round trip each time): only a connection that has
        // been idle for a second or more is checked, so one left broken by a database restart
        // is replaced rather than failing a page. A busy connection that breaks fails its
        // query, and the pool drops it.
        .test_before_acquire(false)
        .before_acquire(|conn, meta| {
            Box::pin(async move {
                if meta.idle_for >= std::time::Duration::from_secs(1) {
                    use sqlx::Connection;
                    return Ok(conn.ping().await.is_ok());
                }
                Ok(true)
            })
        })
        .after_connect(move |conn, _meta| {
            Box::pin(async move {
                conn.execute(settings).await?;
                Ok(())
            })
        })
        .connect_lazy_with(options))
}

/// Refuse to serve through a login that could lift its own restrictions: a superuser, a role
/// that owns (or may act as the owner of) the audit trail, or one that may change or delete it.
pub async fn check_app_login(pool: &PgPool) -> anyhow::Result<()> {
    let row: (String, bool, bool, bool, bool) = sqlx::query_as(
        "SELECT current_user::text,
                r.rolsuper OR r.rolcreaterole OR r.rolbypassrls,
                pg_has_role(current_user, t.tableowner, 'MEMBER'),
                has_table_privilege(current_user, 'audit_events', 'UPDATE')
                  OR has_table_privilege(current_user, 'audit_events', 'DELETE')
                  OR has_table_privilege(current_user, 'audit_events', 'TRUNCATE')
                  OR has_table_privilege(current_user, 'audit_seals', 'UPDATE')
                  OR has_table_privilege(current_user, 'audit_seals', 'DELETE')
                  OR has_table_privilege(current_user, 'audit_seals', 'TRUNCATE')
                  OR has_sequence_privilege(current_user, 'audit_events_seq', 'UPDATE'),
                has_table_privilege(current_user, 'audit_events', 'INSERT')
         FROM pg_roles r, pg_tables t
         WHERE r.rolname = current_user AND t.schemaname = 'public' AND t.tablename = 'audit_events'",
    )
    .fetch_one(pool)
    .await
    .context("cannot check the app's database login")?;
    let (user, powerful, owner, can_rewrite, can_append) = row;
    if powerful || owner || can_rewrite || !can_append {
        anyhow::bail!(
            "the app's database login {user:?} could undo its own restrictions (superuser, owner of the tables, or allowed to change the audit trail). Haven serves only as the restricted role {APP_ROLE}: set HAVEN_APP_DATABASE_URL to a login for it"
        );
    }
    Ok(())
}

/// Everything `serve` needs before it can take requests: with `migrate_on_start`, create and
/// migrate the database as its owner; then the app's own pool, checked.
pub async fn prepare(config: &Config) -> anyhow::Result<PgPool> {
    if config.migrate_on_start {
        ensure_database(config.database_url.expose()).await?;
        migrate(config.database_url.expose()).await?;
    }
    let pool = pool(config)?;
    check_app_login(&pool).await?;
    Ok(pool)
}
