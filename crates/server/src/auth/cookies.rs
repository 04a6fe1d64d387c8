//! The dashboard's cookies. The access and refresh tokens are HttpOnly (page scripts
//! can't read them), Secure and SameSite=Strict; the refresh cookie goes only to the auth
//! endpoints. The CSRF cookie is readable by the page on purpose: the page echoes it in
//! `X-CSRF-Token`, which a cross-site form can't do (double-submit).

use axum::http::header::{COOKIE, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue};

pub const ACCESS: &str = "sb_access";
pub const REFRESH: &str = "sb_refresh";
pub const CSRF: &str = "sb_csrf";
/// Marks a session that lives inside GHL's frame (see [`Site::Embedded`]).
pub const EMBEDDED: &str = "sb_embedded";
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

/// Where a session's pages are shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Site {
    /// On our own site: cookies are SameSite=Strict.
    Own,
    /// Inside GHL's app, a frame on another site: a Strict cookie would never be sent
    /// there, so the cookies are SameSite=None and Partitioned (kept for that embedding
    /// only, as browsers that block third-party cookies require). CSRF protection then
    /// rests on the token every change must echo, which no other site can read.
    Embedded,
}

impl Site {
    /// The site of the request's session: embedded once the GHL page started it.
    pub fn of(headers: &HeaderMap) -> Self {
        if get(headers, EMBEDDED).is_some() {
            Site::Embedded
        } else {
            Site::Own
        }
    }

    fn attributes(self) -> &'static str {
        match self {
            Site::Own => "SameSite=Strict",
            Site::Embedded => "SameSite=None; Partitioned",
        }
    }
}

fn cookie_for(
    site: Site,
    name: &str,
    value: &str,
    path: &str,
    max_age: i64,
    http_only: bool,
) -> String {
    format!(
        "{name}={value}; Path={path}; Max-Age={max_age}; Secure; {}{}",
        site.attributes(),
        if http_only { "; HttpOnly" } else { "" }
    )
}

fn cookie(name: &str, value: &str, path: &str, max_age: i64, http_only: bool) -> String {
    cookie_for(Site::Own, name, value, path, max_age, http_only)
}

fn append(headers: &mut HeaderMap, value: String) {
    if let Ok(value) = HeaderValue::from_str(&value) {
        headers.append(SET_COOKIE, value);
    }
}

/// Sets the three session cookies (and, for an embedded session, its marker).
pub fn set_session(headers: &mut HeaderMap, site: Site, access: &str, refresh: &str, csrf: &str) {
    let refresh_age = super::tokens::REFRESH_TTL_MS / 1000;
    let access_age = super::tokens::ACCESS_TTL_SECS;
    append(
        headers,
        cookie_for(site, ACCESS, access, "/", access_age, true),
    );
    append(
        headers,
        cookie_for(site, REFRESH, refresh, AUTH_PATH, refresh_age, true),
    );
    append(
        headers,
        cookie_for(site, CSRF, csrf, "/", refresh_age, false),
    );
    if site == Site::Embedded {
        append(
            headers,
            cookie_for(site, EMBEDDED, "1", "/", refresh_age, true),
        );
    }
}

/// Sets only the CSRF cookie: the sign-in form's token before there is a session.
pub fn set_csrf(headers: &mut HeaderMap, csrf: &str) {
    let age = super::tokens::REFRESH_TTL_MS / 1000;
    append(headers, cookie(CSRF, csrf, "/", age, false));
}

/// Whether `presented` (a form's field) equals the CSRF cookie, in constant time.
pub fn csrf_field_matches(headers: &HeaderMap, presented: &str) -> bool {
    use subtle::ConstantTimeEq;
    let Some(cookie) = get(headers, CSRF) else {
        return false;
    };
    !presented.is_empty() && bool::from(cookie.as_bytes().ct_eq(presented.as_bytes()))
}

/// Expires the session cookies.
pub fn clear_session(headers: &mut HeaderMap) {
    append(headers, cookie(ACCESS, "", "/", 0, true));
    append(headers, cookie(REFRESH, "", AUTH_PATH, 0, true));
    append(headers, cookie(CSRF, "", "/", 0, false));
    append(headers, cookie(EMBEDDED, "", "/", 0, true));
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
