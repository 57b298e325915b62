//! Cases: created from a referral, read through lists, the case page and the chronology.
//!
//! Every read takes the viewer's team ids and checks visibility in the same query, so a case
//! outside the viewer's teams (or a restricted one) is simply not found.

use chrono::{DateTime, Datelike, Utc};
use sqlx::{PgConnection, PgExecutor};
use uuid::Uuid;

use super::drafts::ReferralDraft;
use crate::domain::{CaseReference, CaseStatus, ConcernKind};

/// Who is looking: their teams, as read from the database on this request.
#[derive(Clone, Debug)]
pub struct Viewer<'a> {
    pub team_ids: &'a [Uuid],
    pub user_id: Uuid,
    /// The LADO sees every restricted record (except one about themselves).
    pub is_lado: bool,
}

// The visibility rule, in every query that reads cases (`find_visible`, `list`, the deadline
// lists and counts, the dashboards):
//     (c.restricted = false AND c.team_id = ANY(<the viewer's teams>))
//     OR (c.restricted AND haven_sees_restricted_case(c.id, <viewer>, <viewer is a LADO>))
// A case that is not restricted is visible to its team. A restricted case (linked to an
// allegation against someone who works with children) is visible only to the LADO and to the
// people with unrevoked access (`record_access`: named by the LADO, the case worker when the case
// was restricted, or an approved break-glass request), and never to a Haven user who is the
// subject of an allegation linked to it; that half of the rule is the one SQL function
// `haven_sees_restricted_case` (migration 20261129000012), so it is written once. Visible
// restricted cases appear in their viewer's lists, searches, counts and dashboards; to everyone
// else they do not exist. A list's cursor passes the same rule, so a cursor naming a case the
// viewer cannot see behaves exactly like one naming no case at all. tests/web/lado.rs walks every
// GET route as people who may not see a restricted case.

#[derive(Clone, Debug, serde::Deserialize)]
pub struct CaseRow {
    pub id: Uuid,
    pub reference: String,
    pub team_id: Uuid,
    pub team_name: String,
    pub owner_id: Uuid,
    pub owner_name: String,
    pub status: String,
    pub title: String,
    pub concern_kinds: Vec<String>,
    pub immediate_risk: bool,
    pub received_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i32,
    /// The next open deadline (kept by `db::deadlines::recompute`).
    pub next_due_at: Option<DateTime<Utc>>,
    pub next_due_kind: Option<String>,
    /// Linked to an allegation and restricted by the LADO (decision 010).
    pub restricted: bool,
    /// When a manager last allocated it (`None`: still with whoever logged the referral).
    pub allocated_at: Option<DateTime<Utc>>,
}

impl CaseRow {
    pub fn status(&self) -> CaseStatus {
        CaseStatus::parse(&self.status).unwrap_or(CaseStatus::Open)
    }
    pub fn concerns(&self) -> Vec<ConcernKind> {
        self.concern_kinds
            .iter()
            .filter_map(|c| ConcernKind::parse(c))
            .collect()
    }
}

pub async fn find_visible(
    db: impl PgExecutor<'_>,
    viewer: &Viewer<'_>,
    id: Uuid,
) -> sqlx::Result<Option<CaseRow>> {
    sqlx::query_as!(
        CaseRow,
        "SELECT c.id, c.reference, c.team_id, t.name AS team_name, c.owner_id, u.display_name AS owner_name,
                c.status, c.title, c.concern_kinds, c.immediate_risk, c.received_at, c.created_at,
                c.updated_at, c.version, c.next_due_at, c.next_due_kind, c.restricted, c.allocated_at
         FROM cases c JOIN teams t ON t.id = c.team_id JOIN users u ON u.id = c.owner_id
         WHERE c.id = $2 AND (
             (c.restricted = false AND c.team_id = ANY($1::uuid[]))
             OR (c.restricted AND haven_sees_restricted_case(c.id, $3, $4)))",
        viewer.team_ids,
        id,
        viewer.user_id,
        viewer.is_lado
    )
    .fetch_optional(db)
    .await
}

/// Lock a case's row before changing its people. Each person carries the case's owner, and an
/// allocation locks the case and then, through the owner trigger, its people: a transaction
/// that changed a person first and the case after (its search names) deadlocked with it, and a
/// person added while the case moved kept the old owner. Taking the case first orders both the
/// same way, and the person's trigger then reads the owner the case has now.
pub async fn lock_for_people(db: impl PgExecutor<'_>, id: Uuid) -> sqlx::Result<()> {
    sqlx::query!("SELECT id FROM cases WHERE id = $1 FOR NO KEY UPDATE", id)
        .fetch_optional(db)
        .await?;
    Ok(())
}

/// Which list, and its filters.
#[derive(Clone, Debug, Default)]
pub struct ListFilter {
    /// Only cases this person owns ("My cases"); otherwise all the viewer's teams' cases.
    pub owner: Option<Uuid>,
    pub status: Option<CaseStatus>,
    pub concern: Option<ConcernKind>,
    /// Part of a person's name (children or adults on the case).
    pub name: Option<String>,
    /// Keyset cursor: the last case of the previous page.
    pub after: Option<Uuid>,
    /// Cases with a child at immediate risk first (then newest first), when the person asks.
    pub risk_first: bool,
}

