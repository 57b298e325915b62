//! The procedure's other pathways on a case (`domain::pathways`): one form per pathway at
//! `/cases/{id}/pathways/{kind}`, shown filled in with what is recorded, saved with optimistic
//! locking, its chronology entry and its audit row in one transaction.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};

use crate::app::AppState;
use crate::audit::{self, Event};
use crate::auth::CurrentUser;
use crate::db;
use crate::domain::pathways::{
    ChannelOutcome, Hsb, HsbWhere, MaterialReported, Nudes, NudesTrigger, Pathway, PoliceRecord,
    Prevent, PreventReferral, summary_hsb, summary_nudes, summary_prevent,
};
use crate::error::{AppError, AppResult};

use super::cases::{open_case, viewer};
use super::form::{DateParts, Errors, FormData};
use super::layout::{Layout, Section};
use super::macros_support::Choice;
use super::parse_id;

/// A pathway as the case page lists it.
pub struct PathwayView {
    pub href: String,
    pub label: &'static str,
    pub purpose: &'static str,
    /// What is recorded, or empty when nothing is yet.
    pub summary: String,
    pub updated: String,
}

pub fn views(case: uuid::Uuid, rows: &[db::pathways::PathwayRow]) -> Vec<PathwayView> {
    Pathway::ALL
        .iter()
        .map(|p| {
            let row = rows.iter().find(|r| r.kind == p.code());
            PathwayView {
                href: format!("/cases/{case}/pathways/{}", p.code()),
                label: p.label(),
                purpose: p.purpose(),
                summary: row.map(|r| summary(*p, &r.record)).unwrap_or_default(),
                updated: row
                    .map(|r| {
                        format!(
                            "Last changed by {} on {}",
                            r.updated_by,
                            crate::domain::time::format_datetime(r.updated_at)
                        )
                    })
                    .unwrap_or_default(),
            }
        })
        .collect()
}

fn summary(p: Pathway, record: &serde_json::Value) -> String {
    let r = record.clone();
    match p {
        Pathway::Prevent => serde_json::from_value(r).map(|x| summary_prevent(&x)),
        Pathway::Nudes => serde_json::from_value(r).map(|x| summary_nudes(&x)),
        Pathway::Hsb => serde_json::from_value(r).map(|x| summary_hsb(&x)),
    }
    .unwrap_or_default()
}

/// What the form shows: typed values (after errors) or the stored record.
#[derive(Default)]
struct Values {
    text: std::collections::HashMap<&'static str, String>,
    date: DateParts,
    many: Vec<String>,
}

impl Values {
    fn get(&self, k: &str) -> String {
        self.text.get(k).cloned().unwrap_or_default()
    }
}

#[derive(Template)]
#[template(path = "cases/pathway.html")]
struct PathwayPage {
    layout: Layout,
    errors: Errors,
    id: uuid::Uuid,
    reference: String,
    kind: &'static str,
    title: &'static str,
    purpose: &'static str,
    version: i32,
    conflict: bool,
    // Prevent
    lead: String,
    advice: String,
    referral: Vec<Choice>,
    referral_on: DateParts,
    referral_reference: String,
    channel: Vec<Choice>,
    material: Vec<Choice>,
    reported_by: String,
    reported_to: String,
    // Nudes
    triggers: Vec<Choice>,
    police: Vec<Choice>,
    police_reference: String,
    // HSB
    child_name: String,
    child_age: String,
    own_case: String,
    setting: Vec<Choice>,
    assessment: String,
    safety_plan: Vec<Choice>,
    notes: String,
}

fn choices(all: &[(&str, &str)], selected: &str) -> Vec<Choice> {
    all.iter()
        .map(|(v, l)| Choice::new(*v, *l, *v == selected))
        .collect()
}

macro_rules! options {
    ($t:ty) => {
        <$t>::ALL
            .iter()
            .map(|x| (x.code(), x.label()))
            .collect::<Vec<_>>()
    };
}

