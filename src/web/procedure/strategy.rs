//! Strategy discussions: a GOV.UK task list, one question group per page, then "check and
//! record". A draft can be saved page by page (optimistic locking on every save); recording it
//! makes it final, starts the Section 47 enquiries it decided on, and starts or moves the
//! conference clocks.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use uuid::Uuid;

use crate::app::AppState;
use crate::audit::Event;
use crate::auth::CurrentUser;
use crate::db;
use crate::db::procedure::DiscussionRow;
use crate::domain::procedure::{
    Agency, AttendeeRole, CONSIDERATION_PAGES, CONSIDERATIONS, EnquiryKind, FamilyDecision,
    missing_attendees,
};
use crate::domain::time::{format_date, format_datetime, london_date};
use crate::error::{AppError, AppResult};

use super::super::cases::Audited;
use super::super::form::{DateParts, Errors, FormData};
use super::super::layout::{Layout, Section};
use super::super::macros_support::{Choice, SummaryRow};
use super::super::parse_id;
use super::{Change, children, conflict_page};

/// The pages of a discussion, in task-list order: (slug, title).
pub const PAGES: &[(&str, &str)] = &[
    ("when", "When it was held"),
    ("attendees", "Who took part"),
    ("children", "Section 47 enquiry for each child"),
    ("risk", "Risk to children"),
    ("work", "Work and positions of trust"),
    ("investigation", "The investigation and protection"),
    ("decisions", "Decisions and actions"),
    ("family", "Telling the family"),
];

/// Everything about one discussion that its pages show.
struct Loaded {
    d: DiscussionRow,
    attendees: Vec<db::procedure::AttendeeRow>,
    children: Vec<(Uuid, String)>,
    child_decisions: Vec<db::procedure::ChildDecisionRow>,
    considerations: Vec<db::procedure::ConsiderationRow>,
    actions: Vec<db::procedure::ActionRow>,
}

async fn load(db: &mut sqlx::PgConnection, case_id: Uuid, id: Uuid) -> AppResult<Loaded> {
    let d = db::procedure::discussion(&mut *db, case_id, id)
        .await?
        .ok_or(AppError::NotFound)?;
    Ok(Loaded {
        attendees: db::procedure::attendees(&mut *db, id).await?,
        children: children(&mut *db, case_id).await?,
        child_decisions: db::procedure::child_decisions(&mut *db, id).await?,
        considerations: db::procedure::considerations(&mut *db, id).await?,
        actions: db::procedure::actions(&mut *db, id).await?,
        d,
    })
}

impl Loaded {
    fn done(&self, page: &str) -> bool {
        match page {
            "when" => self.d.held_at.is_some(),
            "attendees" => {
                !self.attendees.is_empty()
                    && (self.missing().is_empty() || !self.d.absent_reason.is_empty())
            }
            "children" => self
                .children
                .iter()
                .all(|(c, _)| self.child_decisions.iter().any(|d| d.person_id == *c)),
            "decisions" => !self.d.decisions.is_empty(),
            "family" => self.d.family_decision.is_some(),
            other => CONSIDERATION_PAGES
                .iter()
                .find(|p| p.0 == other)
                .is_some_and(|(_, _, keys)| {
                    keys.iter()
                        .all(|k| self.considerations.iter().any(|c| c.key == *k))
                }),
        }
    }

    fn missing(&self) -> Vec<&'static str> {
        let pairs: Vec<(Agency, AttendeeRole)> = self
            .attendees
            .iter()
            .filter_map(|a| Some((Agency::parse(&a.agency)?, AttendeeRole::parse(&a.role)?)))
            .collect();
        missing_attendees(&pairs)
    }

    fn recorded(&self) -> bool {
        self.d.status == "recorded"
    }
}

pub struct TaskView {
    pub href: String,
    pub title: &'static str,
    pub done: bool,
}

pub struct AttendeeView {
    pub id: Uuid,
    pub name: String,
    pub agency: &'static str,
    pub role: &'static str,
}

pub struct ChildView {
    pub id: Uuid,
    pub name: String,
    pub kind_field: String,
    pub on_field: String,
    pub on_error: String,
    pub yes: bool,
    pub no: bool,
    pub date: DateParts,
    pub kinds: Vec<Choice>,
    pub error: String,
}