/// One page of cases, the most recently received referral first: one query, walking an index in
/// list order.
///
/// Three shapes, chosen by the filter, so each is served by its own index:
/// - someone's own cases: `cases_owner_order`, with the team rule as a filter;
/// - a name search: the trigram index on `search_names`;
/// - team lists: for each of the viewer's teams, the newest rows from `cases_team_order`
///   (a LATERAL join), merged, so a page costs the same with ten cases or ten million.
///
/// Optional filters are `$n IS NULL OR ...`; connections use custom plans (`db::pool_for`), so
/// PostgreSQL plans each call with the filters it really has.
pub async fn list(
    db: impl PgExecutor<'_>,
    viewer: &Viewer<'_>,
    f: &ListFilter,
    limit: i64,
) -> sqlx::Result<Vec<CaseRow>> {
    let status = f.status.map(CaseStatus::code);
    let concern = f.concern.map(ConcernKind::code);
    if let Some(name) = &f.name {
        let escaped = name
            .to_lowercase()
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        let pattern = format!("%{escaped}%");
        return sqlx::query_as!(
            CaseRow,
            "SELECT c.id, c.reference, c.team_id, t.name AS team_name, c.owner_id, u.display_name AS owner_name,
                    c.status, c.title, c.concern_kinds, c.immediate_risk, c.received_at, c.created_at,
                    c.updated_at, c.version, c.next_due_at, c.next_due_kind, c.restricted, c.allocated_at
             FROM cases c JOIN teams t ON t.id = c.team_id JOIN users u ON u.id = c.owner_id
             WHERE ((c.restricted = false AND c.team_id = ANY($1::uuid[])) OR (c.restricted AND haven_sees_restricted_case(c.id, $8, $9)))
               AND c.search_names LIKE $2
               AND ($3::uuid IS NULL OR c.owner_id = $3)
               AND ($4::text IS NULL OR c.status = $4)
               AND ($5::text IS NULL OR c.concern_kinds @> ARRAY[$5::text])
               AND ($6::uuid IS NULL OR (c.received_at, c.id) < (SELECT a.received_at, a.id FROM cases a WHERE a.id = $6
                    AND ((a.restricted = false AND a.team_id = ANY($1::uuid[])) OR (a.restricted AND haven_sees_restricted_case(a.id, $8, $9)))))
             ORDER BY c.received_at DESC, c.id DESC
             LIMIT $7",
            viewer.team_ids,
            pattern,
            f.owner,
            status,
            concern,
            f.after,
            limit,
            viewer.user_id,
            viewer.is_lado
        )
        .fetch_all(db)
        .await;
    }
    if let Some(owner) = f.owner {
        return sqlx::query_as!(
            CaseRow,
            "SELECT c.id, c.reference, c.team_id, t.name AS team_name, c.owner_id, u.display_name AS owner_name,
                    c.status, c.title, c.concern_kinds, c.immediate_risk, c.received_at, c.created_at,
                    c.updated_at, c.version, c.next_due_at, c.next_due_kind, c.restricted, c.allocated_at
             FROM cases c JOIN teams t ON t.id = c.team_id JOIN users u ON u.id = c.owner_id
             WHERE ((c.restricted = false AND c.team_id = ANY($1::uuid[])) OR (c.restricted AND haven_sees_restricted_case(c.id, $7, $8)))
               AND c.owner_id = $2
               AND ($3::text IS NULL OR c.status = $3)
               AND ($4::text IS NULL OR c.concern_kinds @> ARRAY[$4::text])
               AND ($5::uuid IS NULL
                    OR (NOT $9 AND (c.received_at, c.id) < (SELECT a.received_at, a.id FROM cases a WHERE a.id = $5
                        AND ((a.restricted = false AND a.team_id = ANY($1::uuid[])) OR (a.restricted AND haven_sees_restricted_case(a.id, $7, $8)))))
                    OR ($9 AND (c.immediate_risk, c.received_at, c.id) < (SELECT a.immediate_risk, a.received_at, a.id FROM cases a WHERE a.id = $5
                        AND ((a.restricted = false AND a.team_id = ANY($1::uuid[])) OR (a.restricted AND haven_sees_restricted_case(a.id, $7, $8))))))
             ORDER BY CASE WHEN $9 THEN c.immediate_risk ELSE false END DESC, c.received_at DESC, c.id DESC
             LIMIT $6",
            viewer.team_ids,
            owner,
            status,
            concern,
            f.after,
            limit,
            viewer.user_id,
            viewer.is_lado,
            f.risk_first
        )
        .fetch_all(db)
        .await;
    }
    sqlx::query_as!(
        CaseRow,
        r#"SELECT c.id AS "id!", c.reference AS "reference!", c.team_id AS "team_id!", t.name AS team_name,
                c.owner_id AS "owner_id!", u.display_name AS owner_name, c.status AS "status!",
                c.title AS "title!", c.concern_kinds AS "concern_kinds!", c.immediate_risk AS "immediate_risk!",
                c.received_at AS "received_at!", c.created_at AS "created_at!", c.updated_at AS "updated_at!",
                c.version AS "version!", c.next_due_at, c.next_due_kind, c.restricted AS "restricted!", c.allocated_at
         FROM unnest($1::uuid[]) AS vt(team_id)
         CROSS JOIN LATERAL (
             SELECT * FROM cases c
             WHERE c.team_id = vt.team_id AND (c.restricted = false OR haven_sees_restricted_case(c.id, $6, $7))
               AND ($2::text IS NULL OR c.status = $2)
               AND ($3::text IS NULL OR c.concern_kinds @> ARRAY[$3::text])
               AND ($4::uuid IS NULL
                    OR (NOT $8 AND (c.received_at, c.id) < (SELECT a.received_at, a.id FROM cases a WHERE a.id = $4 AND a.team_id = ANY($1::uuid[])
                        AND (a.restricted = false OR haven_sees_restricted_case(a.id, $6, $7))))
                    OR ($8 AND (c.immediate_risk, c.received_at, c.id) < (SELECT a.immediate_risk, a.received_at, a.id FROM cases a WHERE a.id = $4 AND a.team_id = ANY($1::uuid[])
                        AND (a.restricted = false OR haven_sees_restricted_case(a.id, $6, $7)))))
             ORDER BY CASE WHEN $8 THEN c.immediate_risk ELSE false END DESC, c.received_at DESC, c.id DESC
             LIMIT $5
         ) c
         JOIN teams t ON t.id = c.team_id JOIN users u ON u.id = c.owner_id
         ORDER BY CASE WHEN $8 THEN c.immediate_risk ELSE false END DESC, c.received_at DESC, c.id DESC
         LIMIT $5"#,
        viewer.team_ids,
        status,
        concern,
        f.after,
        limit,
        viewer.user_id,
        viewer.is_lado,
        f.risk_first
    )
    .fetch_all(db)
    .await
}

