//! The people on a case after intake: every fact about a child or an adult can be added and
//! changed (with the row's version, so nobody overwrites another person's change unseen), each
//! adult's relationship to each child, and a chronology entry giving every old and new value.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use chrono::NaiveDate;
use uuid::Uuid;

use crate::app::AppState;
use crate::audit::{self, Event};
use crate::auth::CurrentUser;
use crate::db;
use crate::db::people::{PersonFacts, PersonRecord};
use crate::domain::Relationship;
use crate::domain::people::{
    Answer, ChildRelationship, Ethnicity, Send, Sex, age_contradicts, age_on, format_nhs_number,
    nhs_number,
};
use crate::domain::time::{format_date, format_datetime, london_date};
use crate::error::{AppError, AppResult};

use super::cases::{audited_view, open_case, viewer};
use super::form::{DateParts, Errors, FormData};
use super::layout::{Layout, Section};
use super::macros_support::{Choice, SummaryRow};
use super::parse_id;

fn not_recorded(s: &str) -> String {
    if s.is_empty() {
        "Not recorded".to_owned()
    } else {
        s.to_owned()
    }
}

fn label_of<T: Copy>(
    code: &str,
    parse: fn(&str) -> Option<T>,
    label: fn(T) -> &'static str,
) -> String {
    parse(code).map(label).unwrap_or("").to_owned()
}

/// Date of birth (with the age it gives today) or the estimated age.
pub fn age_words(f: &PersonFacts, today: NaiveDate) -> String {
    match (f.date_of_birth, f.age_estimate) {
        (Some(d), _) => format!("{} ({} years old)", format_date(d), age_on(d, today)),
        (None, Some(a)) => format!("About {a} years old (date of birth not known)"),
        (None, None) => String::new(),
    }
}

/// Every fact about a person as (label, words), in the form's order. The same list is shown on
/// the printable summary, compared for the chronology, and shown side by side on a conflict.
pub fn fact_rows(
    kind: &str,
    f: &PersonFacts,
    today: NaiveDate,
    children: &[(Uuid, String)],
    rels: &[(Uuid, String)],
) -> Vec<(String, String)> {
    let mut rows = vec![
        ("Name".to_owned(), f.full_name.clone()),
        ("Sex".to_owned(), label_of(&f.sex, Sex::parse, Sex::label)),
        ("Gender, if different from sex".to_owned(), f.gender.clone()),
        ("Date of birth or age".to_owned(), age_words(f, today)),
        (
            "Ethnicity".to_owned(),
            label_of(&f.ethnicity, Ethnicity::parse, Ethnicity::label),
        ),
        ("First language".to_owned(), f.first_language.clone()),
        (
            "Needs an interpreter".to_owned(),
            label_of(&f.interpreter, Answer::parse, Answer::label),
        ),
        ("Address".to_owned(), f.address.clone()),
        (
            if kind == "child" {
                "Lives with"
            } else {
                "Where they live or work"
            }
            .to_owned(),
            f.household.clone(),
        ),
        ("NHS number".to_owned(), format_nhs_number(&f.nhs_number)),
    ];
    if kind == "child" {
        rows.extend([
            ("School or setting".to_owned(), f.school.clone()),
            (
                "Special educational needs or disability".to_owned(),
                label_of(&f.send, Send::parse, Send::label),
            ),
            ("About their needs".to_owned(), f.send_details.clone()),
            (
                "Child protection plan now".to_owned(),
                label_of(&f.protection_plan, Answer::parse, Answer::label),
            ),
            (
                "Looked after by the local authority".to_owned(),
                label_of(&f.looked_after, Answer::parse, Answer::label),
            ),
        ]);
    } else {
        rows.extend([
            (
                "Part in the case".to_owned(),
                f.relationship
                    .as_deref()
                    .and_then(Relationship::parse)
                    .map(Relationship::label)
                    .unwrap_or("")
                    .to_owned(),
            ),
            ("Employer or organisation".to_owned(), f.employer.clone()),
            ("Job or voluntary role".to_owned(), f.job_role.clone()),
            ("Police reference numbers".to_owned(), f.police_refs.clone()),
        ]);
        for (child, name) in children {
            let code = rels
                .iter()
                .find(|(c, _)| c == child)
                .map(|(_, r)| r.as_str())
                .unwrap_or("");
            rows.push((
                format!("Relationship to {name}"),
                label_of(code, ChildRelationship::parse, ChildRelationship::label),
            ));
        }
    }
    rows
}

