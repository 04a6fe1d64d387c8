//! Connecting a line and changing one, shared by the API ([`super::channels`]) and the
//! dashboard's channels page, so both check the input by the same rules, verify new
//! credentials with the provider before storing anything, and audit the same way.

use std::collections::BTreeMap;

use serde_json::{json, Value};
use store::repo::{Channel, ChannelChange, Location, NewChannel};

use super::channel_input as input;
use crate::auth::Principal;
use crate::http::ApiError;
use crate::AppState;

/// A line to connect, as the caller typed it.
#[derive(Debug)]
pub(crate) struct LineRequest {
    pub provider: String,
    pub line: String,
    /// The provider's credential keys and their values.
    pub credentials: BTreeMap<String, String>,
    pub api_base: Option<String>,
    pub settings: Option<Value>,
}

/// Connects a line to `location` (already looked up through the principal's scope, and
/// the principal allowed to manage channels): the input checked (400), the credentials
/// verified with the provider (refused 422, unchecked 502), then the channel stored and
/// `channel.created` audited in one transaction. On any error nothing is stored.
pub(crate) async fn connect_line(
    state: &AppState,
    principal: &Principal,
    location: &Location,
    request: LineRequest,
) -> Result<Channel, ApiError> {
    let scope = principal.scope()?;
    let (provider, implementation) = input::provider(&request.provider)?;
    let line = input::line(&request.line)?;
    let credentials = input::credentials(implementation, request.credentials)?;
    let api_base = request
        .api_base
        .as_deref()
        .map(input::api_base)
        .transpose()?;
    let settings = match &request.settings {
        Some(given) => input::settings(implementation, given)?,
        None => json!({}),
    };
    state
        .channel_calls
        .verify(provider, &credentials, api_base.as_deref())
        .await
        .map_err(|f| input::verification_error(provider, f))?;
    let credential_keys: Vec<String> = credentials.keys().map(str::to_string).collect();
    let mut tx = state.store.begin_for(scope).await?;
    let created = state
        .store
        .create_channel(
            &mut tx,
            location,
            &NewChannel {
                provider,
                line,
                credentials: credentials.into_inner(),
                api_base,
                settings,
            },
        )
        .await?;
    principal
        .audit(
            &state.store,
            &mut tx,
            Some(scope.agency_id()),
            "channel.created",
            Some(created.id.as_str()),
            json!({"provider": provider, "line": created.line,
                   "location_id": created.location_id,
                   "credential_keys": credential_keys}),
        )
        .await?;
    tx.commit().await?;
    Ok(created)
}

/// Applies a checked change to `channel` (already looked up through the principal's
/// scope) and audits it as `channel.updated`, naming what changed, in one transaction.
pub(crate) async fn change_line(
    state: &AppState,
    principal: &Principal,
    channel: &Channel,
    change: &ChannelChange,
) -> Result<Channel, ApiError> {
    let scope = principal.scope()?;
    let mut detail = serde_json::Map::new();
    if let Some(settings) = &change.settings {
        detail.insert("settings".into(), settings.clone());
    }
    if let Some(api_base) = &change.api_base {
        detail.insert("api_base".into(), json!(api_base));
    }
    if let Some(status) = &change.status {
        detail.insert("status".into(), json!(status));
    }
    let mut tx = state.store.begin_for(scope).await?;
    let updated = state
        .store
        .update_channel(&mut tx, scope, &channel.id, change)
        .await?;
    principal
        .audit(
            &state.store,
            &mut tx,
            Some(scope.agency_id()),
            "channel.updated",
            Some(updated.id.as_str()),
            Value::Object(detail),
        )
        .await?;
    tx.commit().await?;
    Ok(updated)
}
