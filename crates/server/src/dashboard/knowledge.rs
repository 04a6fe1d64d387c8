//! The knowledge page: each location's knowledge base — its sources with their progress
//! and errors, a form to add a website, a PDF or text, and re-ingest and delete.
//!
//! Adding queues an ingest job with the source (`jobs::knowledge_ingest`); the page shows
//! its state and reloads itself while anything is queued or ingesting. The form is
//! `multipart/form-data` (a PDF may be uploaded); its CSRF token is checked before
//! anything in it is used. Who may: the `manage_ai` permission (agency admins, and
//! location admins for their own location).

use askama::Template;
use axum::body::Body;
use axum::extract::{FromRequest, Multipart, Path, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde_json::json;
use store::repo::{KnowledgeSource, Location, NewKnowledgeSource};
use url::Url;

use super::page::{render, store_error, Layout};
use super::viewer::{CsrfForm, Viewer};
use crate::auth::{cookies, Permission};
use crate::jobs::knowledge_ingest;
use crate::knowledge::{MAX_CRAWL_DEPTH, MAX_CRAWL_PAGES, MAX_DOCUMENT_BYTES};
use crate::AppState;

/// One location's knowledge base on the page.
struct LocationKnowledge {
    id: String,
    name: String,
    sources: Vec<KnowledgeSource>,
    /// The add form's errors, when it was refused.
    errors: Vec<String>,
}

#[derive(Template)]
#[template(path = "knowledge.html")]
struct KnowledgePage {
    layout: Layout,
    locations: Vec<LocationKnowledge>,
    /// Something is queued or ingesting: the page reloads itself to show progress.
    busy: bool,
    max_depth: u32,
    max_pages: u32,
}

async fn knowledge_page(
    state: &AppState,
    viewer: &Viewer,
    refused: Option<(String, Vec<String>)>,
) -> Response {
    let store = &state.store;
    let locations = match store.locations(&viewer.scope).await {
        Ok(locations) => locations,
        Err(e) => return store_error(viewer, e),
    };
    let sources = match store.knowledge_sources(&viewer.scope, None).await {
        Ok(sources) => sources,
        Err(e) => return store_error(viewer, e),
    };
    // A refused form is not reloaded away: its errors stay until the viewer acts.
    let busy = refused.is_none()
        && sources
            .iter()
            .any(|s| s.state == "queued" || s.state == "ingesting");
    let status = if refused.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let locations = locations
        .iter()
        .map(|l: &Location| LocationKnowledge {
            id: l.id.to_string(),
            name: l.name.clone(),
            sources: sources
                .iter()
                .filter(|s| s.location_id == l.id)
                .cloned()
                .collect(),
            errors: refused
                .as_ref()
                .filter(|(id, _)| *id == l.id.as_str())
                .map(|(_, errors)| errors.clone())
                .unwrap_or_default(),
        })
        .collect();
    let page = KnowledgePage {
        layout: Layout::new(state, viewer, "Knowledge", "knowledge").await,
        locations,
        busy,
        max_depth: MAX_CRAWL_DEPTH,
        max_pages: MAX_CRAWL_PAGES,
    };
    render(status, &page)
}

/// `GET /knowledge`.
pub async fn show(State(state): State<AppState>, viewer: Viewer) -> Response {
    if let Err(refused) = viewer.require(Permission::ManageAi) {
        return refused;
    }
    knowledge_page(&state, &viewer, None).await
}

/// What the add form sent.
#[derive(Debug, Default)]
pub struct AddForm {
    kind: String,
    title: String,
    url: String,
    depth: String,
    pages: String,
    text: String,
    file_name: String,
    file: Vec<u8>,
}

/// The add form, read from its multipart body, its CSRF token checked.
pub struct AddInput(AddForm);

fn refused(status: StatusCode, why: &str) -> Response {
    (status, why.to_string()).into_response()
}

impl FromRequest<AppState> for AddInput {
    type Rejection = Response;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, Response> {
        let (parts, body) = request.into_parts();
        let bytes = axum::body::to_bytes(body, MAX_DOCUMENT_BYTES + 256 * 1024)
            .await
            .map_err(|_| refused(StatusCode::PAYLOAD_TOO_LARGE, "the upload is too large"))?;
        let request = Request::from_parts(parts, Body::from(bytes));
        let headers = request.headers().clone();
        let mut multipart = Multipart::from_request(request, state)
            .await
            .map_err(IntoResponse::into_response)?;
        let (mut form, mut csrf) = (AddForm::default(), String::new());
        while let Some(field) = multipart
            .next_field()
            .await
            .map_err(IntoResponse::into_response)?
        {
            let name = field.name().unwrap_or_default().to_string();
            if name == "file" {
                form.file_name = field.file_name().unwrap_or_default().to_string();
                form.file = field
                    .bytes()
                    .await
                    .map_err(IntoResponse::into_response)?
                    .to_vec();
                continue;
            }
            let text = field.text().await.map_err(IntoResponse::into_response)?;
            match name.as_str() {
                "csrf" => csrf = text,
                "kind" => form.kind = text,
                "title" => form.title = text,
                "url" => form.url = text,
                "depth" => form.depth = text,
                "pages" => form.pages = text,
                "text" => form.text = text,
                _ => {}
            }
        }
        if !cookies::csrf_field_matches(&headers, &csrf) {
            return Err(refused(
                StatusCode::FORBIDDEN,
                "this form has expired or did not come from this site; reload the page and try again",
            ));
        }
        Ok(Self(form))
    }
}

fn number(field: &str, value: &str, default: u32, max: u32, errors: &mut Vec<String>) -> u32 {
    let value = value.trim();
    if value.is_empty() {
        return default;
    }
    match value.parse::<u32>() {
        Ok(n) if n <= max && (n > 0 || field == "Depth") => n,
        _ => {
            errors.push(format!("{field}: a whole number up to {max}."));
            default
        }
    }
}

/// The source the form describes, or what is wrong with it, field by field.
fn validate(form: AddForm) -> Result<NewKnowledgeSource, Vec<String>> {
    let mut errors = Vec::new();
    let title = form.title.trim().chars().take(200).collect::<String>();
    let mut source = NewKnowledgeSource {
        kind: form.kind.clone(),
        title,
        max_depth: 2,
        max_pages: 25,
        ..Default::default()
    };
    match form.kind.as_str() {
        "url" => {
            match Url::parse(form.url.trim()) {
                Ok(url) if matches!(url.scheme(), "http" | "https") && url.host_str().is_some() => {
                    if source.title.is_empty() {
                        source.title = url.host_str().unwrap_or_default().to_string();
                    }
                    source.url = Some(url.to_string());
                }
                _ => errors.push("Website: an http:// or https:// address.".into()),
            }
            source.max_depth = number("Depth", &form.depth, 2, MAX_CRAWL_DEPTH, &mut errors);
            source.max_pages = number("Pages", &form.pages, 25, MAX_CRAWL_PAGES, &mut errors);
        }
        "text" => {
            if form.text.trim().is_empty() {
                errors.push("Text: paste the text to learn from.".into());
            } else if form.text.len() > MAX_DOCUMENT_BYTES {
                errors.push("Text: at most 10 MB.".into());
            }
            if source.title.is_empty() {
                errors.push("Title: give the text a title.".into());
            }
            source.document = Some(form.text.into_bytes());
        }
        "pdf" => {
            if form.file.is_empty() {
                errors.push("PDF: choose a PDF file.".into());
            } else if !form.file.starts_with(b"%PDF-") {
                errors.push("PDF: the file is not a PDF.".into());
            } else if form.file.len() > MAX_DOCUMENT_BYTES {
                errors.push("PDF: at most 10 MB.".into());
            }
            if source.title.is_empty() {
                source.title = form.file_name.trim().chars().take(200).collect();
            }
            if source.title.is_empty() {
                source.title = "PDF".into();
            }
            source.document = Some(form.file);
        }
        _ => errors.push("Kind: a website, a PDF or text.".into()),
    }
    if errors.is_empty() {
        Ok(source)
    } else {
        Err(errors)
    }
}

/// `POST /knowledge/{location_id}/sources`.
pub async fn add(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    AddInput(form): AddInput,
) -> Response {
    let location =
        match super::viewer::location_to_change(&state, &viewer, &id, Permission::ManageAi).await {
            Ok(location) => location,
            Err(refused) => return refused,
        };
    let new = match validate(form) {
        Ok(new) => new,
        Err(errors) => {
            return knowledge_page(&state, &viewer, Some((location.id.to_string(), errors))).await
        }
    };
    let agency = viewer.scope.agency_id().clone();
    let ingest = knowledge_ingest::job(agency.clone());
    let store = &state.store;
    let added = match store
        .add_knowledge_source(&viewer.scope, &location.id, &new, &ingest)
        .await
    {
        Ok(added) => added,
        Err(e) => return store_error(&viewer, e),
    };
    audit(&state, &viewer, "knowledge.source_added", &added).await;
    Redirect::to(&format!("/knowledge#{}", location.id)).into_response()
}

async fn audit(state: &AppState, viewer: &Viewer, action: &str, source: &KnowledgeSource) {
    let store = &state.store;
    let recorded = async {
        let mut tx = store.begin().await?;
        viewer
            .principal
            .audit(
                store,
                &mut tx,
                Some(viewer.scope.agency_id()),
                action,
                Some(source.id.as_str()),
                json!({"location_id": source.location_id, "kind": source.kind, "title": source.title}),
            )
            .await?;
        tx.commit().await
    };
    if let Err(e) = recorded.await {
        tracing::warn!(error = %e, "the knowledge change was made but not audited");
    }
}

/// An empty form: only its CSRF token.
#[derive(Debug, serde::Deserialize)]
pub struct NoFields {}

async fn source_action(state: &AppState, viewer: &Viewer, id: &str, delete: bool) -> Response {
    let source = match id.parse() {
        Ok(id) => state.store.knowledge_source(&viewer.scope, &id).await,
        Err(_) => Err(store::StoreError::NotFound),
    };
    let source = match source {
        Ok(source) => source,
        Err(e) => return store_error(viewer, e),
    };
    if let Err(refused) = viewer.require(Permission::ManageAi) {
        return refused;
    }
    let store = &state.store;
    let done = if delete {
        store
            .delete_knowledge_source(&viewer.scope, &source.id)
            .await
    } else {
        let agency = viewer.scope.agency_id().clone();
        let ingest = knowledge_ingest::job(agency.clone());
        store
            .requeue_knowledge_source(&viewer.scope, &source.id, &ingest)
            .await
    };
    if let Err(e) = done {
        return store_error(viewer, e);
    }
    let action = if delete {
        "knowledge.source_deleted"
    } else {
        "knowledge.source_refreshed"
    };
    audit(state, viewer, action, &source).await;
    Redirect::to(&format!("/knowledge#{}", source.location_id)).into_response()
}

/// `POST /knowledge/sources/{id}/refresh`: crawl or read it again.
pub async fn refresh(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    CsrfForm(_): CsrfForm<NoFields>,
) -> Response {
    source_action(&state, &viewer, &id, false).await
}

/// `POST /knowledge/sources/{id}/delete`.
pub async fn delete(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    CsrfForm(_): CsrfForm<NoFields>,
) -> Response {
    source_action(&state, &viewer, &id, true).await
}

/// Keeps the body limit of the add route above the server's default.
pub fn body_limit() -> usize {
    MAX_DOCUMENT_BYTES + 256 * 1024
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_checks_its_own_fields() {
        let site = validate(AddForm {
            kind: "url".into(),
            url: "https://clinic.example/".into(),
            depth: "1".into(),
            pages: "10".into(),
            ..Default::default()
        })
        .unwrap();
        assert_eq!((site.max_depth, site.max_pages), (1, 10));
        assert_eq!(site.title, "clinic.example");
        let errors = validate(AddForm {
            kind: "url".into(),
            url: "ftp://clinic.example/".into(),
            depth: "9".into(),
            pages: "0".into(),
            ..Default::default()
        })
        .unwrap_err();
        assert_eq!(errors.len(), 3, "{errors:?}");
        let errors = validate(AddForm {
            kind: "pdf".into(),
            file: b"hello".to_vec(),
            ..Default::default()
        })
        .unwrap_err();
        assert!(errors[0].contains("not a PDF"), "{errors:?}");
        let errors = validate(AddForm {
            kind: "text".into(),
            ..Default::default()
        })
        .unwrap_err();
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert!(validate(AddForm {
            kind: "zip".into(),
            ..Default::default()
        })
        .is_err());
    }
}
