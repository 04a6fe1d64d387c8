//! Settings, users and roles: the scope's users, inviting one by email, changing a role,
//! deactivating an account, and the role × permission matrix (drawn from
//! [`crate::auth::allows`], so the page can't drift from what the server enforces).
//!
//! The judging is the API's: an invitation goes through the same function as
//! `POST /api/v1/users/invitations` (same checks, same email), role changes and
//! deactivation through [`crate::auth::users`]. A refusal of the form's content is the
//! page again with the reason (422, nothing changed); another tenant's user is 404.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::page::{ok, render, store_error, Layout, When};
use super::viewer::{CsrfForm, Viewer};
use crate::auth::invitations::{invite_user, Invitation};
use crate::auth::{users, Permission, Role};
use crate::http::ApiError;
use crate::AppState;

/// One user as the page lists them.
struct UserRow {
    id: String,
    email: String,
    name: String,
    role: String,
    location: String,
    status: String,
    joined: When,
    /// Roles this user may be moved to by the viewer; empty when the viewer may not
    /// manage them (themselves, a higher role, deactivated).
    roles: Vec<&'static str>,
}

/// One line of the role matrix.
struct MatrixRow {
    permission: &'static str,
    cells: Vec<bool>,
}

/// What the invitation form was sent with, to show it again.
#[derive(Debug, Default, Deserialize)]
pub struct InviteForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    location_id: String,
}

#[derive(Template)]
#[template(path = "settings_users.html")]
struct UsersPage {
    layout: Layout,
    users: Vec<UserRow>,
    grantable: Vec<&'static str>,
    locations: Vec<(String, String)>,
    roles: Vec<&'static str>,
    matrix: Vec<MatrixRow>,
    form: InviteForm,
    errors: Vec<String>,
}

/// The roles the viewer may hand out (never operator).
pub(super) fn grantable(viewer: &Viewer) -> Vec<&'static str> {
    Role::ALL
        .into_iter()
        .filter(|r| *r != Role::Operator && viewer.role().may_grant(*r))
        .filter(|r| viewer.scope.location_id().is_none() || *r != Role::AgencyAdmin)
        .map(Role::as_str)
        .collect()
}

/// The scope's locations as (id, name), for the forms' location choice.
pub(super) async fn location_choices(
    state: &AppState,
    viewer: &Viewer,
) -> Result<Vec<(String, String)>, Response> {
    let locations = state
        .store
        .locations(&viewer.scope)
        .await
        .map_err(|e| store_error(viewer, e))?;
    Ok(locations
        .into_iter()
        .map(|l| (l.id.to_string(), l.name))
        .collect())
}

/// A refusal by the shared code as the dashboard answers it: 404 and server failures
/// are pages of their own; any other refusal is the form's error text (a 422).
pub(super) fn form_error(viewer: &Viewer, e: ApiError) -> Result<String, Response> {
    if e.status == StatusCode::NOT_FOUND {
        return Err(store_error(viewer, store::StoreError::NotFound));
    }
    if e.status.is_server_error() {
        return Err(e.into_response());
    }
    Ok(e.detail)
}

/// The page, with the invitation form as sent and what was wrong.
async fn users_page(
    state: &AppState,
    viewer: &Viewer,
    form: InviteForm,
    errors: Vec<String>,
) -> Result<UsersPage, Response> {
    let locations = location_choices(state, viewer).await?;
    let users = state
        .store
        .users_of_scope(&viewer.scope)
        .await
        .map_err(|e| store_error(viewer, e))?;
    let grantable = grantable(viewer);
    let rows = users
        .into_iter()
        .map(|u| {
            let role = u.role.parse::<Role>().ok();
            let manageable = u.id != viewer.user_id
                && u.status != "disabled"
                && role.is_some_and(|r| viewer.role().may_grant(r));
            let roles = if manageable {
                grantable
                    .iter()
                    .copied()
                    .filter(|r| (*r == Role::AgencyAdmin.as_str()) == u.location_id.is_none())
                    .collect()
            } else {
                Vec::new()
            };
            let location = u.location_id.as_ref().map_or_else(
                || "All locations".to_string(),
                |id| {
                    locations
                        .iter()
                        .find(|(lid, _)| lid == id.as_str())
                        .map_or_else(|| id.to_string(), |(_, name)| name.clone())
                },
            );
            UserRow {
                id: u.id.to_string(),
                email: u.email,
                name: u.name,
                role: u.role,
                location,
                status: u.status,
                joined: When::at(u.created_at_ms),
                roles,
            }
        })
        .collect();
    let matrix = Permission::ALL
        .into_iter()
        .map(|p| MatrixRow {
            permission: p.as_str(),
            cells: Role::ALL
                .into_iter()
                .map(|r| crate::auth::allows(r, p))
                .collect(),
        })
        .collect();
    Ok(UsersPage {
        layout: Layout::new(state, viewer, "Users and roles", "settings").await,
        users: rows,
        grantable,
        locations,
        roles: Role::ALL.into_iter().map(Role::as_str).collect(),
        matrix,
        form,
        errors,
    })
}

