//! Deadlines: the facts of a case read for `domain::deadlines::derive`, its result stored (so
//! dashboards read an index), and the lists and counts people see.
//!
//! `recompute` runs in the transaction of every event that can start or meet a clock. It is
//! idempotent: the same facts give the same rows and no changes. It returns what changed, so the
//! caller can say so in the chronology.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgExecutor};
use uuid::Uuid;

use crate::domain::calendar::Calendar;
use crate::domain::deadlines::{
    Change, ConferenceFacts, DecisionFacts, DiscussionFacts, EnquiryFacts, Facts, Kind, Settings,
    derive,
};
use crate::domain::procedure::{DecisionOutcome, Section47Outcome};

/// Read everything the clocks depend on, with the children's names.
pub async fn facts(
    db: &mut PgConnection,
    case_id: Uuid,
) -> sqlx::Result<(Facts, HashMap<Uuid, String>)> {
    let case = sqlx::query!(
        r#"SELECT c.received_at, c.immediate_risk, c.status,
                  coalesce((SELECT r.works_with_children = 'yes' FROM referrals r WHERE r.case_id = c.id ORDER BY r.created_at LIMIT 1), false) AS "works!",
                  (SELECT max(x.reviewed_at) FROM case_closures x WHERE x.case_id = c.id AND x.status = 'approved') AS closed_at
           FROM cases c WHERE c.id = $1"#,
        case_id
    )
    .fetch_one(&mut *db)
    .await?;
    let decision = sqlx::query!(
        "SELECT outcome, status, reviewed_at, referrer_told_at FROM referral_decisions
         WHERE case_id = $1 AND status <> 'returned'",
        case_id
    )
    .fetch_optional(&mut *db)
    .await?
    .and_then(|d| {
        Some(DecisionFacts {
            outcome: DecisionOutcome::parse(&d.outcome)?,
            approved_at: if d.status == "approved" {
                d.reviewed_at
            } else {
                None
            },
            referrer_told_at: d.referrer_told_at,
        })
    });
    let discussions = sqlx::query!(
        r#"SELECT id, held_at AS "held_at!" FROM strategy_discussions
           WHERE case_id = $1 AND status = 'recorded' AND held_at IS NOT NULL"#,
        case_id
    )
    .fetch_all(&mut *db)
    .await?
    .into_iter()
    .map(|d| DiscussionFacts {
        id: d.id,
        held_at: d.held_at,
    })
    .collect();
    let enquiries = sqlx::query!(
        "SELECT person_id, started_by, outcome, outcome_status FROM section47_enquiries WHERE case_id = $1",
        case_id
    )
    .fetch_all(&mut *db)
    .await?
    .into_iter()
    .map(|e| EnquiryFacts {
        child: e.person_id,
        started_by: e.started_by,
        outcome: if e.outcome_status == "approved" {
            e.outcome.as_deref().and_then(Section47Outcome::parse)
        } else {
            None
        },
    })
    .collect();
    let conferences = sqlx::query!(
        "SELECT id, person_id, kind, held_at, plan FROM child_protection_conferences WHERE case_id = $1",
        case_id
    )
    .fetch_all(&mut *db)
    .await?
    .into_iter()
    .map(|c| ConferenceFacts {
        id: c.id,
        child: c.person_id,
        initial: c.kind == "initial",
        held_at: c.held_at,
        plan: c.plan,
    })
    .collect();
    let core_groups = sqlx::query!(
        "SELECT person_id, held_at FROM core_group_meetings WHERE case_id = $1",
        case_id
    )
    .fetch_all(&mut *db)
    .await?
    .into_iter()
    .map(|c| (c.person_id, c.held_at))
    .collect();
    let milestones = sqlx::query!(
        r#"SELECT kind, min(happened_at) AS "at!" FROM case_milestones WHERE case_id = $1 GROUP BY kind"#,
        case_id
    )
    .fetch_all(&mut *db)
    .await?;
    let milestone = |k: &str| milestones.iter().find(|m| m.kind == k).map(|m| m.at);
    let names = sqlx::query!(
        "SELECT id, full_name FROM case_people WHERE case_id = $1 AND kind = 'child' LIMIT 200",
        case_id
    )
    .fetch_all(&mut *db)
    .await?
    .into_iter()
    .map(|p| (p.id, p.full_name))
    .collect();
    Ok((
        Facts {
            received_at: case.received_at,
            immediate_risk: case.immediate_risk,
            works_with_children: case.works,
            decision,
            discussions,
            enquiries,
            conferences,
            core_groups,
            assessment_completed_at: milestone("assessment_completed"),
            lado_told_at: milestone("lado_told"),
            closed_at: case.closed_at,
        },
        names,
    ))
}