fn stored_values(p: Pathway, record: Option<&serde_json::Value>) -> Values {
    let mut v = Values::default();
    let Some(record) = record else { return v };
    match p {
        Pathway::Prevent => {
            let x: Prevent = serde_json::from_value(record.clone()).unwrap_or_default();
            v.text.insert("lead", x.lead);
            v.text.insert("advice", x.advice);
            v.text.insert("referral", x.referral);
            v.date = x.referral_on.map(DateParts::from_date).unwrap_or_default();
            v.text.insert("referral_reference", x.referral_reference);
            v.text.insert("channel", x.channel);
            v.text.insert("material", x.material);
            v.text.insert("reported_by", x.reported_by);
            v.text.insert("reported_to", x.reported_to);
        }
        Pathway::Nudes => {
            let x: Nudes = serde_json::from_value(record.clone()).unwrap_or_default();
            v.many = x.triggers;
            v.text.insert("police", x.police);
            v.text.insert("police_reference", x.police_reference);
            v.text.insert("notes", x.notes);
        }
        Pathway::Hsb => {
            let x: Hsb = serde_json::from_value(record.clone()).unwrap_or_default();
            v.text.insert("child_name", x.child_name);
            v.text.insert(
                "child_age",
                x.child_age.map(|a| a.to_string()).unwrap_or_default(),
            );
            v.text.insert("own_case", x.own_case);
            v.text.insert("setting", x.setting);
            v.text.insert("assessment", x.assessment);
            v.text.insert("safety_plan", x.safety_plan);
            v.text.insert("notes", x.notes);
        }
    }
    v
}

const FIELDS: &[&str] = &[
    "lead",
    "advice",
    "referral",
    "referral_reference",
    "channel",
    "material",
    "reported_by",
    "reported_to",
    "police",
    "police_reference",
    "notes",
    "child_name",
    "child_age",
    "own_case",
    "setting",
    "assessment",
    "safety_plan",
];

fn typed_values(form: &FormData) -> Values {
    let mut v = Values::default();
    for f in FIELDS {
        v.text.insert(f, form.raw(f).trim().to_owned());
    }
    v.date = DateParts {
        day: form.raw("referral_on-day").trim().to_owned(),
        month: form.raw("referral_on-month").trim().to_owned(),
        year: form.raw("referral_on-year").trim().to_owned(),
    };
    v.many = form
        .all("triggers")
        .into_iter()
        .map(str::to_owned)
        .collect();
    v
}

#[allow(clippy::too_many_arguments)]
fn render(
    user: &CurrentUser,
    case: &db::cases::CaseRow,
    p: Pathway,
    v: Values,
    errors: Errors,
    version: i32,
    conflict: bool,
) -> AppResult<Response> {
    let status = if conflict {
        StatusCode::CONFLICT
    } else if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let title = match p {
        Pathway::Prevent => "Prevent",
        Pathway::Nudes => "Nudes and semi-nudes shared by children",
        Pathway::Hsb => "Harmful sexual behaviour by a child",
    };
    let page = PathwayPage {
        layout: Layout::for_user(title, user, Section::None).with_errors(&errors),
        errors,
        id: case.id,
        reference: case.reference.clone(),
        kind: p.code(),
        title,
        purpose: p.purpose(),
        version,
        conflict,
        lead: v.get("lead"),
        advice: v.get("advice"),
        referral: choices(&options!(PreventReferral), &v.get("referral")),
        referral_on: v.date.clone(),
        referral_reference: v.get("referral_reference"),
        channel: choices(&options!(ChannelOutcome), &v.get("channel")),
        material: choices(&options!(MaterialReported), &v.get("material")),
        reported_by: v.get("reported_by"),
        reported_to: v.get("reported_to"),
        triggers: NudesTrigger::ALL
            .iter()
            .map(|t| Choice::new(t.code(), t.label(), v.many.iter().any(|m| m == t.code())))
            .collect(),
        police: choices(&options!(PoliceRecord), &v.get("police")),
        police_reference: v.get("police_reference"),
        child_name: v.get("child_name"),
        child_age: v.get("child_age"),
        own_case: v.get("own_case"),
        setting: choices(&options!(HsbWhere), &v.get("setting")),
        assessment: v.get("assessment"),
        safety_plan: choices(&[("yes", "Yes"), ("no", "Not yet")], &v.get("safety_plan")),
        notes: v.get("notes"),
    };
    Ok((status, Html(page.render()?)).into_response())
}

fn pathway(kind: &str) -> AppResult<Pathway> {
    Pathway::parse(kind).ok_or(AppError::NotFound)
}

