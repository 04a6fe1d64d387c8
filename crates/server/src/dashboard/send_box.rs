//! The inbox's send box: text, links and uploaded files.
//!
//! The form is `multipart/form-data` so an agent can attach files from their device; a
//! plain urlencoded post (text and links only) is still taken, for clients without files.
//! The CSRF token is checked before anything read is used, as [`super::viewer::CsrfForm`]
//! does. Each file must be a type we carry ([`crate::media::kind`]) and within the media
//! size limit; it is then stored under the new message's media folder (so erasure,
//! retention and the purge remove it with the message) and the message carries our
//! signed link to it, which providers fetch like any attachment URL.

use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, Multipart, Request};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use domain::{AgencyId, LocationId, MessageId};
use serde::Deserialize;

use super::viewer::CsrfForm;
use crate::auth::cookies;
use crate::media::{kind, message_folder, Media};
use crate::AppState;

/// The most files one message may carry from the send box.
pub const MAX_UPLOADS: usize = 4;
/// The longest text field (the body is checked again, in characters, by the API's rule).
const MAX_TEXT_BYTES: usize = 64 * 1024;

/// What the send box posts.
#[derive(Debug, Default, Deserialize)]
pub struct SendForm {
    #[serde(default)]
    pub body: String,
    /// http(s) links, one per line.
    #[serde(default)]
    pub attachments: String,
    /// The form's one-time key: a second post of the same form sends nothing more.
    #[serde(default)]
    pub key: String,
    #[serde(skip)]
    pub files: Vec<Upload>,
}

/// A file from the send box, read and checked.
#[derive(Debug)]
pub struct Upload {
    pub file_name: String,
    /// The allowed type's extension (`png`, `pdf`).
    pub extension: &'static str,
    pub bytes: Bytes,
}

impl SendForm {
    /// The links typed into the form, trimmed, blank lines dropped.
    pub fn links(&self) -> Vec<String> {
        self.attachments
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect()
    }
}

/// The body limit of the send route: every file at the media limit, plus the text.
pub fn body_limit(media_max_bytes: u64) -> usize {
    let files = usize::try_from(media_max_bytes).unwrap_or(usize::MAX / 8);
    files
        .saturating_add(16 * 1024)
        .saturating_mul(MAX_UPLOADS)
        .saturating_add(MAX_TEXT_BYTES * 4)
}

fn refused(status: StatusCode, why: impl Into<String>) -> Response {
    (status, why.into()).into_response()
}

/// The send box's post, its CSRF token checked.
pub struct SendInput(pub SendForm);

impl FromRequest<AppState> for SendInput {
    type Rejection = Response;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, Response> {
        // The route lifts the server's usual body limit (files are bigger); this one,
        // sized from the media limit, bounds what is read into memory instead.
        let max_file = state.media.downloader.max_bytes();
        let (parts, body) = request.into_parts();
        let bytes = axum::body::to_bytes(body, body_limit(max_file))
            .await
            .map_err(|_| refused(StatusCode::PAYLOAD_TOO_LARGE, "the message is too large"))?;
        let request = Request::from_parts(parts, Body::from(bytes));
        let content_type = request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        if !content_type.starts_with("multipart/form-data") {
            let CsrfForm(form) = CsrfForm::<SendForm>::from_request(request, state).await?;
            return Ok(Self(form));
        }
        let headers = request.headers().clone();
        let mut multipart = Multipart::from_request(request, state)
            .await
            .map_err(IntoResponse::into_response)?;
        let mut form = SendForm::default();
        let mut csrf = String::new();
        while let Some(mut field) = multipart
            .next_field()
            .await
            .map_err(IntoResponse::into_response)?
        {
            let name = field.name().unwrap_or_default().to_string();
            if name == "files" {
                let file_name = field.file_name().unwrap_or_default().to_string();
                let essence = kind::essence(field.content_type().unwrap_or_default());
                let mut bytes = Vec::new();
                while let Some(chunk) = field.chunk().await.map_err(IntoResponse::into_response)? {
                    bytes.extend_from_slice(&chunk);
                    if bytes.len() as u64 > max_file {
                        return Err(refused(
                            StatusCode::PAYLOAD_TOO_LARGE,
                            format!(
                                "{file_name}: larger than the {} a file may be",
                                kind::human_size(max_file)
                            ),
                        ));
                    }
                }
                // A file input left empty still sends a part, with no name and no bytes.
                if file_name.is_empty() && bytes.is_empty() {
                    continue;
                }
                let Some(extension) = kind::extension_for(&essence) else {
                    return Err(refused(
                        StatusCode::UNSUPPORTED_MEDIA_TYPE,
                        format!(
                            "{file_name}: {essence:?} files can't be sent; images, audio, video and PDF can"
                        ),
                    ));
                };
                if form.files.len() == MAX_UPLOADS {
                    return Err(refused(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        format!("at most {MAX_UPLOADS} files per message"),
                    ));
                }
                form.files.push(Upload {
                    file_name,
                    extension,
                    bytes: Bytes::from(bytes),
                });
                continue;
            }
            let text = field.text().await.map_err(IntoResponse::into_response)?;
            if text.len() > MAX_TEXT_BYTES {
                return Err(refused(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "the form is too large",
                ));
            }
            match name.as_str() {
                "csrf" => csrf = text,
                "body" => form.body = text,
                "attachments" => form.attachments = text,
                "key" => form.key = text,
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

/// Stores the files under the new message's media folder and answers their signed
/// links, in order. On a failure, what was stored is removed again.
pub async fn store_uploads(
    media: &Media,
    agency: &AgencyId,
    location: &LocationId,
    message: &MessageId,
    files: &[Upload],
) -> Result<Vec<String>, String> {
    let folder = message_folder(agency, location, message);
    let mut links = Vec::with_capacity(files.len());
    for (n, file) in files.iter().enumerate() {
        let key = format!(
            "{folder}/{n}-{}.{}",
            kind::sanitised_name(&file.file_name),
            file.extension
        );
        if let Err(e) = media.store.put(&key, file.bytes.clone()).await {
            forget_uploads(media, agency, location, message).await;
            return Err(format!("the file could not be stored: {e}"));
        }
        links.push(media.links.link(&key));
    }
    Ok(links)
}

/// Removes what [`store_uploads`] stored for a message that was not made (a repeated
/// form, a refusal). Best effort: a leftover is only an unreferenced file.
pub async fn forget_uploads(
    media: &Media,
    agency: &AgencyId,
    location: &LocationId,
    message: &MessageId,
) {
    if let Err(e) = media
        .store
        .remove_message_media(agency, location, message)
        .await
    {
        tracing::warn!(error = %e, %message, "could not remove the uploads of an unsent message");
    }
}
