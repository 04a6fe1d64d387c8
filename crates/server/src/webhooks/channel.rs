//! `POST /webhooks/{provider}/{channel_id}`: a channel provider's inbound messages and
//! status callbacks; `GET` for providers with a verification handshake (WhatsApp).

use axum::body::Bytes;
use axum::extract::{OriginalUri, Path, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use channels::{Channel, ChannelError, Credentials, WebhookReply, WebhookRequest};
use domain::{ChannelId, Provider};

use super::ingest;
use crate::http::ApiError;
use crate::AppState;

/// The channel a webhook URL names, with its provider module and opened credentials.
/// Unknown provider, malformed id, unknown channel, or a channel of another provider are
/// all the same 404: a prober learns nothing.
async fn resolve(
    state: &AppState,
    provider: &str,
    channel_id: &str,
) -> Result<(store::repo::Channel, &'static dyn Channel, Credentials), ApiError> {
    let unknown = || ApiError::new(StatusCode::NOT_FOUND, "unknown_channel", "no such channel");
    let provider: Provider = provider.parse().map_err(|_| unknown())?;
    let id: ChannelId = channel_id.parse().map_err(|_| unknown())?;
    let implementation = channels::for_provider(provider).ok_or_else(unknown)?;
    let channel = match state.store.channel_for_webhook(&id).await {
        Err(store::StoreError::NotFound) => return Err(unknown()),
        other => other?,
    };
    if channel.provider != provider {
        return Err(unknown());
    }
    let credentials = Credentials::from(state.store.channel_credentials(&channel).await?);
    Ok((channel, implementation, credentials))
}

fn request(
    state: &AppState,
    method: Method,
    uri: &axum::http::Uri,
    headers: HeaderMap,
    body: Bytes,
) -> WebhookRequest {
    // The URL the provider called, rebuilt on our public URL, never on the Host header.
    let path = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    WebhookRequest {
        method,
        url: format!("{}{path}", state.config.public_url),
        headers,
        body,
    }
}

fn channel_error(e: ChannelError) -> ApiError {
    let status = e.webhook_status();
    if status.is_server_error() {
        ApiError::internal(e.to_string())
    } else {
        ApiError::new(status, e.code(), e.to_string())
    }
}

fn reply(r: WebhookReply) -> Response {
    (r.status, [(header::CONTENT_TYPE, r.content_type)], r.body).into_response()
}

pub(super) async fn receive(
    State(state): State<AppState>,
    Path((provider, channel_id)): Path<(String, String)>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let (channel, implementation, credentials) = resolve(&state, &provider, &channel_id).await?;
    let request = request(&state, Method::POST, &uri, headers, body);
    let events = implementation
        .receive_webhook(&credentials, &request)
        .map_err(channel_error)?;
    ingest::apply(&state.store, &channel, events).await?;
    Ok(reply(implementation.acknowledgement()))
}

pub(super) async fn handshake(
    State(state): State<AppState>,
    Path((provider, channel_id)): Path<(String, String)>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let (_, implementation, credentials) = resolve(&state, &provider, &channel_id).await?;
    let request = request(&state, Method::GET, &uri, headers, Bytes::new());
    match implementation.handshake(&credentials, &request) {
        Some(Ok(answer)) => Ok(reply(answer)),
        Some(Err(e)) => Err(channel_error(e)),
        None => Err(ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "this webhook takes POST",
        )),
    }
}
