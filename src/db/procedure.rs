//! The procedure after a referral, stored: the decision on the referral, strategy discussions
//! (attendees, per-child Section 47 decisions, the considerations, actions, the family decision),
//! Section 47 enquiries and their outcomes, conferences, core groups, milestones and closure.
//!
//! Editable records carry a `version` (optimistic locking); approvals refuse the proposer (also
//! a database constraint). Callers write the audit row, the chronology and recompute deadlines in
//! the same transaction.

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::{PgConnection, PgExecutor};
use uuid::Uuid;

/// An optimistic-locking or state check failed.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// Someone changed the record since the form was shown.
    #[error("changed by someone else")]
    Stale,
    /// The record is not in a state that allows this (e.g. already approved).
    #[error("not allowed now")]
    NotNow,
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

fn stale_if_none(rows: u64) -> Result<(), WriteError> {
    if rows == 1 {
        Ok(())
    } else {
        Err(WriteError::Stale)
    }
}

// The decision on a referral -------------------------------------------------------------------

#[derive(Clone, Debug)]
pub struct DecisionRow {
    pub id: Uuid,
    pub outcome: String,
    pub reasons: String,
    pub proposed_by: Uuid,
    pub proposed_by_name: String,
    pub proposed_at: DateTime<Utc>,
    pub status: String,
    pub reviewed_by_name: Option<String>,
    pub reviewed_at: Option<DateTime<Utc>>,
    pub review_note: String,
    pub referrer_told_at: Option<DateTime<Utc>>,
    pub referrer_told_how: String,
    pub version: i32,
}

/// The decision waiting for approval or approved (at most one), and the last one sent back.
pub async fn decisions(db: impl PgExecutor<'_>, case_id: Uuid) -> sqlx::Result<Vec<DecisionRow>> {
    sqlx::query_as!(
        DecisionRow,
        r#"SELECT d.id, d.outcome, d.reasons, d.proposed_by, p.display_name AS proposed_by_name, d.proposed_at,
                  d.status, r.display_name AS "reviewed_by_name?", d.reviewed_at, d.review_note,
                  d.referrer_told_at, d.referrer_told_how, d.version
           FROM referral_decisions d JOIN users p ON p.id = d.proposed_by LEFT JOIN users r ON r.id = d.reviewed_by
           WHERE d.case_id = $1 ORDER BY d.created_at DESC LIMIT 20"#,
        case_id
    )
    .fetch_all(db)
    .await
}

/// Propose a decision. `NotNow` if one is already waiting or approved.
pub async fn propose_decision(
    db: &mut PgConnection,
    case_id: Uuid,
    outcome: &str,
    reasons: &str,
    by: Uuid,
    at: DateTime<Utc>,
) -> Result<Uuid, WriteError> {
    let id = Uuid::now_v7();
    let r = sqlx::query!(
        "INSERT INTO referral_decisions (id, case_id, outcome, reasons, proposed_by, proposed_at)
         VALUES ($1, $2, $3, $4, $5, $6)",
        id,
        case_id,
        outcome,
        reasons,
        by,
        at
    )
    .execute(&mut *db)
    .await;
    match r {
        Ok(_) => Ok(id),
        Err(sqlx::Error::Database(e)) if e.constraint() == Some("referral_decisions_live") => {
            Err(WriteError::NotNow)
        }
        Err(e) => Err(e.into()),
    }
}

/// Approve or send back a proposed decision.
pub async fn review_decision(
    db: impl PgExecutor<'_>,
    id: Uuid,
    version: i32,
    approve: bool,
    note: &str,
    by: Uuid,
    at: DateTime<Utc>,
) -> Result<(), WriteError> {
    let r = sqlx::query!(
        "UPDATE referral_decisions SET status = $3, review_note = $4, reviewed_by = $5, reviewed_at = $6,
                version = version + 1
         WHERE id = $1 AND version = $2 AND status = 'proposed'",
        id,
        version,
        if approve { "approved" } else { "returned" },
        note,
        by,
        at
    )
    .execute(db)
    .await?;
    stale_if_none(r.rows_affected())
}