pub struct ConsiderationView {
    pub key: &'static str,
    pub question: &'static str,
    pub answer: String,
    pub risk: bool,
    pub error: String,
}

pub struct ActionView {
    pub id: Uuid,
    pub action: String,
    pub owner: String,
    pub due: String,
    pub done: String,
}

#[derive(Template)]
#[template(path = "procedure/strategy.html")]
struct StrategyPage {
    layout: Layout,
    errors: Errors,
    case_id: Uuid,
    reference: String,
    id: Uuid,
    version: i32,
    /// "tasks", "check", "recorded", or one of PAGES.
    page: &'static str,
    heading: String,
    tasks: Vec<TaskView>,
    summary: Vec<SummaryRow>,
    // when
    held_date: DateParts,
    held_time: String,
    // attendees
    attendees: Vec<AttendeeView>,
    missing: Vec<&'static str>,
    new_name: String,
    agencies: Vec<Choice>,
    roles: Vec<Choice>,
    absent_reason: String,
    // children
    children: Vec<ChildView>,
    // considerations
    considerations: Vec<ConsiderationView>,
    // decisions and actions
    decisions: String,
    actions: Vec<ActionView>,
    action_text: String,
    action_owner: String,
    action_due: DateParts,
    // family
    family: Vec<Choice>,
    family_by: String,
    family_date: DateParts,
    family_time: String,
    family_agreed: String,
}

fn page_slug(slug: &str) -> Option<&'static str> {
    PAGES
        .iter()
        .map(|p| p.0)
        .chain(["check"])
        .find(|p| *p == slug)
}

fn title_of(slug: &str) -> &'static str {
    PAGES
        .iter()
        .find(|p| p.0 == slug)
        .map(|p| p.1)
        .unwrap_or("Check and record the strategy discussion")
}