pub async fn form(
    State(state): State<AppState>,
    user: CurrentUser,
    Path((id, kind)): Path<(String, String)>,
) -> AppResult<Response> {
    let id = parse_id(&id)?;
    let p = pathway(&kind)?;
    let case = open_case(&state, &user, id, "case.view").await?;
    let rows = db::pathways::list(&state.pool, id).await?;
    let row = rows.iter().find(|r| r.kind == p.code());
    render(
        &user,
        &case,
        p,
        stored_values(p, row.map(|r| &r.record)),
        Errors::default(),
        row.map_or(0, |r| r.version),
        false,
    )
}

/// Check what was typed; the record to store and its summary, or the errors.
async fn check(
    state: &AppState,
    user: &CurrentUser,
    p: Pathway,
    form: &FormData,
    e: &mut Errors,
) -> AppResult<Option<(serde_json::Value, String)>> {
    let now = crate::domain::time::london_date(state.config.clock.now());
    Ok(match p {
        Pathway::Prevent => {
            let lead = e.text(form, "lead", "The setting's Prevent lead", true, 200);
            let advice = e.text(form, "advice", "The advice given", true, 5000);
            let referral = e.choice(
                form,
                "referral",
                "Select whether a Prevent referral was made",
                PreventReferral::parse,
            );
            let (_, referral_on) = e.date(
                form,
                "referral_on",
                "The date of the referral",
                referral == Some(PreventReferral::Made),
            );
            if referral_on.is_some_and(|d| d > now) {
                e.add(
                    "referral_on-day",
                    "The date of the referral must be today or in the past",
                );
            }
            let referral_reference = e.text(
                form,
                "referral_reference",
                "The referral's reference",
                false,
                100,
            );
            let channel = e.choice(
                form,
                "channel",
                "Select the Channel outcome",
                ChannelOutcome::parse,
            );
            if referral.is_some_and(|r| r != PreventReferral::Made)
                && channel.is_some_and(|c| c != ChannelOutcome::NotApplicable)
            {
                e.add("channel", "Without a Prevent referral there is no Channel outcome: select \"No Prevent referral was made\"");
            }
            let material = e.choice(
                form,
                "material",
                "Select whether online terrorist material was reported",
                MaterialReported::parse,
            );
            let reported_by = e.text(
                form,
                "reported_by",
                "Who reported it",
                material == Some(MaterialReported::Yes),
                200,
            );
            let reported_to = e.text(form, "reported_to", "Where it was reported", false, 200);
            let (Some(referral), Some(channel), Some(material), true) =
                (referral, channel, material, e.is_empty())
            else {
                return Ok(None);
            };
            let x = Prevent {
                lead,
                advice,
                referral: referral.code().into(),
                referral_on: if referral == PreventReferral::Made {
                    referral_on
                } else {
                    None
                },
                referral_reference,
                channel: channel.code().into(),
                material: material.code().into(),
                reported_by: if material == MaterialReported::Yes {
                    reported_by
                } else {
                    String::new()
                },
                reported_to,
            };
            let s = summary_prevent(&x);
            Some((
                serde_json::to_value(x).map_err(|e| AppError::Internal(e.into()))?,
                s,
            ))
        }
        Pathway::Nudes => {
            let mut triggers = Vec::new();
            for t in form.all("triggers") {
                match NudesTrigger::parse(t) {
                    Some(t) if !triggers.contains(&t.code().to_owned()) => {
                        triggers.push(t.code().to_owned())
                    }
                    Some(_) => {}
                    None => return Err(AppError::BadRequest("unknown trigger")),
                }
            }
            let police = e.choice(
                form,
                "police",
                "Select what the police recorded",
                PoliceRecord::parse,
            );
            let police_reference =
                e.text(form, "police_reference", "The police reference", false, 100);
            let notes = e.text(form, "notes", "Notes", false, 5000);
            // An adult involved makes it child sexual abuse: the police must have it.
            if triggers.iter().any(|t| t == NudesTrigger::Adult.code())
                && matches!(
                    police,
                    Some(PoliceRecord::NotReported | PoliceRecord::Outcome21)
                )
            {
                e.add(
                    "police",
                    "An adult is involved, so this is child sexual abuse: report it to the police urgently, then record that it is waiting for their decision or what they recorded",
                );
            }
            let (Some(police), true) = (police, e.is_empty()) else {
                return Ok(None);
            };
            let x = Nudes {
                triggers,
                police: police.code().into(),
                police_reference,
                notes,
            };
            let s = summary_nudes(&x);
            Some((
                serde_json::to_value(x).map_err(|e| AppError::Internal(e.into()))?,
                s,
            ))
        }
        Pathway::Hsb => {
            let child_name = e.text(
                form,
                "child_name",
                "The name of the child alleged to have harmed",
                true,
                200,
            );
            let age_text = form.raw("child_age").trim();
            let child_age = if age_text.is_empty() {
                None
            } else {
                match age_text.parse::<u8>() {
                    Ok(a) if a < 18 => Some(a),
                    _ => {
                        e.add("child_age", "Enter the child's age in years, from 0 to 17: an adult is not on this pathway");
                        None
                    }
                }
            };
            let own_case = e
                .text(form, "own_case", "Their case reference", false, 40)
                .to_uppercase();
            if !own_case.is_empty() {
                let found: Option<uuid::Uuid> =
                    sqlx::query_scalar!("SELECT id FROM cases WHERE reference = $1", own_case)
                        .fetch_optional(&state.pool)
                        .await?;
                let visible = match found {
                    Some(cid) => db::cases::find_visible(&state.pool, &viewer(user), cid)
                        .await?
                        .is_some(),
                    None => false,
                };
                // The same words whether the case does not exist or is not one this person may see.
                if !visible {
                    e.add("own_case", "You have no case open to you with that reference: check it, or leave it blank");
                }
            }
            let setting = e.choice(
                form,
                "setting",
                "Select where the behaviour happened",
                HsbWhere::parse,
            );
            let assessment = e.text(form, "assessment", "The assessment used", false, 200);
            let safety_plan = match form.raw("safety_plan") {
                v @ ("yes" | "no") => v.to_owned(),
                _ => {
                    e.add("safety_plan", "Select whether a safety plan is in place");
                    String::new()
                }
            };
            let notes = e.text(form, "notes", "Notes", false, 5000);
            let (Some(setting), true) = (setting, e.is_empty()) else {
                return Ok(None);
            };
            let x = Hsb {
                child_name,
                child_age,
                own_case,
                setting: setting.code().into(),
                assessment,
                safety_plan,
                notes,
            };
            let s = summary_hsb(&x);
            Some((
                serde_json::to_value(x).map_err(|e| AppError::Internal(e.into()))?,
                s,
            ))
        }
    })
}

