//! The people on a case: every fact recorded about them, changed with the row's version
//! (optimistic locking), and how each adult is related to each child.

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::PgExecutor;
use uuid::Uuid;

/// Everything a person's page and form show. Empty strings are "not recorded".
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PersonFacts {
    pub full_name: String,
    pub sex: String,
    pub gender: String,
    pub date_of_birth: Option<NaiveDate>,
    pub age_estimate: Option<i32>,
    pub ethnicity: String,
    pub first_language: String,
    pub interpreter: String,
    pub address: String,
    pub household: String,
    pub school: String,
    pub send: String,
    pub send_details: String,
    pub nhs_number: String,
    pub protection_plan: String,
    pub looked_after: String,
    /// The adult's part in the case (the concern is about them, parent or carer, household).
    pub relationship: Option<String>,
    pub employer: String,
    pub job_role: String,
    pub police_refs: String,
}

#[derive(Clone, Debug)]
pub struct PersonRecord {
    pub id: Uuid,
    pub case_id: Uuid,
    pub kind: String,
    pub version: i32,
    pub updated_at: DateTime<Utc>,
    pub facts: PersonFacts,
}

/// One `case_people` row as stored (both reads below return it, and the case page's statement
/// as JSON).
#[derive(Debug, serde::Deserialize)]
pub(crate) struct PersonFlat {
    id: Uuid,
    case_id: Uuid,
    kind: String,
    version: i32,
    updated_at: DateTime<Utc>,
    full_name: String,
    sex: String,
    gender: String,
    date_of_birth: Option<NaiveDate>,
    age_estimate: Option<i32>,
    ethnicity: String,
    first_language: String,
    interpreter: String,
    address: String,
    household: String,
    school: String,
    send: String,
    send_details: String,
    nhs_number: String,
    protection_plan: String,
    looked_after: String,
    relationship: Option<String>,
    employer: String,
    job_role: String,
    police_refs: String,
}

impl From<PersonFlat> for PersonRecord {
    fn from(r: PersonFlat) -> PersonRecord {
        PersonRecord {
            id: r.id,
            case_id: r.case_id,
            kind: r.kind,
            version: r.version,
            updated_at: r.updated_at,
            facts: PersonFacts {
                full_name: r.full_name,
                sex: r.sex,
                gender: r.gender,
                date_of_birth: r.date_of_birth,
                age_estimate: r.age_estimate,
                ethnicity: r.ethnicity,
                first_language: r.first_language,
                interpreter: r.interpreter,
                address: r.address,
                household: r.household,
                school: r.school,
                send: r.send,
                send_details: r.send_details,
                nhs_number: r.nhs_number,
                protection_plan: r.protection_plan,
                looked_after: r.looked_after,
                relationship: r.relationship,
                employer: r.employer,
                job_role: r.job_role,
                police_refs: r.police_refs,
            },
        }
    }
}

pub async fn find(
    db: impl PgExecutor<'_>,
    case_id: Uuid,
    person_id: Uuid,
) -> sqlx::Result<Option<PersonRecord>> {
    let r = sqlx::query_as!(
        PersonFlat,
        "SELECT id, case_id, kind, version, updated_at, full_name, sex, gender, date_of_birth,
                age_estimate, ethnicity, first_language, interpreter, address, household, school,
                send, send_details, nhs_number, protection_plan, looked_after, relationship,
                employer, job_role, police_refs
         FROM case_people WHERE id = $1 AND case_id = $2",
        person_id,
        case_id
    )
    .fetch_optional(db)
    .await?;
    Ok(r.map(PersonRecord::from))
}

/// Everyone on a case with every fact, children first (for the printable summary).
pub async fn all_for_case(
    db: impl PgExecutor<'_>,
    case_id: Uuid,
) -> sqlx::Result<Vec<PersonRecord>> {
    let rows = sqlx::query_as!(
        PersonFlat,
        "SELECT id, case_id, kind, version, updated_at, full_name, sex, gender, date_of_birth,
                age_estimate, ethnicity, first_language, interpreter, address, household, school,
                send, send_details, nhs_number, protection_plan, looked_after, relationship,
                employer, job_role, police_refs
         FROM case_people WHERE case_id = $1 ORDER BY kind DESC, created_at, id LIMIT 200",
        case_id
    )
    .fetch_all(db)
    .await?;
    Ok(rows.into_iter().map(PersonRecord::from).collect())
}

/// Each adult's relationship to each child on a case: (adult, child, code).
pub async fn relationships(
    db: impl PgExecutor<'_>,
    case_id: Uuid,
) -> sqlx::Result<Vec<(Uuid, Uuid, String)>> {
    let rows = sqlx::query!(
        "SELECT r.adult_id, r.child_id, r.relationship
         FROM person_relationships r JOIN case_people a ON a.id = r.adult_id
         WHERE a.case_id = $1 LIMIT 10000",
        case_id
    )
    .fetch_all(db)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| (r.adult_id, r.child_id, r.relationship))
        .collect())
}

