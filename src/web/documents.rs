//! Documents on cases and allegations: the upload page (which says before anyone tries that
//! images and videos are never kept), the upload itself (the guard has read the file under the
//! documents' limit and checked the form's token), and downloads, always as attachments.
//! What a file is comes from its content (`domain::documents::classify`), never its name.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use sha2::Digest;
use uuid::Uuid;

use crate::app::AppState;
use crate::audit::{self, Event};
use crate::auth::CurrentUser;
use crate::db;
use crate::db::documents::Owner;
use crate::domain::documents::{Kind, Refusal, classify, tidy_name};
use crate::error::{AppError, AppResult};

use super::access::step_up;
use super::form::{Errors, FormData};
use super::guard::Upload;
use super::layout::{Layout, Section};
use super::parse_id;

/// One record's documents, as its page lists them.
pub struct DocumentView {
    pub href: String,
    pub name: String,
    pub what: String,
    pub description: String,
    pub added: String,
}

pub fn views(base: &str, rows: Vec<db::documents::DocumentRow>) -> Vec<DocumentView> {
    rows.into_iter()
        .map(|d| DocumentView {
            href: format!("{base}/documents/{}", d.id),
            name: d.filename,
            what: format!(
                "{}, {}",
                Kind::from_content_type(&d.content_type).map_or("Document", Kind::label),
                size(d.size_bytes)
            ),
            description: d.description,
            added: format!(
                "Added by {} on {}",
                d.uploaded_by,
                crate::domain::time::format_datetime(d.created_at)
            ),
        })
        .collect()
}

fn size(bytes: i32) -> String {
    match bytes {
        b if b < 1024 => format!("{b} bytes"),
        b if b < 1024 * 1024 => format!("{} KB", (b + 1023) / 1024),
        b => format!("{:.1} MB", b as f64 / (1024.0 * 1024.0)),
    }
}

/// The record a document belongs to, found under its visibility rule with the view recorded.
struct Record {
    owner: Owner,
    /// The record's page, e.g. `/cases/{id}`.
    base: String,
    reference: String,
    section: Section,
}

async fn case_record(
    state: &AppState,
    user: &CurrentUser,
    id: Uuid,
    action: &str,
) -> AppResult<Record> {
    let case = super::cases::open_case(state, user, id, action).await?;
    Ok(Record {
        owner: Owner::Case(id),
        base: format!("/cases/{id}"),
        reference: case.reference.clone(),
        section: Section::None,
    })
}

async fn allegation_record(
    state: &AppState,
    user: &CurrentUser,
    id: Uuid,
    action: &str,
    back_to: &str,
) -> AppResult<Record> {
    if !user.recently_authenticated() {
        return Err(AppError::StepUp(back_to.to_owned()));
    }
    let a = super::lado::open(state, user, id, action).await?;
    Ok(Record {
        owner: Owner::Allegation(id),
        base: format!("/lado/allegations/{id}"),
        reference: a.reference,
        section: Section::Lado,
    })
}

#[derive(Template)]
#[template(path = "documents/upload.html")]
struct UploadPage {
    layout: Layout,
    errors: Errors,
    base: String,
    reference: String,
    description: String,
}

fn upload_page(
    user: &CurrentUser,
    r: &Record,
    errors: Errors,
    description: String,
) -> AppResult<Response> {
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let page = UploadPage {
        layout: Layout::for_user("Add a document", user, r.section).with_errors(&errors),
        errors,
        base: r.base.clone(),
        reference: r.reference.clone(),
        description,
    };
    Ok((status, Html(page.render()?)).into_response())
}

