//! Cases: "My cases", team lists, name search, the case page with its chronology, notes,
//! editing details (optimistic locking) and "who has viewed or changed this case".

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use chrono::NaiveDate;
use serde::Deserialize;
use uuid::Uuid;

use crate::app::AppState;
use crate::audit::{self, Event};
use crate::auth::CurrentUser;
use crate::db;
use crate::db::cases::{CaseRow, ListFilter, Viewer};
use crate::domain::time::{format_date, format_datetime};
use crate::domain::{CaseStatus, ConcernKind, Role, WorksWithChildren};
use crate::error::{AppError, AppResult};

use super::form::{DateParts, Errors, FormData};
use super::layout::{Layout, Section};
use super::macros_support::{Choice, SummaryRow};
use super::parse_id;

const LIST_PAGE: i64 = 25;
/// Chronology entries a page of the case shows (then "Older entries"). A page of 100 took twice
/// as long to make as one of 10 and ran to 120 KB; to read a long chronology at once, print it
/// (all of it, or a range of dates).
const CHRONOLOGY_PAGE: i64 = 50;
const AUDIT_PAGE: i64 = 50;

pub(crate) fn viewer(user: &CurrentUser) -> Viewer<'_> {
    Viewer {
        team_ids: &user.team_ids,
        user_id: user.id,
        is_lado: user.role == Role::Lado,
    }
}

// Lists -------------------------------------------------------------------------------------------