/// Save a person's facts if nobody has changed them since `version`; false when someone has.
pub async fn update(
    db: impl PgExecutor<'_>,
    case_id: Uuid,
    person_id: Uuid,
    version: i32,
    f: &PersonFacts,
) -> sqlx::Result<bool> {
    let r = sqlx::query!(
        "UPDATE case_people SET full_name = $4, sex = $5, gender = $6, date_of_birth = $7,
                age_estimate = $8, ethnicity = $9, first_language = $10, interpreter = $11,
                address = $12, household = $13, school = $14, send = $15, send_details = $16,
                nhs_number = $17, protection_plan = $18, looked_after = $19, relationship = $20,
                employer = $21, job_role = $22, police_refs = $23,
                version = version + 1, updated_at = now()
         WHERE id = $1 AND case_id = $2 AND version = $3",
        person_id,
        case_id,
        version,
        f.full_name,
        f.sex,
        f.gender,
        f.date_of_birth,
        f.age_estimate,
        f.ethnicity,
        f.first_language,
        f.interpreter,
        f.address,
        f.household,
        f.school,
        f.send,
        f.send_details,
        f.nhs_number,
        f.protection_plan,
        f.looked_after,
        f.relationship,
        f.employer,
        f.job_role,
        f.police_refs,
    )
    .execute(db)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// Add someone to a case after intake.
pub async fn insert(
    db: impl PgExecutor<'_>,
    case_id: Uuid,
    kind: &str,
    f: &PersonFacts,
) -> sqlx::Result<Uuid> {
    let id = Uuid::now_v7();
    sqlx::query!(
        "INSERT INTO case_people (id, case_id, kind, full_name, sex, gender, date_of_birth,
                age_estimate, ethnicity, first_language, interpreter, address, household, school,
                send, send_details, nhs_number, protection_plan, looked_after, relationship,
                employer, job_role, police_refs)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18,
                 $19, $20, $21, $22, $23)",
        id,
        case_id,
        kind,
        f.full_name,
        f.sex,
        f.gender,
        f.date_of_birth,
        f.age_estimate,
        f.ethnicity,
        f.first_language,
        f.interpreter,
        f.address,
        f.household,
        f.school,
        f.send,
        f.send_details,
        f.nhs_number,
        f.protection_plan,
        f.looked_after,
        f.relationship,
        f.employer,
        f.job_role,
        f.police_refs,
    )
    .execute(db)
    .await?;
    Ok(id)
}

/// Set (or clear, with "") an adult's relationship to one child.
pub async fn set_relationship(
    db: impl PgExecutor<'_>,
    adult_id: Uuid,
    child_id: Uuid,
    code: &str,
) -> sqlx::Result<()> {
    if code.is_empty() {
        sqlx::query!(
            "DELETE FROM person_relationships WHERE adult_id = $1 AND child_id = $2",
            adult_id,
            child_id
        )
        .execute(db)
        .await?;
    } else {
        sqlx::query!(
            "INSERT INTO person_relationships (adult_id, child_id, relationship) VALUES ($1, $2, $3)
             ON CONFLICT (adult_id, child_id) DO UPDATE SET relationship = EXCLUDED.relationship",
            adult_id,
            child_id,
            code
        )
        .execute(db)
        .await?;
    }
    Ok(())
}

/// Keep the case's search names in step with its people's names.
pub async fn refresh_search_names(db: impl PgExecutor<'_>, case_id: Uuid) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE cases SET search_names = coalesce((
             SELECT lower(string_agg(full_name, ' | ' ORDER BY kind DESC, created_at, id))
             FROM case_people WHERE case_id = $1), '')
         WHERE id = $1",
        case_id
    )
    .execute(db)
    .await?;
    Ok(())
}

/// The children on a case, in the order they were added: (id, name).
pub async fn children(db: impl PgExecutor<'_>, case_id: Uuid) -> sqlx::Result<Vec<(Uuid, String)>> {
    Ok(sqlx::query!(
        "SELECT id, full_name FROM case_people WHERE case_id = $1 AND kind = 'child'
         ORDER BY created_at, id LIMIT 200",
        case_id
    )
    .fetch_all(db)
    .await?
    .into_iter()
    .map(|p| (p.id, p.full_name))
    .collect())
}

/// Someone named on a referral who may already be on another case.
#[derive(Clone, Debug)]
pub struct EarlierMatch {
    /// Which name asked (1-based, in the order given).
    pub ord: i64,
    pub full_name: String,
    pub date_of_birth: Option<NaiveDate>,
    pub case_id: Uuid,
    pub reference: String,
    pub team_id: Uuid,
    pub team_name: String,
    pub received_at: DateTime<Utc>,
    pub similarity: f32,
}

/// People on existing cases whose names are like these (trigram similarity, closest first,
/// at most five per name, through the GiST index `case_people_name_trgm`) and whose date of
/// birth does not contradict the one given. Restricted cases are never looked at.
pub async fn earlier_involvement(
    db: impl PgExecutor<'_>,
    names: &[String],
    dobs: &[Option<NaiveDate>],
) -> sqlx::Result<Vec<EarlierMatch>> {
    let names: Vec<String> = names.iter().map(|n| n.to_lowercase()).collect();
    let dobs: Vec<Option<NaiveDate>> = dobs.to_vec();
    sqlx::query_as!(
        EarlierMatch,
        r#"SELECT q.ord AS "ord!", m.full_name, m.date_of_birth, m.case_id, m.reference,
                  m.team_id, t.name AS team_name, m.received_at, m.sim AS "similarity!"
           FROM unnest($1::text[], $2::date[]) WITH ORDINALITY AS q(name, dob, ord)
           CROSS JOIN LATERAL (
               SELECT p.full_name, p.date_of_birth, c.id AS case_id, c.reference, c.team_id,
                      c.received_at, similarity(lower(p.full_name), q.name) AS sim
               FROM case_people p JOIN cases c ON c.id = p.case_id
               WHERE lower(p.full_name) % q.name
                 AND NOT c.restricted
                 AND (q.dob IS NULL OR p.date_of_birth IS NULL OR p.date_of_birth = q.dob)
               ORDER BY lower(p.full_name) <-> q.name
               LIMIT 5
           ) m
           JOIN teams t ON t.id = m.team_id
           ORDER BY q.ord, m.sim DESC"#,
        &names as &[String],
        &dobs as &[Option<NaiveDate>]
    )
    .fetch_all(db)
    .await
}
