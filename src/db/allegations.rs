//! Allegations against people who work with children (the LADO path): the record, its escalation
//! steps and breaches, chronology, meetings, strands, immediate actions, the evidence trail,
//! restricted access and break-glass.
//!
//! The visibility rule for an allegation, in every query that reads one: the viewer is a LADO or
//! has been given access (`record_access`, named by the LADO or through an approved break-glass
//! request), and is not the person the allegation is about.

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::{PgConnection, PgExecutor};
use uuid::Uuid;

use crate::domain::lado::{STEPS, step_due};

/// Who is looking.
#[derive(Clone, Copy, Debug)]
pub struct Viewer {
    pub user_id: Uuid,
    pub is_lado: bool,
}

#[derive(Clone, Debug)]
pub struct AllegationRow {
    pub id: Uuid,
    pub reference: String,
    pub owner_id: Uuid,
    pub owner_name: String,
    pub status: String,
    pub contact_kind: String,
    pub contact_at: DateTime<Utc>,
    pub contact_from: String,
    pub source_case_id: Option<Uuid>,
    pub subject_name: String,
    pub subject_role: String,
    pub subject_employer: String,
    pub setting: String,
    pub subject_date_of_birth: Option<NaiveDate>,
    pub subject_scheme_age: Option<i32>,
    pub concern_arose_at: DateTime<Utc>,
    pub concern_how: String,
    pub conduct: String,
    pub harm_tests: Vec<String>,
    pub threshold_met: Option<bool>,
    pub advice_given: String,
    pub case_manager: String,
    pub accused_told_at: Option<DateTime<Utc>>,
    pub accused_told_decided_by: String,
    pub parents_told_at: Option<DateTime<Utc>>,
    pub parents_told_decided_by: String,
    pub outcome: Option<String>,
    pub outcome_on: Option<NaiveDate>,
    pub outcome_reasons: String,
    pub resigned: bool,
    pub settlement: bool,
    pub child_referral_considered: String,
    pub dbs_referred_on: Option<NaiveDate>,
    pub dbs_referred_by: String,
    pub dbs_not_referred_reason: String,
    pub regulator_referral: String,
    pub review_on: Option<NaiveDate>,
    pub lado_file_retain_until: Option<NaiveDate>,
    pub created_at: DateTime<Utc>,
    pub version: i32,
}

/// The allegation, if this viewer may see it (one query, the visibility rule inside).
pub async fn find_visible(
    db: impl PgExecutor<'_>,
    viewer: Viewer,
    id: Uuid,
) -> sqlx::Result<Option<AllegationRow>> {
    sqlx::query_as!(
        AllegationRow,
        r#"SELECT a.id, a.reference, a.owner_id, u.display_name AS owner_name, a.status, a.contact_kind, a.contact_at,
                  a.contact_from, a.source_case_id, a.subject_name, a.subject_role, a.subject_employer, a.setting,
                  a.subject_date_of_birth, a.subject_scheme_age, a.concern_arose_at, a.concern_how, a.conduct,
                  a.harm_tests, a.threshold_met, a.advice_given, a.case_manager, a.accused_told_at,
                  a.accused_told_decided_by, a.parents_told_at, a.parents_told_decided_by, a.outcome, a.outcome_on,
                  a.outcome_reasons, a.resigned, a.settlement, a.child_referral_considered, a.dbs_referred_on,
                  a.dbs_referred_by, a.dbs_not_referred_reason, a.regulator_referral, a.review_on,
                  a.lado_file_retain_until, a.created_at, a.version
           FROM allegations a JOIN users u ON u.id = a.owner_id
           WHERE a.id = $1
             AND a.subject_user_id IS DISTINCT FROM $2
             AND ($3 OR EXISTS (SELECT 1 FROM record_access r WHERE r.record_id = a.id AND r.user_id = $2 AND r.revoked_at IS NULL))"#,
        id,
        viewer.user_id,
        viewer.is_lado
    )
    .fetch_optional(db)
    .await
}

async fn next_reference(db: &mut PgConnection, year: i32) -> sqlx::Result<String> {
    let n: i32 = sqlx::query_scalar!(
        "INSERT INTO allegation_reference_counters (year, last_number) VALUES ($1, 1)
         ON CONFLICT (year) DO UPDATE SET last_number = allegation_reference_counters.last_number + 1
         RETURNING last_number",
        year
    )
    .fetch_one(&mut *db)
    .await?;
    Ok(format!("LADO-{year}-{n:06}"))
}

pub struct NewAllegation<'a> {
    pub owner_id: Uuid,
    pub contact_kind: &'a str,
    pub contact_at: DateTime<Utc>,
    pub contact_from: &'a str,
    pub source_case_id: Option<Uuid>,
    pub subject_name: &'a str,
    pub subject_role: &'a str,
    pub subject_employer: &'a str,
    pub setting: &'a str,
    pub subject_user_id: Option<Uuid>,
    pub concern_arose_at: DateTime<Utc>,
    pub concern_how: &'a str,
    pub conduct: &'a str,
    pub case_manager: &'a str,
}

