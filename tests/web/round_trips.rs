//! What a page costs the database: the SQL statements a request runs, counted from sqlx's own
//! per-statement log events on this test's thread (issue 10: a case page in two round trips).

use std::cell::RefCell;
use std::sync::OnceLock;

use haven::domain::kinds::ConcernKind;

use crate::cases::make_case;
use crate::helpers::{Client, Res, TestApp};

thread_local! {
    /// The statements run on this thread while a count is on.
    static SEEN: RefCell<Option<Vec<String>>> = const { RefCell::new(None) };
}

/// The process's tracing subscriber in this test binary: it notes each statement sqlx runs (its
/// whole text, or its summary when sqlx logs no more), on threads where a count is on. (A global
/// one: tracing's per-thread subscribers miss events when another thread's comes and goes,
/// because call sites cache who listens.)
struct Statements;

#[derive(Default)]
struct Statement {
    summary: String,
    text: String,
}

impl tracing::field::Visit for Statement {
    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        match field.name() {
            "summary" => self.summary.push_str(value),
            "db.statement" => self.text.push_str(value.trim()),
            _ => {}
        }
    }
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        match field.name() {
            "summary" => self.summary.push_str(&format!("{value:?}")),
            "db.statement" => self.text.push_str(format!("{value:?}").trim()),
            _ => {}
        }
    }
}