/// "Sex: not recorded → Female; School: Hill Primary → Oak Academy" for what changed.
fn changes(old: &[(String, String)], new: &[(String, String)]) -> Vec<String> {
    old.iter()
        .zip(new)
        .filter(|((_, a), (_, b))| a != b)
        .map(|((label, a), (_, b))| {
            let show = |s: &str| {
                if s.is_empty() {
                    "not recorded".to_owned()
                } else {
                    format!("“{s}”")
                }
            };
            format!("{label}: {} → {}", show(a), show(b))
        })
        .collect()
}

#[derive(Template)]
#[template(path = "cases/person.html")]
struct PersonPage {
    layout: Layout,
    errors: Errors,
    id: Uuid,
    reference: String,
    action: String,
    heading: String,
    is_child: bool,
    version: i32,
    /// A one-time key for the add form (empty when changing someone).
    idem: String,
    name: String,
    sexes: Vec<Choice>,
    gender: String,
    dob: DateParts,
    age: String,
    ethnicities: Vec<Choice>,
    first_language: String,
    interpreters: Vec<Choice>,
    address: String,
    household: String,
    nhs: String,
    school: String,
    sends: Vec<Choice>,
    send_details: String,
    plans: Vec<Choice>,
    looked_after: Vec<Choice>,
    roles: Vec<Choice>,
    employer: String,
    job_role: String,
    police_refs: String,
    /// (field name, label, choices) for each child on the case.
    relationships: Vec<(String, String, Vec<Choice>)>,
}

fn choices_from<T: Copy>(
    all: &[T],
    code: fn(T) -> &'static str,
    label: fn(T) -> &'static str,
    picked: &str,
    blank: Option<&str>,
) -> Vec<Choice> {
    let mut v = Vec::new();
    if let Some(b) = blank {
        v.push(Choice::new("", b, picked.is_empty()));
    }
    v.extend(
        all.iter()
            .map(|t| Choice::new(code(*t), label(*t), picked == code(*t))),
    );
    v
}

/// The form as typed (or as stored): every field a string.
#[derive(Default, Clone)]
struct Typed {
    name: String,
    sex: String,
    gender: String,
    dob: DateParts,
    age: String,
    ethnicity: String,
    first_language: String,
    interpreter: String,
    address: String,
    household: String,
    nhs: String,
    school: String,
    send: String,
    send_details: String,
    plan: String,
    looked_after: String,
    role: String,
    employer: String,
    job_role: String,
    police_refs: String,
    /// child id → relationship code
    rels: Vec<(Uuid, String)>,
}

impl Typed {
    fn from_facts(f: &PersonFacts, rels: Vec<(Uuid, String)>) -> Typed {
        Typed {
            name: f.full_name.clone(),
            sex: f.sex.clone(),
            gender: f.gender.clone(),
            dob: f
                .date_of_birth
                .map(DateParts::from_date)
                .unwrap_or_default(),
            age: f.age_estimate.map(|a| a.to_string()).unwrap_or_default(),
            ethnicity: f.ethnicity.clone(),
            first_language: f.first_language.clone(),
            interpreter: f.interpreter.clone(),
            address: f.address.clone(),
            household: f.household.clone(),
            nhs: format_nhs_number(&f.nhs_number),
            school: f.school.clone(),
            send: f.send.clone(),
            send_details: f.send_details.clone(),
            plan: f.protection_plan.clone(),
            looked_after: f.looked_after.clone(),
            role: f.relationship.clone().unwrap_or_default(),
            employer: f.employer.clone(),
            job_role: f.job_role.clone(),
            police_refs: f.police_refs.clone(),
            rels,
        }
    }
}

struct PageContext<'a> {
    user: &'a CurrentUser,
    case_id: Uuid,
    reference: &'a str,
    kind: &'a str,
    /// None when adding someone.
    person: Option<(Uuid, i32)>,
    /// The add form's one-time key (kept when the form comes back with errors).
    idem: &'a str,
    children: &'a [(Uuid, String)],
}

