//! `GET /media/{key}?expires=UNIX&sig=HEX`: a stored attachment, for whoever holds a
//! valid link (GHL, and agents opening it from GHL).

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::link::{now_unix, LinkError};
use crate::http::ApiError;
use crate::AppState;

#[derive(Debug, Deserialize)]
pub(crate) struct LinkQuery {
    expires: Option<String>,
    sig: Option<String>,
}

pub(crate) async fn serve(
    State(state): State<AppState>,
    Path(key): Path<String>,
    Query(query): Query<LinkQuery>,
) -> Result<Response, ApiError> {
    let invalid = || {
        ApiError::new(
            StatusCode::FORBIDDEN,
            "media_link_invalid",
            "this media link is not valid: it was altered, or issued under a master key since rotated",
        )
    };
    let expires = query
        .expires
        .as_deref()
        .and_then(|e| e.parse::<u64>().ok())
        .ok_or_else(invalid)?;
    let sig = query.sig.as_deref().ok_or_else(invalid)?;
    let now = now_unix();
    match state.media.links.verify(&key, expires, sig, now) {
        Ok(()) => {}
        Err(LinkError::Invalid) => return Err(invalid()),
        Err(LinkError::Expired) => {
            return Err(ApiError::new(
                StatusCode::GONE,
                "media_link_expired",
                "this media link has expired",
            ))
        }
    }
    let Some((bytes, content_type)) = state
        .media
        .store
        .get(&key)
        .await
        .map_err(|e| ApiError::internal(format!("media store: {e}")))?
    else {
        return Err(ApiError::not_found());
    };
    let max_age = expires.saturating_sub(now);
    let cache = HeaderValue::from_str(&format!("private, max-age={max_age}"))
        .unwrap_or(HeaderValue::from_static("private, no-cache"));
    Ok((
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (
                header::CONTENT_DISPOSITION,
                HeaderValue::from_static("inline"),
            ),
            (
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
            (header::CACHE_CONTROL, cache),
        ],
        bytes,
    )
        .into_response())
}
