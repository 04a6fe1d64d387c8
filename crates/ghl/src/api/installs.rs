//! Where the Marketplace app is installed: `GET /oauth/installedLocations`, read with the
//! agency (Company) token. Provisioning pages through it to find the locations an agency
//! install covers.

use http::Method;
use outbound::{ApiRequest, ApiResponse};
use serde::Deserialize;

use super::{read_json, Api, ApiVersion};
use crate::payload::lenient;
use crate::Error;

/// GHL's default page size for this endpoint.
pub const INSTALLED_LOCATIONS_PAGE: u32 = 20;

/// One page of the agency's installed locations (`isInstalled=true` only).
pub fn installed_locations_request(
    api: &Api<'_>,
    company_id: &str,
    app_id: &str,
    skip: u32,
    limit: u32,
) -> ApiRequest {
    let query = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("companyId", company_id)
        .append_pair("appId", app_id)
        .append_pair("skip", &skip.to_string())
        .append_pair("limit", &limit.to_string())
        .append_pair("isInstalled", "true")
        .finish();
    api.request(
        Method::GET,
        &format!("/oauth/installedLocations?{query}"),
        ApiVersion::Standard,
    )
}

/// One page of `GET /oauth/installedLocations`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InstalledLocations {
    #[serde(default)]
    pub locations: Vec<InstalledLocation>,
    /// The total over every page.
    #[serde(default, deserialize_with = "lenient::opt_u64")]
    pub count: Option<u64>,
}

/// A location of the agency, as that endpoint lists it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InstalledLocation {
    #[serde(rename = "_id")]
    pub id: String,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_bool")]
    pub is_installed: Option<bool>,
}

/// 2xx → the page; anything else classified like every GHL answer.
pub fn parse_installed_locations(response: &ApiResponse) -> Result<InstalledLocations, Error> {
    if response.status.is_success() {
        return read_json(response, "GHL installed locations");
    }
    Err(super::classify(response))
}

/// [`location_token_request`](super::location_token_request) with the agency (Company)
/// token `api` carries.
pub fn agency_location_token_request(
    api: &Api<'_>,
    company_id: &str,
    location_id: &str,
) -> ApiRequest {
    super::location_token_request(api.base, api.access_token, company_id, location_id)
}
