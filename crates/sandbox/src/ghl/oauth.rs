//! GHL OAuth: the token endpoint (`POST /oauth/token`, form-encoded) and an auto-approving
//! consent page (`/oauth/chooselocation`, `/v2/oauth/chooselocation`).
//!
//! Refresh tokens rotate on every use and a used one is dead at once: GHL's strictness here is
//! UNCONFIRMED, and strict single use is the reading that breaks a gateway which refreshes twice
//! concurrently, as production eventually would. An access token stays valid until it expires,
//! even after a refresh (GHL's tokens are JWTs, which are not revoked).

use std::collections::HashMap;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use super::{error, invalid, GhlState};
use crate::shared::{lock, Shared};
use crate::{clock, ids};

/// How long an authorization code may wait for its exchange.
const CODE_LIFETIME: Duration = Duration::from_secs(600);
pub(crate) const SCOPE: &str =
    "conversations/message.readonly conversations/message.write conversations.readonly \
                     conversations.write contacts.readonly contacts.write";

/// Mint an access token and a refresh token for `location_id`.
pub(crate) fn issue_tokens(
    state: &mut GhlState,
    location_id: &str,
    expires_in: u64,
) -> (String, String) {
    let access = mint_token("access", location_id, expires_in);
    let refresh = mint_token("refresh", location_id, REFRESH_LIFETIME);
    register_tokens(state, location_id, &access, &refresh, expires_in);
    (access, refresh)
}

/// Refresh tokens are valid for a year unless used.
pub(crate) const REFRESH_LIFETIME: u64 = 365 * 86_400;

/// A new token string (not yet registered) that claims to expire in `lifetime` seconds.
pub(crate) fn mint_token(kind: &str, location_id: &str, lifetime: u64) -> String {
    let unix_now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    ids::ghl_token(kind, location_id, unix_now.saturating_add(lifetime))
}

/// Make given tokens valid for `location_id` (seeding with known tokens).
pub(crate) fn register_tokens(
    state: &mut GhlState,
    location_id: &str,
    access: &str,
    refresh: &str,
    expires_in: u64,
) {
    let expires_at = clock::deadline(Duration::from_secs(expires_in));
    state.access_tokens.insert(
        access.to_owned(),
        super::AccessGrant {
            location_id: location_id.to_owned(),
            expires_at,
        },
    );
    state
        .refresh_tokens
        .insert(refresh.to_owned(), location_id.to_owned());
}

/// Mint a single-use authorization code for `location_id`.
/// With `company_id`, the code grants that company's Company token (an agency-level
/// approval); otherwise a Location token for `location_id`.
pub(crate) fn issue_code(
    state: &mut GhlState,
    location_id: &str,
    company_id: Option<String>,
    redirect_uri: Option<String>,
) -> String {
    let code = ids::uuid_v4().replace('-', "");
    state.auth_codes.insert(
        code.clone(),
        super::AuthCode {
            location_id: location_id.to_owned(),
            company_id,
            redirect_uri,
            expires_at: clock::deadline(CODE_LIFETIME),
        },
    );
    code
}

/// 400 with both GHL's `{statusCode, message}` and OAuth's `{error, error_description}`, since the
/// reference documents only the former and OAuth clients look for the latter.
fn oauth_error(error_code: &str, description: &str) -> Response {
    let body = json!({
        "statusCode": 400,
        "message": description,
        "error": error_code,
        "error_description": description,
        "traceId": ids::uuid_v4(),
    });
    (StatusCode::BAD_REQUEST, Json(body)).into_response()
}