pub async fn referrer_told(
    db: impl PgExecutor<'_>,
    id: Uuid,
    version: i32,
    at: DateTime<Utc>,
    how: &str,
    by: Uuid,
) -> Result<(), WriteError> {
    let r = sqlx::query!(
        "UPDATE referral_decisions SET referrer_told_at = $3, referrer_told_how = $4, referrer_told_by = $5,
                version = version + 1
         WHERE id = $1 AND version = $2 AND status = 'approved' AND referrer_told_at IS NULL",
        id,
        version,
        at,
        how,
        by
    )
    .execute(db)
    .await?;
    stale_if_none(r.rows_affected())
}

// Strategy discussions --------------------------------------------------------------------------

#[derive(Clone, Debug)]
pub struct DiscussionRow {
    pub id: Uuid,
    pub case_id: Uuid,
    pub held_at: Option<DateTime<Utc>>,
    pub status: String,
    pub decisions: String,
    pub absent_reason: String,
    pub family_decision: Option<String>,
    pub family_decided_by: String,
    pub family_decided_at: Option<DateTime<Utc>>,
    pub family_agreed: String,
    pub created_at: DateTime<Utc>,
    pub recorded_at: Option<DateTime<Utc>>,
    pub recorded_by_name: Option<String>,
    pub version: i32,
}

pub async fn discussions(
    db: impl PgExecutor<'_>,
    case_id: Uuid,
) -> sqlx::Result<Vec<DiscussionRow>> {
    sqlx::query_as!(
        DiscussionRow,
        r#"SELECT d.id, d.case_id, d.held_at, d.status, d.decisions, d.absent_reason, d.family_decision,
                  d.family_decided_by, d.family_decided_at, d.family_agreed, d.created_at, d.recorded_at,
                  u.display_name AS "recorded_by_name?", d.version
           FROM strategy_discussions d LEFT JOIN users u ON u.id = d.recorded_by
           WHERE d.case_id = $1 ORDER BY d.created_at LIMIT 100"#,
        case_id
    )
    .fetch_all(db)
    .await
}

pub async fn discussion(
    db: impl PgExecutor<'_>,
    case_id: Uuid,
    id: Uuid,
) -> sqlx::Result<Option<DiscussionRow>> {
    sqlx::query_as!(
        DiscussionRow,
        r#"SELECT d.id, d.case_id, d.held_at, d.status, d.decisions, d.absent_reason, d.family_decision,
                  d.family_decided_by, d.family_decided_at, d.family_agreed, d.created_at, d.recorded_at,
                  u.display_name AS "recorded_by_name?", d.version
           FROM strategy_discussions d LEFT JOIN users u ON u.id = d.recorded_by
           WHERE d.case_id = $1 AND d.id = $2"#,
        case_id,
        id
    )
    .fetch_optional(db)
    .await
}

pub async fn create_discussion(
    db: impl PgExecutor<'_>,
    case_id: Uuid,
    by: Uuid,
) -> sqlx::Result<Uuid> {
    let id = Uuid::now_v7();
    sqlx::query!(
        "INSERT INTO strategy_discussions (id, case_id, created_by) VALUES ($1, $2, $3)",
        id,
        case_id,
        by
    )
    .execute(db)
    .await?;
    Ok(id)
}

/// Claim the next version of a draft discussion (every page's save goes through this), so two
/// people saving the same version cannot both succeed.
pub async fn bump_draft(db: impl PgExecutor<'_>, id: Uuid, version: i32) -> Result<(), WriteError> {
    let r = sqlx::query!(
        "UPDATE strategy_discussions SET version = version + 1, updated_at = now()
         WHERE id = $1 AND version = $2 AND status = 'draft'",
        id,
        version
    )
    .execute(db)
    .await?;
    stale_if_none(r.rows_affected())
}

