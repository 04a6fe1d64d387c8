//! Settings, API keys: the scope's keys (never their secrets), making one, revoking one.
//!
//! A key is made by the same function as `POST /api/v1/api-keys` and revoked by the same
//! as `DELETE /api/v1/api-keys/{id}` (same checks, same audit entries). The whole key is
//! on the answer page of the form that made it, once: only its hash is stored, and it is
//! never put in a URL (a redirect would carry it into history and logs).

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::page::{render, store_error, Layout, When};
use super::settings_users::{form_error, grantable, location_choices, NoFields};
use super::viewer::{CsrfForm, Viewer};
use crate::auth::api_keys::{make_key, revoke_key};
use crate::auth::Permission;
use crate::AppState;

/// One key as the page lists it.
struct KeyRow {
    id: String,
    prefix: String,
    name: String,
    role: String,
    location: String,
    created: When,
    last_used: Option<When>,
    revoked: Option<When>,
}

/// A key just made: the secret, shown on this one page.
struct MadeKey {
    name: String,
    key: String,
}

/// What the form was sent with, to show it again.
#[derive(Debug, Default, Deserialize)]
pub struct KeyForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    location_id: String,
}

#[derive(Template)]
#[template(path = "settings_keys.html")]
struct KeysPage {
    layout: Layout,
    keys: Vec<KeyRow>,
    grantable: Vec<&'static str>,
    locations: Vec<(String, String)>,
    form: KeyForm,
    errors: Vec<String>,
    made: Option<MadeKey>,
}

async fn keys_page(
    state: &AppState,
    viewer: &Viewer,
    form: KeyForm,
    errors: Vec<String>,
    made: Option<MadeKey>,
) -> Response {
    let locations = match location_choices(state, viewer).await {
        Ok(locations) => locations,
        Err(response) => return response,
    };
    let keys = match state.store.api_keys(&viewer.scope).await {
        Ok(keys) => keys,
        Err(e) => return store_error(viewer, e),
    };
    let keys = keys
        .into_iter()
        .map(|k| KeyRow {
            id: k.id.to_string(),
            prefix: k.prefix,
            name: k.name,
            role: k.role,
            location: k.location_id.as_ref().map_or_else(
                || "All locations".to_string(),
                |id| {
                    locations
                        .iter()
                        .find(|(lid, _)| lid == id.as_str())
                        .map_or_else(|| id.to_string(), |(_, name)| name.clone())
                },
            ),
            created: When::at(k.created_at_ms),
            last_used: k.last_used_at_ms.map(When::at),
            revoked: k.revoked_at_ms.map(When::at),
        })
        .collect();
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let page = KeysPage {
        layout: Layout::new(state, viewer, "API keys", "settings").await,
        keys,
        grantable: grantable(viewer),
        locations,
        form,
        errors,
        made,
    };
    render(status, &page)
}

/// `GET /settings/keys`.
pub async fn show(State(state): State<AppState>, viewer: Viewer) -> Response {
    if let Err(refused) = viewer.require(Permission::ManageApiKeys) {
        return refused;
    }
    keys_page(&state, &viewer, KeyForm::default(), Vec::new(), None).await
}

/// `POST /settings/keys`: makes the key and answers it, once, on this page.
pub async fn create(
    State(state): State<AppState>,
    viewer: Viewer,
    CsrfForm(form): CsrfForm<KeyForm>,
) -> Response {
    if let Err(refused) = viewer.require(Permission::ManageApiKeys) {
        return refused;
    }
    let role = Some(form.role.trim()).filter(|r| !r.is_empty());
    let location = Some(form.location_id.trim()).filter(|l| !l.is_empty());
    match make_key(&state, &viewer.principal, &form.name, role, location).await {
        Ok((made, key)) => {
            let made = MadeKey {
                name: made.name,
                key,
            };
            keys_page(&state, &viewer, KeyForm::default(), Vec::new(), Some(made)).await
        }
        Err(e) => match form_error(&viewer, e) {
            Ok(reason) => {
                let errors = vec![format!("The key was not made: {reason}.")];
                keys_page(&state, &viewer, form, errors, None).await
            }
            Err(response) => response,
        },
    }
}

/// `POST /settings/keys/{id}/revoke`.
pub async fn revoke(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    CsrfForm(NoFields {}): CsrfForm<NoFields>,
) -> Response {
    if let Err(refused) = viewer.require(Permission::ManageApiKeys) {
        return refused;
    }
    match revoke_key(&state, &viewer.principal, &id).await {
        Ok(_) => Redirect::to("/settings/keys").into_response(),
        Err(e) => match form_error(&viewer, e) {
            Ok(reason) => {
                let errors = vec![format!("The key was not revoked: {reason}.")];
                keys_page(&state, &viewer, KeyForm::default(), errors, None).await
            }
            Err(response) => response,
        },
    }
}