fn page(ctx: &PageContext<'_>, t: Typed, errors: Errors) -> PersonPage {
    let is_child = ctx.kind == "child";
    let (heading, action) = match ctx.person {
        Some((pid, _)) => (
            format!("Change the details of {}", t.name),
            format!("/cases/{}/people/{pid}/edit", ctx.case_id),
        ),
        None => (
            if is_child {
                "Add a child to this case"
            } else {
                "Add an adult to this case"
            }
            .to_owned(),
            format!("/cases/{}/people/new/{}", ctx.case_id, ctx.kind),
        ),
    };
    let heading = if ctx.person.is_some() && t.name.is_empty() {
        "Change this person's details".to_owned()
    } else {
        heading
    };
    let relationships = if is_child {
        Vec::new()
    } else {
        ctx.children
            .iter()
            .map(|(cid, cname)| {
                let picked = t
                    .rels
                    .iter()
                    .find(|(c, _)| c == cid)
                    .map(|(_, r)| r.as_str())
                    .unwrap_or("");
                (
                    format!("rel-{cid}"),
                    format!("Relationship to {cname}"),
                    choices_from(
                        ChildRelationship::ALL,
                        ChildRelationship::code,
                        ChildRelationship::label,
                        picked,
                        Some("Not recorded"),
                    ),
                )
            })
            .collect()
    };
    PersonPage {
        layout: Layout::for_user(heading.clone(), ctx.user, Section::None).with_errors(&errors),
        errors,
        id: ctx.case_id,
        reference: ctx.reference.to_owned(),
        action,
        heading,
        is_child,
        version: ctx.person.map(|(_, v)| v).unwrap_or(0),
        idem: if ctx.person.is_none() {
            ctx.idem.to_owned()
        } else {
            String::new()
        },
        sexes: choices_from(Sex::ALL, Sex::code, Sex::label, &t.sex, None),
        ethnicities: choices_from(
            Ethnicity::ALL,
            Ethnicity::code,
            Ethnicity::label,
            &t.ethnicity,
            Some("Not recorded"),
        ),
        interpreters: choices_from(
            Answer::ALL,
            Answer::code,
            Answer::label,
            &t.interpreter,
            None,
        ),
        sends: choices_from(
            Send::ALL,
            Send::code,
            Send::label,
            &t.send,
            Some("Not recorded"),
        ),
        plans: choices_from(Answer::ALL, Answer::code, Answer::label, &t.plan, None),
        looked_after: choices_from(
            Answer::ALL,
            Answer::code,
            Answer::label,
            &t.looked_after,
            None,
        ),
        roles: choices_from(
            Relationship::ALL,
            Relationship::code,
            Relationship::label,
            &t.role,
            None,
        ),
        relationships,
        name: t.name,
        gender: t.gender,
        dob: t.dob,
        age: t.age,
        first_language: t.first_language,
        address: t.address,
        household: t.household,
        nhs: t.nhs,
        school: t.school,
        send_details: t.send_details,
        employer: t.employer,
        job_role: t.job_role,
        police_refs: t.police_refs,
    }
}

fn optional_code(
    e: &mut Errors,
    form: &FormData,
    field: &str,
    message: &str,
    valid: impl Fn(&str) -> bool,
) -> String {
    let v = form.raw(field).trim();
    if !v.is_empty() && !valid(v) {
        e.add(field, message);
    }
    v.to_owned()
}