/// Open an allegation with its steps (each with its due time), its strands, and the LADO's own
/// step already done (they were contacted when the allegation was opened). Returns (id, reference).
pub async fn create(
    db: &mut PgConnection,
    a: NewAllegation<'_>,
    cal: &crate::domain::calendar::Calendar,
    now: DateTime<Utc>,
) -> sqlx::Result<(Uuid, String)> {
    use chrono::Datelike;
    let id = Uuid::now_v7();
    let reference = next_reference(&mut *db, now.year()).await?;
    sqlx::query!(
        "INSERT INTO allegations (id, reference, owner_id, contact_kind, contact_at, contact_from, source_case_id,
                subject_name, subject_role, subject_employer, setting, subject_user_id, concern_arose_at,
                concern_how, conduct, case_manager, created_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $3)",
        id,
        reference,
        a.owner_id,
        a.contact_kind,
        a.contact_at,
        a.contact_from,
        a.source_case_id,
        a.subject_name,
        a.subject_role,
        a.subject_employer,
        a.setting,
        a.subject_user_id,
        a.concern_arose_at,
        a.concern_how,
        a.conduct,
        a.case_manager
    )
    .execute(&mut *db)
    .await?;
    for (code, _, clock) in STEPS {
        let due = step_due(cal, *clock, a.concern_arose_at);
        let (done_at, done_by) = if *code == "contact_lado" {
            (Some(a.contact_at), Some(a.contact_from))
        } else {
            (None, None)
        };
        sqlx::query!(
            "INSERT INTO escalation_steps (allegation_id, step, due_at, done_at, done_by, recorded_by, recorded_at)
             VALUES ($1, $2, $3, $4, $5, $6, CASE WHEN $4::timestamptz IS NULL THEN NULL ELSE $7::timestamptz END)",
            id,
            code,
            due,
            done_at,
            done_by,
            done_at.map(|_| a.owner_id),
            now
        )
        .execute(&mut *db)
        .await?;
    }
    // Contacting the LADO is done when the allegation is opened: late if after its clock, a
    // breach recorded at once with its chronology entry.
    sqlx::query!(
        "WITH found AS (
             INSERT INTO allegation_breaches (allegation_id, step, due_at, detected_at)
             SELECT allegation_id, step, due_at, $2 FROM escalation_steps
             WHERE allegation_id = $1 AND done_at > due_at
             RETURNING allegation_id, due_at
         )
         INSERT INTO allegation_events (id, allegation_id, occurred_at, kind, summary)
         SELECT gen_random_uuid(), f.allegation_id, $2, 'breach',
                'Breach: the LADO was contacted after the close of the working day on which the concern arose ('
                || to_char(f.due_at AT TIME ZONE 'Europe/London', 'HH24:MI on DD Mon YYYY') || ').'
         FROM found f",
        id,
        now
    )
    .execute(&mut *db)
    .await?;
    for strand in ["police", "employer", "social_care"] {
        sqlx::query!(
            "INSERT INTO allegation_strands (allegation_id, strand) VALUES ($1, $2)",
            id,
            strand
        )
        .execute(&mut *db)
        .await?;
    }
    Ok((id, reference))
}

pub async fn add_event(
    db: impl PgExecutor<'_>,
    id: Uuid,
    occurred_at: DateTime<Utc>,
    kind: &str,
    summary: &str,
    by: Option<Uuid>,
) -> sqlx::Result<()> {
    sqlx::query!(
        "INSERT INTO allegation_events (id, allegation_id, occurred_at, kind, summary, recorded_by) VALUES ($1, $2, $3, $4, $5, $6)",
        Uuid::now_v7(),
        id,
        occurred_at,
        kind,
        summary,
        by
    )
    .execute(db)
    .await?;
    Ok(())
}

#[derive(Clone, Debug)]
pub struct EventRow {
    pub occurred_at: DateTime<Utc>,
    pub kind: String,
    pub summary: String,
    pub recorded_by_name: Option<String>,
    pub recorded_at: DateTime<Utc>,
}

pub async fn events(db: impl PgExecutor<'_>, id: Uuid) -> sqlx::Result<Vec<EventRow>> {
    sqlx::query_as!(
        EventRow,
        r#"SELECT e.occurred_at, e.kind, e.summary, u.display_name AS "recorded_by_name?", e.recorded_at
           FROM allegation_events e LEFT JOIN users u ON u.id = e.recorded_by
           WHERE e.allegation_id = $1 ORDER BY e.occurred_at DESC, e.id DESC LIMIT 500"#,
        id
    )
    .fetch_all(db)
    .await
}

#[derive(Clone, Debug)]
pub struct StepRow {
    pub step: String,
    pub due_at: Option<DateTime<Utc>>,
    pub done_at: Option<DateTime<Utc>>,
    pub done_by: Option<String>,
    pub route: Option<String>,
    pub notes: String,
    pub breached_at: Option<DateTime<Utc>>,
}

pub async fn steps(db: impl PgExecutor<'_>, id: Uuid) -> sqlx::Result<Vec<StepRow>> {
    sqlx::query_as!(
        StepRow,
        r#"SELECT s.step, s.due_at, s.done_at, s.done_by, s.route, s.notes, b.detected_at AS "breached_at?"
           FROM escalation_steps s LEFT JOIN allegation_breaches b ON b.allegation_id = s.allegation_id AND b.step = s.step
           WHERE s.allegation_id = $1"#,
        id
    )
    .fetch_all(db)
    .await
}

/// Record a step as done. A step done after it was due is a breach, recorded now if the sweep
/// has not already recorded it. Returns (recorded, breached now).
pub struct StepDone<'a> {
    pub done_at: DateTime<Utc>,
    pub done_by: &'a str,
    pub route: Option<&'a str>,
    pub notes: &'a str,
}