/// The page again with `errors`, as a 422: nothing was changed.
async fn refused(
    state: &AppState,
    viewer: &Viewer,
    form: InviteForm,
    errors: Vec<String>,
) -> Response {
    match users_page(state, viewer, form, errors).await {
        Ok(page) => render(StatusCode::UNPROCESSABLE_ENTITY, &page),
        Err(response) => response,
    }
}

/// `GET /settings/users`.
pub async fn show(State(state): State<AppState>, viewer: Viewer) -> Response {
    if let Err(refused) = viewer.require(Permission::ManageUsers) {
        return refused;
    }
    match users_page(&state, &viewer, InviteForm::default(), Vec::new()).await {
        Ok(page) => ok(&page),
        Err(response) => response,
    }
}

/// `POST /settings/users/invite`: the invitation, mailed as the API's is.
pub async fn invite(
    State(state): State<AppState>,
    viewer: Viewer,
    CsrfForm(form): CsrfForm<InviteForm>,
) -> Response {
    if let Err(refused) = viewer.require(Permission::ManageUsers) {
        return refused;
    }
    let location = form.location_id.trim();
    let ask = Invitation {
        email: &form.email,
        name: &form.name,
        role: &form.role,
        location_id: Some(location).filter(|l| !l.is_empty()),
    };
    match invite_user(&state, &viewer.principal, &ask).await {
        Ok(_) => Redirect::to("/settings/users").into_response(),
        Err(e) => match form_error(&viewer, e) {
            Ok(reason) => {
                refused(
                    &state,
                    &viewer,
                    form,
                    vec![format!("Invitation: {reason}.")],
                )
                .await
            }
            Err(response) => response,
        },
    }
}

/// A form with nothing but its CSRF token.
#[derive(Debug, Deserialize)]
pub struct NoFields {}

#[derive(Debug, Deserialize)]
pub struct RoleForm {
    #[serde(default)]
    role: String,
}

/// `POST /settings/users/{id}/role`.
pub async fn change_role(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    CsrfForm(form): CsrfForm<RoleForm>,
) -> Response {
    if let Err(refused) = viewer.require(Permission::ManageUsers) {
        return refused;
    }
    match users::change_role(&state, &viewer.principal, &id, form.role.trim()).await {
        Ok(_) => Redirect::to("/settings/users").into_response(),
        Err(e) => match form_error(&viewer, e) {
            Ok(reason) => {
                let errors = vec![format!("Role not changed: {reason}.")];
                refused(&state, &viewer, InviteForm::default(), errors).await
            }
            Err(response) => response,
        },
    }
}

/// `POST /settings/users/{id}/deactivate`: no more sign-ins; their sessions end now.
pub async fn deactivate(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    CsrfForm(NoFields {}): CsrfForm<NoFields>,
) -> Response {
    if let Err(refused) = viewer.require(Permission::ManageUsers) {
        return refused;
    }
    match users::deactivate(&state, &viewer.principal, &id).await {
        Ok(_) => Redirect::to("/settings/users").into_response(),
        Err(e) => match form_error(&viewer, e) {
            Ok(reason) => {
                let errors = vec![format!("Not deactivated: {reason}.")];
                refused(&state, &viewer, InviteForm::default(), errors).await
            }
            Err(response) => response,
        },
    }
}