pub async fn set_held_at(db: impl PgExecutor<'_>, id: Uuid, at: DateTime<Utc>) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE strategy_discussions SET held_at = $2 WHERE id = $1",
        id,
        at
    )
    .execute(db)
    .await?;
    Ok(())
}

pub async fn set_decisions(
    db: impl PgExecutor<'_>,
    id: Uuid,
    decisions: &str,
    absent_reason: &str,
) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE strategy_discussions SET decisions = $2, absent_reason = $3 WHERE id = $1",
        id,
        decisions,
        absent_reason
    )
    .execute(db)
    .await?;
    Ok(())
}

pub async fn set_family_decision(
    db: impl PgExecutor<'_>,
    id: Uuid,
    decision: &str,
    decided_by: &str,
    decided_at: DateTime<Utc>,
    agreed: &str,
) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE strategy_discussions SET family_decision = $2, family_decided_by = $3, family_decided_at = $4, family_agreed = $5 WHERE id = $1",
        id,
        decision,
        decided_by,
        decided_at,
        agreed
    )
    .execute(db)
    .await?;
    Ok(())
}

/// The joint decision about telling the family, from the latest recorded discussion that made
/// one: (decision code, who decided, when, what was agreed).
pub async fn family_decision(
    db: impl PgExecutor<'_>,
    case_id: Uuid,
) -> sqlx::Result<Option<(String, String, Option<DateTime<Utc>>, String)>> {
    let row = sqlx::query!(
        r#"SELECT family_decision AS "decision!", family_decided_by, family_decided_at, family_agreed
           FROM strategy_discussions
           WHERE case_id = $1 AND status = 'recorded' AND family_decision IS NOT NULL
           ORDER BY held_at DESC LIMIT 1"#,
        case_id
    )
    .fetch_optional(db)
    .await?;
    Ok(row.map(|r| {
        (
            r.decision,
            r.family_decided_by,
            r.family_decided_at,
            r.family_agreed,
        )
    }))
}

#[derive(Clone, Debug)]
pub struct AttendeeRow {
    pub id: Uuid,
    pub name: String,
    pub agency: String,
    pub role: String,
}

pub async fn attendees(
    db: impl PgExecutor<'_>,
    discussion: Uuid,
) -> sqlx::Result<Vec<AttendeeRow>> {
    sqlx::query_as!(
        AttendeeRow,
        "SELECT id, name, agency, role FROM strategy_attendees WHERE discussion_id = $1 ORDER BY created_at, id LIMIT 100",
        discussion
    )
    .fetch_all(db)
    .await
}

pub async fn add_attendee(
    db: impl PgExecutor<'_>,
    discussion: Uuid,
    name: &str,
    agency: &str,
    role: &str,
) -> sqlx::Result<()> {
    sqlx::query!(
        "INSERT INTO strategy_attendees (id, discussion_id, name, agency, role) VALUES ($1, $2, $3, $4, $5)",
        Uuid::now_v7(),
        discussion,
        name,
        agency,
        role
    )
    .execute(db)
    .await?;
    Ok(())
}

pub async fn remove_attendee(
    db: impl PgExecutor<'_>,
    discussion: Uuid,
    id: Uuid,
) -> sqlx::Result<bool> {
    let r = sqlx::query!(
        "DELETE FROM strategy_attendees WHERE id = $1 AND discussion_id = $2",
        id,
        discussion
    )
    .execute(db)
    .await?;
    Ok(r.rows_affected() == 1)
}

#[derive(Clone, Debug)]
pub struct ChildDecisionRow {
    pub person_id: Uuid,
    pub section47: bool,
    pub started_on: Option<NaiveDate>,
    pub kind: Option<String>,
}

pub async fn child_decisions(
    db: impl PgExecutor<'_>,
    discussion: Uuid,
) -> sqlx::Result<Vec<ChildDecisionRow>> {
    sqlx::query_as!(
        ChildDecisionRow,
        "SELECT person_id, section47, started_on, kind FROM strategy_child_decisions WHERE discussion_id = $1",
        discussion
    )
    .fetch_all(db)
    .await
}