struct Existing {
    id: Uuid,
    kind: String,
    person_id: Option<Uuid>,
    seq: i32,
    due_at: DateTime<Utc>,
    local_due_at: Option<DateTime<Utc>>,
    met_at: Option<DateTime<Utc>>,
    ended_at: Option<DateTime<Utc>>,
}

/// Derive the case's deadlines from its facts and store them. Returns what changed and the
/// children's names (for the words in the chronology).
pub async fn recompute(
    db: &mut PgConnection,
    case_id: Uuid,
    cal: &Calendar,
    settings: Settings,
) -> sqlx::Result<(Vec<Change>, HashMap<Uuid, String>)> {
    // The case row first, then its deadlines: the same order as allocation
    // (`db::cases::allocate`), so the two never deadlock, and a deadline inserted here takes the
    // owner the case has once any allocation in flight has committed.
    sqlx::query!("SELECT id FROM cases WHERE id = $1 FOR UPDATE", case_id)
        .fetch_optional(&mut *db)
        .await?;
    let (facts, names) = facts(&mut *db, case_id).await?;
    let derived = derive(&facts, cal, settings);
    let existing = sqlx::query_as!(
        Existing,
        "SELECT id, kind, person_id, seq, due_at, local_due_at, met_at, ended_at FROM deadlines WHERE case_id = $1 FOR UPDATE",
        case_id
    )
    .fetch_all(&mut *db)
    .await?;
    let mut changes = Vec::new();
    let mut kept = Vec::new();
    for d in &derived {
        let found = existing
            .iter()
            .find(|e| e.kind == d.kind.code() && e.person_id == d.child && e.seq == d.seq);
        match found {
            None => {
                sqlx::query!(
                    "INSERT INTO deadlines (id, case_id, team_id, owner_id, kind, person_id, seq, started_by, started_at, due_at, local_due_at, met_at, met_by, ended_at)
                     SELECT $1, c.id, c.team_id, c.owner_id, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12 FROM cases c WHERE c.id = $2",
                    Uuid::now_v7(), case_id, d.kind.code(), d.child, d.seq, d.started_by, d.started_at, d.due_at, d.local_due_at, d.met_at, d.met_by, d.ended_at
                )
                .execute(&mut *db)
                .await?;
                changes.push(Change::Set(d.clone()));
                if d.met_late() {
                    changes.push(Change::MetLate(d.clone()));
                }
            }
            Some(e) => {
                kept.push(e.id);
                let same = e.due_at == d.due_at
                    && e.local_due_at == d.local_due_at
                    && e.met_at == d.met_at
                    && e.ended_at == d.ended_at;
                if same {
                    continue;
                }
                sqlx::query!(
                    "UPDATE deadlines SET started_by = $2, started_at = $3, due_at = $4, local_due_at = $5,
                            met_at = $6, met_by = $7, ended_at = $8, updated_at = now()
                     WHERE id = $1",
                    e.id, d.started_by, d.started_at, d.due_at, d.local_due_at, d.met_at, d.met_by, d.ended_at
                )
                .execute(&mut *db)
                .await?;
                if e.due_at != d.due_at || e.local_due_at != d.local_due_at {
                    changes.push(Change::Moved {
                        from: e.due_at,
                        to: d.clone(),
                    });
                }
                if e.met_at.is_none() && d.met_late() {
                    changes.push(Change::MetLate(d.clone()));
                }
            }
        }
    }
    for e in existing.iter().filter(|e| {
        !kept.contains(&e.id)
            && !derived
                .iter()
                .any(|d| d.kind.code() == e.kind && d.child == e.person_id && d.seq == e.seq)
    }) {
        sqlx::query!("DELETE FROM deadlines WHERE id = $1", e.id)
            .execute(&mut *db)
            .await?;
        if let Some(kind) = Kind::parse(&e.kind) {
            changes.push(Change::Dropped {
                kind,
                child: e.person_id,
            });
        }
    }
    let next = derived
        .iter()
        .filter(|d| d.met_at.is_none() && d.ended_at.is_none())
        .min_by_key(|d| d.due_at);
    sqlx::query!(
        "UPDATE cases SET next_due_at = $2, next_due_kind = $3 WHERE id = $1 AND (next_due_at IS DISTINCT FROM $2 OR next_due_kind IS DISTINCT FROM $3)",
        case_id,
        next.map(|d| d.due_at),
        next.map(|d| d.kind.code())
    )
    .execute(&mut *db)
    .await?;
    Ok((changes, names))
}

