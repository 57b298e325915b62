//! The database: creating it, migrating it, the connection pool, and one module per aggregate.

pub mod audit_log;
pub mod cases;
pub mod demo;
pub mod drafts;
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

/// The pool the application uses. Every connection switches to the restricted app role, so
/// the database itself enforces what the app may not do (e.g. change the audit trail).
pub fn pool(config: &Config) -> anyhow::Result<PgPool> {
    pool_for(
        config.database_url.expose(),
        config.db_max_connections,
        config.db_acquire_timeout,
    )
}

pub fn pool_for(
    database_url: &str,
    max: u32,
    acquire_timeout: std::time::Duration,
) -> anyhow::Result<PgPool> {
    let options =
        PgConnectOptions::from_str(database_url).context("DATABASE_URL is not a PostgreSQL URL")?;
    Ok(PgPoolOptions::new()
        .max_connections(max)
        .acquire_timeout(acquire_timeout)
        .after_connect(|conn, _meta| {
            Box::pin(async move {
                conn.execute("SET ROLE haven_app; SET TIME ZONE 'UTC'")
                    .await?;
                Ok(())
            })
        })
        .connect_lazy_with(options))
}

/// Everything `serve` needs before it can take requests.
pub async fn prepare(config: &Config) -> anyhow::Result<PgPool> {
    ensure_database(config.database_url.expose()).await?;
    migrate(config.database_url.expose()).await?;
    pool(config)
}