/// Replace the discussion's per-child decisions.
pub async fn set_child_decisions(
    db: &mut PgConnection,
    discussion: Uuid,
    decisions: &[(Uuid, bool, Option<NaiveDate>, Option<&str>)],
) -> sqlx::Result<()> {
    sqlx::query!(
        "DELETE FROM strategy_child_decisions WHERE discussion_id = $1",
        discussion
    )
    .execute(&mut *db)
    .await?;
    for (person, s47, on, kind) in decisions {
        sqlx::query!(
            "INSERT INTO strategy_child_decisions (discussion_id, person_id, section47, started_on, kind) VALUES ($1, $2, $3, $4, $5)",
            discussion,
            person,
            s47,
            *on,
            *kind
        )
        .execute(&mut *db)
        .await?;
    }
    Ok(())
}

#[derive(Clone, Debug)]
pub struct ConsiderationRow {
    pub key: String,
    pub answer: String,
    pub risk: bool,
}

pub async fn considerations(
    db: impl PgExecutor<'_>,
    discussion: Uuid,
) -> sqlx::Result<Vec<ConsiderationRow>> {
    sqlx::query_as!(
        ConsiderationRow,
        "SELECT key, answer, risk FROM strategy_considerations WHERE discussion_id = $1",
        discussion
    )
    .fetch_all(db)
    .await
}

pub async fn set_consideration(
    db: impl PgExecutor<'_>,
    discussion: Uuid,
    key: &str,
    answer: &str,
    risk: bool,
) -> sqlx::Result<()> {
    sqlx::query!(
        "INSERT INTO strategy_considerations (discussion_id, key, answer, risk) VALUES ($1, $2, $3, $4)
         ON CONFLICT (discussion_id, key) DO UPDATE SET answer = EXCLUDED.answer, risk = EXCLUDED.risk",
        discussion,
        key,
        answer,
        risk
    )
    .execute(db)
    .await?;
    Ok(())
}

#[derive(Clone, Debug)]
pub struct ActionRow {
    pub id: Uuid,
    pub action: String,
    pub owner: String,
    pub due_on: NaiveDate,
    pub done_at: Option<DateTime<Utc>>,
}

pub async fn actions(db: impl PgExecutor<'_>, discussion: Uuid) -> sqlx::Result<Vec<ActionRow>> {
    sqlx::query_as!(
        ActionRow,
        "SELECT id, action, owner, due_on, done_at FROM strategy_actions WHERE discussion_id = $1 ORDER BY created_at, id LIMIT 200",
        discussion
    )
    .fetch_all(db)
    .await
}

pub async fn add_action(
    db: impl PgExecutor<'_>,
    discussion: Uuid,
    action: &str,
    owner: &str,
    due_on: NaiveDate,
) -> sqlx::Result<()> {
    sqlx::query!(
        "INSERT INTO strategy_actions (id, discussion_id, action, owner, due_on) VALUES ($1, $2, $3, $4, $5)",
        Uuid::now_v7(),
        discussion,
        action,
        owner,
        due_on
    )
    .execute(db)
    .await?;
    Ok(())
}

pub async fn remove_action(
    db: impl PgExecutor<'_>,
    discussion: Uuid,
    id: Uuid,
) -> sqlx::Result<bool> {
    let r = sqlx::query!(
        "DELETE FROM strategy_actions WHERE id = $1 AND discussion_id = $2 AND done_at IS NULL",
        id,
        discussion
    )
    .execute(db)
    .await?;
    Ok(r.rows_affected() == 1)
}

