//! Unit tests. Fixtures are verbatim copies of GHL's documented examples (see
//! `tests/fixtures/README.md`), loaded at compile time.
#![allow(clippy::unwrap_used)]

mod calendars;
mod classify;
mod contacts;
mod conversations;
mod oauth;
mod payload;
mod tasks;
mod timestamp;
mod webhook;

use bytes::Bytes;
use http::{HeaderMap, StatusCode};
use outbound::{ApiRequest, ApiResponse};
use serde_json::Value;

const BASE: &str = "https://services.leadconnectorhq.com";
const TOKEN: &str = "location-token";

pub(crate) fn response(status: u16, body: &str) -> ApiResponse {
    ApiResponse {
        status: StatusCode::from_u16(status).unwrap(),
        headers: HeaderMap::new(),
        body: Bytes::from(body.to_owned()),
    }
}

pub(crate) fn body_json(request: &ApiRequest) -> Value {
    serde_json::from_slice(&request.body).unwrap()
}

pub(crate) fn header<'a>(request: &'a ApiRequest, name: &str) -> Option<&'a str> {
    request.headers.get(name).map(|v| v.to_str().unwrap())
}

/// The headers every authorised GHL call carries.
pub(crate) fn assert_ghl_headers(request: &ApiRequest, version: &str) {
    assert_eq!(
        header(request, "authorization"),
        Some("Bearer location-token")
    );
    assert_eq!(header(request, "version"), Some(version));
    assert_eq!(header(request, "accept"), Some("application/json"));
    assert!(request.headers.get("authorization").unwrap().is_sensitive());
}
