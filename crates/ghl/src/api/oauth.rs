//! OAuth 2.0 for the Marketplace app: exchanging the install code, refreshing, and
//! minting location tokens from an agency token.
//!
//! GHL rotates the refresh token on every refresh and (we assume) the old one dies at
//! once, so the caller must serialise refreshes per location and store *both* new tokens
//! before using either.

use std::fmt;

use http::Method;
use outbound::{ApiRequest, ApiResponse, Failure};
use serde::Deserialize;
use serde_json::Value;

use super::{authorized, endpoint, read_json, ApiVersion};
use crate::payload::lenient;
use crate::Error;

/// Which kind of token to ask for, or was granted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserType {
    /// An agency (company) token.
    Company,
    /// A sub-account (location) token.
    Location,
}

impl UserType {
    pub fn as_str(self) -> &'static str {
        match self {
            UserType::Company => "Company",
            UserType::Location => "Location",
        }
    }
}

/// `POST /oauth/token` with `grant_type=authorization_code`: the Marketplace install
/// callback's `code`. `redirect_uri` must match the one the app registered, when sent.
pub fn exchange_code_request(
    base: &str,
    client_id: &str,
    client_secret: &str,
    code: &str,
    redirect_uri: Option<&str>,
) -> ApiRequest {
    let mut form = vec![
        ("client_id", client_id),
        ("client_secret", client_secret),
        ("grant_type", "authorization_code"),
        ("code", code),
    ];
    if let Some(redirect_uri) = redirect_uri {
        form.push(("redirect_uri", redirect_uri));
    }
    token_request(base, &form)
}

/// `POST /oauth/token` with `grant_type=refresh_token`. GHL's SDK sends the stored
/// `user_type` back; pass it when known.
pub fn refresh_token_request(
    base: &str,
    client_id: &str,
    client_secret: &str,
    refresh_token: &str,
    user_type: Option<UserType>,
) -> ApiRequest {
    let mut form = vec![
        ("client_id", client_id),
        ("client_secret", client_secret),
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh_token),
    ];
    if let Some(user_type) = user_type {
        form.push(("user_type", user_type.as_str()));
    }
    token_request(base, &form)
}

/// `POST /oauth/locationToken`: a location token minted with the agency's token (agency
/// installs, and the fallback when a location's refresh fails). The answer may or may not
/// include a `refresh_token` (GHL said it was added; the spec does not show it yet).
pub fn location_token_request(
    base: &str,
    agency_access_token: &str,
    company_id: &str,
    location_id: &str,
) -> ApiRequest {
    let request = ApiRequest::new(Method::POST, endpoint(base, "/oauth/locationToken"))
        .header("version", ApiVersion::Standard.as_str())
        .header("accept", "application/json")
        .form(form(&[
            ("companyId", company_id),
            ("locationId", location_id),
        ]));
    authorized(request, agency_access_token)
}

/// The token endpoint takes a form body and no `Version` or `Authorization` header.
fn token_request(base: &str, pairs: &[(&str, &str)]) -> ApiRequest {
    ApiRequest::new(Method::POST, endpoint(base, "/oauth/token"))
        .header("accept", "application/json")
        .form(form(pairs))
}

fn form(pairs: &[(&str, &str)]) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

/// What GHL granted. `Debug` hides the tokens.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenGrant {
    #[serde(rename = "access_token")]
    pub access_token: String,
    /// Always present on `/oauth/token`; maybe absent on `/oauth/locationToken`.
    #[serde(
        rename = "refresh_token",
        default,
        deserialize_with = "lenient::opt_string"
    )]
    pub refresh_token: Option<String>,
    /// Seconds; GHL's tokens live a day (`86399`).
    #[serde(rename = "expires_in", default, deserialize_with = "lenient::opt_u64")]
    pub expires_in: Option<u64>,
    #[serde(
        rename = "token_type",
        default,
        deserialize_with = "lenient::opt_string"
    )]
    pub token_type: Option<String>,
    /// Space-separated scopes.
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub scope: Option<String>,
    /// `Location` or `Company`; see [`TokenGrant::user_type`].
    #[serde(rename = "userType", default, deserialize_with = "lenient::opt_string")]
    pub user_type_text: Option<String>,
    /// Present only for sub-account tokens.
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub location_id: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub company_id: Option<String>,
    /// The user who installed the app.
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub user_id: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub plan_id: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub app_id: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub version_id: Option<String>,
    /// Locations an agency token may mint location tokens for (bulk installs).
    #[serde(default, deserialize_with = "lenient::string_list")]
    pub approved_locations: Vec<String>,
    #[serde(default, deserialize_with = "lenient::opt_bool")]
    pub is_bulk_installation: Option<bool>,
}