pub async fn record_step(
    db: &mut PgConnection,
    id: Uuid,
    step: &str,
    done: StepDone<'_>,
    by: Uuid,
    now: DateTime<Utc>,
) -> sqlx::Result<(bool, bool)> {
    let StepDone {
        done_at,
        done_by,
        route,
        notes,
    } = done;
    let row = sqlx::query!(
        "UPDATE escalation_steps SET done_at = $3, done_by = $4, route = $5, notes = $6, recorded_by = $7, recorded_at = $8
         WHERE allegation_id = $1 AND step = $2 AND done_at IS NULL
         RETURNING due_at",
        id,
        step,
        done_at,
        done_by,
        route,
        notes,
        by,
        now
    )
    .fetch_optional(&mut *db)
    .await?;
    let Some(row) = row else {
        return Ok((false, false));
    };
    let late = row.due_at.filter(|due| done_at > *due);
    let breached = match late {
        Some(due) => {
            sqlx::query!(
                "INSERT INTO allegation_breaches (allegation_id, step, due_at, detected_at) VALUES ($1, $2, $3, $4)
                 ON CONFLICT DO NOTHING",
                id,
                step,
                due,
                now
            )
            .execute(&mut *db)
            .await?
            .rows_affected()
                == 1
        }
        None => false,
    };
    Ok((true, breached))
}

/// Record every step that has fallen due undone as a breach, with a chronology entry each, in one
/// statement. Run by the server every 30 seconds (several instances may run it at once: the
/// primary key makes it idempotent). Returns how many it recorded.
pub async fn sweep_breaches(db: impl PgExecutor<'_>, now: DateTime<Utc>) -> sqlx::Result<u64> {
    let n = sqlx::query_scalar!(
        r#"WITH found AS (
               INSERT INTO allegation_breaches (allegation_id, step, due_at, detected_at)
               SELECT s.allegation_id, s.step, s.due_at, $1
               FROM escalation_steps s JOIN allegations a ON a.id = s.allegation_id
               WHERE s.done_at IS NULL AND s.ended_at IS NULL AND s.due_at IS NOT NULL AND s.due_at < $1 AND a.status = 'open'
               ON CONFLICT DO NOTHING
               RETURNING allegation_id, step, due_at
           ), logged AS (
               INSERT INTO allegation_events (id, allegation_id, occurred_at, kind, summary)
               SELECT gen_random_uuid(), f.allegation_id, $1, 'breach',
                      'Breach: ' || CASE f.step
                          WHEN 'tell_manager' THEN 'telling a manager'
                          WHEN 'secure_device' THEN 'securing the device'
                          WHEN 'contact_lado' THEN 'contacting the LADO'
                          WHEN 'contact_police' THEN 'contacting the police'
                          ELSE f.step END
                      || ' was not recorded as done by ' || to_char(f.due_at AT TIME ZONE 'Europe/London', 'HH24:MI on DD Mon YYYY') || '.'
               FROM found f
               RETURNING 1
           )
           SELECT count(*) AS "n!" FROM logged"#,
        now
    )
    .fetch_one(db)
    .await?;
    Ok(n as u64)
}

#[derive(Clone, Debug)]
pub struct StrandRow {
    pub strand: String,
    pub status: String,
    pub owner: String,
    pub version: i32,
}

pub async fn strands(db: impl PgExecutor<'_>, id: Uuid) -> sqlx::Result<Vec<StrandRow>> {
    sqlx::query_as!(
        StrandRow,
        "SELECT strand, status, owner, version FROM allegation_strands WHERE allegation_id = $1 ORDER BY strand",
        id
    )
    .fetch_all(db)
    .await
}

pub async fn update_strand(
    db: impl PgExecutor<'_>,
    id: Uuid,
    strand: &str,
    version: i32,
    status: &str,
    owner: &str,
) -> sqlx::Result<bool> {
    let r = sqlx::query!(
        "UPDATE allegation_strands SET status = $4, owner = $5, updated_at = now(), version = version + 1
         WHERE allegation_id = $1 AND strand = $2 AND version = $3",
        id,
        strand,
        version,
        status,
        owner
    )
    .execute(db)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// Claim the next version of the allegation (every change to its own fields goes through this).
pub async fn bump(db: impl PgExecutor<'_>, id: Uuid, version: i32) -> sqlx::Result<bool> {
    let r = sqlx::query!(
        "UPDATE allegations SET version = version + 1, updated_at = now() WHERE id = $1 AND version = $2",
        id,
        version
    )
    .execute(db)
    .await?;
    Ok(r.rows_affected() == 1)
}

pub async fn set_threshold(
    db: impl PgExecutor<'_>,
    id: Uuid,
    harm_tests: &[String],
    advice_given: &str,
) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE allegations SET harm_tests = $2, threshold_met = cardinality($2::text[]) > 0, advice_given = $3,
                status = CASE WHEN cardinality($2::text[]) > 0 THEN 'open' ELSE 'advice_only' END
         WHERE id = $1",
        id,
        harm_tests,
        advice_given
    )
    .execute(db)
    .await?;
    Ok(())
}

pub async fn set_told(
    db: impl PgExecutor<'_>,
    id: Uuid,
    who: &str,
    at: DateTime<Utc>,
    decided_by: &str,
) -> sqlx::Result<()> {
    if who == "accused" {
        sqlx::query!(
            "UPDATE allegations SET accused_told_at = $2, accused_told_decided_by = $3 WHERE id = $1",
            id,
            at,
            decided_by
        )
        .execute(db)
        .await?;
    } else {
        sqlx::query!(
            "UPDATE allegations SET parents_told_at = $2, parents_told_decided_by = $3 WHERE id = $1",
            id,
            at,
            decided_by
        )
        .execute(db)
        .await?;
    }
    Ok(())
}

