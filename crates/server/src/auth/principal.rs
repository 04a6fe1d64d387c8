//! [`Principal`]: who is calling and the tenant scope they may see — the one way handlers
//! learn either.
//!
//! It comes from, in this order: `Authorization: Bearer sb_…` (an API key),
//! `Authorization: Bearer <jwt>` (an access token), or the `sb_access` cookie (the
//! dashboard). The scope is the user's or key's own tenant, read from the database;
//! nothing in the request can widen or change it. A cookie-authenticated request that
//! changes state must also pass the CSRF check (see [`super::cookies`]); a bearer token
//! or key can't be sent by a cross-site page, so it needs none.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, Method, StatusCode};
use domain::{ApiKeyId, UserId};
use store::repo::secret_hash;
use store::{StoreError, TenantScope};

use super::roles::{allows, Permission, Role};
use super::{cookies, API_KEY_TOUCH_EVERY_MS};
use crate::http::{ApiError, REQUEST_ID};
use crate::AppState;

/// Who is calling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    User { id: UserId, email: String },
    ApiKey { id: ApiKeyId, prefix: String },
}

/// How the caller proved who they are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    Bearer,
    Cookie,
    ApiKey,
}

/// The authenticated caller of a request.
#[derive(Debug, Clone)]
pub struct Principal {
    pub caller: Caller,
    pub role: Role,
    pub via: Via,
    /// The request's id, for audit entries.
    pub request_id: Option<String>,
    /// When the access token presented expires (Unix ms); `None` for an API key, which
    /// lasts until revoked. A long-lived connection (`/ws`) ends then.
    pub expires_at_ms: Option<i64>,
    scope: Option<TenantScope>,
}

impl Principal {
    /// The tenant this caller may see. Operators have none: tenant routes refuse them.
    pub fn scope(&self) -> Result<&TenantScope, ApiError> {
        self.scope.as_ref().ok_or_else(|| {
            ApiError::new(
                StatusCode::FORBIDDEN,
                "no_tenant",
                "this account belongs to no agency or location",
            )
        })
    }

    /// Refuses (403) unless the caller's role holds `permission` (see [`allows`]).
    pub fn require(&self, permission: Permission) -> Result<(), ApiError> {
        if allows(self.role, permission) {
            Ok(())
        } else {
            Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                format!("the role {} may not {}", self.role, permission.as_str()),
            ))
        }
    }

    /// Appends an audit entry of this caller's (its actor and request id) in `tx`, the
    /// transaction of the change it records.
    pub async fn audit(
        &self,
        store: &store::Store,
        tx: &mut store::Tx,
        agency: Option<&domain::AgencyId>,
        action: &str,
        target: Option<&str>,
        detail: serde_json::Value,
    ) -> Result<(), StoreError> {
        let entry = store::repo::NewAuditEntry {
            agency_id: agency,
            actor: &self.actor(),
            action,
            target,
            detail,
            request_id: self.request_id.as_deref(),
        };
        store.append_audit(tx, &entry).await.map(|_| ())
    }

    /// The actor named in audit entries.
    pub fn actor(&self) -> String {
        match &self.caller {
            Caller::User { id, .. } => format!("user:{id}"),
            Caller::ApiKey { id, .. } => format!("api_key:{id}"),
        }
    }
}

pub(super) fn unauthorized() -> ApiError {
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        "unauthorized",
        "sign in, or send a valid access token or API key",
    )
}

fn csrf_refused() -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        "csrf",
        "a cookie-authenticated change must echo the sb_csrf cookie in X-CSRF-Token",
    )
}

/// Whether a method changes state (and so needs the CSRF check under cookies).
fn changes_state(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

fn bearer(parts: &Parts) -> Option<&str> {
    bearer_value(&parts.headers)
}

/// The token of an `Authorization: Bearer …` header, if any.
pub(super) fn bearer_value(headers: &axum::http::HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

impl FromRequestParts<AppState> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let request_id = parts
            .headers
            .get(&REQUEST_ID)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let mut principal = if let Some(token) = bearer(parts) {
            if token.starts_with(super::API_KEY_PREFIX) {
                from_api_key(state, token).await?
            } else {
                from_access_token(state, token, Via::Bearer).await?
            }
        } else if let Some(token) = cookies::get(&parts.headers, cookies::ACCESS) {
            // Checked before the token, so a forged cross-site post learns nothing.
            if changes_state(&parts.method) && !cookies::csrf_matches(&parts.headers) {
                return Err(csrf_refused());
            }
            from_access_token(state, &token, Via::Cookie).await?
        } else {
            return Err(unauthorized());
        };
        principal.request_id = request_id;
        Ok(principal)
    }
}