impl TokenGrant {
    /// The granted token's kind; a location token minted from an agency token carries no
    /// `userType` but a `locationId`, so that counts as `Location`.
    pub fn user_type(&self) -> Option<UserType> {
        match self
            .user_type_text
            .as_deref()
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            Some("location") => Some(UserType::Location),
            Some("company") | Some("agency") => Some(UserType::Company),
            _ if self.location_id.is_some() => Some(UserType::Location),
            _ => None,
        }
    }
}

impl fmt::Debug for TokenGrant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenGrant")
            .field("access_token", &"<redacted>")
            .field(
                "refresh_token",
                &self.refresh_token.as_ref().map(|_| "<redacted>"),
            )
            .field("expires_in", &self.expires_in)
            .field("scope", &self.scope)
            .field("user_type", &self.user_type_text)
            .field("location_id", &self.location_id)
            .field("company_id", &self.company_id)
            .field("user_id", &self.user_id)
            .finish_non_exhaustive()
    }
}

/// Reads the answer of any of the three token requests.
///
/// - 2xx with an `access_token` → the grant; without one → a retryable failure (the
///   refresh token may already be spent: the next attempt will tell).
/// - 4xx (not 408/429) that names the grant (`invalid_grant`, an invalid, expired, used or
///   revoked refresh token or code) → [`Error::InvalidGrant`]: never retry with it.
/// - other 4xx (bad client credentials, "Location is not active", validation) →
///   permanent. GHL publishes no list of its token errors, so this reads the text.
/// - 429 / 408 / 5xx → rate limited / retry.
pub fn parse_token(response: &ApiResponse) -> Result<TokenGrant, Error> {
    let status = response.status;
    if status.is_success() {
        let grant: TokenGrant = read_json(response, "GHL token response")?;
        if grant.access_token.trim().is_empty() {
            return Err(Error::Call(Failure::Retry {
                detail: "GHL token response without an access_token".into(),
                after: None,
            }));
        }
        return Ok(grant);
    }
    let code = status.as_u16();
    if status.is_client_error() && code != 408 && code != 429 {
        let detail = outbound::describe(response);
        if names_the_grant(&response.body) {
            return Err(Error::InvalidGrant { detail });
        }
        return Err(Error::Call(Failure::Permanent { detail }));
    }
    Err(super::classify(response))
}

/// Does an error body say the grant itself (refresh token or code) is bad? An explicit
/// `invalid_grant` decides; otherwise a body about the client credentials does not count,
/// even if it also mentions the token.
fn names_the_grant(body: &[u8]) -> bool {
    let text = match serde_json::from_slice::<Value>(body) {
        Ok(json) => ["error", "error_description", "message"]
            .iter()
            .filter_map(|field| json.get(field))
            .map(|value| match value {
                Value::String(text) => text.clone(),
                other => other.to_string(),
            })
            .collect::<Vec<_>>()
            .join(" "),
        Err(_) => String::from_utf8_lossy(body).into_owned(),
    }
    .to_ascii_lowercase();
    if text.contains("invalid_grant") || text.contains("invalid grant") {
        return true;
    }
    const CLIENT: &[&str] = &[
        "invalid_client",
        "client_id",
        "client id",
        "client secret",
        "client_secret",
    ];
    const GRANT: &[&str] = &[
        "refresh token",
        "refresh_token",
        "invalid token",
        "token is invalid",
        "expired",
        "revoked",
        "authorization code",
        "invalid code",
        "code is invalid",
    ];
    !CLIENT.iter().any(|marker| text.contains(marker))
        && GRANT.iter().any(|marker| text.contains(marker))
}