#[derive(Clone, Debug)]
pub struct PersonRow {
    pub id: Uuid,
    pub kind: String,
    pub full_name: String,
    pub date_of_birth: Option<chrono::NaiveDate>,
    pub age_estimate: Option<i32>,
    pub school: String,
    pub household: String,
    pub relationship: Option<String>,
}

pub async fn people(db: impl PgExecutor<'_>, case_id: Uuid) -> sqlx::Result<Vec<PersonRow>> {
    // A case has a handful of people; bounded all the same.
    sqlx::query_as!(
        PersonRow,
        "SELECT id, kind, full_name, date_of_birth, age_estimate, school, household, relationship
         FROM case_people WHERE case_id = $1 ORDER BY kind DESC, created_at, id LIMIT 200",
        case_id
    )
    .fetch_all(db)
    .await
}

#[derive(Clone, Debug, serde::Deserialize)]
pub struct ReferralRow {
    pub referrer_name: String,
    pub referrer_role: String,
    pub referrer_agency: String,
    pub referrer_contact: String,
    pub received_at: DateTime<Utc>,
    pub taken_by_name: String,
    pub account: String,
    pub immediate_risk: bool,
    pub immediate_risk_details: String,
    pub works_with_children: String,
    pub work_details: String,
}

pub async fn referral(db: impl PgExecutor<'_>, case_id: Uuid) -> sqlx::Result<Option<ReferralRow>> {
    sqlx::query_as!(ReferralRow, "SELECT r.referrer_name, r.referrer_role, r.referrer_agency, r.referrer_contact, r.received_at,
                u.display_name AS taken_by_name, r.account, r.immediate_risk, r.immediate_risk_details,
                r.works_with_children, r.work_details
         FROM referrals r JOIN users u ON u.id = r.taken_by WHERE r.case_id = $1 ORDER BY r.created_at LIMIT 1", case_id)
    .fetch_optional(db)
    .await
}

#[derive(Clone, Debug, serde::Deserialize)]
pub struct ChronologyRow {
    pub id: Uuid,
    pub occurred_at: DateTime<Utc>,
    pub kind: String,
    pub summary: String,
    pub recorded_at: DateTime<Utc>,
    pub recorded_by_name: String,
    pub note_id: Option<Uuid>,
    pub note_body: Option<String>,
    pub corrects_note_id: Option<Uuid>,
    /// A later note corrects this one.
    pub corrected: bool,
    /// False for an entry about a day whose time nobody knew.
    pub occurred_time_known: bool,
}

pub async fn add_chronology(
    db: impl PgExecutor<'_>,
    case_id: Uuid,
    occurred_at: DateTime<Utc>,
    kind: &str,
    summary: &str,
    note_id: Option<Uuid>,
    recorded_by: Uuid,
) -> sqlx::Result<Uuid> {
    add_chronology_flagged(
        db,
        case_id,
        occurred_at,
        true,
        kind,
        summary,
        note_id,
        recorded_by,
    )
    .await
}

/// A chronology entry whose time may not be known (`time_known` false: `occurred_at` is the
/// start of its day).
#[allow(clippy::too_many_arguments)]
pub async fn add_chronology_flagged(
    db: impl PgExecutor<'_>,
    case_id: Uuid,
    occurred_at: DateTime<Utc>,
    time_known: bool,
    kind: &str,
    summary: &str,
    note_id: Option<Uuid>,
    recorded_by: Uuid,
) -> sqlx::Result<Uuid> {
    let id = Uuid::now_v7();
    sqlx::query!("INSERT INTO chronology_entries (id, case_id, occurred_at, kind, summary, note_id, recorded_by, occurred_time_known) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)", id, case_id, occurred_at, kind, summary, note_id, recorded_by, time_known)
    .execute(db)
    .await?;
    Ok(id)
}

/// Does this note belong to this case? (Corrections may only point within the case.)
pub async fn note_in_case(
    db: impl PgExecutor<'_>,
    case_id: Uuid,
    note_id: Uuid,
) -> sqlx::Result<bool> {
    let found: Option<i32> = sqlx::query_scalar!(
        r#"SELECT 1 AS "found!" FROM case_notes WHERE id = $1 AND case_id = $2"#,
        note_id,
        case_id
    )
    .fetch_optional(db)
    .await?;
    Ok(found.is_some())
}

/// Add a note and its chronology entry. `time_known` false: `occurred_at` is the start of a day
/// whose time was not given.
pub async fn add_note(
    db: &mut PgConnection,
    case_id: Uuid,
    body: &str,
    occurred_at: DateTime<Utc>,
    time_known: bool,
    corrects: Option<Uuid>,
    author: Uuid,
) -> sqlx::Result<Uuid> {
    let id = Uuid::now_v7();
    sqlx::query!("INSERT INTO case_notes (id, case_id, body, occurred_at, corrects_note_id, created_by, occurred_time_known) VALUES ($1, $2, $3, $4, $5, $6, $7)", id, case_id, body, occurred_at, corrects, author, time_known)
    .execute(&mut *db)
    .await?;
    let summary = if corrects.is_some() {
        "Correction to an earlier note"
    } else {
        "Case note"
    };
    add_chronology_flagged(
        &mut *db,
        case_id,
        occurred_at,
        time_known,
        if corrects.is_some() {
            "correction"
        } else {
            "note"
        },
        summary,
        Some(id),
        author,
    )
    .await?;
    Ok(id)
}

/// A note as the form gave it, for [`write_note`].
pub struct NewNote<'a> {
    pub case_id: Uuid,
    pub body: &'a str,
    pub occurred_at: DateTime<Utc>,
    /// False: `occurred_at` is the start of a day whose time was not given.
    pub time_known: bool,
    pub corrects: Option<Uuid>,
    pub author: Uuid,
    /// The form's idempotency key, and where its result is shown.
    pub form_key: Uuid,
    pub location: &'a str,
}

