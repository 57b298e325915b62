//! Opening a case: the visibility rule, the audit row of the view and everything the case page
//! shows, in one statement (one round trip, one implicit transaction). Nothing of the case comes
//! back unless the audit row is written in the same statement (issue 10; decision 012): a
//! restricted case the viewer must sign in again for returns only that it exists.

use chrono::{DateTime, Utc};
use sqlx::PgExecutor;
use sqlx::types::Json;
use uuid::Uuid;

use super::cases::{CaseRow, ChronologyRow, ReferralRow, Viewer};
use super::documents::DocumentRow;
use super::pathways::PathwayRow;
use super::people::{PersonFlat, PersonRecord};

/// Which part of the chronology the page shows.
#[derive(Clone, Copy, Debug)]
pub struct Window {
    pub oldest_first: bool,
    /// Continue after this entry.
    pub from: Option<Uuid>,
    pub limit: i64,
}

/// What the case page shows besides the case itself.
#[derive(Debug)]
pub struct Contents {
    pub people: Vec<PersonRecord>,
    /// (adult, child, relationship code)
    pub relationships: Vec<(Uuid, Uuid, String)>,
    /// The latest recorded decision on telling the family: (code, by, when, agreed).
    pub family: Option<(String, String, Option<DateTime<Utc>>, String)>,
    pub referral: Option<ReferralRow>,
    pub chronology: Vec<ChronologyRow>,
    pub pathways: Vec<PathwayRow>,
    pub documents: Vec<DocumentRow>,
}

/// The case, opened.
pub enum Opened {
    /// Not visible to the viewer (or no such case): nothing read, nothing recorded.
    NotFound,
    /// Restricted and the viewer has not signed in again recently: nothing read or recorded.
    StepUp,
    /// Visible and recorded; `contents` when asked for.
    Open(Box<(CaseRow, Option<Contents>)>),
}

#[derive(Debug, serde::Deserialize)]
struct Family {
    decision: String,
    by: String,
    at: Option<DateTime<Utc>>,
    agreed: String,
}

