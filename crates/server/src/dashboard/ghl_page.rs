//! The dashboard inside GHL: a page fit for a Marketplace custom menu link (an iframe in
//! GHL's app) that signs its user in from GHL's encrypted user context and opens their
//! location's inbox (reference `ghl-api.md` §2.7).
//!
//! - `GET /ghl/page` asks the parent window for `REQUEST_USER_DATA` (script
//!   `/assets/ghl.js`) and posts the encrypted payload to `POST /ghl/sso`. It may be framed
//!   only by `SWITCHBOARD_GHL_FRAME_ANCESTORS`.
//! - `POST /ghl/sso` decrypts the payload with the app's Shared Secret. The GHL company
//!   must have installed the app (our agency); an active location must be one of its
//!   locations. A user is found by email and must belong to that agency (and location,
//!   when scoped there). A first visit creates the user: GHL's agency admins become agency
//!   admins, sub-account admins location admins of the active location, other users agents
//!   of it — so the installing user gets their admin account by opening the app, with no
//!   password (they sign in through GHL, or set one with a password reset). The session's
//!   cookies are for an embedded site (SameSite=None, Partitioned, see
//!   [`cookies::Site`]). Only our own page may post it (the `Origin` must be ours).
//!
//! GHL's payload carries no time or nonce, so a captured payload signs its user in again
//! until the shared secret changes; the Origin check keeps other sites from posting one.

use askama::Template;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use secrecy::ExposeSecret;
use serde::Deserialize;
use serde_json::json;
use store::repo::{NewAuditEntry, NewUser, User};

use crate::auth::cookies::Site;
use crate::auth::{login, Role};
use crate::http::ApiError;
use crate::AppState;

#[derive(Template)]
#[template(path = "ghl_page.html")]
struct GhlPage {}

/// `GET /ghl/page`.
pub async fn page(State(state): State<AppState>) -> Response {
    if state.config.ghl_shared_secret.is_none() {
        return off().into_response();
    }
    let mut response = super::page::ok(&GhlPage {});
    let csp = format!(
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
         connect-src 'self'; frame-ancestors {}; base-uri 'none'",
        state.config.ghl_frame_ancestors
    );
    if let Ok(csp) = HeaderValue::from_str(&csp) {
        response
            .headers_mut()
            .insert(header::CONTENT_SECURITY_POLICY, csp);
    }
    response
}

fn off() -> ApiError {
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "ghl_page_not_configured",
        "set SWITCHBOARD_GHL_SHARED_SECRET to the app's Shared Secret to open Switchboard inside GHL",
    )
}

fn refused(detail: &str) -> ApiError {
    ApiError::new(StatusCode::FORBIDDEN, "ghl_user_refused", detail)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SsoBody {
    payload: String,
}

/// Whether the request comes from our own pages (`Origin` is the public URL's origin).
fn from_our_page(state: &AppState, headers: &HeaderMap) -> bool {
    let ours = url::Url::parse(&state.config.public_url)
        .map(|u| u.origin().ascii_serialization())
        .unwrap_or_default();
    headers
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|origin| origin == ours)
}

/// `POST /ghl/sso` `{payload}` → session cookies and `{next}`.
pub async fn sso(
    State(state): State<AppState>,
    headers: HeaderMap,
    crate::api::Body(body): crate::api::Body<SsoBody>,
) -> Result<Response, ApiError> {
    let Some(secret) = &state.config.ghl_shared_secret else {
        return Err(off());
    };
    if !from_our_page(&state, &headers) {
        return Err(refused(
            "only Switchboard's own GHL page may sign in this way",
        ));
    }
    let context =
        ghl::user_context::decrypt(&body.payload, secret.expose_secret()).map_err(|e| {
            ApiError::new(
                StatusCode::UNAUTHORIZED,
                "invalid_user_context",
                e.to_string(),
            )
        })?;
    let store = &state.store;
    let agency = store
        .agency_by_ghl_company(&context.company_id)
        .await
        .map_err(|_| refused("this GHL company has not installed Switchboard"))?;
    let location = match context.active_location.as_deref() {
        Some(ghl_id) => match store.location_by_ghl_id(ghl_id).await {
            Ok(location) if location.agency_id == agency.id => Some(location),
            _ => return Err(refused("this sub-account is not connected to Switchboard")),
        },
        None => None,
    };
    let role = match (context.kind.as_str(), context.role.as_str(), &location) {
        ("agency", "admin", _) => Role::AgencyAdmin,
        ("account", "admin", Some(_)) => Role::LocationAdmin,
        (_, _, Some(_)) => Role::Agent,
        _ => return Err(refused("open Switchboard from inside a sub-account")),
    };
    let user = match store.user_for_login(&context.email).await {
        Ok(record) => record.user,
        Err(store::StoreError::NotFound) => {
            create_user(
                &state,
                &headers,
                &context,
                &agency.id,
                location.as_ref(),
                role,
            )
            .await?
        }
        Err(e) => return Err(e.into()),
    };
    let same_tenant = user.agency_id.as_ref() == Some(&agency.id)
        && match (&user.location_id, &location) {
            (None, _) => true,
            (Some(theirs), Some(active)) => *theirs == active.id,
            (Some(_), None) => false,
        };
    if !same_tenant || user.status != "active" {
        return Err(refused(
            "this email belongs to an account Switchboard can't open here",
        ));
    }
    let mut response =
        login::start_session(&state, &headers, &user, Site::Embedded, "ghl_page").await?;
    let next = match &location {
        Some(l) => format!("/inbox?location_id={}", l.id),
        None => "/inbox".to_string(),
    };
    *response.body_mut() = axum::body::Body::from(json!({"next": next}).to_string());
    response.headers_mut().remove(header::CONTENT_LENGTH);
    Ok(response)
}

/// The first visit of a GHL user: their account, audited.
async fn create_user(
    state: &AppState,
    headers: &HeaderMap,
    context: &ghl::user_context::UserContext,
    agency: &domain::AgencyId,
    location: Option<&store::repo::Location>,
    role: Role,
) -> Result<User, ApiError> {
    let store = &state.store;
    let mut tx = store.begin().await?;
    let created = store
        .create_user(
            &mut tx,
            &NewUser {
                email: context.email.clone(),
                name: context.user_name.clone(),
                role: role.as_str().into(),
                password_hash: None,
                agency_id: Some(agency.clone()),
                location_id: if role == Role::AgencyAdmin {
                    None
                } else {
                    location.map(|l| l.id.clone())
                },
            },
        )
        .await;
    let user = match created {
        Ok(user) => user,
        // Two first visits at once: the other one made it.
        Err(e) if e.is_unique_violation() => {
            drop(tx);
            return Ok(store.user_for_login(&context.email).await?.user);
        }
        Err(e) => return Err(e.into()),
    };
    store
        .append_audit(
            &mut tx,
            &NewAuditEntry {
                agency_id: Some(agency),
                actor: &format!("ghl_user:{}", context.user_id),
                action: "user.created",
                target: Some(user.id.as_str()),
                detail: json!({"role": role.as_str(), "via": "ghl_page"}),
                request_id: login::request_id(headers).as_deref(),
            },
        )
        .await?;
    tx.commit().await?;
    Ok(user)
}
