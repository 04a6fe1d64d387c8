//! Sans-IO calls to GHL's API v2: request builders and response readers.
//!
//! Builders return an [`ApiRequest`] with the headers GHL requires (`Authorization`,
//! the per-API `Version`, `Accept`); readers take the [`outbound::ApiResponse`] and return
//! what the caller needs or an [`Error`] classified by [`classify`].

mod calendars;
mod classify;
mod contacts;
mod conversations;
mod installs;
mod oauth;
mod tasks;

use std::fmt;

use http::Method;
use outbound::ApiRequest;
use serde::de::DeserializeOwned;

pub use calendars::{
    parse_appointment, parse_calendars, parse_free_slots, Appointment, AppointmentStatus, Calendar,
    FreeSlot, FreeSlotsQuery, NewAppointment, FREE_SLOTS_MAX_RANGE,
};
pub use classify::{classify, RateLimit, DAILY_LIMIT_WAIT, NOT_DOWNSTREAMED_WAIT};
pub use contacts::{
    parse_contact, parse_contact_update, parse_find_contact, parse_tags, parse_upsert_contact,
    Contact, ContactKey, ContactUpdate, ContactUpsert, CustomFieldValue, DndChannel,
    UpsertedContact,
};
pub use conversations::{
    parse_inbound_message, parse_status_update, AddedMessage, GhlMessageStatus, InboundMessage,
    ProviderError,
};
pub use installs::{
    agency_location_token_request, installed_locations_request, parse_installed_locations,
    InstalledLocation, InstalledLocations, INSTALLED_LOCATIONS_PAGE,
};
pub use oauth::{
    exchange_code_request, location_token_request, parse_token, refresh_token_request, TokenGrant,
    UserType,
};
pub use tasks::{parse_task, NewTask, Task};

use crate::Error;

/// GHL's production API.
pub const DEFAULT_API_BASE: &str = "https://services.leadconnectorhq.com";

/// The `Version` header. GHL requires it on every endpoint but `POST /oauth/token`, and
/// the value differs by API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiVersion {
    /// Conversations and Calendars: `2021-04-15`.
    ConversationsAndCalendars,
    /// Contacts, Locations, Opportunities, OAuth location tokens, Marketplace: `2021-07-28`.
    Standard,
}

impl ApiVersion {
    pub fn as_str(self) -> &'static str {
        match self {
            ApiVersion::ConversationsAndCalendars => "2021-04-15",
            ApiVersion::Standard => "2021-07-28",
        }
    }
}

/// GHL's API as one access token sees it: the base URL (production, or the sandbox's
/// `…/ghl`) and a location or agency access token.
#[derive(Clone, Copy)]
pub struct Api<'a> {
    base: &'a str,
    access_token: &'a str,
}

impl fmt::Debug for Api<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Api")
            .field("base", &self.base)
            .field("access_token", &"<redacted>")
            .finish()
    }
}

impl<'a> Api<'a> {
    pub fn new(base: &'a str, access_token: &'a str) -> Self {
        Self { base, access_token }
    }

    /// A request with the bearer token and the required headers.
    pub(crate) fn request(&self, method: Method, path: &str, version: ApiVersion) -> ApiRequest {
        authorized(
            ApiRequest::new(method, endpoint(self.base, path)),
            self.access_token,
        )
        .header("version", version.as_str())
        .header("accept", "application/json")
    }
}

/// Adds `Authorization: Bearer …`, marked sensitive so `Debug` output never shows it.
pub(crate) fn authorized(request: ApiRequest, access_token: &str) -> ApiRequest {
    let mut request = request.header("authorization", format!("Bearer {access_token}"));
    if let Some(value) = request.headers.get_mut(http::header::AUTHORIZATION) {
        value.set_sensitive(true);
    }
    request
}

/// `base` + `path` with exactly one slash between them, whatever either side carries.
pub(crate) fn endpoint(base: &str, path: &str) -> String {
    format!(
        "{}/{}",
        base.trim().trim_end_matches('/'),
        path.trim_start_matches('/')
    )
}

/// Appends a query string (form-encoded: `+` becomes `%2B`, `@` becomes `%40`, as GHL's
/// duplicate-contact search asks).
pub(crate) fn with_query(url: String, pairs: &[(&str, &str)]) -> String {
    let query = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish();
    if query.is_empty() {
        url
    } else {
        format!("{url}?{query}")
    }
}

/// One path segment, percent-encoded: ids come from webhooks and must not be able to
/// change the path (`../`, `?`, `#`).
pub(crate) fn segment(value: &str) -> String {
    let mut encoded = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    if encoded == "." || encoded == ".." {
        encoded = encoded.replace('.', "%2E");
    }
    encoded
}

/// Reads a 2xx JSON body; an unreadable one is a transient failure (a truncated or
/// garbled answer from an API that just said yes).
pub(crate) fn read_json<T: DeserializeOwned>(
    response: &outbound::ApiResponse,
    what: &str,
) -> Result<T, Error> {
    serde_json::from_slice(&response.body).map_err(|err| {
        Error::Call(outbound::Failure::Retry {
            detail: format!(
                "{what}: unreadable HTTP {} body: {err}",
                response.status.as_u16()
            ),
            after: None,
        })
    })
}

/// A 2xx that lacks what it should carry: GHL has returned such half-answers under load;
/// a retry is the only remedy.
pub(crate) fn missing(detail: &str) -> Error {
    Error::Call(outbound::Failure::Retry {
        detail: detail.to_owned(),
        after: None,
    })
}
