//! `/api/v1/api-keys`: make (the key shown once), list (no secrets), revoke.
//!
//! A key's tenant is the caller's own scope, or one of the caller's locations named in
//! the body and looked up through that scope (so another tenant's location is 404). Its
//! role is the caller's unless a lower one is asked for: a key never holds more than its
//! maker.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use domain::ApiKeyId;
use serde::Deserialize;
use serde_json::{json, Value};
use store::repo::ApiKey;

use super::tokens::random_hex;
use super::{Permission, Principal, Role, API_KEY_PREFIX};
use crate::api::{narrowed_scope, valid_name};
use crate::http::ApiError;
use crate::AppState;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub(super) struct NewKeyBody {
    name: String,
    role: Option<String>,
    location_id: Option<String>,
}

fn key_json(key: &ApiKey) -> Value {
    json!({
        "id": key.id,
        "name": key.name,
        "prefix": key.prefix,
        "role": key.role,
        "agency_id": key.agency_id,
        "location_id": key.location_id,
        "created_by": key.created_by,
        "created_at": key.created_at_ms,
        "revoked_at": key.revoked_at_ms,
        "last_used_at": key.last_used_at_ms,
    })
}

/// `POST /api/v1/api-keys` `{name, role?, location_id?}` → 201 with the key, once.
#[utoipa::path(post, path = "/api/v1/api-keys", tag = "api-keys",
    request_body = NewKeyBody,
    responses((status = 201, description = "the key, with its secret shown this once",
        body = serde_json::Value)))]
pub(super) async fn create(
    State(state): State<AppState>,
    principal: Principal,
    crate::api::Body(body): crate::api::Body<NewKeyBody>,
) -> Result<Response, ApiError> {
    let (created, key) = make_key(
        &state,
        &principal,
        &body.name,
        body.role.as_deref(),
        body.location_id.as_deref(),
    )
    .await?;
    let mut body = key_json(&created);
    body["key"] = json!(key);
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

/// Makes a key in the principal's scope (or one of its locations) with the principal's
/// role or a lower one, audited; answers the stored key and the whole secret, which
/// exists nowhere else afterwards. The API and the dashboard both come here.
pub(crate) async fn make_key(
    state: &AppState,
    principal: &Principal,
    name: &str,
    role: Option<&str>,
    location_id: Option<&str>,
) -> Result<(ApiKey, String), ApiError> {
    principal.require(Permission::ManageApiKeys)?;
    let scope = narrowed_scope(state, principal.scope()?, location_id).await?;
    let name = valid_name(name)?;
    let role = match role {
        None => principal.role,
        Some(word) => word
            .parse::<Role>()
            .map_err(|e| ApiError::bad_request("invalid_role", e.to_string()))?,
    };
    if !principal.role.may_grant(role) || role == Role::Operator {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            format!(
                "the role {} may not make a key with role {role}",
                principal.role
            ),
        ));
    }
    if scope.location_id().is_some() && role == Role::AgencyAdmin {
        return Err(ApiError::bad_request(
            "invalid_role",
            "a location's key can't be agency_admin",
        ));
    }
    let prefix = format!("{API_KEY_PREFIX}{}", random_hex(6));
    let key = format!("{prefix}_{}", random_hex(32));
    let store = &state.store;
    let mut tx = store.begin_for(&scope).await?;
    let created = store
        .create_api_key(
            &mut tx,
            &scope,
            name,
            &prefix,
            &key,
            role.as_str(),
            &principal.actor(),
        )
        .await?;
    principal
        .audit(
            store,
            &mut tx,
            Some(scope.agency_id()),
            "api_key.created",
            Some(created.id.as_str()),
            json!({"prefix": created.prefix, "role": created.role,
                               "location_id": created.location_id}),
        )
        .await?;
    tx.commit().await?;
    Ok((created, key))
}

/// `GET /api/v1/api-keys`: the keys the caller's scope holds, without secrets.
#[utoipa::path(get, path = "/api/v1/api-keys", tag = "api-keys",
    responses((status = 200, description = "`{data: [key]}`, without secrets", body = serde_json::Value)))]
pub(super) async fn list(
    State(state): State<AppState>,
    principal: Principal,
) -> Result<Json<Value>, ApiError> {
    principal.require(Permission::ManageApiKeys)?;
    let keys = state.store.api_keys(principal.scope()?).await?;
    Ok(Json(json!({
        "data": keys.iter().map(key_json).collect::<Vec<_>>()
    })))
}

/// `DELETE /api/v1/api-keys/{id}`: revokes the key; 404 for another tenant's.
#[utoipa::path(delete, path = "/api/v1/api-keys/{id}", tag = "api-keys",
    params(("id" = String, Path, description = "the key's id (key_…)")),
    responses((status = 200, description = "the revoked key", body = serde_json::Value)))]
pub(super) async fn revoke(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(key_json(&revoke_key(&state, &principal, &id).await?)))
}

/// Revokes one of the principal's scope's keys, audited; another tenant's is 404. The
/// API and the dashboard both come here.
pub(crate) async fn revoke_key(
    state: &AppState,
    principal: &Principal,
    id: &str,
) -> Result<ApiKey, ApiError> {
    principal.require(Permission::ManageApiKeys)?;
    let scope = principal.scope()?;
    let id: ApiKeyId = id.parse().map_err(|_| ApiError::not_found())?;
    let store = &state.store;
    let mut tx = store.begin_for(scope).await?;
    let revoked = store.revoke_api_key(&mut tx, scope, &id).await?;
    principal
        .audit(
            store,
            &mut tx,
            Some(scope.agency_id()),
            "api_key.revoked",
            Some(revoked.id.as_str()),
            json!({"prefix": revoked.prefix}),
        )
        .await?;
    tx.commit().await?;
    Ok(revoked)
}
