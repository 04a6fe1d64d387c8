//! The Marketplace install: `GET /install` sends the browser to GHL's consent screen, and
//! `GET /oauth/ghl/callback` exchanges the code, records the install (tokens sealed) and
//! enqueues its `provision` job in the same transaction. Provisioning itself (locations
//! and their tokens) is the job's (`jobs::provision`), so a slow or failing GHL never
//! leaves the browser waiting and is retried.

pub mod state;

use std::collections::HashMap;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::{Query, State};
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde_json::json;
use store::queue::NewJob;
use store::repo::NewInstallation;

use crate::http::ApiError;
use crate::AppState;

/// The job kind that provisions an install (handled in `crate::jobs`).
pub const PROVISION: &str = "provision";

/// GHL's consent screen, under `SWITCHBOARD_GHL_MARKETPLACE_URL`.
const CONSENT_PATH: &str = "/v2/oauth/chooselocation";
/// Where GHL sends the browser back, under `SWITCHBOARD_PUBLIC_URL`.
pub const CALLBACK_PATH: &str = "/oauth/ghl/callback";

/// The scopes the app asks for, and why each (reference §2.6):
pub const SCOPES: &[&str] = &[
    // The provider's outbound-message webhook; posting inbound messages; status updates.
    "conversations/message.write",
    // Reading a message back (its status) after posting it.
    "conversations/message.readonly",
    // Finding a contact's conversation.
    "conversations.readonly",
    // Creating the conversation of a contact who first writes to us.
    "conversations.write",
    // Looking contacts up by phone; the ContactDndUpdate webhook (consent in step).
    "contacts.readonly",
    // Creating contacts for new numbers; DND on STOP.
    "contacts.write",
    // Agency installs: listing the locations the app is installed on.
    "oauth.readonly",
    // Agency installs: minting each location's token from the agency token.
    "oauth.write",
];

/// The install routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/install", get(install))
        .route(CALLBACK_PATH, get(callback))
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

fn not_configured() -> ApiError {
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "install_not_configured",
        "installs are not configured: set SWITCHBOARD_GHL_CLIENT_ID and SWITCHBOARD_GHL_CLIENT_SECRET",
    )
}

fn redirect_uri(state: &AppState) -> String {
    format!("{}{CALLBACK_PATH}", state.config.public_url)
}

/// `GET /install`: 302 to GHL's consent screen with a `state` we can verify.
async fn install(State(state): State<AppState>) -> Result<Response, ApiError> {
    let Some(client_id) = state.config.ghl_client_id.as_deref() else {
        return Err(not_configured());
    };
    let key = state.store.keys().derive(state::LABEL);
    let mut consent = url::Url::parse(&format!(
        "{}{CONSENT_PATH}",
        state.config.ghl_marketplace_url
    ))
    .map_err(|e| ApiError::internal(format!("bad marketplace URL: {e}")))?;
    consent
        .query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", client_id)
        .append_pair("redirect_uri", &redirect_uri(&state))
        .append_pair("scope", &SCOPES.join(" "))
        .append_pair("state", &state::issue(&*key, unix_now()));
    Ok((StatusCode::FOUND, [(header::LOCATION, consent.to_string())]).into_response())
}

/// `GET /oauth/ghl/callback?code=…[&state=…]`.
async fn callback(
    State(app): State<AppState>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    if let Some(given) = query.get("state") {
        let key = app.store.keys().derive(state::LABEL);
        state::verify(&*key, given, unix_now())
            .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "bad_state", e.to_string()))?;
    }
    if let Some(error) = query.get("error") {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "install_refused",
            format!("GHL did not approve the install: {error}"),
        ));
    }
    let Some(code) = query.get("code").filter(|c| !c.trim().is_empty()) else {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "missing_code",
            "the callback has no code; start the install again",
        ));
    };
    let ghl = crate::connectors::Ghl::new(app.ghl_outbound.clone(), &app.config);
    if !ghl.can_install() {
        return Err(not_configured());
    }
    let grant = ghl
        .exchange_code(code, &redirect_uri(&app))
        .await
        .map_err(exchange_error)?;
    let company_id = grant.company_id.clone().ok_or_else(|| {
        ApiError::new(
            StatusCode::BAD_GATEWAY,
            "bad_grant",
            "GHL's token has no companyId",
        )
    })?;
    let (user_type, target) = match grant.user_type() {
        Some(ghl::UserType::Company) => ("Company", company_id.clone()),
        Some(ghl::UserType::Location) => match grant.location_id.clone() {
            Some(location) => ("Location", location),
            None => return Err(bad_grant("a Location token without a locationId")),
        },
        None => return Err(bad_grant("a token of unknown userType")),
    };
    let expires_at = grant
        .expires_in
        .map(|s| app.store.db().now_ms() + i64::try_from(s).unwrap_or(86_399).saturating_mul(1000));
    let store = app.store.clone();
    let ghl_id = target.clone();
    app.store
        .write(move |tx| {
            Box::pin(async move {
                let agency = store
                    .upsert_agency(tx, &format!("GHL company {company_id}"), Some(&company_id))
                    .await?;
                store.activate_agency(tx, &agency.id).await?;
                store
                    .upsert_installation(
                        tx,
                        &agency,
                        &NewInstallation {
                            ghl_id: &ghl_id,
                            user_type,
                            ghl_user_id: grant.user_id.as_deref(),
                            plan_id: grant.plan_id.as_deref(),
                            access_token: &grant.access_token,
                            refresh_token: grant.refresh_token.as_deref(),
                            expires_at_ms: expires_at,
                        },
                    )
                    .await?;
                store
                    .queue()
                    .enqueue(tx, NewJob::new(PROVISION, json!({"ghl_id": ghl_id})))
                    .await?;
                Ok(())
            })
        })
        .await?;
    tracing::info!(install = %target, user_type, "GHL install recorded; provisioning queued");
    Ok(Html(format!(
        "<!doctype html><meta charset=utf-8><title>Switchboard installed</title>\
         <h1>Switchboard is installed</h1><p>{} install recorded. Your locations are being \
         set up; you can close this window.</p>",
        if user_type == "Company" {
            "Agency"
        } else {
            "Location"
        }
    ))
    .into_response())
}

fn bad_grant(detail: &str) -> ApiError {
    ApiError::new(
        StatusCode::BAD_GATEWAY,
        "bad_grant",
        format!("GHL answered {detail}"),
    )
}

/// A refused code is the user's to retry (4xx); GHL being down or refusing our client is
/// ours (502).
fn exchange_error(e: ghl::Error) -> ApiError {
    match e {
        ghl::Error::InvalidGrant { detail } => ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_code",
            format!("GHL refused the install code (used, expired or unknown): {detail}"),
        ),
        other => ApiError::new(
            StatusCode::BAD_GATEWAY,
            "ghl_exchange_failed",
            format!("could not exchange the install code with GHL: {other}"),
        ),
    }
}
