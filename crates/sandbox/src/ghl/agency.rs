//! Agency-level installs: Company tokens, `POST /oauth/locationToken`,
//! `GET /oauth/installedLocations`.
//!
//! An agency install approves a company and some of its locations. Its Company token can't
//! call location APIs; it lists the installed locations and mints a Location token for
//! each, which is the only way an agency install reaches a location (reference §2.4, §2.5).
//! The lifecycle webhooks are in `lifecycle.rs`.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use super::oauth::{issue_tokens, mint_token, REFRESH_LIFETIME, SCOPE};
use super::{error, invalid, GhlState};
use crate::shared::{lock, Reject, Shared};
use crate::{clock, ids};

/// A company (agency) with the app installed at agency level.
#[derive(Debug, Clone)]
pub(crate) struct Company {
    pub user_id: String,
    /// Locations with the app installed, in installation order.
    pub locations: Vec<String>,
    pub plan_id: Option<String>,
}

#[derive(Debug, Clone)]
pub(crate) struct CompanyGrant {
    pub company_id: String,
    pub expires_at: Instant,
}

/// The app id GHL puts in webhooks and expects on `installedLocations`: GHL's SDK takes it
/// as the client id's part before the first `-`.
pub(crate) fn app_id(shared: &Shared) -> String {
    shared
        .options
        .ghl_client_id
        .as_deref()
        .and_then(|id| id.split('-').next())
        .filter(|id| !id.is_empty())
        .unwrap_or("sbApp000000000000001")
        .to_owned()
}

/// Installs the app on `company_id` and the given locations (created as needed, owned by
/// the company).
pub(crate) fn install_company(
    state: &mut GhlState,
    company_id: &str,
    locations: &[String],
    expires_in: u64,
) {
    let user_id = state
        .companies
        .get(company_id)
        .map(|c| c.user_id.clone())
        .unwrap_or_else(ids::ghl_id);
    for location_id in locations {
        let location = state.ensure_location(location_id, expires_in);
        location.company_id = company_id.to_owned();
        location.user_id = user_id.clone();
    }
    let company = state
        .companies
        .entry(company_id.to_owned())
        .or_insert_with(|| Company {
            user_id,
            locations: Vec::new(),
            plan_id: None,
        });
    for location_id in locations {
        if !company.locations.contains(location_id) {
            company.locations.push(location_id.clone());
        }
    }
}

/// A Company access and refresh token.
fn issue_company_tokens(
    state: &mut GhlState,
    company_id: &str,
    expires_in: u64,
) -> (String, String) {
    let access = mint_token("access", company_id, expires_in);
    let refresh = mint_token("refresh", company_id, REFRESH_LIFETIME);
    state.company_tokens.insert(
        access.clone(),
        CompanyGrant {
            company_id: company_id.to_owned(),
            expires_at: clock::deadline(Duration::from_secs(expires_in)),
        },
    );
    state
        .company_refresh_tokens
        .insert(refresh.clone(), company_id.to_owned());
    (access, refresh)
}

/// `GetAccessCodeSuccessfulResponseDto` for a Company token: no `locationId`, the approved
/// locations listed.
pub(crate) fn company_token_response(
    state: &mut GhlState,
    company_id: &str,
    expires_in: u64,
) -> Value {
    let (access, refresh) = issue_company_tokens(state, company_id, expires_in);
    let company = state.companies.get(company_id).cloned();
    let (user_id, approved, plan) = company
        .map(|c| (c.user_id, c.locations, c.plan_id))
        .unwrap_or_else(|| (ids::ghl_id(), Vec::new(), None));
    json!({
        "access_token": access,
        "token_type": "Bearer",
        "expires_in": expires_in,
        "refresh_token": refresh,
        "scope": format!("{SCOPE} oauth.readonly oauth.write"),
        "userType": "Company",
        "companyId": company_id,
        "approvedLocations": approved,
        "userId": user_id,
        "planId": plan,
        "isBulkInstallation": true,
        "installToFutureLocations": false,
        "approveAllLocations": false,
        "traceId": ids::uuid_v4(),
    })
}