/// What [`write_note`] did.
#[derive(Debug, PartialEq, Eq)]
pub enum NoteWritten {
    /// The case is not visible to the viewer, or the corrected note is not in it: nothing written.
    NotFound,
    /// The form was sent before (a double click or a resend): nothing written; its result.
    Earlier(String),
    Written,
}

/// Add a note, its chronology entry and its audit row (`event`, prepared with the note's id
/// `note_id`) in one statement: the case's visibility, the corrected note's case and the form's
/// idempotency key are checked in it, and nothing is written unless all three pass. One round
/// trip where a transaction of separate statements took six.
pub async fn write_note(
    db: impl PgExecutor<'_> + Copy,
    viewer: &Viewer<'_>,
    n: &NewNote<'_>,
    note_id: Uuid,
    event: &crate::audit::Prepared,
) -> sqlx::Result<NoteWritten> {
    let (kind, summary) = if n.corrects.is_some() {
        ("correction", "Correction to an earlier note")
    } else {
        ("note", "Case note")
    };
    let r = sqlx::query!(
        r#"WITH v AS (
             SELECT c.id FROM cases c
             WHERE c.id = $2 AND (
                 (c.restricted = false AND c.team_id = ANY($1::uuid[]))
                 OR (c.restricted AND haven_sees_restricted_case(c.id, $3, $4)))
               AND ($5::uuid IS NULL OR EXISTS (SELECT 1 FROM case_notes k WHERE k.id = $5 AND k.case_id = $2))
           ), claim AS (
             INSERT INTO form_submissions (key, user_id, result_location)
             SELECT $6, $7, $8 FROM v
             ON CONFLICT (key) DO NOTHING
             RETURNING key
           ), note AS (
             INSERT INTO case_notes (id, case_id, body, occurred_at, corrects_note_id, created_by, occurred_time_known)
             SELECT $9, $2, $10, $11, $5, $7, $12 FROM claim
             RETURNING id
           ), entry AS (
             INSERT INTO chronology_entries (id, case_id, occurred_at, kind, summary, note_id, recorded_by, occurred_time_known)
             SELECT $13, $2, $11, $14, $15, note.id, $7, $12 FROM note
             RETURNING id
           ), logged AS (
             INSERT INTO audit_events (occurred_at, actor_user_id, actor_ip, action, entity_type, entity_id, case_id, reason, details, event_id, mac)
             SELECT $16, $17, $18, $19, $20, $21, $22, $23, $24, $25, $26 FROM note
             RETURNING seq
           )
           SELECT EXISTS (SELECT 1 FROM v) AS "found!",
                  EXISTS (SELECT 1 FROM claim) AS "claimed!",
                  (SELECT count(*) FROM entry) + (SELECT count(*) FROM logged) AS "written!",
                  (SELECT s.result_location FROM form_submissions s WHERE s.key = $6 AND s.user_id = $7) AS earlier"#,
        viewer.team_ids,
        n.case_id,
        viewer.user_id,
        viewer.is_lado,
        n.corrects,
        n.form_key,
        n.author,
        n.location,
        note_id,
        n.body,
        n.occurred_at,
        n.time_known,
        Uuid::now_v7(),
        kind,
        summary,
        event.occurred_at,
        event.actor_user_id,
        event.actor_ip,
        event.action,
        event.entity_type,
        event.entity_id,
        event.case_id,
        event.reason,
        event.details,
        event.event_id,
        event.mac,
    )
    .fetch_one(db)
    .await?;
    if !r.found {
        return Ok(NoteWritten::NotFound);
    }
    if r.claimed {
        // Data-modifying parts of a statement always run to completion: both rows or an error.
        debug_assert_eq!(r.written, 2);
        return Ok(NoteWritten::Written);
    }
    // Sent before. The statement's snapshot misses a first sending that committed while it ran
    // (the insert waited for it): then ask again, in a statement of its own.
    let earlier = match r.earlier {
        Some(e) => Some(e),
        None => {
            sqlx::query_scalar!(
                "SELECT result_location FROM form_submissions WHERE key = $1 AND user_id = $2",
                n.form_key,
                n.author
            )
            .fetch_optional(db)
            .await?
        }
    };
    Ok(NoteWritten::Earlier(
        earlier.unwrap_or_else(|| "/".to_owned()),
    ))
}

/// The next readable reference for `year`, from a per-year counter (row-locked, so no two cases share one).
async fn next_reference(db: &mut PgConnection, year: i32) -> sqlx::Result<CaseReference> {
    let n: i32 = sqlx::query_scalar!(
        "INSERT INTO case_reference_counters (year, last_number) VALUES ($1, 1)
         ON CONFLICT (year) DO UPDATE SET last_number = case_reference_counters.last_number + 1
         RETURNING last_number",
        year
    )
    .fetch_one(&mut *db)
    .await?;
    Ok(CaseReference::new(year, n))
}

/// A complete referral, checked, ready to become a case.
pub struct NewCase<'a> {
    pub draft: &'a ReferralDraft,
    pub team_id: Uuid,
    pub owner_id: Uuid,
    /// Now, from the app's clock.
    pub now: DateTime<Utc>,
}

/// Create the case, its referral, its people and its first chronology entries, and number it.
/// Returns (id, reference).
pub async fn create_from_referral(
    db: &mut PgConnection,
    new: NewCase<'_>,
) -> anyhow::Result<(Uuid, CaseReference)> {
    let (now, by) = (new.now, new.owner_id);
    let id = insert_from_referral(&mut *db, new).await?;
    let reference = number_case(&mut *db, id, now, by).await?;
    Ok((id, reference))
}

/// Give a new case its reference (the year's next number) and its "Case ... opened" chronology
/// entry. The year's counter row stays locked until the transaction ends, and every other
/// referral of the year waits for it there: call this last, just before the audit row and the
/// commit (a referral's submission numbered first and held the row through two dozen statements,
/// so referrals queued on it: 85 ms each under load).
pub async fn number_case(
    db: &mut PgConnection,
    id: Uuid,
    now: DateTime<Utc>,
    by: Uuid,
) -> sqlx::Result<CaseReference> {
    let reference = next_reference(&mut *db, now.year()).await?;
    sqlx::query!(
        "UPDATE cases SET reference = $2 WHERE id = $1",
        id,
        reference.as_str()
    )
    .execute(&mut *db)
    .await?;
    add_chronology(
        &mut *db,
        id,
        now,
        "case",
        &format!("Case {reference} opened."),
        None,
        by,
    )
    .await?;
    Ok(reference)
}

