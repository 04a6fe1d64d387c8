//! Password reset by email: `POST /api/v1/auth/password-reset` mails a one-time link,
//! `POST /api/v1/auth/password-reset/confirm` sets the new password with it.
//!
//! The request answers 202 the same way whether or not the email belongs to anyone, so it
//! can't be used to find accounts; it shares the sign-in limit per address. The link works
//! once, for an hour, and only the newest one works. Setting a new password ends every
//! session and access token of the user (whoever knew the old password is out) and lifts
//! a lockout. The link points at the dashboard's reset page (`/reset-password?token=…`);
//! until the dashboard serves it, the token is used through the confirm endpoint.

use axum::extract::State;
use axum::http::{Extensions, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::json;
use store::repo::{NewAuditEntry, PASSWORD_RESET};
use store::StoreError;

use super::login::{rate_limited, request_id};
use super::tokens::random_hex;
use super::{client_ip, hash_password, PasswordError};
use crate::http::ApiError;
use crate::mail::Mail;
use crate::AppState;

/// How long a reset link works.
const RESET_TTL_MS: i64 = 60 * 60 * 1000;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub(super) struct ResetRequest {
    email: String,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub(super) struct ResetConfirm {
    token: String,
    password: String,
}

/// `POST /api/v1/auth/password-reset` `{email}` → 202, always.
#[utoipa::path(post, path = "/api/v1/auth/password-reset", tag = "auth", security(()),
    request_body = ResetRequest,
    responses((status = 202, description = "accepted; a link is mailed if the address has an account")))]
pub(super) async fn request(
    State(state): State<AppState>,
    extensions: Extensions,
    headers: HeaderMap,
    crate::api::Body(body): crate::api::Body<ResetRequest>,
) -> Result<Response, ApiError> {
    if let Some(wait) = state.auth.login_wait(client_ip(&extensions)) {
        return Ok(rate_limited(wait));
    }
    let accepted = (
        StatusCode::ACCEPTED,
        Json(
            json!({"status": "accepted", "detail": "if the address belongs to an account, a reset link is on its way"}),
        ),
    );
    let store = &state.store;
    let user = match store.user_for_login(&body.email).await {
        Ok(record) if record.user.status == "active" => record.user,
        Ok(_) | Err(StoreError::NotFound) => return Ok(accepted.into_response()),
        Err(e) => return Err(e.into()),
    };
    let token = random_hex(32);
    let mut tx = store.begin().await?;
    store
        .issue_account_token(
            &mut tx,
            &user.id,
            PASSWORD_RESET,
            &token,
            store.now_ms() + RESET_TTL_MS,
        )
        .await?;
    store
        .append_audit(
            &mut tx,
            &NewAuditEntry {
                agency_id: user.agency_id.as_ref(),
                actor: &format!("user:{}", user.id),
                action: "auth.password_reset_requested",
                target: Some(user.id.as_str()),
                detail: json!({}),
                request_id: request_id(&headers).as_deref(),
            },
        )
        .await?;
    tx.commit().await?;
    let link = format!(
        "{}/reset-password?token={token}",
        state.config.public_url.trim_end_matches('/')
    );
    let brand = match &user.agency_id {
        Some(agency) => store.brand(agency).await.ok(),
        None => None,
    };
    let product = brand
        .as_ref()
        .map_or("Switchboard", |b| b.product_name.as_str())
        .to_owned();
    let mail = Mail {
        to: user.email.clone(),
        subject: format!("Reset your {product} password"),
        text: format!(
            "Someone asked to reset the password of your {product} account ({}).\n\n\
             To choose a new password, open this link within an hour:\n{link}\n\n\
             If it wasn't you, ignore this email: your password stays as it is.\n",
            user.email
        ),
        brand,
    };
    if let Err(e) = state.mailer.send(&mail).await {
        // The answer stays the same (it must not reveal the account); the operator hears.
        tracing::warn!(user = %user.id, error = %e, "password reset email not sent");
    }
    Ok(accepted.into_response())
}

/// `POST /api/v1/auth/password-reset/confirm` `{token, password}`.
#[utoipa::path(post, path = "/api/v1/auth/password-reset/confirm", tag = "auth", security(()),
    request_body = ResetConfirm,
    responses((status = 204, description = "password changed; every session ended")))]
pub(super) async fn confirm(
    State(state): State<AppState>,
    headers: HeaderMap,
    crate::api::Body(body): crate::api::Body<ResetConfirm>,
) -> Result<Response, ApiError> {
    let hash = new_password_hash(body.password).await?;
    let store = &state.store;
    let mut tx = store.begin().await?;
    let (user, agency) = match store
        .take_account_token(&mut tx, PASSWORD_RESET, &body.token)
        .await
    {
        Ok(taken) => taken,
        Err(StoreError::NotFound) => {
            return Err(ApiError::bad_request(
                "invalid_token",
                "this reset link is unknown, used or expired; ask for a new one",
            ))
        }
        Err(e) => return Err(e.into()),
    };
    store.set_user_password(&mut tx, &user, &hash).await?;
    let revoked = store.revoke_user_sessions(&mut tx, &user).await?;
    store
        .end_user_access_tokens(&mut tx, &user, store.now_ms())
        .await?;
    store
        .append_audit(
            &mut tx,
            &NewAuditEntry {
                agency_id: agency.as_ref(),
                actor: &format!("user:{user}"),
                action: "auth.password_reset",
                target: Some(user.as_str()),
                detail: json!({"refresh_tokens_revoked": revoked}),
                request_id: request_id(&headers).as_deref(),
            },
        )
        .await?;
    tx.commit().await?;
    Ok(Json(json!({"status": "password_changed"})).into_response())
}

/// The argon2id hash of a new password, off the async threads; 400 `weak_password` for one
/// too short.
pub(super) async fn new_password_hash(password: String) -> Result<String, ApiError> {
    let hashed = tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .map_err(|e| ApiError::internal(format!("password hashing stopped: {e}")))?;
    match hashed {
        Ok(hash) => Ok(hash),
        Err(e @ PasswordError::TooShort) => {
            Err(ApiError::bad_request("weak_password", e.to_string()))
        }
        Err(e) => Err(ApiError::internal(e.to_string())),
    }
}
