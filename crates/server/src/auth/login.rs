//! Sign-in, refresh, sign-out and `me`.
//!
//! A wrong password, an unknown email, a locked account and a disabled one all get the
//! same answer (401 `invalid_credentials`) after the same argon2 work, so the answer
//! can't be used to learn which emails have accounts. Failures are counted per account
//! (lockout, in the audit log) and attempts per client address (429 with `Retry-After`).

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, Extensions, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use store::repo::{NewAuditEntry, RefreshRotation, User};

use super::principal::{unauthorized, Caller};
use super::tokens::{new_csrf_token, new_refresh_token, ACCESS_TTL_SECS, REFRESH_TTL_MS};
use super::{client_ip, cookies, password, Principal, LOCKOUT_MS, LOCKOUT_THRESHOLD};
use crate::http::{ApiError, REQUEST_ID};
use crate::AppState;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub(super) struct LoginBody {
    email: String,
    password: String,
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
pub(super) struct RefreshBody {
    refresh_token: Option<String>,
}

fn invalid_credentials() -> ApiError {
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
        "the email or password is wrong, or the account can't sign in now",
    )
}

/// 429 with `Retry-After`: this address tried to sign in (or reset a password) too often.
pub(super) fn rate_limited(wait: std::time::Duration) -> Response {
    super::limits::too_many(
        wait,
        "too many sign-in attempts from this address; try again later",
    )
}

