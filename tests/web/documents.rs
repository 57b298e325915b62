//! Documents on cases and allegations, through the router with real files: what a file is comes
//! from its content, every image and video is refused with the reason, nothing is half-saved,
//! downloads are attachments of the exact bytes, and the documents' limit turns work away
//! rather than queueing it.

use axum::http::StatusCode;
use haven::domain::ConcernKind;
use uuid::Uuid;

use crate::cases::make_case;
use crate::helpers::{Client, TestApp};

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/tests/fixtures/documents/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

async fn documents_on(app: &TestApp, case: Uuid) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM documents WHERE case_id = $1")
        .bind(case)
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

/// Open the upload page (for its form token) and send one file with a description.
async fn upload(
    c: &mut Client,
    case: Uuid,
    name: &str,
    bytes: &[u8],
    description: &str,
) -> crate::helpers::Res {
    let page = c.get(&format!("/cases/{case}/documents/new")).await;
    assert_eq!(page.status, StatusCode::OK);
    c.upload(
        &format!("/cases/{case}/documents"),
        &[("description", description)],
        name,
        bytes,
    )
    .await
}

#[tokio::test]
async fn each_file_is_judged_by_its_content_and_every_picture_is_refused_with_the_reason() {
    let app = TestApp::new().await;
    let (mut pat, pat_id) = app.signed_in("practitioner").await;
    let case = make_case(
        &app,
        pat_id,
        "Team A",
        "Lowri Ashdown",
        ConcernKind::Grooming,
    )
    .await;
    // (name sent, fixture, accepted as, or refused saying)
    let cases: &[(&str, &str, Result<&str, &str>)] = &[
        ("minutes.pdf", "text.pdf", Ok("PDF")),
        ("notes.docx", "notes.docx", Ok("Word")),
        ("timeline.xlsx", "timeline.xlsx", Ok("Excel")),
        ("letter.odt", "letter.odt", Ok("OpenDocument")),
        ("call notes.txt", "notes.txt", Ok("Text")),
        // A photograph renamed to look like a PDF, and sent as application/pdf.
        ("statement.pdf", "square.jpg", Err("This is a JPEG image")),
        ("scan.png", "square.png", Err("This is a PNG image")),
        ("clip.webm", "clip.webm", Err("video")),
        (
            "scan.pdf",
            "image-only.pdf",
            Err("has a picture or video in it"),
        ),
        (
            "report.docx",
            "with-picture.docx",
            Err("has a picture or video in it"),
        ),
    ];
    let mut kept = 0;
    for (name, file, expect) in cases {
        let bytes = fixture(file);
        let r = upload(&mut pat, case, name, &bytes, &format!("About {file}")).await;
        match expect {
            Ok(_) => {
                assert_eq!(
                    r.status,
                    StatusCode::SEE_OTHER,
                    "{file}: {}",
                    r.error_summary().join("; ")
                );
                kept += 1;
            }
            Err(why) => {
                assert_eq!(
                    r.status,
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "{file} was accepted"
                );
                let summary = r.error_summary().join("; ");
                assert!(summary.contains(why), "{file}: {summary}");
                if why.contains("image") || why.contains("picture") || why.contains("video") {
                    assert!(
                        summary.contains("indecent image of a child is a crime"),
                        "{summary}"
                    );
                }
                // The description typed is kept; the summary links to the file input.
                assert_eq!(
                    r.attr("input[name=description]", "value"),
                    vec![format!("About {file}")]
                );
                assert_eq!(
                    r.attr(".govuk-error-summary a", "href"),
                    vec!["#file".to_owned()]
                );
            }
        }
        assert_eq!(documents_on(&app, case).await, kept, "after {file}");
    }
    // What was kept is the exact bytes, named as typed, typed by content.
    let stored: Vec<(String, String, i32)> = sqlx::query_as(
        "SELECT filename, content_type, size_bytes FROM documents WHERE case_id = $1 ORDER BY created_at",
    )
    .bind(case)
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(stored[0].0, "minutes.pdf");
    assert_eq!(stored[0].1, "application/pdf");
    assert_eq!(stored[0].2 as usize, fixture("text.pdf").len());
    assert_eq!(
        stored[4],
        ("call notes.txt".to_owned(), "text/plain".to_owned(), 85)
    );
    // Refusals are audited by size and reason, and nothing of them is kept.
    let refused: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM audit_events WHERE action = 'document.refused' AND details::jsonb->>'reason' LIKE '%indecent image%'",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(refused, 5);
    let added: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM audit_events WHERE action = 'document.add' AND case_id = $1",
    )
    .bind(case)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(added, 5);
    // The case page lists them, and the chronology says each was added.
    let page = pat.get(&format!("/cases/{case}")).await;
    assert_eq!(page.select("#document-list a").len(), 5, "{}", page.body);
    assert!(
        page.body
            .contains("Document added: letter.odt (About letter.odt).")
    );
    // The upload page says what is refused before anyone tries.
    let form = pat.get(&format!("/cases/{case}/documents/new")).await;
    assert!(form.body.contains("Never add images or videos"));
}