pub async fn action_done(
    db: impl PgExecutor<'_>,
    discussion: Uuid,
    id: Uuid,
    by: Uuid,
    at: DateTime<Utc>,
) -> sqlx::Result<bool> {
    let r = sqlx::query!(
        "UPDATE strategy_actions SET done_at = $4, done_by = $3 WHERE id = $1 AND discussion_id = $2 AND done_at IS NULL",
        id,
        discussion,
        by,
        at
    )
    .execute(db)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// Record (finish) a draft discussion, and start a Section 47 enquiry for each child it decided
/// on who has none yet. Returns the children whose enquiry started here.
pub async fn record_discussion(
    db: &mut PgConnection,
    case_id: Uuid,
    id: Uuid,
    version: i32,
    by: Uuid,
    at: DateTime<Utc>,
) -> Result<Vec<Uuid>, WriteError> {
    let r = sqlx::query!(
        "UPDATE strategy_discussions SET status = 'recorded', recorded_by = $3, recorded_at = $4,
                version = version + 1, updated_at = now()
         WHERE id = $1 AND version = $2 AND status = 'draft' AND held_at IS NOT NULL",
        id,
        version,
        by,
        at
    )
    .execute(&mut *db)
    .await?;
    stale_if_none(r.rows_affected())?;
    let started = sqlx::query_scalar!(
        "INSERT INTO section47_enquiries (id, case_id, person_id, started_by, started_on, kind)
         SELECT gen_random_uuid(), $1, c.person_id, $2, c.started_on, c.kind
         FROM strategy_child_decisions c
         WHERE c.discussion_id = $2 AND c.section47
         ON CONFLICT (case_id, person_id) DO NOTHING
         RETURNING person_id",
        case_id,
        id
    )
    .fetch_all(&mut *db)
    .await?;
    Ok(started)
}

// Section 47 enquiries ----------------------------------------------------------------------------

#[derive(Clone, Debug)]
pub struct EnquiryRow {
    pub id: Uuid,
    pub person_id: Uuid,
    pub child_name: String,
    pub started_by: Uuid,
    pub started_on: NaiveDate,
    pub kind: String,
    pub outcome: Option<String>,
    pub outcome_reasons: String,
    pub child_in_need_plan: bool,
    pub lado_handover: bool,
    pub harmful_sexual_behaviour: bool,
    pub outcome_status: String,
    pub proposed_by: Option<Uuid>,
    pub proposed_by_name: Option<String>,
    pub proposed_at: Option<DateTime<Utc>>,
    pub reviewed_by_name: Option<String>,
    pub review_note: String,
    pub version: i32,
}

pub async fn enquiries(db: impl PgExecutor<'_>, case_id: Uuid) -> sqlx::Result<Vec<EnquiryRow>> {
    sqlx::query_as!(
        EnquiryRow,
        r#"SELECT e.id, e.person_id, p.full_name AS child_name, e.started_by, e.started_on, e.kind, e.outcome,
                  e.outcome_reasons, e.child_in_need_plan, e.lado_handover, e.harmful_sexual_behaviour,
                  e.outcome_status, e.proposed_by, u.display_name AS "proposed_by_name?", e.proposed_at,
                  r.display_name AS "reviewed_by_name?", e.review_note, e.version
           FROM section47_enquiries e JOIN case_people p ON p.id = e.person_id
           LEFT JOIN users u ON u.id = e.proposed_by LEFT JOIN users r ON r.id = e.reviewed_by
           WHERE e.case_id = $1 ORDER BY e.created_at LIMIT 100"#,
        case_id
    )
    .fetch_all(db)
    .await
}

pub struct OutcomeProposal<'a> {
    pub outcome: &'a str,
    pub reasons: &'a str,
    pub child_in_need_plan: bool,
    pub lado_handover: bool,
    pub harmful_sexual_behaviour: bool,
}

pub async fn propose_outcome(
    db: impl PgExecutor<'_>,
    id: Uuid,
    version: i32,
    p: OutcomeProposal<'_>,
    by: Uuid,
    at: DateTime<Utc>,
) -> Result<(), WriteError> {
    let r = sqlx::query!(
        "UPDATE section47_enquiries SET outcome = $3, outcome_reasons = $4, child_in_need_plan = $5,
                lado_handover = $6, harmful_sexual_behaviour = $7, outcome_status = 'proposed',
                proposed_by = $8, proposed_at = $9, reviewed_by = NULL, reviewed_at = NULL,
                version = version + 1, updated_at = now()
         WHERE id = $1 AND version = $2 AND outcome_status = 'open'",
        id,
        version,
        p.outcome,
        p.reasons,
        p.child_in_need_plan,
        p.lado_handover,
        p.harmful_sexual_behaviour,
        by,
        at
    )
    .execute(db)
    .await?;
    stale_if_none(r.rows_affected())
}