/// Build the page from what is stored; handlers then overlay what was typed.
fn page(
    user: &CurrentUser,
    case: &db::cases::CaseRow,
    l: &Loaded,
    slug: &'static str,
    errors: Errors,
) -> StrategyPage {
    let base = format!("/cases/{}/strategy/{}", case.id, l.d.id);
    let heading = match slug {
        "tasks" | "recorded" => match l.d.held_at {
            Some(at) => format!("Strategy discussion on {}", format_datetime(at)),
            None => "Strategy discussion".to_owned(),
        },
        other => title_of(other).to_owned(),
    };
    let held =
        l.d.held_at
            .map(|at| at.with_timezone(&chrono_tz::Europe::London));
    let considerations_on = |keys: &[&str]| -> Vec<ConsiderationView> {
        keys.iter()
            .filter_map(|k| {
                let (key, question, _) = CONSIDERATIONS.iter().find(|c| c.0 == *k)?;
                let stored = l.considerations.iter().find(|c| c.key == *key);
                Some(ConsiderationView {
                    key,
                    question,
                    answer: stored.map(|c| c.answer.clone()).unwrap_or_default(),
                    risk: stored.is_some_and(|c| c.risk),
                    error: errors.get(key).to_owned(),
                })
            })
            .collect()
    };
    let considerations = CONSIDERATION_PAGES
        .iter()
        .find(|p| p.0 == slug)
        .map(|(_, _, keys)| considerations_on(keys))
        .unwrap_or_default();
    let family_code = l.d.family_decision.clone().unwrap_or_default();
    StrategyPage {
        layout: Layout::for_user(
            format!("{heading}: {}", case.reference),
            user,
            Section::None,
        )
        .with_errors(&errors),
        case_id: case.id,
        reference: case.reference.clone(),
        id: l.d.id,
        version: l.d.version,
        page: slug,
        heading,
        tasks: PAGES
            .iter()
            .map(|(s, t)| TaskView {
                href: format!("{base}/{s}"),
                title: t,
                done: l.done(s),
            })
            .collect(),
        summary: summary(l, &base),
        held_date: held
            .map(|h| DateParts::from_date(h.date_naive()))
            .unwrap_or_default(),
        held_time: held
            .map(|h| h.format("%H:%M").to_string())
            .unwrap_or_default(),
        attendees: l
            .attendees
            .iter()
            .map(|a| AttendeeView {
                id: a.id,
                name: a.name.clone(),
                agency: Agency::parse(&a.agency).map(Agency::label).unwrap_or(""),
                role: AttendeeRole::parse(&a.role)
                    .map(AttendeeRole::label)
                    .unwrap_or(""),
            })
            .collect(),
        missing: l.missing(),
        new_name: String::new(),
        agencies: Agency::ALL
            .iter()
            .map(|a| Choice::new(a.code(), a.label(), false))
            .collect(),
        roles: AttendeeRole::ALL
            .iter()
            .map(|r| Choice::new(r.code(), r.label(), false))
            .collect(),
        absent_reason: l.d.absent_reason.clone(),
        children: l
            .children
            .iter()
            .map(|(id, name)| {
                let d = l.child_decisions.iter().find(|d| d.person_id == *id);
                ChildView {
                    id: *id,
                    name: name.clone(),
                    kind_field: format!("kind-{id}"),
                    on_field: format!("on-{id}"),
                    on_error: errors.get(&format!("on-{id}-day")).to_owned(),
                    yes: d.is_some_and(|d| d.section47),
                    no: d.is_some_and(|d| !d.section47),
                    date: d
                        .and_then(|d| d.started_on)
                        .map(DateParts::from_date)
                        .unwrap_or_default(),
                    kinds: EnquiryKind::ALL
                        .iter()
                        .map(|k| {
                            Choice::new(
                                k.code(),
                                k.label(),
                                d.and_then(|d| d.kind.as_deref()) == Some(k.code()),
                            )
                        })
                        .collect(),
                    error: errors.get(&format!("s47-{id}")).to_owned(),
                }
            })
            .collect(),
        considerations,
        decisions: l.d.decisions.clone(),
        actions: l
            .actions
            .iter()
            .map(|a| ActionView {
                id: a.id,
                action: a.action.clone(),
                owner: a.owner.clone(),
                due: format_date(a.due_on),
                done: a
                    .done_at
                    .map(|t| format!("Done {}", format_datetime(t)))
                    .unwrap_or_default(),
            })
            .collect(),
        action_text: String::new(),
        action_owner: String::new(),
        action_due: DateParts::default(),
        family: FamilyDecision::ALL
            .iter()
            .map(|f| Choice::new(f.code(), f.label(), f.code() == family_code))
            .collect(),
        family_by: l.d.family_decided_by.clone(),
        family_date: l
            .d
            .family_decided_at
            .map(|t| DateParts::from_date(london_date(t)))
            .unwrap_or_default(),
        family_time: l
            .d
            .family_decided_at
            .map(|t| {
                t.with_timezone(&chrono_tz::Europe::London)
                    .format("%H:%M")
                    .to_string()
            })
            .unwrap_or_default(),
        family_agreed: l.d.family_agreed.clone(),
        errors,
    }
}