pub(crate) fn request_id(headers: &HeaderMap) -> Option<String> {
    headers
        .get(&REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

pub(super) fn user_json(user: &User) -> Value {
    json!({
        "id": user.id,
        "email": user.email,
        "name": user.name,
        "role": user.role,
        "agency_id": user.agency_id,
        "location_id": user.location_id,
    })
}

/// The answer to a sign-in or refresh: tokens in the body (API clients) and in cookies
/// (the dashboard).
fn session_response(
    state: &AppState,
    site: cookies::Site,
    user: &User,
    refresh: &str,
) -> Result<Response, ApiError> {
    let access = state
        .auth
        .access
        .issue(&user.id)
        .map_err(|e| ApiError::internal(format!("signing an access token: {e}")))?;
    let csrf = new_csrf_token();
    let body = json!({
        "access_token": access,
        "token_type": "Bearer",
        "expires_in": ACCESS_TTL_SECS,
        "refresh_token": refresh,
        "refresh_expires_in": REFRESH_TTL_MS / 1000,
        "csrf_token": csrf,
        "user": user_json(user),
    });
    let mut response = Json(body).into_response();
    cookies::set_session(response.headers_mut(), site, &access, refresh, &csrf);
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

/// `POST /api/v1/auth/login` `{email, password}`.
#[utoipa::path(post, path = "/api/v1/auth/login", tag = "auth", security(()),
    request_body = LoginBody,
    responses((status = 200, description = "signed in: access and refresh tokens, the user; \
        session cookies set", body = serde_json::Value)))]
pub(super) async fn login(
    State(state): State<AppState>,
    extensions: Extensions,
    headers: HeaderMap,
    crate::api::Body(body): crate::api::Body<LoginBody>,
) -> Result<Response, ApiError> {
    sign_in(&state, &extensions, &headers, &body.email, body.password).await
}

/// Checks a sign-in and, when it passes, starts a session: the answer carries the tokens
/// in its body and in the session cookies. A refusal is 401 `invalid_credentials` (or
/// 429 with `Retry-After` for an address over its budget). The dashboard's sign-in form
/// uses it too, keeping the cookies and answering with a redirect.
pub(crate) async fn sign_in(
    state: &AppState,
    extensions: &Extensions,
    headers: &HeaderMap,
    email: &str,
    password: String,
) -> Result<Response, ApiError> {
    if let Some(wait) = state.auth.login_wait(client_ip(extensions)) {
        return Ok(rate_limited(wait));
    }
    let store = &state.store;
    let record = match store.user_for_login(email).await {
        Ok(record) => Some(record),
        Err(store::StoreError::NotFound) => None,
        Err(e) => return Err(e.into()),
    };
    let hash = record.as_ref().and_then(|r| r.password_hash.clone());
    let password_ok = password::check_password(hash, password).await;
    let Some(record) = record else {
        return Err(invalid_credentials());
    };
    let user = record.user;
    let now = store.now_ms();
    let locked = record.locked_until_ms.is_some_and(|until| until > now);
    let request_id = request_id(headers);
    let actor = format!("user:{}", user.id);
    let mut tx = store.begin().await?;
    if !password_ok {
        if !locked {
            let failure = store
                .record_login_failure(&mut tx, &user.id, LOCKOUT_THRESHOLD, now + LOCKOUT_MS)
                .await?;
            let action = if failure.locked_now {
                "auth.locked"
            } else {
                "auth.login_failed"
            };
            store
                .append_audit(
                    &mut tx,
                    &NewAuditEntry {
                        agency_id: user.agency_id.as_ref(),
                        actor: &actor,
                        action,
                        target: Some(user.id.as_str()),
                        detail: json!({"failed_logins": failure.failed_logins}),
                        request_id: request_id.as_deref(),
                    },
                )
                .await?;
        }
        tx.commit().await?;
        return Err(invalid_credentials());
    }
    if locked || user.status != "active" {
        store
            .append_audit(
                &mut tx,
                &NewAuditEntry {
                    agency_id: user.agency_id.as_ref(),
                    actor: &actor,
                    action: "auth.login_refused",
                    target: Some(user.id.as_str()),
                    detail: json!({"reason": if locked { "locked" } else { "inactive" }}),
                    request_id: request_id.as_deref(),
                },
            )
            .await?;
        tx.commit().await?;
        return Err(invalid_credentials());
    }
    let refresh = new_refresh_token();
    store.record_login_success(&mut tx, &user.id).await?;
    let session = store
        .start_session(&mut tx, &user.id, &refresh, REFRESH_TTL_MS)
        .await?;
    store
        .append_audit(
            &mut tx,
            &NewAuditEntry {
                agency_id: user.agency_id.as_ref(),
                actor: &actor,
                action: "auth.login",
                target: Some(user.id.as_str()),
                detail: json!({"session": session.family_id}),
                request_id: request_id.as_deref(),
            },
        )
        .await?;
    tx.commit().await?;
    session_response(state, cookies::Site::Own, &user, &refresh)
}

/// Starts a session for a user whose identity something else vouched for (GHL's
/// custom-page user context), audited as `auth.login` with how: the answer carries the
/// tokens and the cookies for `site`.
pub(crate) async fn start_session(
    state: &AppState,
    headers: &HeaderMap,
    user: &User,
    site: cookies::Site,
    how: &str,
) -> Result<Response, ApiError> {
    let store = &state.store;
    let refresh = new_refresh_token();
    let mut tx = store.begin().await?;
    let session = store
        .start_session(&mut tx, &user.id, &refresh, REFRESH_TTL_MS)
        .await?;
    store
        .append_audit(
            &mut tx,
            &NewAuditEntry {
                agency_id: user.agency_id.as_ref(),
                actor: &format!("user:{}", user.id),
                action: "auth.login",
                target: Some(user.id.as_str()),
                detail: json!({"session": session.family_id, "via": how}),
                request_id: request_id(headers).as_deref(),
            },
        )
        .await?;
    tx.commit().await?;
    session_response(state, site, user, &refresh)
}

/// The refresh token a request presents: in the JSON body, else in the cookie, which
/// (being sent by the browser on its own) must come with the CSRF header.
fn presented_refresh(headers: &HeaderMap, body: &Bytes) -> Result<Option<String>, ApiError> {
    // No body, or `null`, is no token in the body.
    let parsed: RefreshBody = if body.iter().all(u8::is_ascii_whitespace) {
        RefreshBody::default()
    } else {
        serde_json::from_slice::<Option<RefreshBody>>(body)
            .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "bad_json", format!("body: {e}")))?
            .unwrap_or_default()
    };
    if let Some(token) = parsed.refresh_token.filter(|t| !t.is_empty()) {
        return Ok(Some(token));
    }
    match cookies::get(headers, cookies::REFRESH) {
        Some(token) if cookies::csrf_matches(headers) => Ok(Some(token)),
        Some(_) => Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "csrf",
            "a cookie-authenticated change must echo the sb_csrf cookie in X-CSRF-Token",
        )),
        None => Ok(None),
    }
}

/// `POST /api/v1/auth/refresh`: the refresh token (body `{refresh_token}` or cookie) for
/// a new access token and a new refresh token. A token used before revokes its family.
#[utoipa::path(post, path = "/api/v1/auth/refresh", tag = "auth", security(()),
    request_body(content = Option<RefreshBody>, description = "or the sb_refresh cookie"),
    responses((status = 200, description = "new access and refresh tokens", body = serde_json::Value)))]
pub(super) async fn refresh(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let token = presented_refresh(&headers, &body)?.ok_or_else(unauthorized)?;
    rotate_session(&state, &headers, &token).await
}