#[tokio::test]
async fn empty_missing_oversized_and_malformed_uploads_say_what_is_wrong_and_save_nothing() {
    let app = TestApp::new().await;
    let (mut pat, pat_id) = app.signed_in("practitioner").await;
    let case = make_case(
        &app,
        pat_id,
        "Team A",
        "Dara Whitlock",
        ConcernKind::IntimateImageThreats,
    )
    .await;

    let r = upload(&mut pat, case, "empty.pdf", b"", "Blank").await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        r.error_summary(),
        vec!["The file is empty. Choose another file"]
    );
    assert_eq!(r.attr("input[name=description]", "value"), vec!["Blank"]);

    let r = upload(&mut pat, case, "", b"", "No file chosen").await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.error_summary(), vec!["Select a document to add"]);

    // Over 10 MB: read to the end and thrown away, so the page can say why.
    let mut big = b"%PDF-1.7\n".to_vec();
    big.resize(10 * 1024 * 1024 + 1, b' ');
    let r = upload(&mut pat, case, "big.pdf", &big, "Too big").await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let too_big =
        vec!["The file is larger than 10 MB. Choose a smaller file, or split it into parts"];
    assert_eq!(r.error_summary(), too_big);
    // Well over: the same message, though nothing of the body was kept to look at.
    big.resize(30 * 1024 * 1024, b' ');
    let r = upload(&mut pat, case, "bigger.pdf", &big, "Much too big").await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.error_summary(), too_big);
    // Just under the limit is taken (a text file of 9.9 MB).
    let mut large = vec![b'a'; 10 * 1024 * 1024 - 4096];
    large.push(b'\n');
    let r = upload(&mut pat, case, "long.txt", &large, "").await;
    assert_eq!(
        r.status,
        StatusCode::SEE_OTHER,
        "{}",
        r.error_summary().join("; ")
    );
    assert_eq!(documents_on(&app, case).await, 1);
    // Far beyond any document: the connection is refused outright.
    let huge = vec![b'a'; 65 * 1024 * 1024];
    let r = upload(&mut pat, case, "huge.txt", &huge, "").await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);

    // A description too long, with a good file: nothing saved.
    let long = "x".repeat(501);
    let r = upload(&mut pat, case, "notes.txt", &fixture("notes.txt"), &long).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        r.error_summary()[0].contains("500 characters"),
        "{:?}",
        r.error_summary()
    );

    // Binary noise, and a form posted without a file part at all.
    let r = upload(
        &mut pat,
        case,
        "data.pdf",
        &[0u8, 159, 146, 150, 7, 0, 1],
        "",
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.error_summary()[0].starts_with("Haven takes PDF"));
    let r = pat
        .post(
            &format!("/cases/{case}/documents"),
            &[("description", "urlencoded")],
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    // A wrong form token is refused before anything is looked at.
    pat.csrf = "forged".into();
    let r = pat
        .upload(
            &format!("/cases/{case}/documents"),
            &[],
            "notes.txt",
            &fixture("notes.txt"),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(documents_on(&app, case).await, 1);
}

#[tokio::test]
async fn a_download_is_an_attachment_of_the_exact_bytes_for_those_who_may_see_the_case() {
    let app = TestApp::new().await;
    let (mut pat, pat_id) = app.signed_in("practitioner").await;
    let (mut other_team, _) = app
        .signed_in_as("practitioner", "ines@example.org", "Team B")
        .await;
    let (mut admin, _) = app.signed_in("admin").await;
    let case = make_case(
        &app,
        pat_id,
        "Team A",
        "Bryn Okonedo",
        ConcernKind::Grooming,
    )
    .await;
    let bytes = fixture("text.pdf");
    let r = upload(
        &mut pat,
        case,
        "Strategy minutes \u{e9}t\u{e9}.pdf",
        &bytes,
        "Minutes",
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(r.location(), format!("/cases/{case}#documents"));
    let doc: Uuid = sqlx::query_scalar("SELECT id FROM documents WHERE case_id = $1")
        .bind(case)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let path = format!("/cases/{case}/documents/{doc}");
    let r = pat.get(&path).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.bytes, bytes);
    assert_eq!(r.header("content-type"), "application/pdf");
    assert_eq!(r.header("x-content-type-options"), "nosniff");
    assert_eq!(r.header("cache-control"), "no-store");
    assert_eq!(
        r.header("content-disposition"),
        "attachment; filename=\"Strategy minutes _t_.pdf\"; filename*=UTF-8''Strategy%20minutes%20%C3%A9t%C3%A9%2Epdf"
    );
    let audited: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM audit_events WHERE action = 'document.download' AND case_id = $1",
    )
    .bind(case)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(audited, 1);
    // Another team's practitioner: the same 404 as a case that never existed, for every route.
    for p in [
        path.clone(),
        format!("/cases/{case}/documents/new"),
        format!("/cases/{}/documents/{doc}", Uuid::now_v7()),
    ] {
        assert_eq!(
            other_team.get(&p).await.status,
            StatusCode::NOT_FOUND,
            "{p}"
        );
    }
    other_team.get("/cases").await;
    let r = other_team
        .upload(
            &format!("/cases/{case}/documents"),
            &[],
            "notes.txt",
            &fixture("notes.txt"),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    // A document id from another case does not open through this one.
    let second = make_case(&app, pat_id, "Team A", "Cai Penrose", ConcernKind::Grooming).await;
    assert_eq!(
        pat.get(&format!("/cases/{second}/documents/{doc}"))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    // Administrators do not read casework.
    assert_eq!(admin.get(&path).await.status, StatusCode::FORBIDDEN);
    assert_eq!(documents_on(&app, case).await, 1);
}

#[tokio::test]
async fn the_documents_limit_turns_uploads_away_rather_than_queueing_them() {
    let app = TestApp::with_env(&[("HAVEN_DOCUMENT_WORKERS", "2")]).await;
    let (mut pat, pat_id) = app.signed_in("practitioner").await;
    let case = make_case(
        &app,
        pat_id,
        "Team A",
        "Eira Castellane",
        ConcernKind::Grooming,
    )
    .await;
    pat.get(&format!("/cases/{case}/documents/new")).await;
    // Every turn taken (two slow uploads in flight): the next is told to come back.
    let held = app
        .state
        .documents
        .clone()
        .acquire_many_owned(2)
        .await
        .unwrap();
    let r = pat
        .upload(
            &format!("/cases/{case}/documents"),
            &[],
            "notes.txt",
            &fixture("notes.txt"),
        )
        .await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(r.header("retry-after"), "5");
    assert!(r.body.contains("nothing has been saved"));
    drop(held);
    // Twelve at once, each a 4 MB text: every answer is a save or "busy", never an error, and
    // exactly the saved ones are kept.
    let body = vec![b'z'; 4 * 1024 * 1024];
    let mut tasks = Vec::new();
    for _ in 0..12 {
        let mut c = pat.fork();
        let body = body.clone();
        let path = format!("/cases/{case}/documents");
        tasks.push(tokio::spawn(async move {
            c.upload(&path, &[], "notes.txt", &body).await.status
        }));
    }
    let mut saved = 0;
    for t in tasks {
        let s = t.await.unwrap();
        assert!(
            s == StatusCode::SEE_OTHER || s == StatusCode::SERVICE_UNAVAILABLE,
            "{s}"
        );
        if s == StatusCode::SEE_OTHER {
            saved += 1;
        }
    }
    assert!(saved >= 1);
    assert_eq!(documents_on(&app, case).await, saved);
    assert_eq!(app.state.documents.available_permits(), 2);
}

#[tokio::test]
async fn an_allegations_documents_are_for_the_lado_and_the_people_named_on_it() {
    let app = TestApp::with_env(&[("HAVEN_FIXED_TIME", "2026-12-04T10:00:00Z")]).await;
    let (mut lee, _) = app.signed_in("lado").await;
    let (mut pat, _) = app
        .signed_in_as("practitioner", "pat@example.org", "Team A")
        .await;
    let (mut officer, _) = app
        .signed_in_as("practitioner", "pc.hale@example.org", "Team B")
        .await;
    let a = crate::lado::open_allegation(
        &mut lee,
        "Ruairi Dunmore",
        "",
        ("3", "12", "2026", "09:00"),
        ("3", "12", "2026", "09:30"),
    )
    .await;
    let form = lee
        .get(&format!("/lado/allegations/{a}/documents/new"))
        .await;
    assert_eq!(form.status, StatusCode::OK);
    assert!(form.body.contains("Never add images or videos"));
    let r = lee
        .upload(
            &format!("/lado/allegations/{a}/documents"),
            &[("description", "Employer's notes")],
            "evaluation.docx",
            &fixture("with-picture.docx"),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        r.attr("input[name=description]", "value"),
        vec!["Employer's notes"]
    );
    let r = lee
        .upload(
            &format!("/lado/allegations/{a}/documents"),
            &[("description", "Employer's notes")],
            "evaluation.docx",
            &fixture("notes.docx"),
        )
        .await;
    assert_eq!(
        r.status,
        StatusCode::SEE_OTHER,
        "{}",
        r.error_summary().join("; ")
    );
    let doc: Uuid = sqlx::query_scalar("SELECT id FROM documents WHERE allegation_id = $1")
        .bind(a)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let page = lee.get(&format!("/lado/allegations/{a}")).await;
    assert!(page.body.contains("evaluation.docx"));
    assert!(
        page.body
            .contains("Document added: evaluation.docx (Employer")
    );
    let path = format!("/lado/allegations/{a}/documents/{doc}");
    let r = lee.get(&path).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.bytes, fixture("notes.docx"));
    assert_eq!(r.header("x-content-type-options"), "nosniff");
    assert!(r.header("content-disposition").starts_with("attachment;"));
    // Not named: the same 404 as nothing at all.
    assert_eq!(officer.get(&path).await.status, StatusCode::NOT_FOUND);
    // Named by the LADO: the document opens for them.
    lee.get(&format!("/lado/allegations/{a}/forms/access"))
        .await;
    let r = lee
        .post(
            &format!("/lado/allegations/{a}/access"),
            &[("email", "pc.hale@example.org")],
        )
        .await;
    assert_eq!(
        r.status,
        StatusCode::SEE_OTHER,
        "{}",
        r.error_summary().join("; ")
    );
    let r = officer.get(&path).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.bytes, fixture("notes.docx"));
    assert_eq!(pat.get(&path).await.status, StatusCode::NOT_FOUND);
    let downloads: i64 =
        sqlx::query_scalar("SELECT count(*) FROM audit_events WHERE action = 'document.download'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(downloads, 2);
}