/// The case, its referral, its people and its first chronology entries, under a stand-in
/// reference (`new-<id>`, never committed) until [`number_case`] numbers it in the same
/// transaction. Returns the case's id.
pub async fn insert_from_referral(db: &mut PgConnection, new: NewCase<'_>) -> anyhow::Result<Uuid> {
    let d = new.draft;
    let referrer = d
        .referrer
        .as_ref()
        .ok_or_else(|| anyhow::anyhow!("referrer missing"))?;
    let received = d
        .received
        .as_ref()
        .ok_or_else(|| anyhow::anyhow!("received missing"))?;
    let risk = d
        .risk
        .as_ref()
        .ok_or_else(|| anyhow::anyhow!("risk missing"))?;
    let work = d
        .work
        .as_ref()
        .ok_or_else(|| anyhow::anyhow!("work missing"))?;
    let account = d
        .account
        .as_deref()
        .ok_or_else(|| anyhow::anyhow!("account missing"))?;

    let id = Uuid::now_v7();
    let reference = format!("new-{id}");
    let title = case_title(d);
    let search_names = d
        .children
        .iter()
        .map(|c| c.name.as_str())
        .chain(d.adults.iter().map(|a| a.name.as_str()))
        .collect::<Vec<_>>()
        .join(" | ")
        .to_lowercase();
    let concerns: Vec<String> = d.concerns.iter().map(|c| c.code().to_owned()).collect();
    sqlx::query!("INSERT INTO cases (id, reference, team_id, owner_id, title, concern_kinds, immediate_risk, search_names, received_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)", id, &reference, new.team_id, new.owner_id, &title, &concerns, risk.immediate, &search_names, received.at)
    .execute(&mut *db)
    .await?;
    sqlx::query!("INSERT INTO referrals (id, case_id, referrer_name, referrer_role, referrer_agency, referrer_contact, received_at,
                                taken_by, account, immediate_risk, immediate_risk_details, works_with_children, work_details)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)", Uuid::now_v7(), id, &referrer.name, &referrer.role, &referrer.agency, &referrer.contact, received.at, new.owner_id, account, risk.immediate, &risk.details, work.works_with_children.code(), &work.details)
    .execute(&mut *db)
    .await?;
    for c in &d.children {
        let sex = if crate::domain::people::Sex::parse(&c.sex).is_some() {
            c.sex.as_str()
        } else {
            ""
        };
        sqlx::query!("INSERT INTO case_people (id, case_id, kind, full_name, date_of_birth, age_estimate, school, household, sex)
             VALUES ($1, $2, 'child', $3, $4, $5, $6, $7, $8)", Uuid::now_v7(), id, &c.name, c.date_of_birth, c.age_estimate, &c.school, &c.household, sex)
        .execute(&mut *db)
        .await?;
    }
    for a in &d.adults {
        sqlx::query!("INSERT INTO case_people (id, case_id, kind, full_name, household, relationship) VALUES ($1, $2, 'adult', $3, $4, $5)", Uuid::now_v7(), id, &a.name, &a.household, a.relationship.code())
        .execute(&mut *db)
        .await?;
    }
    let kinds: Vec<&str> = d.concerns.iter().map(|c| c.short()).collect();
    add_chronology(
        &mut *db,
        id,
        received.at,
        "referral",
        &format!(
            "Referral received from {} ({}). Concerns: {}.",
            referrer.name,
            referrer.agency,
            kinds.join(", ")
        ),
        None,
        new.owner_id,
    )
    .await?;
    if risk.immediate {
        add_chronology(
            &mut *db,
            id,
            received.at,
            "risk",
            "Referrer reported a child at immediate risk.",
            None,
            new.owner_id,
        )
        .await?;
    }
    Ok(id)
}

/// The line that names a case in lists: the children's names.
pub fn case_title(d: &ReferralDraft) -> String {
    let names: Vec<&str> = d.children.iter().map(|c| c.name.as_str()).collect();
    let t = if names.is_empty() {
        "Child not named".to_owned()
    } else {
        names.join(", ")
    };
    t.chars().take(200).collect()
}

