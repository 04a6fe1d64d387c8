//! `/api/v1/channels`: the provider lines connected to the caller's locations.
//!
//! Reading takes `view_conversations`, changing anything `manage_channels`. Credentials go
//! in and never come out: a channel's view names the credential keys it holds, not their
//! values. New credentials (a new channel, or a rotation) are checked with the provider
//! first, with one read-only call ([`channels::Channel::build_verify`]), and stored only if
//! the provider accepts them: refused is 422 `credentials_refused`, a provider that cannot
//! answer is 502 `provider_unavailable`, and either way nothing changes.

use std::collections::BTreeMap;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use domain::ChannelId;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use store::repo::{Channel, ChannelChange};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::channel_input as input;
use super::channel_writes::{change_line, connect_line, LineRequest};
use super::locations::location_id;
use super::{Body, Page, PageQuery};
use crate::auth::{Permission, Principal};
use crate::http::ApiError;
use crate::AppState;

/// A provider line connected to a location.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChannelView {
    pub id: String,
    pub location_id: String,
    /// `sendblue`, `twilio`, `whatsapp` or `unipile`.
    pub provider: String,
    /// The line, E.164.
    pub line: String,
    /// The provider API base this channel uses instead of the provider's default.
    pub api_base: Option<String>,
    /// `messages_per_second`, `fallback_template` (WhatsApp).
    #[schema(value_type = Object)]
    pub settings: Value,
    /// `active` or `paused`.
    pub status: String,
    /// Unix milliseconds.
    pub created_at: i64,
    /// The URL to configure at the provider for this channel's webhooks.
    pub webhook_url: String,
    /// The names of the credentials the channel holds (never their values).
    pub credential_keys: Vec<String>,
}

/// Connects a line.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewChannelRequest {
    pub location_id: String,
    /// `sendblue`, `twilio`, `whatsapp` or `unipile`.
    pub provider: String,
    /// The line, E.164 (`+15125550100`).
    pub line: String,
    /// The provider's credential keys (see the channel credentials table in DESIGN).
    pub credentials: BTreeMap<String, String>,
    /// Overrides the provider's API base (sandbox, regional endpoints).
    pub api_base: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub settings: Option<Value>,
}

/// Fields to change; absent ones are kept. `api_base: null` goes back to the provider's
/// default base.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChannelPatch {
    /// Replaces the settings as a whole.
    #[schema(value_type = Option<Object>)]
    pub settings: Option<Value>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub api_base: Option<Option<String>>,
    /// `active` or `paused`.
    pub status: Option<String>,
}

/// A field that is present (`null` included) reads as `Some`, so `null` and absent differ.
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

/// New credentials for a channel, all keys (they replace the old set).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CredentialRotation {
    pub credentials: BTreeMap<String, String>,
}

/// `?location_id=&provider=`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ChannelFilter {
    /// Only this location's channels.
    pub location_id: Option<String>,
    /// Only this provider's channels.
    pub provider: Option<String>,
}

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(get_one, update))
        .routes(routes!(rotate_credentials))
}

/// A path id as a channel id; one that can't be ours reads as missing.
fn channel_id(id: &str) -> Result<ChannelId, ApiError> {
    id.parse().map_err(|_| ApiError::not_found())
}

/// The view, with the webhook URL and the credential key names.
async fn view(state: &AppState, channel: Channel) -> Result<ChannelView, ApiError> {
    let credential_keys = state
        .store
        .channel_credentials(&channel)
        .await?
        .into_keys()
        .collect();
    Ok(ChannelView {
        webhook_url: state.channel_calls.webhook_url(&channel),
        id: channel.id.to_string(),
        location_id: channel.location_id.to_string(),
        provider: channel.provider.to_string(),
        line: channel.line,
        api_base: channel.api_base,
        settings: channel.settings,
        status: channel.status,
        created_at: channel.created_at_ms,
        credential_keys,
    })
}

/// Channels in the caller's scope, newest first.
#[utoipa::path(get, path = "/api/v1/channels", tag = "channels",
    params(PageQuery, ChannelFilter),
    responses((status = 200, body = Page<ChannelView>)))]
async fn list(
    State(state): State<AppState>,
    principal: Principal,
    Query(page): Query<PageQuery>,
    Query(filter): Query<ChannelFilter>,
) -> Result<Json<Page<ChannelView>>, ApiError> {
    let scope = principal.scope()?;
    let location = match filter.location_id.as_deref() {
        Some(id) => Some(state.store.location(scope, &location_id(id)?).await?.id),
        None => None,
    };
    principal.require(Permission::ViewConversations)?;
    let provider = filter
        .provider
        .as_deref()
        .map(|p| input::provider(p).map(|(provider, _)| provider))
        .transpose()?;
    let paged = state
        .store
        .channels_page(scope, location.as_ref(), provider, &page.paging()?)
        .await?;
    let page = Page::from_store(paged, |c| c);
    let mut items = Vec::with_capacity(page.items.len());
    for channel in page.items {
        items.push(view(&state, channel).await?);
    }
    Ok(Json(Page {
        items,
        next_cursor: page.next_cursor,
    }))
}