/// Read and check the form, errors in the order the fields appear on the page.
fn read_form(
    form: &FormData,
    kind: &str,
    children: &[(Uuid, String)],
    today: NaiveDate,
) -> (Typed, Errors, Option<PersonFacts>) {
    let is_child = kind == "child";
    let mut e = Errors::default();
    let mut t = Typed {
        name: e.text(form, "name", "The person's name", true, 200),
        sex: optional_code(&mut e, form, "sex", "Select the person's sex", |c| {
            Sex::parse(c).is_some()
        }),
        gender: e.text(form, "gender", "Gender", false, 100),
        ..Typed::default()
    };
    let (dob_parts, dob) = e.date(form, "dob", "Date of birth", false);
    t.dob = dob_parts;
    t.age = e.text(form, "age", "Age", false, 3);
    let max_age = if is_child { 17 } else { 120 };
    let age = match t.age.parse::<i32>() {
        _ if t.age.is_empty() => None,
        Ok(a) if (0..=max_age).contains(&a) => Some(a),
        _ => {
            e.add(
                "age",
                format!("Age must be a whole number from 0 to {max_age}"),
            );
            None
        }
    };
    if let Some(d) = dob {
        if d > today {
            e.add("dob-day", "Date of birth must be in the past");
        } else if is_child && age_on(d, today) >= 18 {
            e.add(
                "dob-day",
                "A child must be under 18: record an adult with “Add an adult” instead",
            );
        } else if let Some(a) = age
            && age_contradicts(d, a, today)
        {
            e.add(
                "age",
                format!(
                    "The date of birth makes them {} years old, not {a}: correct one, or leave the age blank",
                    age_on(d, today)
                ),
            );
        }
    }
    t.ethnicity = optional_code(
        &mut e,
        form,
        "ethnicity",
        "Select an ethnicity from the list",
        |c| Ethnicity::parse(c).is_some(),
    );
    t.first_language = e.text(form, "first_language", "First language", false, 100);
    t.interpreter = optional_code(
        &mut e,
        form,
        "interpreter",
        "Select whether they need an interpreter",
        |c| Answer::parse(c).is_some(),
    );
    t.address = e.text(form, "address", "Address", false, 500);
    t.household = e.text(
        form,
        "household",
        if is_child {
            "Who the child lives with"
        } else {
            "Where they live or work"
        },
        false,
        500,
    );
    t.nhs = e.text(form, "nhs", "NHS number", false, 20);
    let nhs_digits = if t.nhs.is_empty() || e.has("nhs") {
        String::new()
    } else {
        match nhs_number(&t.nhs) {
            Ok(d) => d,
            Err(m) => {
                e.add("nhs", m);
                String::new()
            }
        }
    };
    if is_child {
        t.school = e.text(form, "school", "School or setting", false, 200);
        t.send = optional_code(
            &mut e,
            form,
            "send",
            "Select special educational needs or disability from the list",
            |c| Send::parse(c).is_some(),
        );
        t.send_details = e.text(form, "send_details", "About their needs", false, 1000);
        t.plan = optional_code(
            &mut e,
            form,
            "plan",
            "Select whether the child has a child protection plan",
            |c| Answer::parse(c).is_some(),
        );
        t.looked_after = optional_code(
            &mut e,
            form,
            "looked_after",
            "Select whether the child is looked after",
            |c| Answer::parse(c).is_some(),
        );
    } else {
        t.role = form.raw("role").to_owned();
        if Relationship::parse(&t.role).is_none() {
            e.add("role", "Select the adult's part in the case");
        }
        t.employer = e.text(form, "employer", "Employer or organisation", false, 200);
        t.job_role = e.text(form, "job_role", "Job or voluntary role", false, 200);
        t.police_refs = e.text(form, "police_refs", "Police reference numbers", false, 500);
        for (cid, _) in children {
            let field = format!("rel-{cid}");
            let code = optional_code(
                &mut e,
                form,
                &field,
                "Select a relationship from the list",
                |c| ChildRelationship::parse(c).is_some(),
            );
            t.rels.push((*cid, code));
        }
    }
    if !e.is_empty() {
        return (t, e, None);
    }
    let facts = PersonFacts {
        full_name: t.name.clone(),
        sex: t.sex.clone(),
        gender: t.gender.clone(),
        date_of_birth: dob,
        age_estimate: if dob.is_some() { None } else { age },
        ethnicity: t.ethnicity.clone(),
        first_language: t.first_language.clone(),
        interpreter: t.interpreter.clone(),
        address: t.address.clone(),
        household: t.household.clone(),
        school: t.school.clone(),
        send: t.send.clone(),
        send_details: t.send_details.clone(),
        nhs_number: nhs_digits,
        protection_plan: t.plan.clone(),
        looked_after: t.looked_after.clone(),
        relationship: (!is_child).then(|| t.role.clone()),
        employer: t.employer.clone(),
        job_role: t.job_role.clone(),
        police_refs: t.police_refs.clone(),
    };
    (t, e, Some(facts))
}