/// Change a case's editable details if nobody else has changed it since `version`.
/// Returns false (and changes nothing) on a stale version.
pub async fn update_details(
    db: impl PgExecutor<'_>,
    id: Uuid,
    version: i32,
    title: &str,
    status: CaseStatus,
) -> sqlx::Result<bool> {
    let r = sqlx::query!("UPDATE cases SET title = $3, status = $4, version = version + 1, updated_at = now() WHERE id = $1 AND version = $2", id, version, title, status.code())
    .execute(db)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// Remember that a form was handled (idempotency), with where its result is shown.
/// Returns `Some(location)` of the earlier handling if this key was already used.
pub async fn claim_submission(
    db: &mut PgConnection,
    key: Uuid,
    user_id: Uuid,
    location: &str,
) -> sqlx::Result<Option<String>> {
    let claimed: Option<Uuid> = sqlx::query_scalar!("INSERT INTO form_submissions (key, user_id, result_location) VALUES ($1, $2, $3) ON CONFLICT (key) DO NOTHING RETURNING key", key, user_id, location)
    .fetch_optional(&mut *db)
    .await?;
    if claimed.is_some() {
        return Ok(None);
    }
    let earlier: Option<String> = sqlx::query_scalar!(
        "SELECT result_location FROM form_submissions WHERE key = $1 AND user_id = $2",
        key,
        user_id
    )
    .fetch_optional(&mut *db)
    .await?;
    Ok(Some(earlier.unwrap_or_else(|| "/".to_owned())))
}

/// Someone a case in `team` may be allocated to: an active practitioner or manager in the team,
/// with how many open cases they hold there.
#[derive(Clone, Debug)]
pub struct Member {
    pub id: Uuid,
    pub name: String,
    pub role: String,
    pub open_cases: i64,
    pub overdue: i64,
}

/// The team's members and their caseloads (each count reads its own index).
pub async fn members_with_caseloads(
    db: impl PgExecutor<'_>,
    team: Uuid,
    now: DateTime<Utc>,
    viewer: &Viewer<'_>,
) -> sqlx::Result<Vec<Member>> {
    // Restricted cases count only for a viewer who may see them: a count must not betray one.
    sqlx::query_as!(
        Member,
        r#"SELECT u.id, u.display_name AS name, u.role,
                  (SELECT count(*) FROM cases c WHERE c.owner_id = u.id AND c.team_id = m.team_id AND c.status <> 'closed'
                     AND (c.restricted = false OR haven_sees_restricted_case(c.id, $3, $4))) AS "open_cases!",
                  (SELECT count(*) FROM deadlines d WHERE d.owner_id = u.id AND d.team_id = m.team_id
                     AND d.met_at IS NULL AND d.ended_at IS NULL AND d.due_at < $2
                     AND NOT EXISTS (SELECT 1 FROM cases r WHERE r.restricted AND r.id = d.case_id
                                     AND NOT haven_sees_restricted_case(r.id, $3, $4))) AS "overdue!"
           FROM team_memberships m JOIN users u ON u.id = m.user_id
           WHERE m.team_id = $1 AND u.disabled_at IS NULL AND u.role IN ('practitioner', 'manager')
           ORDER BY u.display_name, u.id
           LIMIT 500"#,
        team,
        now,
        viewer.user_id,
        viewer.is_lado
    )
    .fetch_all(db)
    .await
}

/// Give the case to `to` if nobody has changed it since `version`; its open deadlines follow.
/// False on a stale form.
pub async fn allocate(
    db: &mut PgConnection,
    case_id: Uuid,
    version: i32,
    to: Uuid,
    by: Uuid,
    at: DateTime<Utc>,
) -> sqlx::Result<bool> {
    let r = sqlx::query!(
        "UPDATE cases SET owner_id = $3, allocated_at = $5, allocated_by = $4, version = version + 1, updated_at = now()
         WHERE id = $1 AND version = $2",
        case_id,
        version,
        to,
        by,
        at
    )
    .execute(&mut *db)
    .await?;
    if r.rows_affected() != 1 {
        return Ok(false);
    }
    sqlx::query!(
        "UPDATE deadlines SET owner_id = $2 WHERE case_id = $1 AND met_at IS NULL AND ended_at IS NULL",
        case_id,
        to
    )
    .execute(&mut *db)
    .await?;
    Ok(true)
}

#[derive(Clone, Debug)]
pub struct SupervisionRow {
    pub id: Uuid,
    pub held_on: chrono::NaiveDate,
    pub discussion: String,
    pub decisions: String,
    pub actions: String,
    pub recorded_by: String,
    pub created_at: DateTime<Utc>,
}

pub async fn supervisions(
    db: impl PgExecutor<'_>,
    case_id: Uuid,
) -> sqlx::Result<Vec<SupervisionRow>> {
    sqlx::query_as!(
        SupervisionRow,
        "SELECT s.id, s.held_on, s.discussion, s.decisions, s.actions, u.display_name AS recorded_by, s.created_at
         FROM case_supervisions s JOIN users u ON u.id = s.recorded_by
         WHERE s.case_id = $1 ORDER BY s.held_on DESC, s.id DESC LIMIT 200",
        case_id
    )
    .fetch_all(db)
    .await
}

pub async fn add_supervision(
    db: impl PgExecutor<'_>,
    case_id: Uuid,
    held_on: chrono::NaiveDate,
    discussion: &str,
    decisions: &str,
    actions: &str,
    by: Uuid,
) -> sqlx::Result<Uuid> {
    let id = Uuid::now_v7();
    sqlx::query!(
        "INSERT INTO case_supervisions (id, case_id, held_on, discussion, decisions, actions, recorded_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
        id,
        case_id,
        held_on,
        discussion,
        decisions,
        actions,
        by
    )
    .execute(db)
    .await?;
    Ok(id)
}

/// A manager has seen the immediate risk. False if it was already acknowledged.
pub async fn acknowledge_risk(
    db: impl PgExecutor<'_>,
    id: Uuid,
    by: Uuid,
    at: DateTime<Utc>,
) -> sqlx::Result<bool> {
    let r = sqlx::query!(
        "UPDATE cases SET risk_acknowledged_at = $3, risk_acknowledged_by = $2
         WHERE id = $1 AND immediate_risk AND risk_acknowledged_at IS NULL",
        id,
        by,
        at
    )
    .execute(db)
    .await?;
    Ok(r.rows_affected() == 1)
}

#[derive(Clone, Debug)]
pub struct PoliceContactRow {
    pub contacted_at: DateTime<Utc>,
    pub officer: String,
    pub reference: String,
    pub recorded_by: String,
}

/// The case's risk state: (acknowledged by whom and when, police contacts).
pub async fn risk_state(
    db: &mut PgConnection,
    id: Uuid,
) -> sqlx::Result<(Option<(String, DateTime<Utc>)>, Vec<PoliceContactRow>)> {
    let ack = sqlx::query!(
        r#"SELECT u.display_name AS "name!", c.risk_acknowledged_at AS "at!"
           FROM cases c JOIN users u ON u.id = c.risk_acknowledged_by WHERE c.id = $1"#,
        id
    )
    .fetch_optional(&mut *db)
    .await?
    .map(|r| (r.name, r.at));
    let contacts = sqlx::query_as!(
        PoliceContactRow,
        "SELECT p.contacted_at, p.officer, p.reference, u.display_name AS recorded_by
         FROM police_contacts p JOIN users u ON u.id = p.recorded_by
         WHERE p.case_id = $1 ORDER BY p.contacted_at LIMIT 50",
        id
    )
    .fetch_all(&mut *db)
    .await?;
    Ok((ack, contacts))
}

pub async fn add_police_contact(
    db: impl PgExecutor<'_>,
    case_id: Uuid,
    at: DateTime<Utc>,
    officer: &str,
    reference: &str,
    by: Uuid,
) -> sqlx::Result<()> {
    sqlx::query!(
        "INSERT INTO police_contacts (id, case_id, contacted_at, officer, reference, recorded_by)
         VALUES ($1, $2, $3, $4, $5, $6)",
        Uuid::now_v7(),
        case_id,
        at,
        officer,
        reference,
        by
    )
    .execute(db)
    .await?;
    Ok(())
}

/// The chronology for printing, oldest first: optionally only some kinds of entry and a range of
/// dates (`from` inclusive, `until` exclusive). Walks `chronology_entries_case_order`.
pub async fn chronology_for_print(
    db: impl PgExecutor<'_>,
    case_id: Uuid,
    kinds: &[String],
    from: Option<DateTime<Utc>>,
    until: Option<DateTime<Utc>>,
    limit: i64,
) -> sqlx::Result<Vec<ChronologyRow>> {
    sqlx::query_as!(
        ChronologyRow,
        r#"SELECT e.id, e.occurred_at, e.kind, e.summary, e.recorded_at, u.display_name AS recorded_by_name,
                  e.note_id, n.body AS "note_body?", n.corrects_note_id AS "corrects_note_id?",
                  EXISTS (SELECT 1 FROM case_notes k WHERE k.corrects_note_id = e.note_id) AS "corrected!",
                  e.occurred_time_known
           FROM chronology_entries e
           JOIN users u ON u.id = e.recorded_by
           LEFT JOIN case_notes n ON n.id = e.note_id
           WHERE e.case_id = $1
             AND (cardinality($2::text[]) = 0 OR e.kind = ANY ($2))
             AND ($3::timestamptz IS NULL OR e.occurred_at >= $3)
             AND ($4::timestamptz IS NULL OR e.occurred_at < $4)
           ORDER BY e.occurred_at, e.id
           LIMIT $5"#,
        case_id,
        kinds,
        from,
        until,
        limit
    )
    .fetch_all(db)
    .await
}

/// The kinds of entry a case's chronology holds (for the print page's filter).
pub async fn chronology_kinds(db: impl PgExecutor<'_>, case_id: Uuid) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar!(
        "SELECT DISTINCT kind FROM chronology_entries WHERE case_id = $1 ORDER BY kind LIMIT 100",
        case_id
    )
    .fetch_all(db)
    .await
}