/// Approve an outcome (it takes effect), or send it back (the enquiry is open again).
pub async fn review_outcome(
    db: impl PgExecutor<'_>,
    id: Uuid,
    version: i32,
    approve: bool,
    note: &str,
    by: Uuid,
    at: DateTime<Utc>,
) -> Result<(), WriteError> {
    let r = sqlx::query!(
        "UPDATE section47_enquiries SET outcome_status = $3, review_note = $4, reviewed_by = $5, reviewed_at = $6,
                version = version + 1, updated_at = now()
         WHERE id = $1 AND version = $2 AND outcome_status = 'proposed'",
        id,
        version,
        if approve { "approved" } else { "open" },
        note,
        by,
        at
    )
    .execute(db)
    .await?;
    stale_if_none(r.rows_affected())
}

// Conferences, core groups, milestones ---------------------------------------------------------

#[derive(Clone, Debug)]
pub struct ConferenceRow {
    pub id: Uuid,
    pub person_id: Uuid,
    pub child_name: String,
    pub kind: String,
    pub held_at: DateTime<Utc>,
    pub chair: String,
    pub plan: bool,
    pub category: Option<String>,
    pub lead_social_worker: String,
    pub core_group: String,
}

pub async fn conferences(
    db: impl PgExecutor<'_>,
    case_id: Uuid,
) -> sqlx::Result<Vec<ConferenceRow>> {
    sqlx::query_as!(
        ConferenceRow,
        "SELECT c.id, c.person_id, p.full_name AS child_name, c.kind, c.held_at, c.chair, c.plan, c.category,
                c.lead_social_worker, c.core_group
         FROM child_protection_conferences c JOIN case_people p ON p.id = c.person_id
         WHERE c.case_id = $1 ORDER BY c.held_at LIMIT 200",
        case_id
    )
    .fetch_all(db)
    .await
}

pub struct NewConference<'a> {
    pub case_id: Uuid,
    pub person_id: Uuid,
    pub kind: &'a str,
    pub held_at: DateTime<Utc>,
    pub chair: &'a str,
    pub category: Option<&'a str>,
    pub lead_social_worker: &'a str,
    pub core_group: &'a str,
}

pub async fn add_conference(
    db: impl PgExecutor<'_>,
    c: NewConference<'_>,
    by: Uuid,
) -> sqlx::Result<Uuid> {
    let id = Uuid::now_v7();
    sqlx::query!(
        "INSERT INTO child_protection_conferences (id, case_id, person_id, kind, held_at, chair, plan, category, lead_social_worker, core_group, recorded_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        id,
        c.case_id,
        c.person_id,
        c.kind,
        c.held_at,
        c.chair,
        c.category.is_some(),
        c.category,
        c.lead_social_worker,
        c.core_group,
        by
    )
    .execute(db)
    .await?;
    Ok(id)
}

pub async fn add_core_group(
    db: impl PgExecutor<'_>,
    case_id: Uuid,
    person_id: Uuid,
    held_at: DateTime<Utc>,
    by: Uuid,
) -> sqlx::Result<()> {
    sqlx::query!(
        "INSERT INTO core_group_meetings (id, case_id, person_id, held_at, recorded_by) VALUES ($1, $2, $3, $4, $5)",
        Uuid::now_v7(),
        case_id,
        person_id,
        held_at,
        by
    )
    .execute(db)
    .await?;
    Ok(())
}

#[derive(Clone, Debug)]
pub struct MilestoneRow {
    pub kind: String,
    pub happened_at: DateTime<Utc>,
    pub details: String,
    pub recorded_by_name: String,
}

