//! The dashboard's cookies. The access and refresh tokens are HttpOnly (page scripts
//! can't read them), Secure and SameSite=Strict; the refresh cookie goes only to the auth
//! endpoints. The CSRF cookie is readable by the page on purpose: the page echoes it in
//! `X-CSRF-Token`, which a cross-site form can't do (double-submit).

use axum::http::header::{COOKIE, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue};

pub const ACCESS: &str = "sb_access";
pub const REFRESH: &str = "sb_refresh";
pub const CSRF: &str = "sb_csrf";
/// The header a cookie-authenticated state-changing request echoes the CSRF cookie in.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// Where the refresh cookie is sent.
pub const AUTH_PATH: &str = "/api/v1/auth";

/// The value of cookie `name` in the request, if any.
pub fn get(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

fn cookie(name: &str, value: &str, path: &str, max_age: i64, http_only: bool) -> String {
    format!(
        "{name}={value}; Path={path}; Max-Age={max_age}; Secure; SameSite=Strict{}",
        if http_only { "; HttpOnly" } else { "" }
    )
}

fn append(headers: &mut HeaderMap, value: String) {
    if let Ok(value) = HeaderValue::from_str(&value) {
        headers.append(SET_COOKIE, value);
    }
}

/// Sets the three session cookies.
pub fn set_session(headers: &mut HeaderMap, access: &str, refresh: &str, csrf: &str) {
    let refresh_age = super::tokens::REFRESH_TTL_MS / 1000;
    append(
        headers,
        cookie(ACCESS, access, "/", super::tokens::ACCESS_TTL_SECS, true),
    );
    append(
        headers,
        cookie(REFRESH, refresh, AUTH_PATH, refresh_age, true),
    );
    append(headers, cookie(CSRF, csrf, "/", refresh_age, false));
}

/// Expires the three session cookies.
pub fn clear_session(headers: &mut HeaderMap) {
    append(headers, cookie(ACCESS, "", "/", 0, true));
    append(headers, cookie(REFRESH, "", AUTH_PATH, 0, true));
    append(headers, cookie(CSRF, "", "/", 0, false));
}

/// Whether the request carries the CSRF cookie and the same value in the header,
/// compared in constant time.
pub fn csrf_matches(headers: &HeaderMap) -> bool {
    use subtle::ConstantTimeEq;
    let (Some(cookie), Some(header)) = (
        get(headers, CSRF),
        headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok()),
    ) else {
        return false;
    };
    !header.is_empty() && bool::from(cookie.as_bytes().ct_eq(header.as_bytes()))
}