pub(crate) async fn token(
    State(shared): State<Shared>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    // The spec declares only a form body; anything else has, as far as GHL is concerned, no fields.
    let params: HashMap<String, String> = if form {
        url::form_urlencoded::parse(&body).into_owned().collect()
    } else {
        HashMap::new()
    };
    let get = |k: &str| params.get(k).map(String::as_str).filter(|v| !v.is_empty());
    let mut problems = Vec::new();
    for field in ["client_id", "client_secret", "grant_type"] {
        if get(field).is_none() {
            problems.push(format!("{field} should not be empty"));
        }
    }
    let grants = ["authorization_code", "refresh_token", "client_credentials"];
    if get("grant_type").is_some_and(|g| !grants.contains(&g)) {
        problems.push(format!(
            "grant_type must be one of the following values: {}",
            grants.join(", ")
        ));
    }
    if get("user_type").is_some_and(|u| !["Company", "Location"].contains(&u)) {
        problems.push("user_type must be one of the following values: Company, Location".into());
    }
    if !problems.is_empty() {
        return invalid(StatusCode::UNPROCESSABLE_ENTITY, problems);
    }
    let opts = &shared.options;
    let client_ok = opts
        .ghl_client_id
        .as_deref()
        .is_none_or(|id| get("client_id") == Some(id))
        && opts
            .ghl_client_secret
            .as_deref()
            .is_none_or(|s| get("client_secret") == Some(s));
    if !client_ok {
        return error(
            StatusCode::UNAUTHORIZED,
            "Invalid client: client credentials are invalid",
        );
    }
    let mut state = lock(&shared.ghl);
    let location_id = match get("grant_type") {
        Some("authorization_code") => {
            let Some(code) = get("code").and_then(|c| state.auth_codes.remove(c)) else {
                return oauth_error(
                    "invalid_grant",
                    "Invalid grant: authorization code is invalid",
                );
            };
            if code.expires_at <= Instant::now() {
                return oauth_error(
                    "invalid_grant",
                    "Invalid grant: authorization code has expired",
                );
            }
            if let (Some(expected), Some(given)) = (&code.redirect_uri, get("redirect_uri")) {
                if expected != given {
                    return oauth_error(
                        "invalid_grant",
                        "Invalid grant: `redirect_uri` is invalid",
                    );
                }
            }
            if let Some(company) = code.company_id {
                let body = super::agency::company_token_response(
                    &mut state,
                    &company,
                    opts.ghl_token_expires_in,
                );
                return Json(body).into_response();
            }
            code.location_id
        }
        Some("refresh_token") => {
            let given = get("refresh_token").unwrap_or_default();
            if let Some(company) = state.company_refresh_tokens.remove(given) {
                let body = super::agency::company_token_response(
                    &mut state,
                    &company,
                    opts.ghl_token_expires_in,
                );
                return Json(body).into_response();
            }
            // Removing it is the rotation: the old refresh token never works again.
            match state.refresh_tokens.remove(given) {
                Some(location_id) => location_id,
                None => {
                    return oauth_error("invalid_grant", "Invalid grant: refresh token is invalid")
                }
            }
        }
        _ => {
            return oauth_error(
                "unsupported_grant_type",
                "Unsupported grant type: `grant_type` is invalid",
            )
        }
    };
    let default_expiry = opts.ghl_token_expires_in;
    let location = state.ensure_location(&location_id, default_expiry).clone();
    let (access, refresh) = issue_tokens(&mut state, &location_id, location.expires_in);
    Json(token_response(&location, &access, &refresh)).into_response()
}

/// `GetAccessCodeSuccessfulResponseDto` for a Sub-Account (Location) token.
pub(crate) fn token_response(location: &super::Location, access: &str, refresh: &str) -> Value {
    json!({
        "access_token": access,
        "token_type": "Bearer",
        "expires_in": location.expires_in,
        "refresh_token": refresh,
        "scope": SCOPE,
        "userType": "Location",
        "companyId": location.company_id,
        "locationId": location.id,
        "userId": location.user_id,
        "isBulkInstallation": false,
        "traceId": ids::uuid_v4(),
    })
}

/// The consent page, approved at once: redirects to `redirect_uri?code=…`. A sandbox-only
/// `locationId` query parameter picks the location (a new one otherwise). The sandbox-only
/// `companyId` approves at agency level instead: the company, with the comma-separated
/// `locationIds` (one new location otherwise), gets the app and the code grants a Company
/// token.
pub(crate) async fn choose_location(
    State(shared): State<Shared>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    if query.get("response_type").map(String::as_str) != Some("code") {
        return error(StatusCode::BAD_REQUEST, "response_type must be code");
    }
    let Some(redirect) = query
        .get("redirect_uri")
        .and_then(|r| url::Url::parse(r).ok())
    else {
        return error(StatusCode::BAD_REQUEST, "redirect_uri must be a valid URL");
    };
    if let Some(id) = &shared.options.ghl_client_id {
        if query.get("client_id") != Some(id) {
            return error(StatusCode::BAD_REQUEST, "Invalid client_id");
        }
    }
    let location_id = query.get("locationId").cloned().unwrap_or_else(ids::ghl_id);
    let expires_in = shared.options.ghl_token_expires_in;
    let company_id = query.get("companyId").filter(|c| !c.is_empty()).cloned();
    let code = {
        let mut state = lock(&shared.ghl);
        match &company_id {
            Some(company) => {
                let locations: Vec<String> = match query.get("locationIds") {
                    Some(list) => list
                        .split(',')
                        .map(str::trim)
                        .filter(|l| !l.is_empty())
                        .map(str::to_owned)
                        .collect(),
                    None => vec![location_id.clone()],
                };
                super::agency::install_company(&mut state, company, &locations, expires_in);
            }
            None => {
                state.ensure_location(&location_id, expires_in);
            }
        }
        let redirect_uri = query.get("redirect_uri").cloned();
        issue_code(&mut state, &location_id, company_id, redirect_uri)
    };
    let mut target = redirect;
    target.query_pairs_mut().append_pair("code", &code);
    // 302, as OAuth consent screens answer.
    (StatusCode::FOUND, [(header::LOCATION, target.to_string())]).into_response()
}