impl tracing::Subscriber for Statements {
    fn enabled(&self, m: &tracing::Metadata<'_>) -> bool {
        m.target() == "sqlx::query"
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, e: &tracing::Event<'_>) {
        SEEN.with(|seen| {
            if let Some(list) = seen.borrow_mut().as_mut() {
                let mut s = Statement::default();
                e.record(&mut s);
                list.push(if s.text.is_empty() { s.summary } else { s.text });
            }
        });
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

static INSTALLED: OnceLock<()> = OnceLock::new();

/// The statements one GET runs (the test runtime runs the request on this thread).
async fn statements_of(c: &mut Client, path: &str) -> (Res, Vec<String>) {
    counted(c.get(path)).await
}

/// The statements one request runs.
async fn counted(request: impl std::future::Future<Output = Res>) -> (Res, Vec<String>) {
    INSTALLED.get_or_init(|| {
        tracing::subscriber::set_global_default(Statements)
            .expect("nothing else in the tests sets a global subscriber");
    });
    SEEN.with(|s| *s.borrow_mut() = Some(Vec::new()));
    let res = request.await;
    let list = SEEN.with(|s| s.borrow_mut().take()).unwrap_or_default();
    // A connection the pool opens on the way runs its settings once in its life: not the page's.
    let list = list
        .into_iter()
        .filter(|s| !s.starts_with("SET TIME ZONE"))
        .collect();
    (res, list)
}

#[tokio::test]
async fn a_case_page_is_two_statements_the_session_and_one_for_the_case() {
    let app = TestApp::new().await;
    let (mut pat, pat_id) = app.signed_in("practitioner").await;
    let case = make_case(
        &app,
        pat_id,
        "Team A",
        "Nell Ashgrove",
        ConcernKind::Grooming,
    )
    .await;
    let path = format!("/cases/{case}");
    // The first request after signing in may also note the session's activity (once a minute).
    pat.get(&path).await;
    let (page, statements) = statements_of(&mut pat, &path).await;
    assert_eq!(page.status, axum::http::StatusCode::OK);
    assert!(page.body.contains("Nell Ashgrove"));
    assert_eq!(statements.len(), 2, "{statements:#?}");
    // The view is recorded by that one statement.
    assert_eq!(
        app.count("SELECT count(*) FROM audit_events WHERE action = 'case.view'")
            .await,
        2
    );
}

#[tokio::test]
async fn a_note_is_two_statements_and_a_resend_writes_nothing() {
    let app = TestApp::new().await;
    let (mut pat, pat_id) = app.signed_in("practitioner").await;
    let case = make_case(
        &app,
        pat_id,
        "Team A",
        "Orla Fenwick",
        ConcernKind::Grooming,
    )
    .await;
    let page = pat.get(&format!("/cases/{case}")).await;
    let idem = page.attr("input[name=_idem]", "value")[0].clone();
    let path = format!("/cases/{case}/notes");
    let fields = [
        ("body", "Spoke to the school's safeguarding lead."),
        ("when-day", ""),
        ("when-month", ""),
        ("when-year", ""),
        ("time", ""),
        ("corrects", ""),
        ("_idem", idem.as_str()),
    ];
    // The session, then one statement: visibility, the form's key, the note, its chronology
    // entry and its audit row.
    let (r, statements) = counted(pat.post(&path, &fields)).await;
    assert_eq!(r.status, axum::http::StatusCode::SEE_OTHER);
    assert_eq!(statements.len(), 2, "{statements:#?}");
    assert!(statements[1].starts_with("WITH v AS"), "{statements:#?}");
    let rows = || async {
        (
            app.count("SELECT count(*) FROM case_notes").await,
            app.count("SELECT count(*) FROM chronology_entries WHERE kind = 'note'")
                .await,
            app.count("SELECT count(*) FROM audit_events WHERE action = 'case.note_add'")
                .await,
        )
    };
    assert_eq!(rows().await, (1, 1, 1));
    // The same form again (a double click): the same place, nothing more written.
    let (again, _) = counted(pat.post(&path, &fields)).await;
    assert_eq!(again.status, axum::http::StatusCode::SEE_OTHER);
    assert_eq!(again.header("location"), r.header("location"));
    assert_eq!(rows().await, (1, 1, 1));
    // A correction must point at a note of the same case; a case out of sight is not found.
    app.user("practitioner", "tam@example.org", "Team B").await;
    let out_of_sight =
        make_case(&app, pat_id, "Team B", "Tam Fenwick", ConcernKind::Grooming).await;
    let another = make_case(&app, pat_id, "Team A", "Una Fenwick", ConcernKind::Grooming).await;
    let note: uuid::Uuid = sqlx::query_scalar("SELECT id FROM case_notes")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    pat.get(&format!("/cases/{case}")).await;
    for (to, corrects) in [(out_of_sight, String::new()), (another, note.to_string())] {
        let fresh = uuid::Uuid::new_v4().to_string();
        let mut f = fields.to_vec();
        f[5] = ("corrects", corrects.as_str());
        f[6] = ("_idem", fresh.as_str());
        let r = pat.post(&format!("/cases/{to}/notes"), &f).await;
        assert_eq!(r.status, axum::http::StatusCode::NOT_FOUND, "{to}");
    }
    assert_eq!(rows().await, (1, 1, 1));
}

/// A page of the referral form saves its answers and their audit row in one statement: the
/// session, the draft read, then the save (no BEGIN, no COMMIT). A draft that is someone else's,
/// or submitted since it was read, is neither saved nor recorded.
#[tokio::test]
async fn a_referral_step_is_three_statements_and_saves_only_with_its_audit_row() {
    let app = TestApp::new().await;
    let (mut pat, pat_id) = app.signed_in("practitioner").await;
    let base = crate::referrals::start(&mut pat).await;
    let fields = [
        ("name", "Priya Nandakumar"),
        ("role", "Designated safeguarding lead"),
        ("agency", "Fernhill Academy"),
        ("contact", "01632 960 123"),
    ];
    let (r, statements) = counted(pat.post(&format!("{base}/referrer"), &fields)).await;
    assert_eq!(r.status, axum::http::StatusCode::SEE_OTHER);
    assert_eq!(r.location(), format!("{base}/received"));
    assert_eq!(statements.len(), 3, "{statements:#?}");
    assert!(
        statements[2].starts_with("WITH saved AS"),
        "{statements:#?}"
    );
    let draft: uuid::Uuid = sqlx::query_scalar("SELECT id FROM referral_drafts")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let saved: String =
        sqlx::query_scalar("SELECT data->'referrer'->>'agency' FROM referral_drafts")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(saved, "Fernhill Academy");
    let updates =
        || app.count("SELECT count(*) FROM audit_events WHERE action = 'referral.draft_update'");
    assert_eq!(updates().await, 1);
    // The row says who changed which draft on which page, and the trail verifies with it.
    let (entity, actor, page): (Option<String>, Option<uuid::Uuid>, Option<String>) =
        sqlx::query_as(
            "SELECT entity_id, actor_user_id, details::jsonb->>'page' FROM audit_events
              WHERE action = 'referral.draft_update'",
        )
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(entity, Some(draft.to_string()));
    assert_eq!(actor, Some(pat_id));
    assert_eq!(page.as_deref(), Some("referrer"));
    app.seal_everything().await;
    assert!(
        matches!(
            haven::audit::verify(&app.pool, &app.state.audit, &[], 0, 1000)
                .await
                .unwrap(),
            haven::audit::Verification::Intact { unsealed: 0, .. }
        ),
        "the trail verifies with the row written in the same statement as the save"
    );
    // Someone else's draft, or one submitted since it was read: nothing saved, nothing recorded.
    let sam = app.user("practitioner", "sam@example.org", "Team A").await;
    let key = haven::audit::ChainKey::from_secret(&[7u8; 32]);
    let event = |who| {
        haven::audit::prepare(
            &key,
            &haven::audit::Actor {
                user_id: Some(who),
                ip: None,
            },
            haven::audit::Event::new("referral.draft_update", "referral_draft").entity(draft),
        )
    };
    let empty = haven::db::drafts::ReferralDraft::default();
    assert!(
        !haven::db::drafts::save_audited(&app.pool, draft, sam, &empty, &event(sam))
            .await
            .unwrap()
    );
    let case = make_case(
        &app,
        pat_id,
        "Team A",
        "Orla Fenwick",
        ConcernKind::Grooming,
    )
    .await;
    sqlx::query("UPDATE referral_drafts SET submitted_case_id = $1")
        .bind(case)
        .execute(&app.pool)
        .await
        .unwrap();
    assert!(
        !haven::db::drafts::save_audited(&app.pool, draft, pat_id, &empty, &event(pat_id))
            .await
            .unwrap()
    );
    assert_eq!(updates().await, 1);
    let still: String =
        sqlx::query_scalar("SELECT data->'referrer'->>'agency' FROM referral_drafts")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(still, "Fernhill Academy");
}

#[tokio::test]
async fn a_list_is_three_statements_whatever_its_length() {
    let app = TestApp::new().await;
    let (mut mgr, mgr_id) = app.signed_in("manager").await;
    for name in ["Ada Brook", "Bea Cole", "Cy Dale"] {
        make_case(&app, mgr_id, "Team A", name, ConcernKind::Grooming).await;
    }
    mgr.get("/cases").await;
    // The session, the page of cases (one query, whatever the number of teams or rows), and the
    // audit row naming the cases shown (its MAC covers them, so it follows the read). The
    // calendar is the instance's copy: the session's statement said it is still current.
    for path in ["/cases", "/cases/team"] {
        let (page, statements) = statements_of(&mut mgr, path).await;
        assert_eq!(page.status, axum::http::StatusCode::OK, "{path}");
        assert_eq!(page.select("#cases tbody tr").len(), 3, "{path}");
        assert_eq!(statements.len(), 3, "{path}: {statements:#?}");
        assert!(
            statements[2].starts_with("INSERT INTO audit_events"),
            "{statements:#?}"
        );
    }
}

#[tokio::test]
async fn dashboards_and_the_deadlines_list_cost_a_fixed_number_of_statements() {
    let app = TestApp::new().await;
    let (mut mgr, mgr_id) = app.signed_in("manager").await;
    for name in ["Ada Brook", "Bea Cole", "Cy Dale"] {
        make_case(&app, mgr_id, "Team A", name, ConcernKind::Grooming).await;
    }
    mgr.get("/work/team").await;
    // The session, the three parts' deadlines (one statement; Team work's risks, approvals and
    // timeliness in the same one), then the audit row. (The calendar is the instance's copy,
    // checked by the session's statement.)
    for (path, n) in [
        ("/work", 3),
        ("/work/team", 3),
        ("/work/deadlines", 3),
        ("/work/team/deadlines?show=overdue", 3),
        ("/work/team/approvals", 3),
        ("/work/team/risks", 3),
    ] {
        let (page, statements) = statements_of(&mut mgr, path).await;
        assert_eq!(page.status, axum::http::StatusCode::OK, "{path}");
        assert_eq!(statements.len(), n, "{path}: {statements:#?}");
        assert!(
            statements[n - 1].starts_with("INSERT INTO audit_events"),
            "{path}: {statements:#?}"
        );
    }
}

#[tokio::test]
async fn open_deadlines_are_vacuumed_often_enough_for_counts_to_stay_index_only() {
    // Every page counts the signed-in person's overdue deadlines by an index-only scan; with
    // autovacuum's default (a fifth of the table changed) the rows' pages stay unmarked for
    // months at a region's size and each count visits up to 100 heap pages (migration 0037).
    let app = TestApp::new().await;
    let options: Vec<String> = sqlx::query_scalar(
        "SELECT unnest(reloptions) FROM pg_class WHERE oid = 'deadlines'::regclass ORDER BY 1",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(
        options,
        [
            "autovacuum_vacuum_insert_scale_factor=0.01",
            "autovacuum_vacuum_scale_factor=0.01"
        ]
    );
}

/// An instance keeps the calendar it read, and reads it again on the first request after any
/// change to it, made through any instance: the session's statement reads the calendar's version.
#[tokio::test]
async fn the_calendar_is_read_again_only_after_a_change_through_any_instance() {
    let app = TestApp::new().await;
    let (mut mgr, _) = app.signed_in("manager").await;
    let (admin, _) = app.signed_in("admin").await;
    let (_, second) = app.second_instance();
    let mut admin = admin.on(&second);
    let reads_calendar = |statements: &[String]| {
        statements
            .iter()
            .filter(|s| s.starts_with("SELECT v.version"))
            .count()
    };
    let horizon = |page: &Res| page.select("p.haven-meta")[0].clone();
    mgr.get("/work").await;
    let (before, statements) = statements_of(&mut mgr, "/work").await;
    assert_eq!(statements.len(), 3, "{statements:#?}");
    assert_eq!(reads_calendar(&statements), 0, "{statements:#?}");
    // The administrator, on the other instance, closes the next working day.
    let today = haven::domain::time::london_date(chrono::Utc::now());
    let rules = haven::domain::calendar::Calendar::new(
        Default::default(),
        chrono::NaiveTime::from_hms_opt(17, 0, 0).unwrap(),
    );
    let closed = rules.next_working_day(today);
    let (d, m, y) = (
        closed.format("%-d").to_string(),
        closed.format("%-m").to_string(),
        closed.format("%Y").to_string(),
    );
    admin.get("/admin/calendar").await;
    let r = admin
        .post(
            "/admin/calendar",
            &[
                ("day-day", d.as_str()),
                ("day-month", m.as_str()),
                ("day-year", y.as_str()),
                ("kind", "holiday"),
                ("name", "Council closure day"),
            ],
        )
        .await;
    assert_eq!(r.status, axum::http::StatusCode::SEE_OTHER, "{}", r.body);
    // The first instance's next page reads the calendar once, and counts by the new one.
    let (after, statements) = statements_of(&mut mgr, "/work").await;
    assert_eq!(statements.len(), 4, "{statements:#?}");
    assert_eq!(reads_calendar(&statements), 1, "{statements:#?}");
    assert_ne!(horizon(&after), horizon(&before));
    let (again, statements) = statements_of(&mut mgr, "/work").await;
    assert_eq!(statements.len(), 3, "{statements:#?}");
    assert_eq!(horizon(&again), horizon(&after));
    // Taking the change out is a change too.
    let r = admin
        .post(&format!("/admin/calendar/{closed}/remove"), &[])
        .await;
    assert_eq!(r.status, axum::http::StatusCode::SEE_OTHER);
    let (restored, statements) = statements_of(&mut mgr, "/work").await;
    assert_eq!(reads_calendar(&statements), 1, "{statements:#?}");
    assert_eq!(horizon(&restored), horizon(&before));
    // Only the calendar's own trigger moves the version: the server's login cannot.
    assert!(
        sqlx::query("UPDATE calendar_version SET version = gen_random_uuid()")
            .execute(&app.pool)
            .await
            .is_err()
    );
}

/// A page must never wait for a second pooled connection while holding one: with more requests
/// at once than the pool has connections (5 in tests), each would hold one and wait for another
/// until the acquire timeout. My work did, for its audit row.
#[tokio::test]
async fn more_dashboards_at_once_than_connections_all_answer() {
    let app = TestApp::new().await;
    let (pat, pat_id) = app.signed_in("practitioner").await;
    make_case(
        &app,
        pat_id,
        "Team A",
        "Ivo Penhallow",
        ConcernKind::Grooming,
    )
    .await;
    let mut first = pat.fork();
    first.get("/work").await;
    let mut pages = Vec::new();
    for _ in 0..12 {
        let mut c = first.fork();
        pages.push(async move { c.get("/work").await.status });
    }
    let started = std::time::Instant::now();
    let statuses = futures_util::future::join_all(pages).await;
    assert!(
        statuses.iter().all(|s| *s == axum::http::StatusCode::OK),
        "{statuses:?} after {:?}",
        started.elapsed()
    );
}

/// A form post reads the navigation's counts only when it draws a page. A note that redirects
/// sends the session statement without them; the same form with an error, and an error page,
/// count them after the handler and show them as a GET does; a search, which always answers
/// with a page, counts them up front, once.
#[tokio::test]
async fn a_form_post_counts_the_navigation_only_when_it_draws_a_page() {
    use chrono::TimeZone;
    let app = TestApp::with_env(&[("HAVEN_FIXED_TIME", "2026-12-03T16:59:00Z")]).await;
    let (mut pat, pat_id) = app
        .signed_in_as("practitioner", "pat@example.org", "Team A")
        .await;
    let (mut mo, _) = app
        .signed_in_as("manager", "mo@example.org", "Team A")
        .await;
    let received = chrono::Utc.with_ymd_and_hms(2026, 12, 1, 10, 0, 0).unwrap();
    let case = crate::procedure::case_with_two_children(&app, pat_id, received, false).await;
    let counts_deadlines = |s: &String| s.contains("FROM deadlines");
    let badges = |r: &Res| r.select(".govuk-service-navigation .haven-count");
    let path = format!("/cases/{case}");
    pat.get(&path).await;
    let (page, statements) = statements_of(&mut pat, &path).await;
    assert!(counts_deadlines(&statements[0]), "{statements:#?}");
    let mine = badges(&page);
    assert_eq!(mine.len(), 1, "{}", page.body);
    let idem = page.attr("input[name=_idem]", "value")[0].clone();
    let note = |body: &'static str, idem: String| {
        vec![
            ("body", body.to_owned()),
            ("when-day", String::new()),
            ("when-month", String::new()),
            ("when-year", String::new()),
            ("time", String::new()),
            ("corrects", String::new()),
            ("_idem", idem),
        ]
    };
    let notes = format!("{path}/notes");

    // Saved and redirected: no counts read at all.
    let fields = note("Rang the school back.", idem);
    let pairs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (r, statements) = counted(pat.post(&notes, &pairs)).await;
    assert_eq!(r.status, axum::http::StatusCode::SEE_OTHER);
    assert_eq!(statements.len(), 2, "{statements:#?}");
    assert!(!statements.iter().any(counts_deadlines), "{statements:#?}");

    // The form again with an error: counted once, after the handler, and shown.
    let fields = note("", uuid::Uuid::new_v4().to_string());
    let pairs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (r, statements) = counted(pat.post(&notes, &pairs)).await;
    assert!(
        r.status.is_client_error() || r.status.is_success(),
        "{}",
        r.status
    );
    assert!(r.body.contains("govuk-error-summary"), "{}", r.body);
    assert_eq!(badges(&r), mine);
    assert!(!r.body.contains("<!--haven-count"), "{}", r.body);
    assert_eq!(
        statements.iter().filter(|s| counts_deadlines(s)).count(),
        1,
        "{statements:#?}"
    );
    assert!(!counts_deadlines(&statements[0]), "{statements:#?}");

    // An error page drawn for a post (a case that does not exist) keeps the counts too.
    let r = pat
        .post(&format!("/cases/{}/notes", uuid::Uuid::new_v4()), &pairs)
        .await;
    assert_eq!(r.status, axum::http::StatusCode::NOT_FOUND);
    assert_eq!(badges(&r), mine);
    assert!(!r.body.contains("<!--haven-count"), "{}", r.body);
    // So does the page refusing a post to a route of another role's, which the guard draws.
    let r = pat
        .post(&format!("{path}/risk/acknowledge"), &[("version", "1")])
        .await;
    assert_eq!(r.status, axum::http::StatusCode::FORBIDDEN);
    assert_eq!(badges(&r), mine);
    assert!(!r.body.contains("<!--haven-count"), "{}", r.body);

    // A manager's team count is filled in the same way.
    let team_page = mo.get(&path).await;
    let team = team_page.select(".govuk-service-navigation a[href='/work/team'] .haven-count");
    assert_eq!(team.len(), 1, "{}", team_page.body);
    assert_eq!(badges(&team_page), team);
    let r = mo.post(&notes, &pairs).await;
    assert!(r.body.contains("govuk-error-summary"), "{}", r.body);
    assert_eq!(badges(&r), team);
    assert!(!r.body.contains("<!--haven-count"), "{}", r.body);

    // A search answers with a page whatever happens: one session statement, with the counts.
    let (r, statements) =
        counted(pat.post("/cases/search", &[("name", "Ashcombe"), ("scope", "mine")])).await;
    assert_eq!(r.status, axum::http::StatusCode::OK);
    assert_eq!(badges(&r), mine);
    assert!(counts_deadlines(&statements[0]), "{statements:#?}");
    assert_eq!(
        statements.iter().filter(|s| counts_deadlines(s)).count(),
        1,
        "{statements:#?}"
    );
}
