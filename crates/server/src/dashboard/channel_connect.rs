//! Connecting a line from the channels page: one form per provider whose fields are
//! exactly that provider's credential keys, the line, the location and an optional API
//! base. The same path as the API's `POST /api/v1/channels` ([`crate::api::connect_line`]):
//! the input checked by the same rules, the credentials verified with the provider
//! before anything is stored, `channel.created` audited. A refusal is the form again with
//! the reason (422; 502 when the provider could not answer, 409 for a line already
//! connected), secrets never filled back in.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use domain::{LocationId, Provider};

use super::channel_views::{credential_field_name, ConnectEcho};
use super::channels::{page, Refusal};
use super::page::store_error;
use super::viewer::{CsrfForm, Viewer};
use crate::api::LineRequest;
use crate::auth::Permission;
use crate::AppState;

/// `POST /channels`: connect a line.
pub async fn connect(
    State(state): State<AppState>,
    viewer: Viewer,
    CsrfForm(form): CsrfForm<BTreeMap<String, String>>,
) -> Response {
    let field = |name: &str| form.get(name).map_or("", |v| v.trim());
    // Ids first: another tenant's location is the same 404 as a missing one, before any
    // permission or field is judged.
    let location = match field("location_id") {
        "" => None,
        id => {
            let Ok(id) = id.parse::<LocationId>() else {
                return store_error(&viewer, store::StoreError::NotFound);
            };
            match state.store.location(&viewer.scope, &id).await {
                Ok(location) => Some(location),
                Err(e) => return store_error(&viewer, e),
            }
        }
    };
    if let Err(refused) = viewer.require(Permission::ManageChannels) {
        return refused;
    }
    let refuse = |status: StatusCode, errors: Vec<String>| {
        let refusal = Refusal {
            heading: "The line was not connected:".into(),
            errors,
            echo: Some(ConnectEcho::of(&form)),
        };
        page(&state, &viewer, None, status, refusal)
    };
    let Some(location) = location else {
        return refuse(
            StatusCode::UNPROCESSABLE_ENTITY,
            vec!["Location: choose the location the line belongs to.".into()],
        )
        .await;
    };
    let Some(implementation) = field("provider")
        .parse::<Provider>()
        .ok()
        .and_then(channels::for_provider)
    else {
        return refuse(
            StatusCode::UNPROCESSABLE_ENTITY,
            vec!["Provider: not one this gateway connects.".into()],
        )
        .await;
    };
    // Exactly the provider's keys; a blank optional key is left out, a blank required
    // one is named by the provider's own check.
    let spec = implementation.credential_spec();
    let credentials: BTreeMap<String, String> = spec
        .required
        .iter()
        .chain(spec.optional)
        .filter_map(|key| {
            let value = field(&credential_field_name(key));
            (!value.is_empty()).then(|| (key.to_string(), value.to_string()))
        })
        .collect();
    let request = LineRequest {
        provider: implementation.provider().as_str().to_string(),
        line: field("line").to_string(),
        credentials,
        api_base: Some(field("api_base").to_string()).filter(|b| !b.is_empty()),
        settings: None,
    };
    match crate::api::connect_line(&state, &viewer.principal, &location, request).await {
        Ok(created) => Redirect::to(&format!("/channels#{}", created.id)).into_response(),
        Err(e) => {
            // Bad input is the form's to fix (422); a refusal, a conflict or a provider
            // that could not answer keep their own status.
            let status = if e.status == StatusCode::BAD_REQUEST {
                StatusCode::UNPROCESSABLE_ENTITY
            } else {
                e.status
            };
            refuse(status, vec![e.detail]).await
        }
    }
}