pub struct OutcomeFields<'a> {
    pub outcome: &'a str,
    pub outcome_on: NaiveDate,
    pub reasons: &'a str,
    pub resigned: bool,
    pub settlement: bool,
    pub child_referral_considered: &'a str,
    pub dbs_referred_on: Option<NaiveDate>,
    pub dbs_referred_by: &'a str,
    pub dbs_not_referred_reason: &'a str,
    pub regulator_referral: &'a str,
    pub subject_date_of_birth: Option<NaiveDate>,
    pub subject_scheme_age: Option<i32>,
    pub review_on: NaiveDate,
    pub lado_file_retain_until: NaiveDate,
}

/// Close the allegation with its outcome. The caller sweeps for breaches first, so a step that
/// fell due moments before is a breach, not silently ended.
pub async fn set_outcome(
    db: impl PgExecutor<'_>,
    id: Uuid,
    o: OutcomeFields<'_>,
    now: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query!(
        "WITH closed AS (
             UPDATE allegations SET outcome = $2, outcome_on = $3, outcome_reasons = $4, resigned = $5, settlement = $6,
                    child_referral_considered = $7, dbs_referred_on = $8, dbs_referred_by = $9,
                    dbs_not_referred_reason = $10, regulator_referral = $11, subject_date_of_birth = $12,
                    subject_scheme_age = $13, review_on = $14, lado_file_retain_until = $15, status = 'closed'
             WHERE id = $1 RETURNING id
         )
         UPDATE escalation_steps SET ended_at = $16 WHERE allegation_id IN (SELECT id FROM closed) AND done_at IS NULL",
        id,
        o.outcome,
        o.outcome_on,
        o.reasons,
        o.resigned,
        o.settlement,
        o.child_referral_considered,
        o.dbs_referred_on,
        o.dbs_referred_by,
        o.dbs_not_referred_reason,
        o.regulator_referral,
        o.subject_date_of_birth,
        o.subject_scheme_age,
        o.review_on,
        o.lado_file_retain_until,
        now
    )
    .execute(db)
    .await?;
    Ok(())
}

#[derive(Clone, Debug)]
pub struct MeetingRow {
    pub kind: String,
    pub held_at: DateTime<Utc>,
    pub notes: String,
}

pub async fn meetings(db: impl PgExecutor<'_>, id: Uuid) -> sqlx::Result<Vec<MeetingRow>> {
    sqlx::query_as!(
        MeetingRow,
        "SELECT kind, held_at, notes FROM allegation_meetings WHERE allegation_id = $1 ORDER BY held_at LIMIT 200",
        id
    )
    .fetch_all(db)
    .await
}

pub async fn add_meeting(
    db: impl PgExecutor<'_>,
    id: Uuid,
    kind: &str,
    held_at: DateTime<Utc>,
    notes: &str,
    by: Uuid,
) -> sqlx::Result<()> {
    sqlx::query!(
        "INSERT INTO allegation_meetings (id, allegation_id, kind, held_at, notes, recorded_by) VALUES ($1, $2, $3, $4, $5, $6)",
        Uuid::now_v7(),
        id,
        kind,
        held_at,
        notes,
        by
    )
    .execute(db)
    .await?;
    Ok(())
}

#[derive(Clone, Debug)]
pub struct ActionRow {
    pub id: Uuid,
    pub action: String,
    pub alternatives: String,
    pub rationale: String,
    pub agreed_by: String,
    pub agreed_at: DateTime<Utc>,
    pub police_view: String,
    pub written_confirmation_at: Option<DateTime<Utc>>,
    pub named_contact: String,
}

pub async fn employee_actions(db: impl PgExecutor<'_>, id: Uuid) -> sqlx::Result<Vec<ActionRow>> {
    sqlx::query_as!(
        ActionRow,
        r#"SELECT x.id, x.action, x.alternatives, x.rationale, x.agreed_by, x.agreed_at, x.police_view,
                  coalesce(x.written_confirmation_at, c.sent_at) AS written_confirmation_at, x.named_contact
           FROM employee_actions x LEFT JOIN employee_action_confirmations c ON c.action_id = x.id
           WHERE x.allegation_id = $1 ORDER BY x.agreed_at LIMIT 50"#,
        id
    )
    .fetch_all(db)
    .await
}

pub struct NewAction<'a> {
    pub action: &'a str,
    pub alternatives: &'a str,
    pub rationale: &'a str,
    pub agreed_by: &'a str,
    pub agreed_at: DateTime<Utc>,
    pub police_view: &'a str,
    pub written_confirmation_at: Option<DateTime<Utc>>,
    pub named_contact: &'a str,
}

pub async fn add_employee_action(
    db: impl PgExecutor<'_>,
    id: Uuid,
    a: NewAction<'_>,
    by: Uuid,
) -> sqlx::Result<()> {
    sqlx::query!(
        "INSERT INTO employee_actions (id, allegation_id, action, alternatives, rationale, agreed_by, agreed_at, police_view, written_confirmation_at, named_contact, recorded_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        Uuid::now_v7(),
        id,
        a.action,
        a.alternatives,
        a.rationale,
        a.agreed_by,
        a.agreed_at,
        a.police_view,
        a.written_confirmation_at,
        a.named_contact,
        by
    )
    .execute(db)
    .await?;
    Ok(())
}