/// The check page's (and the recorded discussion's) summary.
fn summary(l: &Loaded, base: &str) -> Vec<SummaryRow> {
    let change = |row: SummaryRow, page: &str, what: &str| {
        if l.recorded() {
            row
        } else {
            row.change(format!("{base}/{page}"), what.to_owned())
        }
    };
    let mut rows = vec![change(
        SummaryRow::new(
            "Held",
            l.d.held_at
                .map(format_datetime)
                .unwrap_or_else(|| "Not yet given".into()),
        ),
        "when",
        "when it was held",
    )];
    let who: Vec<String> = l
        .attendees
        .iter()
        .map(|a| {
            format!(
                "{} ({}, {})",
                a.name,
                AttendeeRole::parse(&a.role)
                    .map(AttendeeRole::label)
                    .unwrap_or(""),
                Agency::parse(&a.agency).map(Agency::label).unwrap_or("")
            )
        })
        .collect();
    let mut who_text = if who.is_empty() {
        "Nobody yet".to_owned()
    } else {
        who.join("\n")
    };
    if !l.d.absent_reason.is_empty() {
        who_text.push_str(&format!("\nNot present: {}", l.d.absent_reason));
    }
    rows.push(change(
        SummaryRow::new("Who took part", who_text),
        "attendees",
        "who took part",
    ));
    for (id, name) in &l.children {
        let v = match l.child_decisions.iter().find(|d| d.person_id == *id) {
            Some(d) if d.section47 => format!(
                "A Section 47 enquiry starts on {}, {}",
                d.started_on.map(format_date).unwrap_or_default(),
                d.kind
                    .as_deref()
                    .and_then(EnquiryKind::parse)
                    .map(|k| k.label().to_lowercase())
                    .unwrap_or_default()
            ),
            Some(_) => "No Section 47 enquiry".to_owned(),
            None => "Not yet decided".to_owned(),
        };
        rows.push(change(
            SummaryRow::new(format!("Section 47: {name}"), v),
            "children",
            &format!("the Section 47 decision for {name}"),
        ));
    }
    for (page, _, keys) in CONSIDERATION_PAGES {
        for k in *keys {
            let Some((_, _, short)) = CONSIDERATIONS.iter().find(|c| c.0 == *k) else {
                continue;
            };
            let v = match l.considerations.iter().find(|c| c.key == *k) {
                Some(c) if c.risk => format!("Risk: {}", c.answer),
                Some(c) => c.answer.clone(),
                None => "Not yet answered".to_owned(),
            };
            rows.push(change(SummaryRow::new(*short, v), page, short));
        }
    }
    rows.push(change(
        SummaryRow::new(
            "Decisions",
            if l.d.decisions.is_empty() {
                "Not yet written".to_owned()
            } else {
                l.d.decisions.clone()
            },
        ),
        "decisions",
        "the decisions",
    ));
    let actions: Vec<String> = l
        .actions
        .iter()
        .map(|a| format!("{} ({}, by {})", a.action, a.owner, format_date(a.due_on)))
        .collect();
    rows.push(change(
        SummaryRow::new(
            "Actions",
            if actions.is_empty() {
                "None".to_owned()
            } else {
                actions.join("\n")
            },
        ),
        "decisions",
        "the actions",
    ));
    let family = match l
        .d
        .family_decision
        .as_deref()
        .and_then(FamilyDecision::parse)
    {
        Some(f) => format!(
            "{}. Decided by {} on {}.{}",
            f.label(),
            l.d.family_decided_by,
            l.d.family_decided_at
                .map(format_datetime)
                .unwrap_or_default(),
            if l.d.family_agreed.is_empty() {
                String::new()
            } else {
                format!(" {}", l.d.family_agreed)
            }
        ),
        None => "Not yet recorded".to_owned(),
    };
    rows.push(change(
        SummaryRow::new("Telling the family", family),
        "family",
        "the decision about telling the family",
    ));
    rows
}

fn respond(p: StrategyPage) -> AppResult<Response> {
    let status = if p.errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    Ok((status, Html(p.render()?)).into_response())
}

/// Start a new draft discussion.
pub async fn start(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
    form: FormData,
) -> AppResult<Response> {
    form.only(&[])?;
    let id = parse_id(&id)?;
    let mut change = Change::begin(&state, &user, id).await?;
    if change.case.status == "closed" {
        return Err(AppError::NotFound);
    }
    let sid = db::procedure::create_discussion(&mut *change.tx, id, user.id).await?;
    change
        .finish(
            &state,
            &user,
            None,
            Event::new("case.strategy_start", "case")
                .details(serde_json::json!({ "discussion": sid })),
        )
        .await?;
    Ok(Redirect::to(&format!("/cases/{id}/strategy/{sid}")).into_response())
}

/// The task list, or the recorded discussion.
pub async fn tasks(
    State(state): State<AppState>,
    user: CurrentUser,
    Path((id, sid)): Path<(String, String)>,
) -> AppResult<Response> {
    let (id, sid) = (parse_id(&id)?, parse_id(&sid)?);
    let Audited(case) = super::open_case(&state, &user, id, "case.view").await?;
    let mut conn = state.pool.acquire().await?;
    let l = load(&mut conn, id, sid).await?;
    let slug = if l.recorded() { "recorded" } else { "tasks" };
    respond(page(&user, &case, &l, slug, Errors::default()))
}