/// Rotates a refresh token: a new session answer (tokens and cookies) for a live token;
/// 401 for an unknown or expired one, and for one used before, which also revokes its
/// whole family (a stolen token's thief and its owner both lose the session).
pub(crate) async fn rotate_session(
    state: &AppState,
    headers: &HeaderMap,
    token: &str,
) -> Result<Response, ApiError> {
    let store = &state.store;
    let next = new_refresh_token();
    let mut tx = store.begin().await?;
    let rotation = store
        .rotate_refresh(&mut tx, token, &next, REFRESH_TTL_MS)
        .await?;
    match rotation {
        RefreshRotation::Rotated { user_id, .. } => {
            tx.commit().await?;
            let user = store.user_for_principal(&user_id).await?;
            if user.status != "active" {
                return Err(unauthorized());
            }
            session_response(state, cookies::Site::of(headers), &user, &next)
        }
        RefreshRotation::Reused {
            user_id,
            agency_id,
            family_id,
        } => {
            // No read through the pool here: this transaction is open (PostgreSQL).
            store
                .append_audit(
                    &mut tx,
                    &NewAuditEntry {
                        agency_id: agency_id.as_ref(),
                        actor: &format!("user:{user_id}"),
                        action: "auth.refresh_reused",
                        target: Some(user_id.as_str()),
                        detail: json!({"session": family_id, "revoked": "session"}),
                        request_id: request_id(headers).as_deref(),
                    },
                )
                .await?;
            tx.commit().await?;
            Err(unauthorized())
        }
        RefreshRotation::Invalid => {
            tx.rollback().await?;
            Err(unauthorized())
        }
    }
}

fn signed_out() -> Response {
    let mut response = StatusCode::NO_CONTENT.into_response();
    cookies::clear_session(response.headers_mut());
    response
}

/// `POST /api/v1/auth/logout`: ends the session of the presented refresh token. Always
/// 204: signing out twice is not an error.
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "auth", security(()),
    request_body(content = Option<RefreshBody>, description = "or the sb_refresh cookie"),
    responses((status = 204, description = "signed out (also when already)")))]
pub(super) async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let Some(token) = presented_refresh(&headers, &body)? else {
        return Ok(signed_out());
    };
    end_session(&state, &headers, &token).await?;
    Ok(signed_out())
}

/// Ends the session of a refresh token (nothing when it is unknown), with an audit entry.
pub(crate) async fn end_session(
    state: &AppState,
    headers: &HeaderMap,
    token: &str,
) -> Result<(), ApiError> {
    let store = &state.store;
    let mut tx = store.begin().await?;
    if let Some((user_id, agency_id)) = store.end_session(&mut tx, token).await? {
        store
            .append_audit(
                &mut tx,
                &NewAuditEntry {
                    agency_id: agency_id.as_ref(),
                    actor: &format!("user:{user_id}"),
                    action: "auth.logout",
                    target: Some(user_id.as_str()),
                    detail: json!({}),
                    request_id: request_id(headers).as_deref(),
                },
            )
            .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// `POST /api/v1/auth/logout-all`: ends every session of the calling user, and every
/// access token issued so far.
#[utoipa::path(post, path = "/api/v1/auth/logout-all", tag = "auth",
    responses((status = 204, description = "every session and access token of the user ended")))]
pub(super) async fn logout_all(
    State(state): State<AppState>,
    principal: Principal,
) -> Result<Response, ApiError> {
    let Caller::User { id, .. } = &principal.caller else {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "not_a_user",
            "an API key has no sessions; revoke the key instead",
        ));
    };
    let store = &state.store;
    let agency = principal.scope().ok().map(|s| s.agency_id().clone());
    let mut tx = store.begin().await?;
    let revoked = store.revoke_user_sessions(&mut tx, id).await?;
    store
        .end_user_access_tokens(&mut tx, id, store.now_ms())
        .await?;
    principal
        .audit(
            store,
            &mut tx,
            agency.as_ref(),
            "auth.logout_all",
            Some(id.as_str()),
            json!({"refresh_tokens_revoked": revoked}),
        )
        .await?;
    tx.commit().await?;
    Ok(signed_out())
}

/// `GET /api/v1/me`: who the caller is, its role, tenant and permissions.
#[utoipa::path(get, path = "/api/v1/me", tag = "auth",
    responses((status = 200, description = "the caller: kind, id, role, tenant, permissions",
        body = serde_json::Value)))]
pub(super) async fn me(principal: Principal) -> Json<Value> {
    let (kind, id, extra) = match &principal.caller {
        Caller::User { id, email } => ("user", id.to_string(), json!({"email": email})),
        Caller::ApiKey { id, prefix } => ("api_key", id.to_string(), json!({"prefix": prefix})),
    };
    let scope = principal.scope().ok();
    let permissions: Vec<&str> = super::Permission::ALL
        .into_iter()
        .filter(|p| super::allows(principal.role, *p))
        .map(|p| p.as_str())
        .collect();
    let mut body = json!({
        "kind": kind,
        "id": id,
        "role": principal.role.as_str(),
        "agency_id": scope.map(|s| s.agency_id().to_string()),
        "location_id": scope.and_then(|s| s.location_id()).map(|l| l.to_string()),
        "permissions": permissions,
    });
    if let (Some(object), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
        object.extend(extra.clone());
    }
    Json(body)
}