// The evidence trail ------------------------------------------------------------------------------

#[derive(Clone, Debug)]
pub struct EvidenceRow {
    pub id: Uuid,
    pub description: String,
    pub location: String,
    pub secured_by: String,
    pub secured_at: DateTime<Utc>,
}

#[derive(Clone, Debug)]
pub struct TrailRow {
    pub item_id: Uuid,
    pub at: DateTime<Utc>,
    pub kind: String,
    pub words: String,
}

pub async fn evidence(db: impl PgExecutor<'_>, id: Uuid) -> sqlx::Result<Vec<EvidenceRow>> {
    sqlx::query_as!(
        EvidenceRow,
        "SELECT id, description, location, secured_by, secured_at FROM evidence_items WHERE allegation_id = $1 ORDER BY secured_at, id LIMIT 200",
        id
    )
    .fetch_all(db)
    .await
}

/// Everyone who had access to each device and every custody event, in order.
pub async fn evidence_trail(db: impl PgExecutor<'_>, id: Uuid) -> sqlx::Result<Vec<TrailRow>> {
    sqlx::query_as!(
        TrailRow,
        r#"SELECT t.item_id AS "item_id!", t.at AS "at!", t.kind AS "kind!", t.words AS "words!" FROM (
               SELECT a.item_id, a.created_at AS at, 'access' AS kind,
                      a.person || CASE WHEN a.details = '' THEN '' ELSE ': ' || a.details END AS words
               FROM evidence_access a JOIN evidence_items i ON i.id = a.item_id WHERE i.allegation_id = $1
               UNION ALL
               SELECT c.item_id, c.happened_at, c.kind,
                      c.by_person || CASE WHEN c.to_person = '' THEN '' ELSE ' to ' || c.to_person END
                      || CASE WHEN c.details = '' THEN '' ELSE ': ' || c.details END
               FROM custody_events c JOIN evidence_items i ON i.id = c.item_id WHERE i.allegation_id = $1
           ) t ORDER BY t.at LIMIT 2000"#,
        id
    )
    .fetch_all(db)
    .await
}

pub async fn add_evidence(
    db: impl PgExecutor<'_>,
    id: Uuid,
    description: &str,
    location: &str,
    secured_by: &str,
    secured_at: DateTime<Utc>,
    by: Uuid,
) -> sqlx::Result<Uuid> {
    let item = Uuid::now_v7();
    sqlx::query!(
        "INSERT INTO evidence_items (id, allegation_id, description, location, secured_by, secured_at, recorded_by) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        item,
        id,
        description,
        location,
        secured_by,
        secured_at,
        by
    )
    .execute(db)
    .await?;
    Ok(item)
}

/// Does this item belong to this allegation?
pub async fn item_in(db: impl PgExecutor<'_>, id: Uuid, item: Uuid) -> sqlx::Result<bool> {
    Ok(sqlx::query_scalar!(
        r#"SELECT 1 AS "x!" FROM evidence_items WHERE id = $1 AND allegation_id = $2"#,
        item,
        id
    )
    .fetch_optional(db)
    .await?
    .is_some())
}

pub async fn add_evidence_access(
    db: impl PgExecutor<'_>,
    item: Uuid,
    person: &str,
    details: &str,
    by: Uuid,
) -> sqlx::Result<()> {
    sqlx::query!(
        "INSERT INTO evidence_access (id, item_id, person, details, recorded_by) VALUES ($1, $2, $3, $4, $5)",
        Uuid::now_v7(),
        item,
        person,
        details,
        by
    )
    .execute(db)
    .await?;
    Ok(())
}

pub struct NewCustody<'a> {
    pub kind: &'a str,
    pub at: DateTime<Utc>,
    pub by_person: &'a str,
    pub to_person: &'a str,
    pub details: &'a str,
}

pub async fn add_custody_event(
    db: impl PgExecutor<'_>,
    item: Uuid,
    c: NewCustody<'_>,
    by: Uuid,
) -> sqlx::Result<()> {
    sqlx::query!(
        "INSERT INTO custody_events (id, item_id, kind, happened_at, by_person, to_person, details, recorded_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        Uuid::now_v7(),
        item,
        c.kind,
        c.at,
        c.by_person,
        c.to_person,
        c.details,
        by
    )
    .execute(db)
    .await?;
    Ok(())
}

// Access and break-glass --------------------------------------------------------------------------

#[derive(Clone, Debug)]
pub struct AccessRow {
    pub user_id: Uuid,
    pub name: String,
    pub via: String,
    pub created_at: DateTime<Utc>,
}

pub async fn access(db: impl PgExecutor<'_>, record: Uuid) -> sqlx::Result<Vec<AccessRow>> {
    sqlx::query_as!(
        AccessRow,
        "SELECT r.user_id, u.display_name AS name, r.via, r.created_at FROM record_access r JOIN users u ON u.id = r.user_id
         WHERE r.record_id = $1 AND r.revoked_at IS NULL ORDER BY r.created_at LIMIT 200",
        record
    )
    .fetch_all(db)
    .await
}

pub async fn grant(
    db: impl PgExecutor<'_>,
    kind: &str,
    record: Uuid,
    user: Uuid,
    via: &str,
    by: Option<Uuid>,
    reason: &str,
) -> sqlx::Result<()> {
    sqlx::query!(
        "INSERT INTO record_access (id, record_kind, record_id, user_id, via, granted_by, reason)
         SELECT $1, $2, $3, $4, $5, $6, $7
         WHERE NOT EXISTS (SELECT 1 FROM record_access x WHERE x.record_id = $3 AND x.user_id = $4 AND x.revoked_at IS NULL)",
        Uuid::now_v7(),
        kind,
        record,
        user,
        via,
        by,
        reason
    )
    .execute(db)
    .await?;
    Ok(())
}