impl Principal {
    /// The dashboard's caller: the user of the `sb_access` cookie, with no CSRF check.
    /// The dashboard checks the CSRF token of its forms itself (a form field, see
    /// `crate::dashboard`), so only it may call this.
    pub(crate) async fn from_session_cookie(
        state: &AppState,
        headers: &axum::http::HeaderMap,
    ) -> Result<Self, ApiError> {
        let token = cookies::get(headers, cookies::ACCESS).ok_or_else(unauthorized)?;
        let mut principal = from_access_token(state, &token, Via::Cookie).await?;
        principal.request_id = headers
            .get(&REQUEST_ID)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        Ok(principal)
    }
}

fn or_unauthorized(e: StoreError) -> ApiError {
    match e {
        StoreError::NotFound => unauthorized(),
        other => other.into(),
    }
}

/// The tenant scope of a user or key from its stored agency and location.
async fn scope_of(
    state: &AppState,
    agency: Option<&domain::AgencyId>,
    location: Option<&domain::LocationId>,
) -> Result<Option<TenantScope>, ApiError> {
    let store = &state.store;
    // Walled: on PostgreSQL, what a request reads through its scope is also behind the
    // row-level security policies.
    Ok(match (location, agency) {
        (Some(location), _) => Some(
            TenantScope::for_location(
                &store
                    .location_for_operator(location)
                    .await
                    .map_err(or_unauthorized)?,
            )
            .walled(),
        ),
        (None, Some(agency)) => Some(
            TenantScope::for_agency(&store.agency(agency).await.map_err(or_unauthorized)?).walled(),
        ),
        (None, None) => None,
    })
}

async fn from_access_token(state: &AppState, token: &str, via: Via) -> Result<Principal, ApiError> {
    let claims = state.auth.access.verify(token).ok_or_else(unauthorized)?;
    let id: UserId = claims.sub.parse().map_err(|_| unauthorized())?;
    let user = state
        .store
        .user_for_principal(&id)
        .await
        .map_err(or_unauthorized)?;
    if user.status != "active" || claims.iat_ms < user.tokens_valid_after_ms {
        return Err(unauthorized());
    }
    let role: Role = user
        .role
        .parse()
        .map_err(|e: super::roles::UnknownRole| ApiError::internal(e.to_string()))?;
    let scope = scope_of(state, user.agency_id.as_ref(), user.location_id.as_ref()).await?;
    if role != Role::Operator && scope.is_none() {
        return Err(unauthorized());
    }
    Ok(Principal {
        caller: Caller::User {
            id: user.id,
            email: user.email,
        },
        role,
        via,
        request_id: None,
        expires_at_ms: Some(claims.exp.saturating_mul(1000)),
        scope,
    })
}

async fn from_api_key(state: &AppState, key: &str) -> Result<Principal, ApiError> {
    use subtle::ConstantTimeEq;
    let prefix = key
        .get(..super::API_KEY_PREFIX_LEN)
        .ok_or_else(unauthorized)?;
    let found = state
        .store
        .api_key_for_auth(prefix)
        .await
        .map_err(or_unauthorized)?;
    let presented = secret_hash(key);
    if !bool::from(presented.as_bytes().ct_eq(found.secret_hash.as_bytes()))
        || found.key.revoked_at_ms.is_some()
    {
        return Err(unauthorized());
    }
    let key = found.key;
    let role: Role = key
        .role
        .parse()
        .map_err(|e: super::roles::UnknownRole| ApiError::internal(e.to_string()))?;
    let scope = scope_of(state, Some(&key.agency_id), key.location_id.as_ref()).await?;
    let now = state.store.now_ms();
    if key
        .last_used_at_ms
        .is_none_or(|at| at <= now - API_KEY_TOUCH_EVERY_MS)
    {
        if let Err(e) = state
            .store
            .touch_api_key(&key.id, API_KEY_TOUCH_EVERY_MS)
            .await
        {
            tracing::warn!(error = %e, key = %key.id, "could not record the API key's use");
        }
    }
    Ok(Principal {
        caller: Caller::ApiKey {
            id: key.id,
            prefix: key.prefix,
        },
        role,
        via: Via::ApiKey,
        request_id: None,
        expires_at_ms: None,
        scope,
    })
}