fn form_fields(kind: &str, children: &[(Uuid, String)]) -> Vec<String> {
    let mut v: Vec<String> = [
        "name",
        "sex",
        "gender",
        "dob-day",
        "dob-month",
        "dob-year",
        "age",
        "ethnicity",
        "first_language",
        "interpreter",
        "address",
        "household",
        "nhs",
        "version",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    if kind == "child" {
        v.extend(
            ["school", "send", "send_details", "plan", "looked_after"]
                .iter()
                .map(|s| s.to_string()),
        );
    } else {
        v.extend(
            ["role", "employer", "job_role", "police_refs"]
                .iter()
                .map(|s| s.to_string()),
        );
        v.extend(children.iter().map(|(c, _)| format!("rel-{c}")));
    }
    v
}

async fn children_of(
    db: impl sqlx::PgExecutor<'_>,
    case_id: Uuid,
) -> AppResult<Vec<(Uuid, String)>> {
    Ok(db::people::children(db, case_id).await?)
}

fn rels_of(all: &[(Uuid, Uuid, String)], adult: Uuid) -> Vec<(Uuid, String)> {
    all.iter()
        .filter(|(a, _, _)| *a == adult)
        .map(|(_, c, r)| (*c, r.clone()))
        .collect()
}

/// `GET /cases/{id}/people/{pid}/edit`.
pub async fn edit_form(
    State(state): State<AppState>,
    user: CurrentUser,
    Path((id, pid)): Path<(String, String)>,
) -> AppResult<Response> {
    let (id, pid) = (parse_id(&id)?, parse_id(&pid)?);
    let case = open_case(&state, &user, id, "case.view").await?;
    let person = db::people::find(&state.pool, id, pid)
        .await?
        .ok_or(AppError::NotFound)?;
    let children = children_of(&state.pool, id).await?;
    let rels = db::people::relationships(&state.pool, id).await?;
    let ctx = PageContext {
        user: &user,
        case_id: id,
        reference: &case.reference,
        kind: &person.kind,
        person: Some((pid, person.version)),
        children: &children,
        idem: "",
    };
    let p = page(
        &ctx,
        Typed::from_facts(&person.facts, rels_of(&rels, pid)),
        Errors::default(),
    );
    Ok(Html(p.render()?).into_response())
}

/// `GET /cases/{id}/people/new/{kind}`.
pub async fn new_form(
    State(state): State<AppState>,
    user: CurrentUser,
    Path((id, kind)): Path<(String, String)>,
) -> AppResult<Response> {
    let id = parse_id(&id)?;
    if kind != "child" && kind != "adult" {
        return Err(AppError::NotFound);
    }
    let case = open_case(&state, &user, id, "case.view").await?;
    let children = children_of(&state.pool, id).await?;
    let fresh = Uuid::new_v4().to_string();
    let ctx = PageContext {
        user: &user,
        case_id: id,
        reference: &case.reference,
        kind: &kind,
        person: None,
        children: &children,
        idem: &fresh,
    };
    let p = page(&ctx, Typed::default(), Errors::default());
    Ok(Html(p.render()?).into_response())
}

#[derive(Template)]
#[template(path = "cases/conflict.html")]
struct ConflictPage {
    layout: Layout,
    reference: String,
    yours: Vec<SummaryRow>,
    theirs: Vec<SummaryRow>,
    changed: String,
    again: String,
    what: &'static str,
}

fn summary(rows: Vec<(String, String)>) -> Vec<SummaryRow> {
    rows.into_iter()
        .map(|(l, v)| SummaryRow::new(l, not_recorded(&v)))
        .collect()
}

/// `POST /cases/{id}/people/{pid}/edit` and `POST /cases/{id}/people/new/{kind}`.
async fn save(
    state: AppState,
    user: CurrentUser,
    id: Uuid,
    target: Result<Uuid, String>,
    form: FormData,
) -> AppResult<Response> {
    let now = state.config.clock.now();
    let today = london_date(now);
    let mut tx = state.pool.begin().await?;
    let case = db::cases::find_visible(&mut *tx, &viewer(&user), id)
        .await?
        .ok_or(AppError::NotFound)?;
    if case.restricted && !user.recently_authenticated() {
        return Err(AppError::StepUp(format!("/cases/{id}")));
    }
    // The case before its people, as an allocation takes them.
    db::cases::lock_for_people(&mut *tx, id).await?;
    let existing: Option<PersonRecord> = match &target {
        Ok(pid) => Some(
            db::people::find(&mut *tx, id, *pid)
                .await?
                .ok_or(AppError::NotFound)?,
        ),
        Err(_) => None,
    };
    let kind = match (&existing, &target) {
        (Some(p), _) => p.kind.clone(),
        (None, Err(k)) => k.clone(),
        (None, Ok(_)) => return Err(AppError::NotFound),
    };
    let children = children_of(&mut *tx, id).await?;
    let allowed = form_fields(&kind, &children);
    let allowed: Vec<&str> = allowed.iter().map(String::as_str).collect();
    form.only(&allowed)?;
    let version: i32 = match &existing {
        Some(_) => form
            .raw("version")
            .parse()
            .map_err(|_| AppError::BadRequest("missing version"))?,
        None => 0,
    };
    let all_rels = db::people::relationships(&mut *tx, id).await?;
    let (typed, errors, facts) = read_form(&form, &kind, &children, today);
    let ctx = PageContext {
        user: &user,
        case_id: id,
        reference: &case.reference,
        kind: &kind,
        person: existing.as_ref().map(|p| (p.id, version)),
        children: &children,
        idem: form.raw("_idem"),
    };
    let Some(facts) = facts else {
        let p = page(&ctx, typed, errors);
        audited_view(&state, &user, tx, case, "person form with errors").await?;
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, Html(p.render()?)).into_response());
    };
    let new_rels: Vec<(Uuid, String)> = typed.rels.clone();
    let pid = match &existing {
        Some(old) => {
            let old_rels = rels_of(&all_rels, old.id);
            let before = fact_rows(&kind, &old.facts, today, &children, &old_rels);
            let after = fact_rows(&kind, &facts, today, &children, &new_rels);
            if !db::people::update(&mut *tx, id, old.id, version, &facts).await? {
                tx.rollback().await?;
                // Someone saved first: show both, overwrite nothing.
                let mut tx = state.pool.begin().await?;
                let case = db::cases::find_visible(&mut *tx, &viewer(&user), id)
                    .await?
                    .ok_or(AppError::NotFound)?;
                let case = audited_view(&state, &user, tx, case, "person edit conflict").await?;
                let current = db::people::find(&state.pool, id, old.id)
                    .await?
                    .ok_or(AppError::NotFound)?;
                let all_rels = db::people::relationships(&state.pool, id).await?;
                if current.facts == facts && rels_of(&all_rels, old.id) == new_rels {
                    // Already exactly this (a double click): nothing lost.
                    return Ok(Redirect::to(&format!("/cases/{id}#people")).into_response());
                }
                let page = ConflictPage {
                    layout: Layout::for_user(
                        "Someone else changed this person's details",
                        &user,
                        Section::None,
                    ),
                    reference: case.reference.clone(),
                    yours: summary(changed_only(&before, &after, true)),
                    theirs: summary(fact_rows(
                        &kind,
                        &current.facts,
                        today,
                        &children,
                        &rels_of(&all_rels, old.id),
                    )),
                    changed: format_datetime(current.updated_at),
                    again: format!("/cases/{id}/people/{}/edit", old.id),
                    what: "person's details",
                };
                return Ok((StatusCode::CONFLICT, Html(page.render()?)).into_response());
            }
            for (child, code) in &new_rels {
                db::people::set_relationship(&mut *tx, old.id, *child, code).await?;
            }
            let diff = changes(&before, &after);
            if diff.is_empty() {
                // Saved with nothing changed: the version moved on, nothing to put on record.
                tx.commit().await?;
                return Ok(Redirect::to(&format!("/cases/{id}#people")).into_response());
            }
            db::cases::add_chronology(
                &mut *tx,
                id,
                now,
                "person",
                &format!(
                    "{} changed the details of {}: {}.",
                    user.name,
                    facts.full_name,
                    diff.join("; ")
                ),
                None,
                user.id,
            )
            .await?;
            old.id
        }
        None => {
            // The add form carries a one-time key: a double click adds the person once.
            if let Ok(idem) = Uuid::parse_str(form.raw("_idem"))
                && let Some(earlier) = db::cases::claim_submission(
                    &mut tx,
                    idem,
                    user.id,
                    &format!("/cases/{id}#people"),
                )
                .await?
            {
                return Ok(Redirect::to(&earlier).into_response());
            }
            let pid = db::people::insert(&mut *tx, id, &kind, &facts).await?;
            for (child, code) in &new_rels {
                db::people::set_relationship(&mut *tx, pid, *child, code).await?;
            }
            let rows = fact_rows(&kind, &facts, today, &children, &new_rels);
            let recorded: Vec<String> = rows
                .iter()
                .filter(|(_, v)| !v.is_empty())
                .map(|(l, v)| format!("{l}: “{v}”"))
                .collect();
            db::cases::add_chronology(
                &mut *tx,
                id,
                now,
                "person",
                &format!(
                    "{} added {} {} to the case: {}.",
                    user.name,
                    if kind == "child" {
                        "a child,"
                    } else {
                        "an adult,"
                    },
                    facts.full_name,
                    recorded.join("; ")
                ),
                None,
                user.id,
            )
            .await?;
            pid
        }
    };
    db::people::refresh_search_names(&mut *tx, id).await?;
    audit::record(
        &mut tx,
        &state.audit,
        &user.actor(),
        Event::new(
            if existing.is_some() {
                "person.update"
            } else {
                "person.create"
            },
            "case_person",
        )
        .entity(pid)
        .case(id),
    )
    .await?;
    tx.commit().await?;
    Ok(Redirect::to(&format!("/cases/{id}#people")).into_response())
}