/// One stored deadline, as the case page and dashboards show it.
#[derive(Clone, Debug)]
pub struct DeadlineRow {
    pub id: Uuid,
    pub case_id: Uuid,
    pub reference: String,
    pub title: String,
    pub kind: String,
    pub child_name: Option<String>,
    pub started_by: String,
    pub due_at: DateTime<Utc>,
    pub local_due_at: Option<DateTime<Utc>>,
    pub met_at: Option<DateTime<Utc>>,
    pub met_by: Option<String>,
    pub ended_at: Option<DateTime<Utc>>,
    pub late_reason: Option<String>,
}

/// Every deadline of one case, soonest first.
pub async fn for_case(db: impl PgExecutor<'_>, case_id: Uuid) -> sqlx::Result<Vec<DeadlineRow>> {
    sqlx::query_as!(
        DeadlineRow,
        r#"SELECT d.id, d.case_id, c.reference, c.title, d.kind, p.full_name AS "child_name?", d.started_by,
                  d.due_at, d.local_due_at, d.met_at, d.met_by, d.ended_at, d.late_reason
           FROM deadlines d JOIN cases c ON c.id = d.case_id LEFT JOIN case_people p ON p.id = d.person_id
           WHERE d.case_id = $1
           ORDER BY (d.met_at IS NULL AND d.ended_at IS NULL) DESC, d.due_at, d.kind
           LIMIT 200"#,
        case_id
    )
    .fetch_all(db)
    .await
}

/// One open deadline as a dashboard or the open-deadlines list shows it.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct OpenRow {
    /// Which of the asked-for ranges it falls in (0 for the first).
    pub section: i32,
    pub id: Uuid,
    pub case_id: Uuid,
    pub reference: String,
    pub title: String,
    pub kind: String,
    pub child_name: Option<String>,
    pub due_at: DateTime<Utc>,
}