/// One channel.
#[utoipa::path(get, path = "/api/v1/channels/{id}", tag = "channels",
    params(("id" = String, Path, description = "the channel's id (ch_…)")),
    responses((status = 200, body = ChannelView)))]
async fn get_one(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Json<ChannelView>, ApiError> {
    let channel = state
        .store
        .channel(principal.scope()?, &channel_id(&id)?)
        .await?;
    principal.require(Permission::ViewConversations)?;
    Ok(Json(view(&state, channel).await?))
}

/// Connects a line to a location, once the provider has accepted its credentials.
#[utoipa::path(post, path = "/api/v1/channels", tag = "channels",
    request_body = NewChannelRequest,
    responses(
        (status = 201, body = ChannelView),
        (status = 409, description = "the line is already connected", body = super::openapi::ErrorBody),
        (status = 422, description = "the provider refused the credentials (credentials_refused)", body = super::openapi::ErrorBody),
        (status = 502, description = "the provider could not check them (provider_unavailable)", body = super::openapi::ErrorBody)))]
async fn create(
    State(state): State<AppState>,
    principal: Principal,
    Body(request): Body<NewChannelRequest>,
) -> Result<(StatusCode, Json<ChannelView>), ApiError> {
    let scope = principal.scope()?;
    let location = state
        .store
        .location(scope, &location_id(&request.location_id)?)
        .await?;
    principal.require(Permission::ManageChannels)?;
    let request = LineRequest {
        provider: request.provider,
        line: request.line,
        credentials: request.credentials,
        api_base: request.api_base,
        settings: request.settings,
    };
    let created = connect_line(&state, &principal, &location, request).await?;
    Ok((StatusCode::CREATED, Json(view(&state, created).await?)))
}

/// Changes a channel's settings, API base or status (`paused` stops its sends).
#[utoipa::path(patch, path = "/api/v1/channels/{id}", tag = "channels",
    params(("id" = String, Path, description = "the channel's id (ch_…)")),
    request_body = ChannelPatch,
    responses((status = 200, body = ChannelView)))]
async fn update(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    Body(patch): Body<ChannelPatch>,
) -> Result<Json<ChannelView>, ApiError> {
    let scope = principal.scope()?;
    let channel = state.store.channel(scope, &channel_id(&id)?).await?;
    principal.require(Permission::ManageChannels)?;
    let (_, implementation) = input::provider(channel.provider.as_str())?;
    let change = ChannelChange {
        settings: patch
            .settings
            .as_ref()
            .map(|s| input::settings(implementation, s))
            .transpose()?,
        api_base: patch
            .api_base
            .map(|base| base.as_deref().map(input::api_base).transpose())
            .transpose()?,
        status: patch.status.as_deref().map(input::status).transpose()?,
    };
    let updated = change_line(&state, &principal, &channel, &change).await?;
    Ok(Json(view(&state, updated).await?))
}

/// Replaces a channel's credentials, once the provider has accepted the new ones; until
/// then (and if it refuses them) the old ones stay in use.
#[utoipa::path(post, path = "/api/v1/channels/{id}/credentials", tag = "channels",
    params(("id" = String, Path, description = "the channel's id (ch_…)")),
    request_body = CredentialRotation,
    responses(
        (status = 200, body = ChannelView),
        (status = 422, description = "the provider refused the credentials (credentials_refused)", body = super::openapi::ErrorBody),
        (status = 502, description = "the provider could not check them (provider_unavailable)", body = super::openapi::ErrorBody)))]
async fn rotate_credentials(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    Body(rotation): Body<CredentialRotation>,
) -> Result<Json<ChannelView>, ApiError> {
    let scope = principal.scope()?;
    let channel = state.store.channel(scope, &channel_id(&id)?).await?;
    principal.require(Permission::ManageChannels)?;
    let (provider, implementation) = input::provider(channel.provider.as_str())?;
    let credentials = input::credentials(implementation, rotation.credentials)?;
    state
        .channel_calls
        .verify(provider, &credentials, channel.api_base.as_deref())
        .await
        .map_err(|f| input::verification_error(provider, f))?;
    let old = state.store.channel_credentials(&channel).await?;
    let new = credentials.into_inner();
    let changed = input::changed_keys(&old, &new);
    let mut tx = state.store.begin_for(scope).await?;
    state
        .store
        .replace_channel_credentials(&mut tx, scope, &channel.id, &new)
        .await?;
    principal
        .audit(
            &state.store,
            &mut tx,
            Some(scope.agency_id()),
            "channel.credentials_rotated",
            Some(channel.id.as_str()),
            json!({"changed": changed.changed, "added": changed.added,
                               "removed": changed.removed}),
        )
        .await?;
    tx.commit().await?;
    Ok(Json(view(&state, channel).await?))
}