/// Only the rows that differ, for "Your changes" on a conflict (all rows when nothing differs).
fn changed_only(
    before: &[(String, String)],
    after: &[(String, String)],
    fallback_all: bool,
) -> Vec<(String, String)> {
    let v: Vec<(String, String)> = before
        .iter()
        .zip(after)
        .filter(|(a, b)| a.1 != b.1)
        .map(|(_, b)| b.clone())
        .collect();
    if v.is_empty() && fallback_all {
        after.to_vec()
    } else {
        v
    }
}

pub async fn edit_submit(
    State(state): State<AppState>,
    user: CurrentUser,
    Path((id, pid)): Path<(String, String)>,
    form: FormData,
) -> AppResult<Response> {
    let (id, pid) = (parse_id(&id)?, parse_id(&pid)?);
    save(state, user, id, Ok(pid), form).await
}

pub async fn new_submit(
    State(state): State<AppState>,
    user: CurrentUser,
    Path((id, kind)): Path<(String, String)>,
    form: FormData,
) -> AppResult<Response> {
    let id = parse_id(&id)?;
    if kind != "child" && kind != "adult" {
        return Err(AppError::NotFound);
    }
    save(state, user, id, Err(kind), form).await
}

/// The case page's lines about each child and adult: the facts that matter at a glance.
pub fn case_page_people(
    people: Vec<PersonRecord>,
    rels: &[(Uuid, Uuid, String)],
    today: NaiveDate,
) -> (Vec<super::cases::PersonView>, Vec<super::cases::PersonView>) {
    let names: Vec<(Uuid, String)> = people
        .iter()
        .map(|p| (p.id, p.facts.full_name.clone()))
        .collect();
    let mut children = Vec::new();
    let mut adults = Vec::new();
    for p in people {
        let f = &p.facts;
        let mut d = Vec::new();
        let mut tags = Vec::new();
        if p.kind == "child" {
            let age = age_words(f, today);
            d.push(if age.is_empty() {
                "Age not known".to_owned()
            } else if f.date_of_birth.is_some() {
                format!("Born {age}")
            } else {
                age
            });
            if let Some(s) = Sex::parse(&f.sex).filter(|s| *s != Sex::NotKnown) {
                d.push(s.label().to_owned());
            }
            if !f.school.is_empty() {
                d.push(f.school.clone());
            }
            if !f.household.is_empty() {
                d.push(format!("Lives with {}", f.household));
            }
            if f.protection_plan == "yes" {
                tags.push("Child protection plan");
            }
            if f.looked_after == "yes" {
                tags.push("Looked after");
            }
        } else {
            d.push(
                f.relationship
                    .as_deref()
                    .and_then(Relationship::parse)
                    .map(Relationship::label)
                    .unwrap_or("Adult")
                    .to_owned(),
            );
            for (_, child, code) in rels.iter().filter(|(a, _, _)| *a == p.id) {
                if let (Some(r), Some((_, name))) = (
                    ChildRelationship::parse(code),
                    names.iter().find(|(id, _)| id == child),
                ) {
                    d.push(format!("{} to {name}", r.label()));
                }
            }
            if !f.job_role.is_empty() || !f.employer.is_empty() {
                d.push(
                    [f.job_role.as_str(), f.employer.as_str()]
                        .iter()
                        .filter(|s| !s.is_empty())
                        .copied()
                        .collect::<Vec<_>>()
                        .join(", "),
                );
            }
            if !f.household.is_empty() {
                d.push(f.household.clone());
            }
        }
        if f.interpreter == "yes" {
            tags.push("Needs an interpreter");
        }
        let view = super::cases::PersonView {
            id: p.id,
            name: f.full_name.clone(),
            detail: d.join(". "),
            tags,
        };
        if p.kind == "child" {
            children.push(view);
        } else {
            adults.push(view);
        }
    }
    (children, adults)
}