/// Open case `id` for `viewer`, appending `event` (from `audit::prepare`) in the same statement,
/// unless the case is restricted and `may_open_restricted` is false. With `window`, also read the
/// page's contents; each part is read only when the audit row was written.
pub async fn open(
    db: impl PgExecutor<'_>,
    viewer: &Viewer<'_>,
    id: Uuid,
    may_open_restricted: bool,
    event: &crate::audit::Prepared,
    window: Option<Window>,
) -> sqlx::Result<Opened> {
    let w = window.unwrap_or(Window {
        oldest_first: false,
        from: None,
        limit: 0,
    });
    let row = sqlx::query!(
        r#"WITH c AS (
             SELECT c.id, c.reference, c.team_id, t.name AS team_name, c.owner_id, u.display_name AS owner_name,
                    c.status, c.title, c.concern_kinds, c.immediate_risk, c.received_at, c.created_at,
                    c.updated_at, c.version, c.next_due_at, c.next_due_kind, c.restricted, c.allocated_at
             FROM cases c JOIN teams t ON t.id = c.team_id JOIN users u ON u.id = c.owner_id
             WHERE c.id = $2 AND (
                 (c.restricted = false AND c.team_id = ANY($1::uuid[]))
                 OR (c.restricted AND haven_sees_restricted_case(c.id, $3, $4)))
           ), logged AS (
             INSERT INTO audit_events (occurred_at, actor_user_id, actor_ip, action, entity_type, entity_id, case_id, reason, details, event_id, mac)
             SELECT $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16 FROM c WHERE NOT c.restricted OR $5
             RETURNING case_id
           ), shown AS (
             SELECT c.id AS case_id FROM c WHERE EXISTS (SELECT 1 FROM logged) AND $17
           ), chron AS MATERIALIZED (
             (SELECT e.id, e.occurred_at, e.kind, e.summary, e.recorded_at, e.recorded_by, e.note_id,
                     n.body AS note_body, n.corrects_note_id, e.occurred_time_known,
                     row_number() OVER (ORDER BY e.occurred_at DESC, e.id DESC) AS pos
              FROM chronology_entries e
              LEFT JOIN case_notes n ON n.id = e.note_id
              WHERE NOT $18 AND e.case_id = (SELECT case_id FROM shown)
                AND ($19::uuid IS NULL OR (e.occurred_at, e.id) < (SELECT b.occurred_at, b.id FROM chronology_entries b WHERE b.id = $19 AND b.case_id = $2))
              ORDER BY e.occurred_at DESC, e.id DESC
              LIMIT $20)
             UNION ALL
             (SELECT e.id, e.occurred_at, e.kind, e.summary, e.recorded_at, e.recorded_by, e.note_id,
                     n.body AS note_body, n.corrects_note_id, e.occurred_time_known,
                     row_number() OVER (ORDER BY e.occurred_at, e.id) AS pos
              FROM chronology_entries e
              LEFT JOIN case_notes n ON n.id = e.note_id
              WHERE $18 AND e.case_id = (SELECT case_id FROM shown)
                AND ($19::uuid IS NULL OR (e.occurred_at, e.id) > (SELECT b.occurred_at, b.id FROM chronology_entries b WHERE b.id = $19 AND b.case_id = $2))
              ORDER BY e.occurred_at, e.id
              LIMIT $20)
           ), authors AS MATERIALIZED (
             -- Each author's name once, not once an entry (a window of 100 has a handful).
             SELECT u.id, u.display_name FROM users u WHERE u.id IN (SELECT recorded_by FROM chron)
           ), corrections AS MATERIALIZED (
             -- The case's corrections, read once from their own index (a correction is always a
             -- note of the same case as the note it corrects).
             SELECT coalesce(array_agg(k.corrects_note_id), '{}') AS ids FROM case_notes k
             WHERE k.case_id = (SELECT case_id FROM shown) AND k.corrects_note_id IS NOT NULL
           )
           SELECT EXISTS (SELECT 1 FROM logged) AS "opened!",
                  (SELECT row_to_json(c) WHERE EXISTS (SELECT 1 FROM logged)) AS "case: Json<CaseRow>",
                  (SELECT json_agg(p ORDER BY p.kind DESC, p.created_at, p.id) FROM (
                     SELECT id, case_id, kind, version, updated_at, full_name, sex, gender, date_of_birth,
                            age_estimate, ethnicity, first_language, interpreter, address, household, school,
                            send, send_details, nhs_number, protection_plan, looked_after, relationship,
                            employer, job_role, police_refs, created_at
                     FROM case_people WHERE case_id = (SELECT case_id FROM shown)
                     ORDER BY kind DESC, created_at, id LIMIT 200) p) AS "people: Json<Vec<PersonFlat>>",
                  (SELECT json_agg(json_build_array(r.adult_id, r.child_id, r.relationship))
                     FROM person_relationships r JOIN case_people a ON a.id = r.adult_id
                     WHERE a.case_id = (SELECT case_id FROM shown)) AS "relationships: Json<Vec<(Uuid, Uuid, String)>>",
                  (SELECT row_to_json(f) FROM (
                     SELECT family_decision AS decision, family_decided_by AS by, family_decided_at AS at,
                            family_agreed AS agreed
                     FROM strategy_discussions
                     WHERE case_id = (SELECT case_id FROM shown) AND status = 'recorded' AND family_decision IS NOT NULL
                     ORDER BY held_at DESC LIMIT 1) f) AS "family: Json<Family>",
                  (SELECT row_to_json(r) FROM (
                     SELECT r.referrer_name, r.referrer_role, r.referrer_agency, r.referrer_contact, r.received_at,
                            u.display_name AS taken_by_name, r.account, r.immediate_risk, r.immediate_risk_details,
                            r.works_with_children, r.work_details
                     FROM referrals r JOIN users u ON u.id = r.taken_by
                     WHERE r.case_id = (SELECT case_id FROM shown) ORDER BY r.created_at LIMIT 1) r) AS "referral: Json<ReferralRow>",
                  ch.ids AS "ch_ids: Vec<Uuid>", ch.occurred AS "ch_occurred: Vec<DateTime<Utc>>",
                  ch.kinds AS "ch_kinds: Vec<String>", ch.summaries AS "ch_summaries: Vec<String>",
                  ch.recorded AS "ch_recorded: Vec<DateTime<Utc>>", ch.authors AS "ch_authors: Vec<String>",
                  ch.notes AS "ch_notes: Vec<Option<Uuid>>", ch.bodies AS "ch_bodies: Vec<Option<String>>",
                  ch.corrects AS "ch_corrects: Vec<Option<Uuid>>", ch.corrected AS "ch_corrected: Vec<bool>",
                  ch.time_known AS "ch_time_known: Vec<bool>",
                  (SELECT json_agg(p ORDER BY p.kind) FROM (
                     SELECT p.kind, p.record, p.version, u.display_name AS updated_by, p.updated_at
                     FROM case_pathways p JOIN users u ON u.id = p.updated_by
                     WHERE p.case_id = (SELECT case_id FROM shown)) p) AS "pathways: Json<Vec<PathwayRow>>",
                  (SELECT json_agg(d ORDER BY d.created_at DESC, d.id DESC) FROM (
                     SELECT d.id, d.filename, d.content_type, d.size_bytes, d.description, u.display_name AS uploaded_by, d.created_at
                     FROM documents d JOIN users u ON u.id = d.uploaded_by
                     WHERE d.case_id = (SELECT case_id FROM shown) ORDER BY d.created_at DESC, d.id DESC LIMIT 50) d) AS "documents: Json<Vec<DocumentRow>>"
           FROM c
           -- The chronology window as one array a column: PostgreSQL sends them in binary (no
           -- JSON to write and parse; escaping the notes and formatting the times as JSON was
           -- two thirds of the statement's time for a window of 100).
           CROSS JOIN LATERAL (
             SELECT array_agg(e.id ORDER BY e.pos) AS ids, array_agg(e.occurred_at ORDER BY e.pos) AS occurred,
                    array_agg(e.kind ORDER BY e.pos) AS kinds, array_agg(e.summary ORDER BY e.pos) AS summaries,
                    array_agg(e.recorded_at ORDER BY e.pos) AS recorded, array_agg(u.display_name ORDER BY e.pos) AS authors,
                    array_agg(e.note_id ORDER BY e.pos) AS notes, array_agg(e.note_body ORDER BY e.pos) AS bodies,
                    array_agg(e.corrects_note_id ORDER BY e.pos) AS corrects,
                    array_agg(coalesce(e.note_id = ANY(k.ids), false) ORDER BY e.pos) AS corrected,
                    array_agg(e.occurred_time_known ORDER BY e.pos) AS time_known
             FROM chron e JOIN authors u ON u.id = e.recorded_by CROSS JOIN corrections k) ch"#,
        viewer.team_ids,
        id,
        viewer.user_id,
        viewer.is_lado,
        may_open_restricted,
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
        window.is_some(),
        w.oldest_first,
        w.from,
        w.limit
    )
    .fetch_optional(db)
    .await?;
    let Some(r) = row else {
        return Ok(Opened::NotFound);
    };
    // Nothing of the case comes back unless its view was recorded.
    let (true, Some(Json(case))) = (r.opened, r.case) else {
        return Ok(Opened::StepUp);
    };
    let chronology = chronology(
        r.ch_ids,
        r.ch_occurred,
        r.ch_kinds,
        r.ch_summaries,
        r.ch_recorded,
        r.ch_authors,
        r.ch_notes,
        r.ch_bodies,
        r.ch_corrects,
        r.ch_corrected,
        r.ch_time_known,
    )?;
    let contents = window.map(|_| Contents {
        people: r
            .people
            .map(|j| j.0.into_iter().map(PersonRecord::from).collect())
            .unwrap_or_default(),
        relationships: r.relationships.map(|j| j.0).unwrap_or_default(),
        family: r.family.map(|Json(f)| (f.decision, f.by, f.at, f.agreed)),
        referral: r.referral.map(|j| j.0),
        chronology,
        pathways: r.pathways.map(|j| j.0).unwrap_or_default(),
        documents: r.documents.map(|j| j.0).unwrap_or_default(),
    });
    Ok(Opened::Open(Box::new((case, contents))))
}