/// Give someone an allegation and every restricted case linked to it.
pub async fn grant_with_cases(
    db: &mut PgConnection,
    id: Uuid,
    user: Uuid,
    by: Uuid,
) -> sqlx::Result<()> {
    grant(&mut *db, "allegation", id, user, "named", Some(by), "").await?;
    sqlx::query!(
        "INSERT INTO record_access (id, record_kind, record_id, user_id, via, granted_by, reason)
         SELECT gen_random_uuid(), 'case', l.case_id, $2, 'named', $3, 'Given the allegation'
         FROM allegation_cases l JOIN cases c ON c.id = l.case_id
         WHERE l.allegation_id = $1 AND c.restricted
           AND NOT EXISTS (SELECT 1 FROM record_access x WHERE x.record_id = l.case_id AND x.user_id = $2 AND x.revoked_at IS NULL)",
        id,
        user,
        by
    )
    .execute(&mut *db)
    .await?;
    Ok(())
}

/// Take an allegation, and the restricted cases linked to it, away from someone.
pub async fn revoke_with_cases(db: impl PgExecutor<'_>, id: Uuid, user: Uuid) -> sqlx::Result<u64> {
    let r = sqlx::query!(
        "UPDATE record_access SET revoked_at = now()
         WHERE user_id = $2 AND revoked_at IS NULL
           AND (record_id = $1 OR record_id IN (SELECT case_id FROM allegation_cases WHERE allegation_id = $1))",
        id,
        user
    )
    .execute(db)
    .await?;
    Ok(r.rows_affected())
}

pub async fn revoke(db: impl PgExecutor<'_>, record: Uuid, user: Uuid) -> sqlx::Result<u64> {
    let r = sqlx::query!(
        "UPDATE record_access SET revoked_at = now() WHERE record_id = $1 AND user_id = $2 AND revoked_at IS NULL",
        record,
        user
    )
    .execute(db)
    .await?;
    Ok(r.rows_affected())
}

/// A restricted record by its reference, for a break-glass request: (kind, id, subject user).
pub async fn restricted_by_reference(
    db: impl PgExecutor<'_>,
    reference: &str,
) -> sqlx::Result<Option<(String, Uuid, Option<Uuid>)>> {
    let row = sqlx::query!(
        r#"SELECT 'allegation' AS "kind!", id AS "id!", subject_user_id FROM allegations WHERE reference = $1
           UNION ALL
           SELECT 'case', c.id, (SELECT al.subject_user_id FROM allegation_cases l JOIN allegations al ON al.id = l.allegation_id
                                 WHERE l.case_id = c.id AND al.subject_user_id IS NOT NULL LIMIT 1)
           FROM cases c WHERE c.reference = $1 AND c.restricted"#,
        reference
    )
    .fetch_optional(db)
    .await?;
    Ok(row.map(|r| (r.kind, r.id, r.subject_user_id)))
}

pub async fn add_break_glass(
    db: impl PgExecutor<'_>,
    kind: &str,
    record: Uuid,
    user: Uuid,
    reason: &str,
    urgent: bool,
) -> sqlx::Result<Uuid> {
    let id = Uuid::now_v7();
    sqlx::query!(
        "INSERT INTO break_glass_requests (id, record_kind, record_id, user_id, reason, urgent, status) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        id,
        kind,
        record,
        user,
        reason,
        urgent,
        if urgent { "opened_urgently" } else { "pending" }
    )
    .execute(db)
    .await?;
    Ok(id)
}

#[derive(Clone, Debug)]
pub struct BreakGlassRow {
    pub id: Uuid,
    pub record_kind: String,
    pub record_id: Uuid,
    pub reference: Option<String>,
    pub user_id: Uuid,
    pub user_name: String,
    pub reason: String,
    pub status: String,
    pub created_at: DateTime<Utc>,
}

/// Requests waiting for the LADO, and opened records waiting for review.
/// Requests waiting for the LADO `viewer`, never one about a record whose allegation is about them.
pub async fn break_glass_open(
    db: impl PgExecutor<'_>,
    viewer: Uuid,
) -> sqlx::Result<Vec<BreakGlassRow>> {
    sqlx::query_as!(
        BreakGlassRow,
        r#"SELECT b.id, b.record_kind, b.record_id,
                  coalesce((SELECT reference FROM allegations WHERE id = b.record_id), (SELECT reference FROM cases WHERE id = b.record_id)) AS reference,
                  b.user_id, u.display_name AS user_name, b.reason, b.status, b.created_at
           FROM break_glass_requests b JOIN users u ON u.id = b.user_id
           WHERE (b.status = 'pending' OR (b.reviewed_at IS NULL AND b.status IN ('approved', 'opened_urgently')))
             AND NOT EXISTS (SELECT 1 FROM allegations al WHERE al.subject_user_id = $1
                             AND (al.id = b.record_id OR EXISTS (SELECT 1 FROM allegation_cases l WHERE l.allegation_id = al.id AND l.case_id = b.record_id)))
           ORDER BY b.created_at LIMIT 200"#,
        viewer
    )
    .fetch_all(db)
    .await
}