pub struct CaseItem {
    pub id: Uuid,
    pub reference: String,
    pub title: String,
    pub status: &'static str,
    pub concerns: Vec<&'static str>,
    pub immediate_risk: bool,
    pub received: String,
    pub owner: String,
    /// The next deadline: (what, when, tag colour), or None.
    pub next: Option<(String, String, &'static str)>,
    /// A manager allocated it in the last 7 days.
    pub newly_allocated: bool,
    /// For a search: the person found on the case, in words.
    pub matched: String,
}

impl CaseItem {
    fn new(
        c: CaseRow,
        cal: &crate::domain::calendar::Calendar,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Self {
        let next = super::procedure::next_deadline_words(
            cal,
            c.next_due_kind.as_deref(),
            c.next_due_at,
            now,
        );
        CaseItem {
            next,
            newly_allocated: c
                .allocated_at
                .is_some_and(|t| now - t < chrono::Duration::days(7)),
            id: c.id,
            status: c.status().label(),
            concerns: c.concerns().into_iter().map(ConcernKind::short).collect(),
            reference: c.reference,
            title: c.title,
            immediate_risk: c.immediate_risk,
            received: format_date(crate::domain::time::london_date(c.received_at)),
            owner: c.owner_name,
            matched: String::new(),
        }
    }
}

#[derive(Template)]
#[template(path = "cases/list.html")]
struct ListPage {
    layout: Layout,
    heading: &'static str,
    /// Where the filter form sends (GET) and which list the name search covers.
    list_href: &'static str,
    scope: &'static str,
    statuses: Vec<Choice>,
    concerns: Vec<Choice>,
    orders: Vec<Choice>,
    risk_first: bool,
    name: String,
    /// The date of birth a search was narrowed to, as typed (blank when none).
    dob: DateParts,
    errors: Errors,
    cases: Vec<CaseItem>,
    /// For GET lists, the next page's address; for searches, the cursor posted with the form.
    next_href: String,
    next_after: String,
    searched: bool,
}

#[derive(Deserialize, Default)]
pub struct ListQuery {
    status: Option<String>,
    concern: Option<String>,
    after: Option<String>,
    /// "risk" for cases with a child at immediate risk first.
    order: Option<String>,
}

fn status_choices(selected: Option<CaseStatus>) -> Vec<Choice> {
    let mut v = vec![Choice::new("", "Any status", selected.is_none())];
    v.extend(
        CaseStatus::ALL
            .iter()
            .map(|s| Choice::new(s.code(), s.label(), Some(*s) == selected)),
    );
    v
}

fn concern_choices(selected: Option<ConcernKind>) -> Vec<Choice> {
    let mut v = vec![Choice::new("", "Any kind of concern", selected.is_none())];
    v.extend(
        ConcernKind::ALL
            .iter()
            .map(|k| Choice::new(k.code(), k.short(), Some(*k) == selected)),
    );
    v
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Scope {
    Mine,
    Team,
}

#[allow(clippy::too_many_arguments)]
async fn render_list(
    state: &AppState,
    user: &CurrentUser,
    scope: Scope,
    mut filter: ListFilter,
    name: String,
    (dob, date_of_birth): (DateParts, Option<NaiveDate>),
    errors: Errors,
    searched: bool,
    offset: i64,
) -> AppResult<Response> {
    if scope == Scope::Mine {
        filter.owner = Some(user.id);
    }
    // A search lists the people it found (closest first), each with their case.
    let today = crate::domain::time::london_date(state.config.clock.now());
    let (mut rows, mut matched, mut cursors) = match (&filter.name, errors.is_empty()) {
        (_, false) => (Vec::new(), Vec::new(), Vec::new()),
        (Some(n), true) => {
            let found = db::cases::search_people(
                &state.hot,
                &viewer(user),
                &filter,
                n,
                date_of_birth,
                offset,
                LIST_PAGE + 1,
            )
            .await?;
            let mut rows = Vec::new();
            let mut matched = Vec::new();
            let mut cursors = Vec::new();
            for m in found {
                matched.push(match m.date_of_birth {
                    Some(d) => format!(
                        "{} (born {}, {} years old)",
                        m.full_name,
                        format_date(d),
                        crate::domain::people::age_on(d, today)
                    ),
                    None => m.full_name,
                });
                cursors.push(m.person_id);
                rows.push(m.case);
            }
            (rows, matched, cursors)
        }
        (None, true) => {
            let rows = db::cases::list(&state.pool, &viewer(user), &filter, LIST_PAGE + 1).await?;
            let cursors = rows.iter().map(|r| r.id).collect();
            (rows, Vec::new(), cursors)
        }
    };
    let more = rows.len() as i64 > LIST_PAGE;
    rows.truncate(LIST_PAGE as usize);
    matched.truncate(LIST_PAGE as usize);
    cursors.truncate(LIST_PAGE as usize);
    if errors.is_empty() {
        record_listing(state, user, scope, &filter, date_of_birth.is_some(), &rows).await?;
    }
    let cal = super::procedure::page_calendar(state, user, &state.pool).await?;
    let now = state.config.clock.now();
    let (heading, list_href, scope_code, section) = match scope {
        Scope::Mine => ("My cases", "/cases", "mine", Section::MyCases),
        Scope::Team => ("Team cases", "/cases/team", "team", Section::TeamCases),
    };
    // Lists continue after the last case shown; a search after how many people it has shown.
    let next_after = match (more, cursors.last()) {
        (true, _) if searched => (offset + LIST_PAGE).to_string(),
        (true, Some(last)) => last.to_string(),
        _ => String::new(),
    };
    let next_href = if next_after.is_empty() || searched {
        String::new()
    } else {
        let mut q = format!("{list_href}?after={next_after}");
        if let Some(s) = filter.status {
            q.push_str(&format!("&status={}", s.code()));
        }
        if let Some(k) = filter.concern {
            q.push_str(&format!("&concern={}", k.code()));
        }
        if filter.risk_first {
            q.push_str("&order=risk");
        }
        q
    };
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let page = ListPage {
        layout: Layout::for_user(heading, user, section).with_errors(&errors),
        heading,
        list_href,
        scope: scope_code,
        statuses: status_choices(filter.status),
        concerns: concern_choices(filter.concern),
        orders: vec![
            Choice::new("", "Newest first", !filter.risk_first),
            Choice::new("risk", "A child at immediate risk first", filter.risk_first),
        ],
        risk_first: filter.risk_first,
        name,
        dob,
        errors,
        cases: rows
            .into_iter()
            .enumerate()
            .map(|(i, r)| {
                let mut item = CaseItem::new(r, &cal, now);
                item.matched = matched.get(i).cloned().unwrap_or_default();
                item
            })
            .collect(),
        next_href,
        next_after: if searched { next_after } else { String::new() },
        searched,
    };
    Ok((status, Html(page.render()?)).into_response())
}

/// A list or search shows cases (names, references, concerns), so it is audited like a view:
/// which cases it showed and how it was asked for. A search records only the shape of what was
/// typed (its length and number of words, and whether a date of birth narrowed it), never the
/// name or the date itself.
async fn record_listing(
    state: &AppState,
    user: &CurrentUser,
    scope: Scope,
    filter: &ListFilter,
    with_date_of_birth: bool,
    rows: &[CaseRow],
) -> AppResult<()> {
    let shown: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
    let scope = match scope {
        Scope::Mine => "mine",
        Scope::Team => "team",
    };
    let filters = serde_json::json!({
        "status": filter.status.map(CaseStatus::code),
        "concern": filter.concern.map(ConcernKind::code),
        "after": filter.after,
        "risk_first": filter.risk_first,
    });
    let event = match &filter.name {
        Some(name) => Event::new("case.search", "case_list").details(serde_json::json!({
            "scope": scope,
            "filters": filters,
            "terms": {
                "characters": name.chars().count(),
                "words": name.split_whitespace().count(),
                "date_of_birth": with_date_of_birth,
            },
            "cases": shown,
        })),
        None => Event::new("case.list", "case_list").details(serde_json::json!({
            "scope": scope,
            "filters": filters,
            "cases": shown,
        })),
    };
    audit::record_alone(&state.pool, &state.audit, &user.actor(), event).await?;
    Ok(())
}

fn filter_from_query(q: &ListQuery) -> ListFilter {
    ListFilter {
        status: q.status.as_deref().and_then(CaseStatus::parse),
        concern: q.concern.as_deref().and_then(ConcernKind::parse),
        after: q.after.as_deref().and_then(|a| Uuid::parse_str(a).ok()),
        risk_first: q.order.as_deref() == Some("risk"),
        ..Default::default()
    }
}

pub async fn my_cases(
    State(state): State<AppState>,
    user: CurrentUser,
    Query(q): Query<ListQuery>,
) -> AppResult<Response> {
    render_list(
        &state,
        &user,
        Scope::Mine,
        filter_from_query(&q),
        String::new(),
        Default::default(),
        Errors::default(),
        false,
        0,
    )
    .await
}

pub async fn team_cases(
    State(state): State<AppState>,
    user: CurrentUser,
    Query(q): Query<ListQuery>,
) -> AppResult<Response> {
    render_list(
        &state,
        &user,
        Scope::Team,
        filter_from_query(&q),
        String::new(),
        Default::default(),
        Errors::default(),
        false,
        0,
    )
    .await
}

/// Name search is a POST, so names never appear in addresses, logs or browser history.
pub async fn search(
    State(state): State<AppState>,
    user: CurrentUser,
    form: FormData,
) -> AppResult<Response> {
    form.only(&[
        "name",
        "dob-day",
        "dob-month",
        "dob-year",
        "scope",
        "status",
        "concern",
        "after",
    ])?;
    let mut errors = Errors::default();
    let name = errors.text(&form, "name", "Name", false, 100);
    let scope = if form.raw("scope") == "team" && matches!(user.role, Role::Manager | Role::Lado) {
        Scope::Team
    } else {
        Scope::Mine
    };
    if errors.is_empty() && name.is_empty() {
        // Blank or only spaces: not "every case".
        errors.add("name", "Enter at least 2 letters of a name to search for");
    } else if errors.is_empty() && name.chars().count() == 1 {
        errors.add("name", "Enter at least 2 letters of the name");
    }
    // Optional: narrows a common name to the person meant. Checked whatever the name's errors,
    // so both are shown at once.
    let dob = errors.date(&form, "dob", "Date of birth", false);
    let today = crate::domain::time::london_date(state.config.clock.now());
    if dob.1.is_some_and(|d| d > today) {
        errors.add("dob-day", "Date of birth must be today or in the past");
    }
    let filter = ListFilter {
        status: CaseStatus::parse(form.raw("status")),
        concern: ConcernKind::parse(form.raw("concern")),
        name: if name.is_empty() {
            None
        } else {
            Some(name.clone())
        },
        after: None,
        owner: None,
        risk_first: false,
    };
    // How many people earlier pages showed (bounded: a search is for finding someone, not for
    // reading every match).
    let offset = form
        .raw("after")
        .parse::<i64>()
        .unwrap_or(0)
        .clamp(0, 10_000);
    render_list(
        &state, &user, scope, filter, name, dob, errors, true, offset,
    )
    .await
}

// The case page ---------------------------------------------------------------------------------------

pub struct PersonView {
    pub id: Uuid,
    pub name: String,
    pub detail: String,
    /// Short flags shown as tags: "Child protection plan", "Looked after", "Interpreter".
    pub tags: Vec<&'static str>,
}

pub struct EntryView {
    pub when: String,
    pub kind: &'static str,
    pub summary: String,
    pub recorded: String,
    pub note_id: String,
    pub note_body: String,
    pub is_correction: bool,
    pub corrected: bool,
}

#[derive(Template)]
#[template(path = "cases/show.html")]
struct CasePage {
    layout: Layout,
    id: Uuid,
    reference: String,
    title: String,
    created: bool,
    /// The referral was sent already: the answer just given was not saved.
    not_saved: bool,
    summary: Vec<SummaryRow>,
    concerns: Vec<&'static str>,
    immediate_risk: bool,
    /// The next deadline: (what, when, tag colour).
    next: Option<(String, String, &'static str)>,
    /// The recorded joint decision about telling the family (still "not yet", and its words);
    /// until there is one, the page shows the warning.
    family: Option<(bool, String)>,
    children: Vec<PersonView>,
    adults: Vec<PersonView>,
    referral: Vec<SummaryRow>,
    account: String,
    entries: Vec<EntryView>,
    older_href: String,
    oldest_first: bool,
    can_see_audit: bool,
    /// Managers allocate; managers and the case worker read supervision notes.
    can_allocate: bool,
    can_see_supervision: bool,
    documents: Vec<super::documents::DocumentView>,
    pathways: Vec<super::pathways::PathwayView>,
    /// When a child was reported at immediate risk: what has been done about it.
    risk: Option<super::risk::RiskView>,
    restricted: bool,
    // The note form.
    errors: Errors,
    note: String,
    note_date: DateParts,
    note_time: String,
    corrects: String,
    corrects_when: String,
    idem: String,
}

#[derive(Deserialize, Default)]
pub struct ShowQuery {
    /// "oldest" to read the chronology from the start.
    order: Option<String>,
    /// Continue the chronology after this entry.
    from: Option<String>,
    correct: Option<String>,
    created: Option<String>,
    /// From a referral page whose answer was not saved (the referral had been sent).
    not_saved: Option<String>,
}

pub(crate) fn entry_kind(kind: &str) -> &'static str {
    match kind {
        "referral" => "Referral",
        "risk" => "Risk",
        "case" => "Case",
        "note" => "Note",
        "correction" => "Correction",
        "status" => "Status",
        "decision" => "Decision",
        "strategy" => "Strategy discussion",
        "section47" => "Section 47",
        "conference" => "Conference",
        "deadline" => "Deadline",
        "milestone" => "Milestone",
        "closure" => "Closure",
        "document" => "Document",
        "person" => "Person details",
        "police" => "Police",
        "allocation" => "Allocation",
        "supervision" => "Supervision",
        "pathway" => "Pathway",
        _ => "Event",
    }
}

pub struct NoteForm {
    errors: Errors,
    body: String,
    date: DateParts,
    time: String,
    corrects: Option<Uuid>,
}

/// Why the case page is being shown, when it says so in a banner.
#[derive(Clone, Copy, PartialEq, Eq, Default)]
pub enum Arrival {
    #[default]
    Opened,
    /// Just created from a referral.
    Created,
    /// Sent here from a page of a referral that had already been submitted (in another tab, say):
    /// the answer given on that page was not saved.
    ReferralAlreadySent,
}

/// Which way the chronology reads, and where this page of it starts.
#[derive(Clone, Copy, Default)]
pub struct ChronologyPage {
    pub oldest_first: bool,
    pub from: Option<Uuid>,
}

async fn render_case(
    state: &AppState,
    user: &CurrentUser,
    case: Audited,
    contents: db::case_page::Contents,
    page: ChronologyPage,
    note: NoteForm,
    arrival: Arrival,
) -> AppResult<Response> {
    let Audited(case) = case;
    let db::case_page::Contents {
        people,
        relationships: rels,
        family,
        referral,
        chronology: mut entries,
        pathways,
        documents,
    } = contents;
    // The calendar this instance holds (its version came with the session): no statement.
    let calendar = super::procedure::page_calendar(state, user, &state.pool).await?;
    let family = family.map(|(code, by, at, agreed)| {
        let label = crate::domain::procedure::FamilyDecision::parse(&code)
            .map(|f| f.label())
            .unwrap_or("");
        let mut words = format!(
            "{label}. Decided by {by}{}.",
            at.map(|t| format!(" on {}", format_datetime(t)))
                .unwrap_or_default()
        );
        if !agreed.is_empty() {
            words.push_str(&format!(" Agreed: {agreed}"));
        }
        (code == "not_yet", words)
    });
    let more = entries.len() as i64 > CHRONOLOGY_PAGE;
    entries.truncate(CHRONOLOGY_PAGE as usize);
    let order = if page.oldest_first {
        "oldest"
    } else {
        "newest"
    };
    let older_href = match (more, entries.last()) {
        (true, Some(last)) => format!(
            "/cases/{}?order={order}&from={}#chronology",
            case.id, last.id
        ),
        _ => String::new(),
    };
    let corrects_when = match note.corrects {
        Some(n) => entries
            .iter()
            .find(|e| e.note_id == Some(n))
            .map(|e| format_datetime(e.recorded_at))
            .unwrap_or_else(|| "earlier".to_owned()),
        None => String::new(),
    };

    let today = crate::domain::time::london_date(state.config.clock.now());
    let (children, adults) = super::people::case_page_people(people, &rels, today);

    let summary = vec![
        SummaryRow::new("Reference", case.reference.clone()),
        SummaryRow::new("Status", case.status().label()),
        SummaryRow::new("Team", case.team_name.clone()),
        SummaryRow::new("Case worker", case.owner_name.clone()),
        SummaryRow::new("Referral received", format_datetime(case.received_at)),
        SummaryRow::new("Last changed", format_datetime(case.updated_at)),
    ];
    let (referral_rows, account) = referral_rows(referral);
    let entries = entries.into_iter().map(entry_view).collect();
    let status = if note.errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let page = CasePage {
        layout: Layout::for_user(format!("Case {}", case.reference), user, Section::None)
            .with_errors(&note.errors),
        id: case.id,
        concerns: case
            .concerns()
            .into_iter()
            .map(ConcernKind::short)
            .collect(),
        immediate_risk: case.immediate_risk,
        family,
        next: super::procedure::next_deadline_words(
            &calendar,
            case.next_due_kind.as_deref(),
            case.next_due_at,
            state.config.clock.now(),
        ),
        reference: case.reference,
        title: case.title,
        created: arrival == Arrival::Created,
        not_saved: arrival == Arrival::ReferralAlreadySent,
        summary,
        children,
        adults,
        referral: referral_rows,
        account,
        entries,
        older_href,
        oldest_first: page.oldest_first,
        can_see_audit: matches!(user.role, Role::Manager | Role::Lado),
        can_allocate: user.role == Role::Manager && user.team_ids.contains(&case.team_id),
        can_see_supervision: (user.role == Role::Manager && user.team_ids.contains(&case.team_id))
            || case.owner_id == user.id,
        risk: if case.immediate_risk {
            Some(super::risk::view(state, user, case.id, case.team_id).await?)
        } else {
            None
        },
        pathways: super::pathways::views(case.id, &pathways),
        documents: super::documents::views(&format!("/cases/{}", case.id), documents),
        restricted: case.restricted,
        errors: note.errors,
        note: note.body,
        note_date: note.date,
        note_time: note.time,
        corrects: note.corrects.map(|c| c.to_string()).unwrap_or_default(),
        corrects_when,
        idem: Uuid::new_v4().to_string(),
    };
    Ok((status, Html(page.render()?)).into_response())
}

/// A case whose viewing has been written to the audit trail. Only [`open_case`] and
/// [`audited_view`] make one, and every page that shows a case's content takes one, so no page
/// can show a case without its access record (an error page included).
pub struct Audited(pub(crate) CaseRow);

impl std::ops::Deref for Audited {
    type Target = CaseRow;
    fn deref(&self) -> &CaseRow {
        &self.0
    }
}

/// Find a case the person may see, recording the view in the audit trail: one statement (the
/// visibility rule, the read and the audit row together, `db::cases::open_visible`).
pub(crate) async fn open_case(
    state: &AppState,
    user: &CurrentUser,
    id: Uuid,
    action: &str,
) -> AppResult<Audited> {
    let event = audit::prepare(
        &state.audit,
        &user.actor(),
        Event::new(action, "case").entity(id).case(id),
    );
    let (case, _) = open_with(state, user, id, &event, None).await?;
    Ok(case)
}

/// Open a case (see [`open_case`]), with the case page's contents when `window` is given: one
/// statement in all (`db::case_page::open`).
async fn open_with(
    state: &AppState,
    user: &CurrentUser,
    id: Uuid,
    event: &audit::Prepared,
    window: Option<db::case_page::Window>,
) -> AppResult<(Audited, Option<db::case_page::Contents>)> {
    match db::case_page::open(
        &state.hot,
        &viewer(user),
        id,
        user.recently_authenticated(),
        event,
        window,
    )
    .await?
    {
        db::case_page::Opened::NotFound => Err(AppError::NotFound),
        db::case_page::Opened::StepUp => Err(AppError::StepUp(format!("/cases/{id}"))),
        db::case_page::Opened::Open(opened) => {
            let (case, contents) = *opened;
            Ok((Audited(case), contents))
        }
    }
}

/// The case page, opened and recorded in one statement; `details` go in the view's audit row.
async fn case_page(
    state: &AppState,
    user: &CurrentUser,
    id: Uuid,
    details: serde_json::Value,
    page: ChronologyPage,
    note: NoteForm,
    arrival: Arrival,
) -> AppResult<Response> {
    let event = audit::prepare(
        &state.audit,
        &user.actor(),
        Event::new("case.view", "case")
            .entity(id)
            .case(id)
            .details(details),
    );
    let window = db::case_page::Window {
        oldest_first: page.oldest_first,
        from: page.from,
        limit: CHRONOLOGY_PAGE + 1,
    };
    let (case, contents) = open_with(state, user, id, &event, Some(window)).await?;
    let contents = contents.ok_or(AppError::NotFound)?;
    let mut note = note;
    // Correcting a note: only one of this case's (a rare extra query).
    if let Some(n) = note.corrects
        && !db::cases::note_in_case(&state.pool, id, n).await?
    {
        note.corrects = None;
    }
    render_case(state, user, case, contents, page, note, arrival).await
}

/// A form about a case came back with errors (or a conflict), so its page is shown again with
/// the case's content: record that view, in the transaction that found the case (whose other
/// changes the caller has not made).
pub(crate) async fn audited_view(
    state: &AppState,
    user: &CurrentUser,
    mut tx: sqlx::Transaction<'_, sqlx::Postgres>,
    case: CaseRow,
    why: &str,
) -> AppResult<Audited> {
    audit::record(
        &mut tx,
        &state.audit,
        &user.actor(),
        Event::new("case.view", "case")
            .entity(case.id)
            .case(case.id)
            .details(serde_json::json!({ "shown_again": why })),
    )
    .await?;
    tx.commit().await?;
    Ok(Audited(case))
}

pub async fn show(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
    Query(q): Query<ShowQuery>,
) -> AppResult<Response> {
    let id = parse_id(&id)?;
    let page = ChronologyPage {
        oldest_first: q.order.as_deref() == Some("oldest"),
        from: q.from.as_deref().and_then(|b| Uuid::parse_str(b).ok()),
    };
    let corrects = q.correct.as_deref().and_then(|c| Uuid::parse_str(c).ok());
    let note = NoteForm {
        errors: Errors::default(),
        body: String::new(),
        date: DateParts::default(),
        time: String::new(),
        corrects,
    };
    case_page(
        &state,
        &user,
        id,
        serde_json::json!({}),
        page,
        note,
        if q.created.is_some() {
            Arrival::Created
        } else if q.not_saved.is_some() {
            Arrival::ReferralAlreadySent
        } else {
            Arrival::Opened
        },
    )
    .await
}

pub async fn add_note(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
    form: FormData,
) -> AppResult<Response> {
    form.only(&[
        "body",
        "when-day",
        "when-month",
        "when-year",
        "time",
        "corrects",
    ])?;
    let id = parse_id(&id)?;
    let mut e = Errors::default();
    let body = e.text(&form, "body", "The note", true, 20_000);
    let now = state.config.clock.now();
    // A day alone (no time) is allowed for a note: some things are known only by their date.
    let date_only = !form.raw("when-day").trim().is_empty() && form.raw("time").trim().is_empty();
    let when = if date_only {
        let (parts, day) = e.date(&form, "when", "The date it happened", true);
        let today = crate::domain::time::london_date(now);
        let at = match day {
            Some(d) if d > today => {
                e.add(
                    "when-day",
                    "The date it happened must be today or in the past",
                );
                None
            }
            Some(d) => crate::domain::time::london_to_utc(d, chrono::NaiveTime::MIN),
            None => None,
        };
        super::form::Moment {
            date: parts,
            time: String::new(),
            at,
        }
    } else {
        e.past_moment(&form, "when", "time", "it happened", false, now)
    };
    let corrects = match form.raw("corrects") {
        "" => None,
        other => {
            Some(Uuid::parse_str(other).map_err(|_| AppError::BadRequest("bad note reference"))?)
        }
    };
    // Left blank, the note is about now.
    let occurred_at = match when.at {
        Some(at) => Some(at),
        None if e.is_empty() => Some(now),
        None => None,
    };
    let idem =
        Uuid::parse_str(form.raw("_idem")).map_err(|_| AppError::BadRequest("missing form key"))?;

    let (Some(occurred_at), true) = (occurred_at, e.is_empty()) else {
        // Nothing is saved: the page is shown again (opened and recorded afresh) with what was
        // typed. A correction may only point at a note in the same case.
        if let Some(c) = corrects
            && !db::cases::note_in_case(&state.pool, id, c).await?
        {
            return Err(AppError::NotFound);
        }
        let note = NoteForm {
            errors: e,
            body,
            date: when.date,
            time: when.time,
            corrects,
        };
        let why = serde_json::json!({ "shown_again": "note with errors" });
        return case_page(
            &state,
            &user,
            id,
            why,
            ChronologyPage::default(),
            note,
            Arrival::Opened,
        )
        .await;
    };
    let location = format!("/cases/{id}#chronology");
    // The note, its chronology entry and its audit row in one statement, which also checks the
    // case is visible, the corrected note is in it, and the form was not sent before.
    let note_id = Uuid::now_v7();
    let event = audit::prepare(
        &state.audit,
        &user.actor(),
        Event::new("case.note_add", "case_note")
            .entity(note_id)
            .case(id)
            .details(serde_json::json!({ "corrects": corrects })),
    );
    let note = db::cases::NewNote {
        case_id: id,
        body: &body,
        occurred_at,
        time_known: !date_only,
        corrects,
        author: user.id,
        form_key: idem,
        location: &location,
    };
    // On `hot`: its plan does not depend on its values, and planning it cost a third of it.
    match db::cases::write_note(&state.hot, &viewer(&user), &note, note_id, &event).await? {
        db::cases::NoteWritten::NotFound => Err(AppError::NotFound),
        // Already handled (a double click or a resubmitted form): show the result, create nothing.
        db::cases::NoteWritten::Earlier(earlier) => Ok(Redirect::to(&earlier).into_response()),
        db::cases::NoteWritten::Written => Ok(Redirect::to(&location).into_response()),
    }
}

// Editing case details -------------------------------------------------------------------------------

#[derive(Template)]
#[template(path = "cases/edit.html")]
struct EditPage {
    layout: Layout,
    errors: Errors,
    id: Uuid,
    reference: String,
    title: String,
    statuses: Vec<Choice>,
    version: i32,
}

fn edit_statuses(selected: &str) -> Vec<Choice> {
    CaseStatus::ALL
        .iter()
        .map(|s| Choice::new(s.code(), s.label(), s.code() == selected))
        .collect()
}

pub async fn edit_form(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> AppResult<Response> {
    let id = parse_id(&id)?;
    let Audited(case) = open_case(&state, &user, id, "case.view").await?;
    let page = EditPage {
        layout: Layout::for_user(
            format!("Change case {}", case.reference),
            &user,
            Section::None,
        ),
        errors: Errors::default(),
        id,
        statuses: edit_statuses(&case.status),
        reference: case.reference,
        title: case.title,
        version: case.version,
    };
    Ok(Html(page.render()?).into_response())
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

pub async fn edit_submit(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
    form: FormData,
) -> AppResult<Response> {
    form.only(&["title", "status", "version"])?;
    let id = parse_id(&id)?;
    let mut e = Errors::default();
    let title = e.text(&form, "title", "The case name", true, 200);
    let status = e.choice(&form, "status", "Select the case status", CaseStatus::parse);
    let version: i32 = form
        .raw("version")
        .parse()
        .map_err(|_| AppError::BadRequest("missing version"))?;

    let mut tx = state.pool.begin().await?;
    let case = db::cases::find_visible(&mut *tx, &viewer(&user), id)
        .await?
        .ok_or(AppError::NotFound)?;
    let (Some(status), true) = (status, e.is_empty()) else {
        let case = audited_view(&state, &user, tx, case, "edit with errors").await?;
        let page = EditPage {
            layout: Layout::for_user(
                format!("Change case {}", case.reference),
                &user,
                Section::None,
            )
            .with_errors(&e),
            errors: e,
            id,
            statuses: edit_statuses(form.raw("status")),
            reference: case.reference.clone(),
            title,
            version,
        };
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, Html(page.render()?)).into_response());
    };
    if !db::cases::update_details(&mut *tx, id, version, &title, status).await? {
        tx.rollback().await?;
        if case.title == title && case.status == status.code() {
            // The case already says exactly this (a double click, or two people making the same
            // change): nothing to save and nothing lost.
            return Ok(Redirect::to(&format!("/cases/{id}")).into_response());
        }
        // Someone else saved first. Show both versions; overwrite nothing.
        let tx = state.pool.begin().await?;
        let case = audited_view(&state, &user, tx, case, "edit conflict").await?;
        let page = ConflictPage {
            layout: Layout::for_user("Someone else changed this case", &user, Section::None),
            yours: vec![
                SummaryRow::new("Case name", title),
                SummaryRow::new("Status", status.label()),
            ],
            theirs: vec![
                SummaryRow::new("Case name", case.title.clone()),
                SummaryRow::new("Status", case.status().label()),
            ],
            changed: format_datetime(case.updated_at),
            again: format!("/cases/{id}/edit"),
            what: "case",
            reference: case.reference.clone(),
        };
        return Ok((StatusCode::CONFLICT, Html(page.render()?)).into_response());
    }
    if case.status != status.code() {
        db::cases::add_chronology(
            &mut *tx,
            id,
            state.config.clock.now(),
            "status",
            &format!(
                "Status changed from {} to {}.",
                case.status().label(),
                status.label()
            ),
            None,
            user.id,
        )
        .await?;
    }
    audit::record(
        &mut tx,
        &state.audit,
        &user.actor(),
        Event::new("case.update", "case")
            .entity(id)
            .case(id)
            .details(serde_json::json!({ "status_from": case.status, "status_to": status.code(), "title_changed": case.title != title })),
    )
    .await?;
    tx.commit().await?;
    Ok(Redirect::to(&format!("/cases/{id}")).into_response())
}

// Who has viewed or changed this case --------------------------------------------------------------

pub struct AuditView {
    pub when: String,
    pub who: String,
    pub what: &'static str,
    pub from: String,
}

#[derive(Template)]
#[template(path = "cases/audit.html")]
struct AuditPage {
    layout: Layout,
    id: Uuid,
    reference: String,
    events: Vec<AuditView>,
    older_href: String,
}

fn action_words(action: &str) -> &'static str {
    match action {
        "case.view" => "Viewed the case",
        "case.create" => "Created the case from a referral",
        "case.note_add" => "Added a note",
        "case.update" => "Changed the case details",
        "case.audit_view" => "Looked at this record of access",
        "case.decision_propose" => "Recorded the decision on the referral",
        "case.decision_review" => "Approved or sent back the decision",
        "case.referrer_told" => "Recorded that the referrer was told",
        "case.strategy_start" | "case.strategy_update" => "Worked on a strategy discussion",
        "case.strategy_record" => "Recorded a strategy discussion",
        "case.outcome_propose" => "Proposed a Section 47 outcome",
        "case.outcome_review" => "Approved or sent back a Section 47 outcome",
        "case.conference_add" => "Recorded a conference",
        "case.core_group_add" => "Recorded a core group meeting",
        "case.milestone_add" => "Recorded a milestone",
        "case.closure_propose" => "Proposed closing the case",
        "case.closure_review" => "Approved or sent back closing the case",
        "case.late_reason" => "Gave the reason a deadline was missed",
        _ => "Other action",
    }
}

#[derive(Deserialize, Default)]
pub struct AuditQuery {
    before: Option<String>,
}

pub async fn audit(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
    Query(q): Query<AuditQuery>,
) -> AppResult<Response> {
    let id = parse_id(&id)?;
    let Audited(case) = open_case(&state, &user, id, "case.audit_view").await?;
    let mut rows = db::audit_log::for_case(
        &state.pool,
        id,
        q.before.as_deref().and_then(|b| b.parse().ok()),
        AUDIT_PAGE + 1,
    )
    .await?;
    let more = rows.len() as i64 > AUDIT_PAGE;
    rows.truncate(AUDIT_PAGE as usize);
    let older_href = match (more, rows.last()) {
        (true, Some(last)) => format!("/cases/{id}/audit?before={}", last.seq),
        _ => String::new(),
    };
    let events = rows
        .into_iter()
        .map(|r| AuditView {
            when: format_datetime(r.occurred_at),
            who: match (r.actor_name, r.actor_role.as_deref().and_then(Role::parse)) {
                (Some(n), Some(role)) => format!("{n} ({})", role.label()),
                (Some(n), None) => n,
                _ => "System".to_owned(),
            },
            what: action_words(&r.action),
            from: r.actor_ip.unwrap_or_default(),
        })
        .collect();
    let page = AuditPage {
        layout: Layout::for_user(
            format!("Access record for {}", case.reference),
            &user,
            Section::None,
        ),
        id,
        reference: case.reference,
        events,
        older_href,
    };
    Ok(Html(page.render()?).into_response())
}

/// The referral as the case page and the printable summary show it: rows and the account.
pub(crate) fn referral_rows(referral: Option<db::cases::ReferralRow>) -> (Vec<SummaryRow>, String) {
    match referral {
        Some(r) => {
            let works = WorksWithChildren::parse(&r.works_with_children)
                .map(WorksWithChildren::label)
                .unwrap_or("Not known");
            let mut rows = vec![
                SummaryRow::new(
                    "Referrer",
                    format!(
                        "{}, {} ({})",
                        r.referrer_name, r.referrer_role, r.referrer_agency
                    ),
                ),
                SummaryRow::new("Contact", r.referrer_contact),
                SummaryRow::new(
                    "Received",
                    format!("{} by {}", format_datetime(r.received_at), r.taken_by_name),
                ),
                SummaryRow::new(
                    "Child at immediate risk",
                    if r.immediate_risk {
                        format!("Yes. {}", r.immediate_risk_details)
                    } else {
                        "No".to_owned()
                    },
                ),
            ];
            let mut w = works.to_owned();
            if !r.work_details.is_empty() {
                w.push_str(&format!(". {}", r.work_details));
            }
            rows.push(SummaryRow::new("Works or volunteers with children", w));
            (rows, r.account)
        }
        None => (Vec::new(), String::new()),
    }
}

/// One chronology entry as people read it.
pub(crate) fn entry_view(e: db::cases::ChronologyRow) -> EntryView {
    EntryView {
        when: if e.occurred_time_known {
            format_datetime(e.occurred_at)
        } else {
            format!(
                "{} (no time given)",
                crate::domain::time::format_date(crate::domain::time::london_date(e.occurred_at))
            )
        },
        kind: entry_kind(&e.kind),
        summary: e.summary,
        recorded: format!(
            "Recorded {} by {}",
            format_datetime(e.recorded_at),
            e.recorded_by_name
        ),
        note_id: e.note_id.map(|n| n.to_string()).unwrap_or_default(),
        note_body: e.note_body.unwrap_or_default(),
        is_correction: e.corrects_note_id.is_some(),
        corrected: e.corrected,
    }
}