/// Open deadlines of the cases a person works (`owner`) or of the viewer's teams' cases, in
/// ranges of due time: for each range `[from, to)` of `ranges`, at most `limit` of its
/// deadlines the viewer may see, most urgent first (due time, then id), after the key `after`
/// (the due time and id of the last one shown) if given. The key is the cursor itself, not a
/// deadline to look up, so a deadline met, moved, reallocated or removed between pages changes
/// nothing, and a key names nothing the viewer could not see anyway.
///
/// Each range starts its index scan at one key, `(due, id)` after the cursor or at the range's
/// start (with both as separate conditions PostgreSQL may start at the cursor's and walk every
/// earlier deadline of the team), and restricted cases the viewer may not see are passed over
/// before the limit (an anti-join on the restricted cases' ids), so they never cut a page short.
/// (Joining each team's deadlines to their cases inside the limit instead made the generic plan
/// take 25 ms before its first row: see `bench/explain-dashboards.sql`.) One statement, one index
/// range a team (or person) and range, never the whole table: the dashboards ask for three
/// ranges (overdue, due today, due soon), the open-deadlines list for one page of one. Without
/// an owner this is [`team_deadlines`] without Team work's other parts.
pub async fn open_in_ranges(
    db: impl PgExecutor<'_>,
    owner: Option<Uuid>,
    viewer: &crate::db::cases::Viewer<'_>,
    ranges: &[(DateTime<Utc>, DateTime<Utc>)],
    after: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> sqlx::Result<Vec<OpenRow>> {
    let teams = viewer.team_ids;
    let from: Vec<DateTime<Utc>> = ranges.iter().map(|r| r.0).collect();
    let to: Vec<DateTime<Utc>> = ranges.iter().map(|r| r.1).collect();
    let (after_due, after_id) = (after.map(|a| a.0), after.map(|a| a.1));
    if let Some(owner) = owner {
        return sqlx::query_as!(
            OpenRow,
            r#"SELECT (b.n - 1)::int AS "section!", d.id AS "id!", d.case_id AS "case_id!", d.reference AS "reference!",
                      d.title AS "title!", d.kind AS "kind!", d.child_name AS "child_name?", d.due_at AS "due_at!"
               FROM unnest($2::timestamptz[], $3::timestamptz[]) WITH ORDINALITY AS b(lo, hi, n)
               CROSS JOIN LATERAL (
                   SELECT CASE WHEN $4::timestamptz >= b.lo THEN $4 ELSE b.lo END AS due_at,
                          CASE WHEN $4::timestamptz >= b.lo THEN $5::uuid ELSE '00000000-0000-0000-0000-000000000000' END AS id) s
               CROSS JOIN LATERAL (
                   SELECT x.id, x.case_id, c.reference, c.title, x.kind, p.full_name AS child_name, x.due_at
                   FROM deadlines x JOIN cases c ON c.id = x.case_id LEFT JOIN case_people p ON p.id = x.person_id
                   WHERE x.owner_id = $1 AND x.met_at IS NULL AND x.ended_at IS NULL
                     AND (x.due_at, x.id) > (s.due_at, s.id) AND x.due_at < b.hi
                     AND ((c.restricted = false AND c.team_id = ANY($6::uuid[])) OR (c.restricted AND haven_sees_restricted_case(c.id, $7, $8)))
                   ORDER BY x.due_at, x.id
                   LIMIT $9) d
               ORDER BY b.n, d.due_at, d.id"#,
            owner,
            &from,
            &to,
            after_due,
            after_id,
            teams,
            viewer.user_id,
            viewer.is_lado,
            limit
        )
        .fetch_all(db)
        .await;
    }
    team_deadlines(db, viewer, ranges, after, limit, None)
        .await
        .map(|(rows, _)| rows)
}

/// Counts for the navigation: (overdue, due by the end of today) for a person's own cases.
pub async fn counts_for_owner(
    db: impl PgExecutor<'_>,
    owner: Uuid,
    now: DateTime<Utc>,
    end_of_today: DateTime<Utc>,
) -> sqlx::Result<(i64, i64)> {
    let r = sqlx::query!(
        r#"SELECT count(*) FILTER (WHERE due_at <= $2) AS "overdue!",
                  count(*) FILTER (WHERE due_at > $2) AS "today!"
           FROM deadlines d WHERE owner_id = $1 AND met_at IS NULL AND ended_at IS NULL AND due_at <= $3
             AND NOT EXISTS (SELECT 1 FROM cases r WHERE r.restricted AND r.id = d.case_id
                             AND NOT haven_sees_restricted_case(r.id, $1, false))"#,
        owner,
        now,
        end_of_today
    )
    .fetch_one(db)
    .await?;
    Ok((r.overdue, r.today))
}

/// A case with a child at immediate risk that no manager has acknowledged.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct RiskRow {
    pub id: Uuid,
    pub reference: String,
    pub title: String,
    pub received_at: DateTime<Utc>,
}

/// A decision, Section 47 outcome or closure proposed and waiting for a manager.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct WaitingRow {
    /// The proposal's own id (a decision's, an enquiry's or a closure's).
    pub id: Uuid,
    pub case_id: Uuid,
    pub reference: String,
    pub title: String,
    /// "decision", "outcome" or "closure".
    pub what: String,
    pub proposed_by_name: String,
    pub proposed_at: DateTime<Utc>,
}

#[derive(Debug, Clone, serde::Deserialize)]
struct TimelinessRow {
    kind: String,
    in_time: i64,
    met: i64,
}

/// What "Team work" shows besides the deadlines, for the viewer's teams.
#[derive(Debug, Clone, Default)]
pub struct TeamOverview {
    /// Unacknowledged immediate risks in open cases, newest first (at most `risk_limit`).
    pub risks: Vec<RiskRow>,
    /// Proposals waiting for approval, oldest first (at most `waiting_limit`).
    pub waiting: Vec<WaitingRow>,
    /// For each of `kinds`, in the order given: (met in time, met) since `since_day`.
    pub timeliness: Vec<(i64, i64)>,
}