/// One request, for the LADO `viewer` to decide or review (not one about them).
pub async fn break_glass(
    db: impl PgExecutor<'_>,
    id: Uuid,
    viewer: Uuid,
) -> sqlx::Result<Option<BreakGlassRow>> {
    sqlx::query_as!(
        BreakGlassRow,
        r#"SELECT b.id, b.record_kind, b.record_id,
                  coalesce((SELECT reference FROM allegations WHERE id = b.record_id), (SELECT reference FROM cases WHERE id = b.record_id)) AS reference,
                  b.user_id, u.display_name AS user_name, b.reason, b.status, b.created_at
           FROM break_glass_requests b JOIN users u ON u.id = b.user_id WHERE b.id = $1
             AND NOT EXISTS (SELECT 1 FROM allegations al WHERE al.subject_user_id = $2
                             AND (al.id = b.record_id OR EXISTS (SELECT 1 FROM allegation_cases l WHERE l.allegation_id = al.id AND l.case_id = b.record_id)))"#,
        id,
        viewer
    )
    .fetch_optional(db)
    .await
}

pub async fn decide_break_glass(
    db: impl PgExecutor<'_>,
    id: Uuid,
    approve: bool,
    by: Uuid,
    now: DateTime<Utc>,
) -> sqlx::Result<bool> {
    let r = sqlx::query!(
        "UPDATE break_glass_requests SET status = $2::text, decided_by = $3::uuid, decided_at = $4::timestamptz,
                reviewed_by = CASE WHEN $2::text = 'refused' THEN $3::uuid END,
                reviewed_at = CASE WHEN $2::text = 'refused' THEN $4::timestamptz END
         WHERE id = $1 AND status = 'pending'",
        id,
        if approve { "approved" } else { "refused" },
        by,
        now
    )
    .execute(db)
    .await?;
    Ok(r.rows_affected() == 1)
}

pub async fn review_break_glass(
    db: impl PgExecutor<'_>,
    id: Uuid,
    by: Uuid,
    now: DateTime<Utc>,
) -> sqlx::Result<bool> {
    let r = sqlx::query!(
        "UPDATE break_glass_requests SET reviewed_by = $2, reviewed_at = $3
         WHERE id = $1 AND reviewed_at IS NULL AND status IN ('approved', 'opened_urgently')",
        id,
        by,
        now
    )
    .execute(db)
    .await?;
    Ok(r.rows_affected() == 1)
}

// Lists for the LADO --------------------------------------------------------------------------

#[derive(Clone, Debug)]
pub struct ListRow {
    pub id: Uuid,
    pub reference: String,
    pub subject_name: String,
    pub subject_employer: String,
    pub status: String,
    pub contact_at: DateTime<Utc>,
    pub review_on: Option<NaiveDate>,
}

/// Open allegations and recent advice-only contacts, newest first.
pub async fn open_list(
    db: impl PgExecutor<'_>,
    viewer: Uuid,
    limit: i64,
) -> sqlx::Result<Vec<ListRow>> {
    sqlx::query_as!(
        ListRow,
        "SELECT id, reference, subject_name, subject_employer, status, contact_at, review_on FROM allegations
         WHERE status IN ('open', 'advice_only') AND subject_user_id IS DISTINCT FROM $2
         ORDER BY contact_at DESC, id DESC LIMIT $1",
        limit,
        viewer
    )
    .fetch_all(db)
    .await
}

/// Employers' records due for review before `by`.
pub async fn due_for_review(
    db: impl PgExecutor<'_>,
    by: NaiveDate,
    viewer: Uuid,
    limit: i64,
) -> sqlx::Result<Vec<ListRow>> {
    sqlx::query_as!(
        ListRow,
        "SELECT id, reference, subject_name, subject_employer, status, contact_at, review_on FROM allegations
         WHERE review_on IS NOT NULL AND review_on <= $1 AND subject_user_id IS DISTINCT FROM $3
         ORDER BY review_on, id LIMIT $2",
        by,
        limit,
        viewer
    )
    .fetch_all(db)
    .await
}

#[derive(Clone, Debug)]
pub struct DueStepRow {
    pub allegation_id: Uuid,
    pub reference: String,
    pub subject_name: String,
    pub step: String,
    pub due_at: DateTime<Utc>,
    pub breached: bool,
}

/// Undone steps with a clock due before `until` (overdue first), on open allegations.
pub async fn steps_due(
    db: impl PgExecutor<'_>,
    until: DateTime<Utc>,
    viewer: Uuid,
    limit: i64,
) -> sqlx::Result<Vec<DueStepRow>> {
    sqlx::query_as!(
        DueStepRow,
        r#"SELECT s.allegation_id, a.reference, a.subject_name, s.step, s.due_at AS "due_at!",
                  EXISTS (SELECT 1 FROM allegation_breaches b WHERE b.allegation_id = s.allegation_id AND b.step = s.step) AS "breached!"
           FROM escalation_steps s JOIN allegations a ON a.id = s.allegation_id
           WHERE s.done_at IS NULL AND s.ended_at IS NULL AND s.due_at IS NOT NULL AND s.due_at < $1 AND a.status = 'open'
             AND a.subject_user_id IS DISTINCT FROM $3
           ORDER BY s.due_at LIMIT $2"#,
        until,
        limit,
        viewer
    )
    .fetch_all(db)
    .await
}

#[derive(Clone, Debug)]
pub struct BreachRow {
    pub allegation_id: Uuid,
    pub reference: String,
    pub subject_name: String,
    pub step: String,
    pub due_at: DateTime<Utc>,
    pub detected_at: DateTime<Utc>,
    pub done_at: Option<DateTime<Utc>>,
}

