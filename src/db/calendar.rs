//! The calendar's administrator changes and the partnership's settings.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use sqlx::PgExecutor;
use uuid::Uuid;

use crate::domain::calendar::{Calendar, Change};
use crate::domain::deadlines::Settings;

/// The calendar as it stands: the rules plus every administrator change.
pub async fn load(db: impl PgExecutor<'_>, close: NaiveTime) -> sqlx::Result<Calendar> {
    let rows = sqlx::query_as!(ChangeDay, "SELECT day, kind, name FROM calendar_changes")
        .fetch_all(db)
        .await?;
    Ok(calendar_from(rows, close))
}

/// The calendar as it stands, with its version (`calendar_version`, a new random token on every
/// change), read in one statement so the two belong together.
pub async fn load_versioned(
    db: impl PgExecutor<'_>,
    close: NaiveTime,
) -> sqlx::Result<(Uuid, Calendar)> {
    let r = sqlx::query!(
        r#"SELECT v.version,
                  (SELECT coalesce(json_agg(json_build_object('day', c.day, 'kind', c.kind, 'name', c.name)), '[]')
                   FROM calendar_changes c) AS "changes!: sqlx::types::Json<Vec<ChangeDay>>"
           FROM calendar_version v WHERE v.id = 1"#
    )
    .fetch_one(db)
    .await?;
    Ok((r.version, calendar_from(r.changes.0, close)))
}

/// One administrator change as the calendar needs it (also read by the case page's statement).
#[derive(Clone, Debug, serde::Deserialize)]
pub struct ChangeDay {
    pub day: NaiveDate,
    pub kind: String,
    pub name: String,
}

/// The calendar made from its changes.
pub fn calendar_from(rows: Vec<ChangeDay>, close: NaiveTime) -> Calendar {
    let changes: BTreeMap<NaiveDate, Change> = rows
        .into_iter()
        .map(|r| {
            let change = if r.kind == "working" {
                Change::Working
            } else {
                Change::Holiday(r.name)
            };
            (r.day, change)
        })
        .collect();
    Calendar::new(changes, close)
}

#[derive(Clone, Debug)]
pub struct ChangeRow {
    pub day: NaiveDate,
    pub kind: String,
    pub name: String,
    pub added_by_name: String,
    pub created_at: DateTime<Utc>,
}

/// Every change, newest day first (a council makes a handful a year).
pub async fn changes(db: impl PgExecutor<'_>) -> sqlx::Result<Vec<ChangeRow>> {
    sqlx::query_as!(
        ChangeRow,
        "SELECT c.day, c.kind, c.name, u.display_name AS added_by_name, c.created_at
         FROM calendar_changes c JOIN users u ON u.id = c.added_by
         ORDER BY c.day DESC LIMIT 500"
    )
    .fetch_all(db)
    .await
}

/// Add a change; false if the day already has one.
pub async fn add(
    db: impl PgExecutor<'_>,
    day: NaiveDate,
    kind: &str,
    name: &str,
    by: Uuid,
) -> sqlx::Result<bool> {
    let r = sqlx::query!(
        "INSERT INTO calendar_changes (day, kind, name, added_by) VALUES ($1, $2, $3, $4)
         ON CONFLICT (day) DO NOTHING",
        day,
        kind,
        name,
        by
    )
    .execute(db)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// Remove a change; the removed row, if there was one.
pub async fn remove(
    db: impl PgExecutor<'_>,
    day: NaiveDate,
) -> sqlx::Result<Option<(String, String)>> {
    let row = sqlx::query!(
        "DELETE FROM calendar_changes WHERE day = $1 RETURNING kind, name",
        day
    )
    .fetch_optional(db)
    .await?;
    Ok(row.map(|r| (r.kind, r.name)))
}

#[derive(Clone, Debug)]
pub struct SettingsRow {
    pub strategy_discussion_days: i32,
    pub icpc_local_rule: bool,
    pub urgent_break_glass: bool,
    pub lado_file_retention_years: i32,
    pub version: i32,
    pub updated_at: DateTime<Utc>,
    pub updated_by_name: Option<String>,
}

impl SettingsRow {
    pub fn rules(&self) -> Settings {
        Settings {
            strategy_discussion_days: self.strategy_discussion_days.max(0) as u32,
            icpc_local_rule: self.icpc_local_rule,
        }
    }
}

pub async fn settings(db: impl PgExecutor<'_>) -> sqlx::Result<SettingsRow> {
    sqlx::query_as!(
        SettingsRow,
        r#"SELECT s.strategy_discussion_days, s.icpc_local_rule, s.urgent_break_glass,
                  s.lado_file_retention_years, s.version, s.updated_at,
                  u.display_name AS "updated_by_name?"
           FROM partnership_settings s LEFT JOIN users u ON u.id = s.updated_by WHERE s.id = 1"#
    )
    .fetch_one(db)
    .await
}

/// The settings an administrator changes, all at once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NewSettings {
    pub strategy_discussion_days: i32,
    pub icpc_local_rule: bool,
    pub urgent_break_glass: bool,
    pub lado_file_retention_years: i32,
}

/// Change the settings if nobody has since `version`; false on a stale form.
pub async fn update_settings(
    db: impl PgExecutor<'_>,
    version: i32,
    new: NewSettings,
    by: Uuid,
) -> sqlx::Result<bool> {
    let r = sqlx::query!(
        "UPDATE partnership_settings SET strategy_discussion_days = $2, icpc_local_rule = $3,
                urgent_break_glass = $4, lado_file_retention_years = $5,
                updated_by = $6, updated_at = now(), version = version + 1
         WHERE id = 1 AND version = $1",
        version,
        new.strategy_discussion_days,
        new.icpc_local_rule,
        new.urgent_break_glass,
        new.lado_file_retention_years,
        by
    )
    .execute(db)
    .await?;
    Ok(r.rows_affected() == 1)
}