/// One person found by a name search, with their case.
#[derive(Clone, Debug)]
pub struct PersonMatch {
    pub person_id: Uuid,
    pub full_name: String,
    pub date_of_birth: Option<chrono::NaiveDate>,
    pub case: CaseRow,
}

/// Name search over the people on cases (children and adults), closest match first: the
/// typed words against each name by trigram word similarity, walked in distance order through
/// the GiST index `case_people_team_name` for each of the viewer's teams (so a common surname
/// costs a page of index entries, not every match), or, for one worker's own cases
/// (`f.owner`), walked the same way on `case_people_owner_name` (only that worker's names), with
/// the visibility rule and the optional filters applied to each row. Pages are by position in
/// that order (`offset`: how many were shown before), which a key on the distance alone could
/// not page through, and a later page reads only that many more entries. Equally close names
/// come in the order the index walk gives them: the same from page to page while those names do
/// not change (the statement keeps one plan, `hot`, so every page walks the index), but a name
/// added or changed between two pages can reorder a group of equally close names, so a later
/// page may then repeat or miss one of them, as a page by position always could when names are
/// added. A date of birth narrows it to that date.
///
/// The team and own-cases parts are both in the statement, each switched on or off by whether
/// `f.owner` is given (a condition on parameters alone, decided once before either runs), and
/// neither has an optional condition on its index: so one plan serves both, and the statement
/// can keep its plan (`hot`) instead of being planned at every search.
pub async fn search_people(
    db: impl PgExecutor<'_>,
    viewer: &Viewer<'_>,
    f: &ListFilter,
    name: &str,
    date_of_birth: Option<chrono::NaiveDate>,
    offset: i64,
    limit: i64,
) -> sqlx::Result<Vec<PersonMatch>> {
    let status = f.status.map(CaseStatus::code);
    let concern = f.concern.map(ConcernKind::code);
    let name = name.to_lowercase();
    // Three parts: for each of the viewer's teams, that team's closest names walked in
    // distance order on `case_people_team_name` (a page and a few more, as restricted cases the
    // viewer may not see are dropped afterwards), when the search is not of one worker's cases;
    // when it is, that worker's names on `case_people_owner_name` (each person carries the
    // case's team and owner); and restricted cases the viewer was named on, from any team (few,
    // from `cases_restricted`). Filters on the case's status and concern are checked per person
    // with EXISTS only when asked for. Each walk is ordered by the distance alone, numbered in
    // the order the index gives: a second sort key (the id, say) cannot come from the index, so
    // PostgreSQL would read and sort every match instead (for a worker holding 50,000 cases,
    // 2,400 Smiths and 146 ms instead of 60 names and 1 ms: docs/performance.md, fifth round).
    // Narrowed by a date of birth, a team's walk (and a search of one's own cases) instead reads
    // the team's people born that day (`case_people_team_born`, a few dozen even in the largest
    // team; for one's own cases, those the worker holds) and sorts those by
    // closeness, then by id (this branch sorts, and a sort cut at different lengths on each page
    // would order equally close names differently): walking the names first read every Smith
    // of the largest team to find one's birthday (85 ms against 1 ms, docs/performance.md, ninth
    // round). Each branch is switched off by its parameters, so one generic plan serves both.
    let rows = sqlx::query!(
        r#"WITH found AS (
               SELECT m.id, m.full_name, m.date_of_birth, m.case_id, m.dist, vt.ord, m.rn
               FROM unnest($1::uuid[]) WITH ORDINALITY AS vt(team_id, ord)
               CROSS JOIN LATERAL (
                   SELECT q.*, row_number() OVER () AS rn FROM (
                       (SELECT p.id, p.full_name, p.date_of_birth, p.case_id, $2 <<-> lower(p.full_name) AS dist
                        FROM case_people p
                        WHERE $3::uuid IS NULL AND $10::date IS NULL AND p.team_id = vt.team_id
                          AND $2 <% lower(p.full_name)
                          AND (($4::text IS NULL AND $5::text IS NULL)
                               OR EXISTS (SELECT 1 FROM cases f WHERE f.id = p.case_id
                                          AND ($4::text IS NULL OR f.status = $4)
                                          AND ($5::text IS NULL OR f.concern_kinds @> ARRAY[$5::text])))
                        ORDER BY $2 <<-> lower(p.full_name)
                        LIMIT $6::bigint + $7::bigint + 10)
                       UNION ALL
                       (SELECT p.id, p.full_name, p.date_of_birth, p.case_id, $2 <<-> lower(p.full_name) AS dist
                        FROM case_people p
                        WHERE $3::uuid IS NULL AND $10::date IS NOT NULL AND p.team_id = vt.team_id
                          AND p.date_of_birth = $10
                          AND $2 <% lower(p.full_name)
                          AND (($4::text IS NULL AND $5::text IS NULL)
                               OR EXISTS (SELECT 1 FROM cases f WHERE f.id = p.case_id
                                          AND ($4::text IS NULL OR f.status = $4)
                                          AND ($5::text IS NULL OR f.concern_kinds @> ARRAY[$5::text])))
                        ORDER BY $2 <<-> lower(p.full_name), p.id
                        LIMIT $6::bigint + $7::bigint + 10)
                   ) q
               ) m
               UNION ALL
               SELECT o.id, o.full_name, o.date_of_birth, o.case_id, o.dist, 1, row_number() OVER ()
               FROM (
                   (SELECT p.id, p.full_name, p.date_of_birth, p.case_id, $2 <<-> lower(p.full_name) AS dist
                    FROM case_people p
                    WHERE $3::uuid IS NOT NULL AND $10::date IS NULL AND p.owner_id = $3
                      AND p.team_id = ANY($1::uuid[])
                      AND $2 <% lower(p.full_name)
                      AND (($4::text IS NULL AND $5::text IS NULL)
                           OR EXISTS (SELECT 1 FROM cases f WHERE f.id = p.case_id
                                      AND ($4::text IS NULL OR f.status = $4)
                                      AND ($5::text IS NULL OR f.concern_kinds @> ARRAY[$5::text])))
                    ORDER BY $2 <<-> lower(p.full_name)
                    LIMIT $6::bigint + $7::bigint + 10)
                   UNION ALL
                   (SELECT p.id, p.full_name, p.date_of_birth, p.case_id, $2 <<-> lower(p.full_name) AS dist
                    FROM case_people p
                    WHERE $3::uuid IS NOT NULL AND $10::date IS NOT NULL AND p.team_id = ANY($1::uuid[])
                      AND p.date_of_birth = $10 AND p.owner_id = $3
                      AND $2 <% lower(p.full_name)
                      AND (($4::text IS NULL AND $5::text IS NULL)
                           OR EXISTS (SELECT 1 FROM cases f WHERE f.id = p.case_id
                                      AND ($4::text IS NULL OR f.status = $4)
                                      AND ($5::text IS NULL OR f.concern_kinds @> ARRAY[$5::text])))
                    ORDER BY $2 <<-> lower(p.full_name), p.id
                    LIMIT $6::bigint + $7::bigint + 10)
               ) o
               UNION ALL
               SELECT p.id, p.full_name, p.date_of_birth, p.case_id, $2 <<-> lower(p.full_name), 0,
                      row_number() OVER (ORDER BY p.id)
               FROM cases r JOIN case_people p ON p.case_id = r.id
               WHERE r.restricted AND NOT (r.team_id = ANY($1::uuid[]))
                 AND haven_sees_restricted_case(r.id, $8, $9)
                 AND $2 <% lower(p.full_name)
                 AND ($10::date IS NULL OR p.date_of_birth = $10)
                 AND ($3::uuid IS NULL OR r.owner_id = $3)
                 AND ($4::text IS NULL OR r.status = $4)
                 AND ($5::text IS NULL OR r.concern_kinds @> ARRAY[$5::text])
           )
           SELECT m.id AS "person_id!", m.full_name AS "full_name!", m.date_of_birth,
                  c.id, c.reference, c.team_id,
                  (SELECT t.name FROM teams t WHERE t.id = c.team_id) AS "team_name!",
                  c.owner_id, (SELECT u.display_name FROM users u WHERE u.id = c.owner_id) AS "owner_name!",
                  c.status, c.title, c.concern_kinds, c.immediate_risk, c.received_at, c.created_at,
                  c.updated_at, c.version, c.next_due_at, c.next_due_kind, c.restricted, c.allocated_at
           FROM found m
           JOIN cases c ON c.id = m.case_id
           WHERE (c.restricted = false OR haven_sees_restricted_case(c.id, $8, $9))
           ORDER BY m.dist, m.ord, m.rn
           OFFSET $6 LIMIT $7"#,
        viewer.team_ids,
        name,
        f.owner,
        status,
        concern,
        offset,
        limit,
        viewer.user_id,
        viewer.is_lado,
        date_of_birth
    )
    .fetch_all(db)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| PersonMatch {
            person_id: r.person_id,
            full_name: r.full_name,
            date_of_birth: r.date_of_birth,
            case: CaseRow {
                id: r.id,
                reference: r.reference,
                team_id: r.team_id,
                team_name: r.team_name,
                owner_id: r.owner_id,
                owner_name: r.owner_name,
                status: r.status,
                title: r.title,
                concern_kinds: r.concern_kinds,
                immediate_risk: r.immediate_risk,
                received_at: r.received_at,
                created_at: r.created_at,
                updated_at: r.updated_at,
                version: r.version,
                next_due_at: r.next_due_at,
                next_due_kind: r.next_due_kind,
                restricted: r.restricted,
                allocated_at: r.allocated_at,
            },
        })
        .collect())
}