/// Breaches not yet acknowledged, newest first.
pub async fn breaches(
    db: impl PgExecutor<'_>,
    viewer: Uuid,
    limit: i64,
) -> sqlx::Result<Vec<BreachRow>> {
    sqlx::query_as!(
        BreachRow,
        "SELECT b.allegation_id, a.reference, a.subject_name, b.step, b.due_at, b.detected_at, s.done_at
         FROM allegation_breaches b JOIN allegations a ON a.id = b.allegation_id
         JOIN escalation_steps s ON s.allegation_id = b.allegation_id AND s.step = b.step
         WHERE b.acknowledged_by IS NULL AND a.subject_user_id IS DISTINCT FROM $2
         ORDER BY b.detected_at DESC LIMIT $1",
        limit,
        viewer
    )
    .fetch_all(db)
    .await
}

pub async fn acknowledge_breach(
    db: impl PgExecutor<'_>,
    id: Uuid,
    step: &str,
    by: Uuid,
) -> sqlx::Result<bool> {
    let r = sqlx::query!(
        "UPDATE allegation_breaches SET acknowledged_by = $3 WHERE allegation_id = $1 AND step = $2 AND acknowledged_by IS NULL",
        id,
        step,
        by
    )
    .execute(db)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// Link a child case to an allegation (and restrict it, if asked).
pub async fn link_case(
    db: &mut PgConnection,
    id: Uuid,
    case_id: Uuid,
    restrict: bool,
    by: Uuid,
) -> sqlx::Result<()> {
    sqlx::query!(
        "INSERT INTO allegation_cases (allegation_id, case_id, linked_by) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
        id,
        case_id,
        by
    )
    .execute(&mut *db)
    .await?;
    if restrict {
        sqlx::query!(
            "UPDATE cases SET restricted = true, updated_at = now() WHERE id = $1",
            case_id
        )
        .execute(&mut *db)
        .await?;
        // The case's worker keeps it, unless the allegation is about them; so does everyone
        // already given the allegation.
        sqlx::query!(
            "INSERT INTO record_access (id, record_kind, record_id, user_id, via, granted_by, reason)
             SELECT gen_random_uuid(), 'case', $2, who.user_id, 'named', $3, 'Linked to an allegation'
             FROM (SELECT c.owner_id AS user_id FROM cases c WHERE c.id = $2
                   UNION SELECT r.user_id FROM record_access r WHERE r.record_id = $1 AND r.revoked_at IS NULL) who
             WHERE who.user_id IS DISTINCT FROM (SELECT subject_user_id FROM allegations WHERE id = $1)
               AND NOT EXISTS (SELECT 1 FROM record_access x WHERE x.record_id = $2 AND x.user_id = who.user_id AND x.revoked_at IS NULL)",
            id,
            case_id,
            by
        )
        .execute(&mut *db)
        .await?;
    }
    Ok(())
}

#[derive(Clone, Debug)]
pub struct LinkedCase {
    pub case_id: Uuid,
    pub reference: String,
    pub restricted: bool,
}

pub async fn linked_cases(db: impl PgExecutor<'_>, id: Uuid) -> sqlx::Result<Vec<LinkedCase>> {
    sqlx::query_as!(
        LinkedCase,
        "SELECT c.id AS case_id, c.reference, c.restricted FROM allegation_cases l JOIN cases c ON c.id = l.case_id
         WHERE l.allegation_id = $1 ORDER BY c.reference LIMIT 100",
        id
    )
    .fetch_all(db)
    .await
}

/// The allegations the annual figures read: contacts in `[from_at, to_at)` and outcomes dated
/// `from..=to`, never one about `viewer` (the same rule as every other read). Both parts read
/// their own index.
pub async fn report_rows(
    db: impl PgExecutor<'_>,
    from_at: DateTime<Utc>,
    to_at: DateTime<Utc>,
    from: NaiveDate,
    to: NaiveDate,
    viewer: Uuid,
) -> sqlx::Result<Vec<crate::domain::lado_report::Row>> {
    sqlx::query_as!(
        crate::domain::lado_report::Row,
        "SELECT id, setting, contact_kind, subject_employer, contact_at, concern_arose_at, threshold_met, outcome, outcome_on
         FROM allegations
         WHERE ((contact_at >= $1 AND contact_at < $2) OR (outcome_on >= $3 AND outcome_on <= $4))
           AND subject_user_id IS DISTINCT FROM $5
         ORDER BY contact_at, id",
        from_at,
        to_at,
        from,
        to,
        viewer
    )
    .fetch_all(db)
    .await
}

/// Record that written confirmation of an action was sent, once; false if the action is not on
/// this allegation or its confirmation is already recorded.
pub async fn confirm_action(
    db: &mut PgConnection,
    allegation: Uuid,
    action: Uuid,
    sent_at: DateTime<Utc>,
    by: Uuid,
) -> sqlx::Result<bool> {
    let r = sqlx::query!(
        "INSERT INTO employee_action_confirmations (action_id, sent_at, recorded_by)
         SELECT x.id, $3, $4 FROM employee_actions x
         WHERE x.id = $2 AND x.allegation_id = $1 AND x.written_confirmation_at IS NULL
         ON CONFLICT (action_id) DO NOTHING",
        allegation,
        action,
        sent_at,
        by
    )
    .execute(db)
    .await?;
    Ok(r.rows_affected() == 1)
}