/// The chronology window's rows from the statement's one array a column (all of one length,
/// in the window's order; none when the window is empty). Arrays of different lengths would
/// mean the statement is wrong: an error, not a page with entries dropped or mismatched.
#[allow(clippy::too_many_arguments)]
fn chronology(
    ids: Option<Vec<Uuid>>,
    occurred: Option<Vec<DateTime<Utc>>>,
    kinds: Option<Vec<String>>,
    summaries: Option<Vec<String>>,
    recorded: Option<Vec<DateTime<Utc>>>,
    authors: Option<Vec<String>>,
    notes: Option<Vec<Option<Uuid>>>,
    bodies: Option<Vec<Option<String>>>,
    corrects: Option<Vec<Option<Uuid>>>,
    corrected: Option<Vec<bool>>,
    time_known: Option<Vec<bool>>,
) -> sqlx::Result<Vec<ChronologyRow>> {
    let ids = ids.unwrap_or_default();
    let occurred = occurred.unwrap_or_default();
    let kinds = kinds.unwrap_or_default();
    let summaries = summaries.unwrap_or_default();
    let recorded = recorded.unwrap_or_default();
    let authors = authors.unwrap_or_default();
    let notes = notes.unwrap_or_default();
    let bodies = bodies.unwrap_or_default();
    let corrects = corrects.unwrap_or_default();
    let corrected = corrected.unwrap_or_default();
    let time_known = time_known.unwrap_or_default();
    let n = ids.len();
    let lengths = [
        occurred.len(),
        kinds.len(),
        summaries.len(),
        recorded.len(),
        authors.len(),
        notes.len(),
        bodies.len(),
        corrects.len(),
        corrected.len(),
        time_known.len(),
    ];
    if lengths.iter().any(|&l| l != n) {
        return Err(sqlx::Error::Decode(
            format!("the chronology's columns differ in length: {n} ids, {lengths:?}").into(),
        ));
    }
    let mut occurred = occurred.into_iter();
    let mut kinds = kinds.into_iter();
    let mut summaries = summaries.into_iter();
    let mut recorded = recorded.into_iter();
    let mut authors = authors.into_iter();
    let mut notes = notes.into_iter();
    let mut bodies = bodies.into_iter();
    let mut corrects = corrects.into_iter();
    let mut corrected = corrected.into_iter();
    let mut time_known = time_known.into_iter();
    Ok(ids
        .into_iter()
        .filter_map(|id| {
            Some(ChronologyRow {
                id,
                occurred_at: occurred.next()?,
                kind: kinds.next()?,
                summary: summaries.next()?,
                recorded_at: recorded.next()?,
                recorded_by_name: authors.next()?,
                note_id: notes.next()?,
                note_body: bodies.next()?,
                corrects_note_id: corrects.next()?,
                corrected: corrected.next()?,
                occurred_time_known: time_known.next()?,
            })
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chronology_columns_of_different_lengths_are_an_error() {
        let t = Utc::now();
        let one = |n: usize| Some(vec![t; n]);
        let ok = chronology(
            Some(vec![Uuid::nil()]),
            one(1),
            Some(vec!["note".into()]),
            Some(vec!["s".into()]),
            one(1),
            Some(vec!["Pat".into()]),
            Some(vec![None]),
            Some(vec![None]),
            Some(vec![None]),
            Some(vec![false]),
            Some(vec![true]),
        )
        .unwrap();
        assert_eq!(ok.len(), 1);
        assert_eq!(ok[0].recorded_by_name, "Pat");
        let short = chronology(
            Some(vec![Uuid::nil(), Uuid::max()]),
            one(2),
            Some(vec!["note".into(); 2]),
            Some(vec!["s".into(); 2]),
            one(2),
            Some(vec!["Pat".into()]),
            Some(vec![None; 2]),
            Some(vec![None; 2]),
            Some(vec![None; 2]),
            Some(vec![false; 2]),
            Some(vec![true; 2]),
        );
        assert!(short.is_err());
        let none = chronology(
            None, None, None, None, None, None, None, None, None, None, None,
        )
        .unwrap();
        assert!(none.is_empty());
    }
}