/// One page of the discussion (or the check page).
pub async fn page_form(
    State(state): State<AppState>,
    user: CurrentUser,
    Path((id, sid, slug)): Path<(String, String, String)>,
) -> AppResult<Response> {
    let (id, sid) = (parse_id(&id)?, parse_id(&sid)?);
    let slug = page_slug(&slug).ok_or(AppError::NotFound)?;
    let Audited(case) = super::open_case(&state, &user, id, "case.view").await?;
    let mut conn = state.pool.acquire().await?;
    let l = load(&mut conn, id, sid).await?;
    if l.recorded() {
        return Ok(Redirect::to(&format!("/cases/{id}/strategy/{sid}")).into_response());
    }
    respond(page(&user, &case, &l, slug, Errors::default()))
}

/// Save one page. `action=add` / `remove-…` keep the person on the page; otherwise back to the
/// task list.
pub async fn page_submit(
    State(state): State<AppState>,
    user: CurrentUser,
    Path((id, sid, slug)): Path<(String, String, String)>,
    form: FormData,
) -> AppResult<Response> {
    let (id, sid) = (parse_id(&id)?, parse_id(&sid)?);
    let slug = page_slug(&slug).ok_or(AppError::NotFound)?;
    let version: i32 = form
        .raw("version")
        .parse()
        .map_err(|_| AppError::BadRequest("missing version"))?;
    let mut change = Change::begin(&state, &user, id).await?;
    let l = load(&mut change.tx, id, sid).await?;
    if l.recorded() {
        return conflict_page(
            &user,
            &change.case,
            "this strategy discussion (it has been recorded)",
        );
    }
    let now = change.now;
    let mut e = Errors::default();
    let base = format!("/cases/{id}/strategy/{sid}");
    let mut stay = false;
    // What the person typed, to show back if anything is wrong.
    let mut typed: Box<dyn FnMut(&mut StrategyPage) + Send> = Box::new(|_| {});
    match slug {
        "check" => return record(&state, &user, change, l, version).await,
        "when" => {
            form.only(&["version", "held-day", "held-month", "held-year", "time"])?;
            let m = e.past_moment(&form, "held", "time", "the discussion was held", true, now);
            if let Some(at) = m.at
                && at < change.case.received_at
            {
                e.add(
                    "held-day",
                    "The discussion cannot have been held before the referral was received",
                );
            }
            if e.is_empty()
                && let Some(at) = m.at
            {
                bump(&mut change, sid, version).await?;
                db::procedure::set_held_at(&mut *change.tx, sid, at).await?;
            } else {
                typed = Box::new(move |p| {
                    p.held_date = m.date.clone();
                    p.held_time = m.time.clone();
                });
            }
        }
        "attendees" => {
            form.only(&[
                "version",
                "name",
                "agency",
                "role",
                "absent_reason",
                "action",
            ])?;
            let action = form.raw("action");
            if let Some(remove) = action.strip_prefix("remove-") {
                let aid = parse_id(remove)?;
                bump(&mut change, sid, version).await?;
                db::procedure::remove_attendee(&mut *change.tx, sid, aid).await?;
                stay = true;
            } else if action == "add" {
                let name = e.text(&form, "name", "The attendee's name", true, 200);
                let agency = e.choice(
                    &form,
                    "agency",
                    "Select the attendee's agency",
                    Agency::parse,
                );
                let role = e.choice(
                    &form,
                    "role",
                    "Select the attendee's role",
                    AttendeeRole::parse,
                );
                if let (Some(agency), Some(role), true) = (agency, role, e.is_empty()) {
                    bump(&mut change, sid, version).await?;
                    db::procedure::add_attendee(
                        &mut *change.tx,
                        sid,
                        &name,
                        agency.code(),
                        role.code(),
                    )
                    .await?;
                    stay = true;
                } else {
                    let (a, r) = (form.raw("agency").to_owned(), form.raw("role").to_owned());
                    typed = Box::new(move |p| {
                        p.new_name = name.clone();
                        p.agencies
                            .iter_mut()
                            .for_each(|c| c.selected = c.value == a);
                        p.roles.iter_mut().for_each(|c| c.selected = c.value == r);
                    });
                }
            } else {
                let reason = e.text(
                    &form,
                    "absent_reason",
                    "Why they were not there",
                    false,
                    2000,
                );
                if l.attendees.is_empty() {
                    e.add("name", "Add the people who took part");
                } else if !l.missing().is_empty() && reason.is_empty() {
                    e.add(
                        "absent_reason",
                        format!(
                            "Say why {} did not take part, or add them",
                            l.missing().join(", ")
                        ),
                    );
                }
                if e.is_empty() {
                    bump(&mut change, sid, version).await?;
                    db::procedure::set_decisions(&mut *change.tx, sid, &l.d.decisions, &reason)
                        .await?;
                } else {
                    typed = Box::new(move |p| p.absent_reason = reason.clone());
                }
            }
        }
        "children" => {
            let mut allowed: Vec<String> = vec!["version".into()];
            for (cid, _) in &l.children {
                allowed.push(format!("s47-{cid}"));
                allowed.push(format!("kind-{cid}"));
                for part in ["day", "month", "year"] {
                    allowed.push(format!("on-{cid}-{part}"));
                }
            }
            let allowed: Vec<&str> = allowed.iter().map(String::as_str).collect();
            form.only(&allowed)?;
            let held_day = l.d.held_at.map(london_date);
            let mut decisions = Vec::new();
            let mut shown: Vec<(Uuid, String, String, DateParts)> = Vec::new();
            for (cid, name) in &l.children {
                let s47 = form.raw(&format!("s47-{cid}"));
                let kind_code = form.raw(&format!("kind-{cid}"));
                let (parts, on) = e.date(
                    &form,
                    &format!("on-{cid}"),
                    "The date the enquiry started",
                    false,
                );
                shown.push((*cid, s47.to_owned(), kind_code.to_owned(), parts));
                match s47 {
                    "yes" => {
                        let kind = EnquiryKind::parse(kind_code);
                        if kind.is_none() {
                            e.add(
                                &format!("s47-{cid}"),
                                format!("Select who carries out the enquiry for {name}"),
                            );
                        }
                        let on = on.or(held_day);
                        match (on, held_day) {
                            (None, _) => e.add(
                                &format!("on-{cid}-day"),
                                format!("Enter the date the enquiry for {name} started"),
                            ),
                            (Some(on), Some(h)) if on < h => e.add(
                                &format!("on-{cid}-day"),
                                format!(
                                    "The enquiry for {name} cannot start before the discussion"
                                ),
                            ),
                            (Some(on), _) if on > london_date(now) => e.add(
                                &format!("on-{cid}-day"),
                                format!("The enquiry for {name} must have started already"),
                            ),
                            _ => {}
                        }
                        if let (Some(on), Some(kind)) = (on, kind) {
                            decisions.push((*cid, true, Some(on), Some(kind.code())));
                        }
                    }
                    "no" => decisions.push((*cid, false, None, None)),
                    _ => e.add(
                        &format!("s47-{cid}"),
                        format!("Select whether a Section 47 enquiry starts for {name}"),
                    ),
                }
            }
            if e.is_empty() {
                bump(&mut change, sid, version).await?;
                db::procedure::set_child_decisions(&mut change.tx, sid, &decisions).await?;
            } else {
                typed = Box::new(move |p| {
                    for c in p.children.iter_mut() {
                        if let Some((_, s47, kind, parts)) = shown.iter().find(|s| s.0 == c.id) {
                            c.yes = s47 == "yes";
                            c.no = s47 == "no";
                            c.kinds
                                .iter_mut()
                                .for_each(|k| k.selected = &k.value == kind);
                            c.date = parts.clone();
                        }
                    }
                });
            }
        }
        "risk" | "work" | "investigation" => {
            let keys = CONSIDERATION_PAGES
                .iter()
                .find(|p| p.0 == slug)
                .map(|p| p.2)
                .unwrap_or(&[]);
            let mut allowed = vec!["version".to_owned()];
            for k in keys {
                allowed.push((*k).to_owned());
                allowed.push(format!("{k}-risk"));
            }
            let allowed: Vec<&str> = allowed.iter().map(String::as_str).collect();
            form.only(&allowed)?;
            let mut answers = Vec::new();
            for k in keys {
                let short = CONSIDERATIONS
                    .iter()
                    .find(|c| c.0 == *k)
                    .map(|c| c.2)
                    .unwrap_or("");
                let answer = e.text(
                    &form,
                    k,
                    &format!("An answer about {}", short.to_lowercase()),
                    true,
                    5000,
                );
                answers.push((*k, answer, form.raw(&format!("{k}-risk")) == "yes"));
            }
            if e.is_empty() {
                bump(&mut change, sid, version).await?;
                for (k, a, r) in &answers {
                    db::procedure::set_consideration(&mut *change.tx, sid, k, a, *r).await?;
                }
            } else {
                typed = Box::new(move |p| {
                    for c in p.considerations.iter_mut() {
                        if let Some((_, a, r)) = answers.iter().find(|x| x.0 == c.key) {
                            c.answer = a.clone();
                            c.risk = *r;
                        }
                    }
                });
            }
        }
        "decisions" => {
            form.only(&[
                "version",
                "decisions",
                "action",
                "action_text",
                "action_owner",
                "due-day",
                "due-month",
                "due-year",
            ])?;
            let action = form.raw("action");
            let decisions = e.text(&form, "decisions", "The decisions", action != "add", 20000);
            if let Some(remove) = action.strip_prefix("remove-") {
                let aid = parse_id(remove)?;
                bump(&mut change, sid, version).await?;
                db::procedure::remove_action(&mut *change.tx, sid, aid).await?;
                stay = true;
            } else if action == "add" {
                let text = e.text(&form, "action_text", "The action", true, 2000);
                let owner = e.text(&form, "action_owner", "Who will do it", true, 200);
                let (parts, due) = e.date(&form, "due", "The date it is due", true);
                if e.is_empty()
                    && let Some(due) = due
                {
                    bump(&mut change, sid, version).await?;
                    db::procedure::set_decisions(
                        &mut *change.tx,
                        sid,
                        &decisions,
                        &l.d.absent_reason,
                    )
                    .await?;
                    db::procedure::add_action(&mut *change.tx, sid, &text, &owner, due).await?;
                    stay = true;
                } else {
                    typed = Box::new(move |p| {
                        p.decisions = decisions.clone();
                        p.action_text = text.clone();
                        p.action_owner = owner.clone();
                        p.action_due = parts.clone();
                    });
                }
            } else if e.is_empty() {
                bump(&mut change, sid, version).await?;
                db::procedure::set_decisions(&mut *change.tx, sid, &decisions, &l.d.absent_reason)
                    .await?;
            } else {
                typed = Box::new(move |p| p.decisions = decisions.clone());
            }
        }
        "family" => {
            form.only(&[
                "version",
                "family",
                "family_by",
                "family-day",
                "family-month",
                "family-year",
                "time",
                "family_agreed",
            ])?;
            let decision = e.choice(
                &form,
                "family",
                "Select what was decided about telling the family",
                FamilyDecision::parse,
            );
            let by = e.text(&form, "family_by", "Who decided", true, 500);
            let when = e.past_moment(&form, "family", "time", "it was decided", true, now);
            let agreed = e.text(
                &form,
                "family_agreed",
                "What was agreed",
                decision == Some(FamilyDecision::Agreed),
                5000,
            );
            if let (Some(d), Some(at), true) = (decision, when.at, e.is_empty()) {
                bump(&mut change, sid, version).await?;
                db::procedure::set_family_decision(
                    &mut *change.tx,
                    sid,
                    d.code(),
                    &by,
                    at,
                    &agreed,
                )
                .await?;
            } else {
                let code = form.raw("family").to_owned();
                typed = Box::new(move |p| {
                    p.family
                        .iter_mut()
                        .for_each(|c| c.selected = c.value == code);
                    p.family_by = by.clone();
                    p.family_date = when.date.clone();
                    p.family_time = when.time.clone();
                    p.family_agreed = agreed.clone();
                });
            }
        }
        _ => return Err(AppError::NotFound),
    }
    if !e.is_empty() {
        let Audited(case) = change
            .show_again(&state, &user, "strategy page with errors")
            .await?;
        let mut conn = state.pool.acquire().await?;
        let l = load(&mut conn, id, sid).await?;
        let mut p = page(&user, &case, &l, slug, e);
        p.version = version;
        typed(&mut p);
        return respond(p);
    }
    change
        .finish(
            &state,
            &user,
            None,
            Event::new("case.strategy_update", "case")
                .details(serde_json::json!({ "discussion": sid, "page": slug })),
        )
        .await?;
    let to = if stay { format!("{base}/{slug}") } else { base };
    Ok(Redirect::to(&to).into_response())
}