pub async fn submit(
    State(state): State<AppState>,
    user: CurrentUser,
    Path((id, kind)): Path<(String, String)>,
    form: FormData,
) -> AppResult<Response> {
    let id = parse_id(&id)?;
    let p = pathway(&kind)?;
    let mut allowed: Vec<&str> = FIELDS.to_vec();
    allowed.extend([
        "_csrf",
        "version",
        "triggers",
        "referral_on-day",
        "referral_on-month",
        "referral_on-year",
    ]);
    form.only(&allowed)?;
    let version: i32 = form
        .raw("version")
        .parse()
        .map_err(|_| AppError::BadRequest("missing version"))?;
    let case = open_case(&state, &user, id, "case.view").await?;
    let mut e = Errors::default();
    let Some((record, summary)) = check(&state, &user, p, &form, &mut e).await? else {
        return render(&user, &case, p, typed_values(&form), e, version, false);
    };
    let now = state.config.clock.now();
    let mut tx = state.pool.begin().await?;
    if !db::pathways::save(&mut *tx, id, p.code(), &record, version, user.id).await? {
        tx.rollback().await?;
        let rows = db::pathways::list(&state.pool, id).await?;
        let row = rows.iter().find(|r| r.kind == p.code());
        return render(
            &user,
            &case,
            p,
            stored_values(p, row.map(|r| &r.record)),
            Errors::default(),
            row.map_or(0, |r| r.version),
            true,
        );
    }
    db::cases::add_chronology(
        &mut *tx,
        id,
        now,
        "pathway",
        &format!("{}: {summary}", p.label()),
        None,
        user.id,
    )
    .await?;
    audit::record(
        &mut tx,
        &state.audit,
        &user.actor(),
        Event::new("case.pathway", "case")
            .entity(id)
            .case(id)
            .details(serde_json::json!({ "pathway": p.code(), "version": version + 1 })),
    )
    .await?;
    tx.commit().await?;
    Ok(Redirect::to(&format!("/cases/{id}#pathways")).into_response())
}