pub async fn milestones(db: impl PgExecutor<'_>, case_id: Uuid) -> sqlx::Result<Vec<MilestoneRow>> {
    sqlx::query_as!(
        MilestoneRow,
        "SELECT m.kind, m.happened_at, m.details, u.display_name AS recorded_by_name
         FROM case_milestones m JOIN users u ON u.id = m.recorded_by
         WHERE m.case_id = $1 ORDER BY m.happened_at LIMIT 100",
        case_id
    )
    .fetch_all(db)
    .await
}

pub async fn add_milestone(
    db: impl PgExecutor<'_>,
    case_id: Uuid,
    kind: &str,
    at: DateTime<Utc>,
    details: &str,
    by: Uuid,
) -> sqlx::Result<()> {
    sqlx::query!(
        "INSERT INTO case_milestones (id, case_id, kind, happened_at, details, recorded_by) VALUES ($1, $2, $3, $4, $5, $6)",
        Uuid::now_v7(),
        case_id,
        kind,
        at,
        details,
        by
    )
    .execute(db)
    .await?;
    Ok(())
}

// Closing a case ---------------------------------------------------------------------------------

#[derive(Clone, Debug)]
pub struct ClosureRow {
    pub id: Uuid,
    pub reason: String,
    pub proposed_by: Uuid,
    pub proposed_by_name: String,
    pub proposed_at: DateTime<Utc>,
    pub status: String,
    pub reviewed_by_name: Option<String>,
    pub review_note: String,
}

pub async fn closures(db: impl PgExecutor<'_>, case_id: Uuid) -> sqlx::Result<Vec<ClosureRow>> {
    sqlx::query_as!(
        ClosureRow,
        r#"SELECT c.id, c.reason, c.proposed_by, p.display_name AS proposed_by_name, c.proposed_at, c.status,
                  r.display_name AS "reviewed_by_name?", c.review_note
           FROM case_closures c JOIN users p ON p.id = c.proposed_by LEFT JOIN users r ON r.id = c.reviewed_by
           WHERE c.case_id = $1 ORDER BY c.proposed_at DESC LIMIT 20"#,
        case_id
    )
    .fetch_all(db)
    .await
}

pub async fn propose_closure(
    db: impl PgExecutor<'_>,
    case_id: Uuid,
    reason: &str,
    by: Uuid,
    at: DateTime<Utc>,
) -> Result<Uuid, WriteError> {
    let id = Uuid::now_v7();
    let r = sqlx::query!(
        "INSERT INTO case_closures (id, case_id, reason, proposed_by, proposed_at) VALUES ($1, $2, $3, $4, $5)",
        id,
        case_id,
        reason,
        by,
        at
    )
    .execute(db)
    .await;
    match r {
        Ok(_) => Ok(id),
        Err(sqlx::Error::Database(e)) if e.constraint() == Some("case_closures_live") => {
            Err(WriteError::NotNow)
        }
        Err(e) => Err(e.into()),
    }
}

pub async fn review_closure(
    db: impl PgExecutor<'_>,
    id: Uuid,
    approve: bool,
    note: &str,
    by: Uuid,
    at: DateTime<Utc>,
) -> Result<(), WriteError> {
    let r = sqlx::query!(
        "UPDATE case_closures SET status = $2, review_note = $3, reviewed_by = $4, reviewed_at = $5
         WHERE id = $1 AND status = 'proposed'",
        id,
        if approve { "approved" } else { "returned" },
        note,
        by,
        at
    )
    .execute(db)
    .await?;
    stale_if_none(r.rows_affected())
}

/// Set a case's status as the procedure moves it on (strategy, Section 47, closed).
pub async fn set_status(db: impl PgExecutor<'_>, case_id: Uuid, status: &str) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE cases SET status = $2, updated_at = now(), version = version + 1 WHERE id = $1 AND status <> $2",
        case_id,
        status
    )
    .execute(db)
    .await?;
    Ok(())
}

// Waiting for a manager ---------------------------------------------------------------------------