/// Claim the draft's next version; a stale one becomes the conflict page (via `Stale`).
async fn bump(change: &mut Change<'_>, sid: Uuid, version: i32) -> AppResult<()> {
    db::procedure::bump_draft(&mut *change.tx, sid, version)
        .await
        .map_err(|e| match e {
            db::procedure::WriteError::Db(e) => AppError::from(e),
            _ => AppError::Conflict,
        })
}

/// Check everything is answered, then record the discussion.
async fn record(
    state: &AppState,
    user: &CurrentUser,
    mut change: Change<'_>,
    l: Loaded,
    version: i32,
) -> AppResult<Response> {
    let base = format!("/cases/{}/strategy/{}", change.case.id, l.d.id);
    let mut e = Errors::default();
    for (slug, title) in PAGES {
        if !l.done(slug) {
            e.add(&format!("task-{slug}"), format!("Complete “{title}”"));
        }
    }
    if !e.is_empty() {
        let Audited(case) = change
            .show_again(state, user, "strategy check with errors")
            .await?;
        let p = page(user, &case, &l, "check", e);
        return respond(p);
    }
    let now = change.now;
    let case_id = change.case.id;
    let started = match db::procedure::record_discussion(
        &mut change.tx,
        case_id,
        l.d.id,
        version,
        user.id,
        now,
    )
    .await
    {
        Ok(s) => s,
        Err(err) => return super::write_error(err, user, &change.case, "this strategy discussion"),
    };
    if !started.is_empty() {
        db::procedure::set_status(&mut *change.tx, case_id, "section47").await?;
    } else if change.case.status == "open" {
        db::procedure::set_status(&mut *change.tx, case_id, "strategy").await?;
    }
    let held = l.d.held_at.map(format_datetime).unwrap_or_default();
    let mut summary = format!(
        "Strategy discussion held on {held} recorded. {} took part.",
        l.attendees.len()
    );
    let names: Vec<&str> = l
        .children
        .iter()
        .filter(|(c, _)| started.contains(c))
        .map(|(_, n)| n.as_str())
        .collect();
    if !names.is_empty() {
        summary.push_str(&format!(
            " Section 47 enquiry started for {}.",
            names.join(", ")
        ));
    }
    let risks = l.considerations.iter().filter(|c| c.risk).count();
    if risks > 0 {
        summary.push_str(&format!(" {risks} of the considerations show a risk."));
    }
    if let Some(f) =
        l.d.family_decision
            .as_deref()
            .and_then(FamilyDecision::parse)
    {
        summary.push_str(&format!(" Telling the family: {}.", f.label()));
    }
    let at = l.d.held_at.unwrap_or(now);
    change
        .finish(
            state,
            user,
            Some(("strategy", summary, at)),
            Event::new("case.strategy_record", "case").details(
                serde_json::json!({ "discussion": l.d.id, "enquiries_started": started.len() }),
            ),
        )
        .await?;
    Ok(Redirect::to(&base).into_response())
}

/// Mark an action done (also after the discussion is recorded).
pub async fn action_done(
    State(state): State<AppState>,
    user: CurrentUser,
    Path((id, sid, aid)): Path<(String, String, String)>,
    form: FormData,
) -> AppResult<Response> {
    form.only(&[])?;
    let (id, sid, aid) = (parse_id(&id)?, parse_id(&sid)?, parse_id(&aid)?);
    let mut change = Change::begin(&state, &user, id).await?;
    db::procedure::discussion(&mut *change.tx, id, sid)
        .await?
        .ok_or(AppError::NotFound)?;
    let now = change.now;
    if !db::procedure::action_done(&mut *change.tx, sid, aid, user.id, now).await? {
        return Err(AppError::NotFound);
    }
    change
        .finish(
            &state,
            &user,
            Some((
                "strategy",
                "An action from a strategy discussion was done.".into(),
                now,
            )),
            Event::new("case.strategy_update", "case")
                .details(serde_json::json!({ "discussion": sid, "action_done": aid })),
        )
        .await?;
    Ok(Redirect::to(&format!("/cases/{id}/strategy/{sid}")).into_response())
}