/// What Team work asks for besides the deadlines (see [`team_deadlines`]).
#[derive(Debug, Clone, Copy)]
pub struct OverviewAsk<'a> {
    /// The timeliness measures, by the kind of deadline met.
    pub kinds: &'a [Kind],
    /// Timeliness counts what was met on this London date or later.
    pub since_day: chrono::NaiveDate,
    pub risk_limit: i64,
    pub waiting_limit: i64,
    /// Continue the waiting proposals after this key (proposed at, id): the last one shown.
    pub waiting_after: Option<(DateTime<Utc>, Uuid)>,
    /// Continue the risks (newest first) after this key (received at, id): the last one shown.
    pub risks_after: Option<(DateTime<Utc>, Uuid)>,
}

/// The open deadlines of the viewer's teams' cases, in ranges of due time, exactly as
/// [`open_in_ranges`] describes; and, with `overview`, what else Team work shows, in the same
/// statement (one round trip for the whole dashboard's reading):
///
/// - **risks**: each team's unacknowledged immediate risks, walked on
///   `cases_risk_unacknowledged` newest first (received time, then id) from the key
///   `risks_after` on if given (migration 0032), and stopped at the limit (a team with
///   thousands of closed cases behind is not read through);
/// - **waiting**: decisions, outcomes and closures proposed in these teams, oldest first (by
///   proposed time, then id), after `waiting_after` if given: each team's oldest of each kind,
///   walked on the partial indexes `*_team_waiting` from the key on (migrations 0028 and 0031;
///   each proposal carries its case's team), restricted cases the viewer may not see passed over
///   before the limit, and only the oldest `waiting_limit` of them all joined to their cases
///   (and their proposers' names looked up one by one: as a join, the kept plan read and hashed
///   every account, 600 in the benchmark, for 26 names).
///   The approvals list pages through them with this part alone (no ranges, no timeliness
///   kinds, no risks: those parts then read nothing), and the risks list likewise;
/// - **timeliness** over the days since `since_day` (London dates): the figures kept per team,
///   kind and day in `timeliness_days`, plus the changes not folded into them yet
///   (`timeliness_changes`, see [`fold_timeliness`]), plus the restricted cases of those teams
///   the viewer may see, counted from their deadlines (the kept figures leave all restricted
///   cases out).
///
/// Without `overview` those parts are not run at all (each is behind `CASE WHEN $9`, which a
/// generic plan keeps as a one-time test) and come back empty; nor are the risks with a
/// `risk_limit` of 0, the waiting proposals with a `waiting_limit` of 0, nor the timeliness
/// without `kinds`.
pub async fn team_deadlines(
    db: impl PgExecutor<'_>,
    viewer: &crate::db::cases::Viewer<'_>,
    ranges: &[(DateTime<Utc>, DateTime<Utc>)],
    after: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
    overview: Option<OverviewAsk<'_>>,
) -> sqlx::Result<(Vec<OpenRow>, TeamOverview)> {
    use sqlx::types::Json;
    let from: Vec<DateTime<Utc>> = ranges.iter().map(|r| r.0).collect();
    let to: Vec<DateTime<Utc>> = ranges.iter().map(|r| r.1).collect();
    let (after_due, after_id) = (after.map(|a| a.0), after.map(|a| a.1));
    // Before every proposal: the start of the list.
    let waiting_after = overview.and_then(|o| o.waiting_after).unwrap_or((
        DateTime::<Utc>::from_timestamp(-2_208_988_800, 0).unwrap_or_default(),
        Uuid::nil(),
    ));
    // After every risk (newest first): the start of that list.
    let risks_after = overview.and_then(|o| o.risks_after).unwrap_or((
        DateTime::<Utc>::from_timestamp(253_402_300_799, 0).unwrap_or_default(),
        Uuid::max(),
    ));
    let codes: Vec<&str> = overview
        .map(|o| o.kinds.iter().map(|k| k.code()).collect())
        .unwrap_or_default();
    let row = sqlx::query!(
        r#"SELECT
             (SELECT coalesce(json_agg(o ORDER BY o.section, o.due_at, o.id), '[]') FROM (
                 SELECT (b.n - 1)::int AS section, d.id, d.case_id, d.reference, d.title, d.kind, d.child_name, d.due_at
                 FROM unnest($4::timestamptz[], $5::timestamptz[]) WITH ORDINALITY AS b(lo, hi, n)
                 CROSS JOIN LATERAL (
                     SELECT CASE WHEN $6::timestamptz >= b.lo THEN $6 ELSE b.lo END AS due_at,
                            CASE WHEN $6::timestamptz >= b.lo THEN $7::uuid ELSE '00000000-0000-0000-0000-000000000000' END AS id) s
                 CROSS JOIN LATERAL (
                     SELECT x.id, x.case_id, c.reference, c.title, x.kind, p.full_name AS child_name, x.due_at
                     FROM unnest($1::uuid[]) AS vt(team_id)
                     CROSS JOIN LATERAL (
                         SELECT y.id, y.case_id, y.kind, y.person_id, y.due_at
                         FROM deadlines y
                         WHERE y.team_id = vt.team_id AND y.met_at IS NULL AND y.ended_at IS NULL
                           AND (y.due_at, y.id) > (s.due_at, s.id) AND y.due_at < b.hi
                           AND NOT EXISTS (SELECT 1 FROM cases r WHERE r.id = y.case_id AND r.restricted
                                           AND NOT haven_sees_restricted_case(r.id, $2, $3))
                         ORDER BY y.due_at, y.id
                         LIMIT $8) x
                     JOIN cases c ON c.id = x.case_id
                     LEFT JOIN case_people p ON p.id = x.person_id
                     ORDER BY x.due_at, x.id
                     LIMIT $8) d) o) AS "deadlines!: Json<Vec<OpenRow>>",
             CASE WHEN $9::boolean AND $10::bigint > 0 THEN (SELECT coalesce(json_agg(r ORDER BY r.received_at DESC, r.id DESC), '[]') FROM (
                 SELECT c.id, c.reference, c.title, c.received_at
                 FROM unnest($1::uuid[]) AS vt(team_id)
                 CROSS JOIN LATERAL (
                     SELECT x.id, x.reference, x.title, x.received_at FROM cases x
                     WHERE x.team_id = vt.team_id AND x.immediate_risk AND x.risk_acknowledged_at IS NULL
                       AND x.status <> 'closed' AND (x.received_at, x.id) < ($16::timestamptz, $17::uuid)
                       AND (x.restricted = false OR haven_sees_restricted_case(x.id, $2, $3))
                     ORDER BY x.received_at DESC, x.id DESC LIMIT $10
                 ) c
                 ORDER BY c.received_at DESC, c.id DESC LIMIT $10) r) ELSE '[]' END AS "risks!: Json<Vec<RiskRow>>",
             CASE WHEN $9 AND $11::bigint > 0 THEN (SELECT coalesce(json_agg(w ORDER BY w.proposed_at, w.id), '[]') FROM (
                 SELECT p.id, c.id AS case_id, c.reference, c.title, p.what,
                        coalesce((SELECT u.display_name FROM users u WHERE u.id = p.proposed_by), '') AS proposed_by_name, p.proposed_at
                 FROM (
                   SELECT q.id, q.case_id, q.what, q.proposed_by, q.proposed_at
                   FROM unnest($1::uuid[]) AS vt(team_id)
                   CROSS JOIN LATERAL (
                     (SELECT d.id, d.case_id, 'decision' AS what, d.proposed_by, d.proposed_at
                        FROM referral_decisions d
                        WHERE d.team_id = vt.team_id AND d.status = 'proposed'
                          AND (d.proposed_at, d.id) > ($14::timestamptz, $15::uuid)
                          AND NOT EXISTS (SELECT 1 FROM cases r WHERE r.id = d.case_id AND r.restricted
                                          AND NOT haven_sees_restricted_case(r.id, $2, $3))
                        ORDER BY d.proposed_at, d.id LIMIT $11)
                     UNION ALL
                     (SELECT e.id, e.case_id, 'outcome', e.proposed_by, e.proposed_at
                        FROM section47_enquiries e
                        WHERE e.team_id = vt.team_id AND e.outcome_status = 'proposed'
                          AND (e.proposed_at, e.id) > ($14::timestamptz, $15::uuid)
                          AND NOT EXISTS (SELECT 1 FROM cases r WHERE r.id = e.case_id AND r.restricted
                                          AND NOT haven_sees_restricted_case(r.id, $2, $3))
                        ORDER BY e.proposed_at, e.id LIMIT $11)
                     UNION ALL
                     (SELECT x.id, x.case_id, 'closure', x.proposed_by, x.proposed_at
                        FROM case_closures x
                        WHERE x.team_id = vt.team_id AND x.status = 'proposed'
                          AND (x.proposed_at, x.id) > ($14::timestamptz, $15::uuid)
                          AND NOT EXISTS (SELECT 1 FROM cases r WHERE r.id = x.case_id AND r.restricted
                                          AND NOT haven_sees_restricted_case(r.id, $2, $3))
                        ORDER BY x.proposed_at, x.id LIMIT $11)
                   ) q
                   ORDER BY q.proposed_at, q.id
                   LIMIT $11) p
                 JOIN cases c ON c.id = p.case_id) w) ELSE '[]' END AS "waiting!: Json<Vec<WaitingRow>>",
             CASE WHEN $9 AND cardinality($12::text[]) > 0 THEN (SELECT coalesce(json_agg(t), '[]') FROM (
                 SELECT n.kind, sum(n.in_time)::bigint AS in_time, sum(n.met)::bigint AS met
                 FROM (
                     SELECT x.kind, x.in_time, x.met
                     FROM timeliness_days x
                     WHERE x.team_id = ANY($1::uuid[]) AND x.kind = ANY($12::text[]) AND x.day >= $13
                     UNION ALL
                     SELECT y.kind, y.in_time, y.met
                     FROM timeliness_changes y
                     WHERE y.team_id = ANY($1::uuid[]) AND y.kind = ANY($12::text[]) AND y.day >= $13
                     UNION ALL
                     SELECT d.kind, (d.met_at <= d.due_at)::int, 1
                     FROM cases r JOIN deadlines d ON d.case_id = r.id
                     WHERE r.restricted AND d.team_id = ANY($1::uuid[]) AND d.kind = ANY($12::text[])
                       AND d.met_at IS NOT NULL AND (d.met_at AT TIME ZONE 'Europe/London')::date >= $13
                       AND haven_sees_restricted_case(r.id, $2, $3)
                 ) n
                 GROUP BY n.kind) t) ELSE '[]' END AS "timeliness!: Json<Vec<TimelinessRow>>""#,
        viewer.team_ids,
        viewer.user_id,
        viewer.is_lado,
        &from,
        &to,
        after_due,
        after_id,
        limit,
        overview.is_some(),
        overview.map_or(0, |o| o.risk_limit),
        overview.map_or(0, |o| o.waiting_limit),
        &codes as &[&str],
        overview.map(|o| o.since_day),
        waiting_after.0,
        waiting_after.1,
        risks_after.0,
        risks_after.1
    )
    .fetch_one(db)
    .await?;
    let counted = row.timeliness.0;
    Ok((
        row.deadlines.0,
        TeamOverview {
            risks: row.risks.0,
            waiting: row.waiting.0,
            timeliness: codes
                .iter()
                .map(|code| {
                    counted
                        .iter()
                        .find(|r| r.kind == *code)
                        .map_or((0, 0), |r| (r.in_time, r.met))
                })
                .collect(),
        },
    ))
}

/// Fold the timeliness changes committed so far into the kept figures (migration 0026): each
/// met, moved or removed deadline appends a change in its own transaction, and only this, in a
/// transaction of its own and one instance at a time, writes `timeliness_days`. Returns how
/// many changes were folded (0 when another instance is folding).
pub async fn fold_timeliness(db: impl PgExecutor<'_>) -> sqlx::Result<i64> {
    sqlx::query_scalar!(r#"SELECT haven_fold_timeliness() AS "folded!""#)
        .fetch_one(db)
        .await
}

/// Record why a deadline was met late (once).
pub async fn set_late_reason(
    db: impl PgExecutor<'_>,
    case_id: Uuid,
    id: Uuid,
    reason: &str,
    by: Uuid,
) -> sqlx::Result<bool> {
    let r = sqlx::query!(
        "UPDATE deadlines SET late_reason = $3, late_reason_by = $4, updated_at = now()
         WHERE id = $1 AND case_id = $2 AND met_at > due_at AND late_reason IS NULL",
        id,
        case_id,
        reason,
        by
    )
    .execute(db)
    .await?;
    Ok(r.rows_affected() == 1)
}