pub async fn case_form(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> AppResult<Response> {
    let id = parse_id(&id)?;
    let r = case_record(&state, &user, id, "case.view").await?;
    upload_page(&user, &r, Errors::default(), String::new())
}

pub async fn allegation_form(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> AppResult<Response> {
    let id = parse_id(&id)?;
    if let Some(r) = step_up(&user, &format!("/lado/allegations/{id}/documents/new")) {
        return Ok(r);
    }
    let r = allegation_record(&state, &user, id, "allegation.view", "/").await?;
    upload_page(&user, &r, Errors::default(), String::new())
}

pub async fn case_upload(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
    form: FormData,
    upload: Upload,
) -> AppResult<Response> {
    let id = parse_id(&id)?;
    let r = case_record(&state, &user, id, "case.view").await?;
    save(&state, &user, r, form, upload).await
}

pub async fn allegation_upload(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
    form: FormData,
    upload: Upload,
) -> AppResult<Response> {
    let id = parse_id(&id)?;
    let back = format!("/lado/allegations/{id}/documents/new");
    let r = allegation_record(&state, &user, id, "allegation.view", &back).await?;
    save(&state, &user, r, form, upload).await
}

/// Why a file was refused, and what to do instead.
fn refusal_message(why: &Refusal) -> String {
    match why {
        Refusal::TooLarge => format!("{why}. Choose a smaller file, or split it into parts"),
        Refusal::Picture(_) | Refusal::HoldsPicture | Refusal::HoldsPreview => format!("{why}."),
        _ => format!("{why}. Choose another file"),
    }
}

/// Check the file and keep it, with its chronology entry and audit row, in one transaction; or
/// show the upload page again saying why (the description kept; a browser cannot refill a file).
async fn save(
    state: &AppState,
    user: &CurrentUser,
    r: Record,
    form: FormData,
    upload: Upload,
) -> AppResult<Response> {
    let mut e = Errors::default();
    if upload.too_large {
        e.add("file", refusal_message(&Refusal::TooLarge));
        return upload_page(user, &r, e, String::new());
    }
    form.only(&["description", "_csrf"])?;
    let description = e.text(&form, "description", "What the document is", false, 500);
    let kind = if upload.file_name.is_empty() && upload.bytes.is_empty() {
        e.add("file", "Select a document to add");
        None
    } else {
        match classify(&upload.bytes) {
            Ok(kind) => Some(kind),
            Err(why) => {
                e.add("file", refusal_message(&why));
                None
            }
        }
    };
    let (Some(kind), true) = (kind, e.is_empty()) else {
        if !upload.bytes.is_empty() {
            // A refused file is recorded by its size and what it was taken for, never kept.
            audit::record_alone(
                &state.pool,
                &state.audit,
                &user.actor(),
                Event::new("document.refused", "document").details(serde_json::json!({
                    "bytes": upload.bytes.len(),
                    "reason": e.get("file"),
                })),
            )
            .await?;
        }
        return upload_page(user, &r, e, description);
    };
    let name = tidy_name(&upload.file_name, kind);
    let digest = sha2::Sha256::digest(&upload.bytes);
    let mut tx = state.pool.begin().await?;
    let doc = db::documents::insert(
        &mut *tx,
        db::documents::NewDocument {
            owner: r.owner,
            file_name: &name,
            content_type: kind.content_type(),
            description: &description,
            body: &upload.bytes,
            sha256: digest.as_slice(),
            by: user.id,
        },
    )
    .await?;
    let now = state.config.clock.now();
    let summary = if description.is_empty() {
        format!("Document added: {name}.")
    } else {
        format!("Document added: {name} ({description}).")
    };
    let mut event = Event::new("document.add", "document")
        .entity(doc)
        .details(serde_json::json!({
            "kind": kind.extension(),
            "bytes": upload.bytes.len(),
            "sha256": hex::encode(digest),
        }));
    match r.owner {
        Owner::Case(case) => {
            db::cases::add_chronology(&mut *tx, case, now, "document", &summary, None, user.id)
                .await?;
            event = event.case(case);
        }
        Owner::Allegation(a) => {
            db::allegations::add_event(&mut *tx, a, now, "document", &summary, Some(user.id))
                .await?;
        }
    }
    audit::record(&mut tx, &state.audit, &user.actor(), event).await?;
    tx.commit().await?;
    Ok(Redirect::to(&format!("{}#documents", r.base)).into_response())
}

pub async fn case_download(
    State(state): State<AppState>,
    user: CurrentUser,
    Path((id, doc)): Path<(String, String)>,
) -> AppResult<Response> {
    let (id, doc) = (parse_id(&id)?, parse_id(&doc)?);
    let turn = state
        .documents
        .clone()
        .try_acquire_owned()
        .map_err(|_| AppError::DocumentsBusy)?;
    let r = case_record(&state, &user, id, "document.download").await?;
    download(&state, r, doc, turn).await
}

pub async fn allegation_download(
    State(state): State<AppState>,
    user: CurrentUser,
    Path((id, doc)): Path<(String, String)>,
) -> AppResult<Response> {
    let (id, doc) = (parse_id(&id)?, parse_id(&doc)?);
    let turn = state
        .documents
        .clone()
        .try_acquire_owned()
        .map_err(|_| AppError::DocumentsBusy)?;
    let back = format!("/lado/allegations/{id}/documents/{doc}");
    let r = allegation_record(&state, &user, id, "document.download", &back).await?;
    download(&state, r, doc, turn).await
}

async fn download(
    state: &AppState,
    r: Record,
    doc: Uuid,
    turn: tokio::sync::OwnedSemaphorePermit,
) -> AppResult<Response> {
    let d = db::documents::fetch(&state.pool, r.owner, doc)
        .await?
        .ok_or(AppError::NotFound)?;
    drop(turn);
    let content_type = match Kind::from_content_type(&d.content_type) {
        // Plain text is only taken when it is UTF-8.
        Some(Kind::Text) => "text/plain; charset=utf-8",
        Some(kind) => kind.content_type(),
        None => "application/octet-stream",
    };
    let mut res = d.body.into_response();
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_str(&disposition(&d.filename))
            .map_err(|e| AppError::Internal(e.into()))?,
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    Ok(res)
}

/// `attachment`, an ASCII name for old browsers and the exact name in RFC 8187 form.
fn disposition(name: &str) -> String {
    let ascii: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ' ' | '(' | ')') {
                c
            } else {
                '_'
            }
        })
        .collect();
    let exact = percent_encoding::utf8_percent_encode(name, percent_encoding::NON_ALPHANUMERIC);
    format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{exact}")
}

#[cfg(test)]
mod tests {
    #[test]
    fn downloads_are_attachments_with_a_safe_name() {
        assert_eq!(
            super::disposition("Notes \"x\"; ñ.pdf"),
            "attachment; filename=\"Notes _x__ _.pdf\"; filename*=UTF-8''Notes%20%22x%22%3B%20%C3%B1%2Epdf"
        );
    }
}