/// The company whose live Company token authorises the request, or GHL's 401.
fn company_caller(shared: &Shared, headers: &HeaderMap) -> Result<String, Reject> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim().to_owned());
    let state = lock(&shared.ghl);
    let grant = token.and_then(|t| state.company_tokens.get(&t).cloned());
    let company_id = match grant {
        Some(grant) if grant.expires_at > Instant::now() => grant.company_id,
        Some(_) => {
            return Err(Box::new(error(
                StatusCode::UNAUTHORIZED,
                "Invalid token: access token has expired",
            )))
        }
        // A location token here is refused too: these routes are `Agency-Access-Only`.
        None => {
            return Err(Box::new(error(
                StatusCode::UNAUTHORIZED,
                "This route is not yet supported by the IAM Service",
            )))
        }
    };
    if headers.get("version").is_none() {
        return Err(Box::new(error(
            StatusCode::BAD_REQUEST,
            "Version header is missing or invalid",
        )));
    }
    Ok(company_id)
}

/// `POST /oauth/locationToken` (form `companyId`, `locationId`) with a Company token.
pub(crate) async fn location_token(
    State(shared): State<Shared>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let company_id = match company_caller(&shared, &headers) {
        Ok(id) => id,
        Err(refused) => return *refused,
    };
    let params: HashMap<String, String> = url::form_urlencoded::parse(&body).into_owned().collect();
    let get = |k: &str| params.get(k).map(String::as_str).filter(|v| !v.is_empty());
    let (Some(company), Some(location_id)) = (get("companyId"), get("locationId")) else {
        return invalid(
            StatusCode::UNPROCESSABLE_ENTITY,
            vec![
                "companyId should not be empty".into(),
                "locationId should not be empty".into(),
            ],
        );
    };
    if company != company_id {
        return error(
            StatusCode::FORBIDDEN,
            "The token does not have access to this company",
        );
    }
    let mut state = lock(&shared.ghl);
    let installed = state
        .companies
        .get(&company_id)
        .is_some_and(|c| c.locations.iter().any(|l| l == location_id));
    if !installed {
        return error(
            StatusCode::BAD_REQUEST,
            "The app is not installed on this location",
        );
    }
    let Some(location) = state.locations.get(location_id).cloned() else {
        return error(StatusCode::BAD_REQUEST, "Location not found");
    };
    let plan = state
        .companies
        .get(&company_id)
        .and_then(|c| c.plan_id.clone());
    let (access, refresh) = issue_tokens(&mut state, location_id, location.expires_in);
    Json(json!({
        "access_token": access,
        "token_type": "Bearer",
        "expires_in": location.expires_in,
        "refresh_token": refresh,
        "scope": SCOPE,
        "locationId": location_id,
        "planId": plan,
        "userId": location.user_id,
        "appId": app_id(&shared),
        "versionId": "sbVersion00000000001",
        "traceId": ids::uuid_v4(),
    }))
    .into_response()
}

/// `GET /oauth/installedLocations?companyId&appId&skip&limit&isInstalled`.
pub(crate) async fn installed_locations(
    State(shared): State<Shared>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let company_id = match company_caller(&shared, &headers) {
        Ok(id) => id,
        Err(refused) => return *refused,
    };
    let get = |k: &str| query.get(k).map(String::as_str).filter(|v| !v.is_empty());
    let mut problems = Vec::new();
    for field in ["companyId", "appId"] {
        if get(field).is_none() {
            problems.push(format!("{field} should not be empty"));
        }
    }
    if !problems.is_empty() {
        return invalid(StatusCode::UNPROCESSABLE_ENTITY, problems);
    }
    if get("companyId") != Some(company_id.as_str()) {
        return error(
            StatusCode::FORBIDDEN,
            "The token does not have access to this company",
        );
    }
    if get("appId") != Some(app_id(&shared).as_str()) {
        return error(StatusCode::BAD_REQUEST, "Invalid appId");
    }
    let number = |k: &str, default: usize| get(k).and_then(|v| v.parse().ok()).unwrap_or(default);
    let (skip, limit) = (number("skip", 0), number("limit", 20).min(100));
    // Only installed locations are kept, so `isInstalled=false` lists nothing.
    let wanted = get("isInstalled") != Some("false");
    let state = lock(&shared.ghl);
    let all: Vec<String> = state
        .companies
        .get(&company_id)
        .filter(|_| wanted)
        .map(|c| c.locations.clone())
        .unwrap_or_default();
    let page: Vec<Value> = all
        .iter()
        .skip(skip)
        .take(limit)
        .map(|id| {
            json!({
                "_id": id,
                "name": format!("Sub-account {id}"),
                "address": "",
                "isInstalled": true,
                "versionId": "sbVersion00000000001",
            })
        })
        .collect();
    Json(json!({"locations": page, "count": all.len(), "installToFutureLocations": false}))
        .into_response()
}
