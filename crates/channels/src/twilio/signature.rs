//! `X-Twilio-Signature`, computed and checked exactly as Twilio's SDK validator does.
//!
//! The signed string is the full URL Twilio requested (scheme, host, path, query), then, for a
//! form body, every POST parameter sorted by name, each name's distinct values sorted, appended
//! as `name` + `value` with no separators. The signature is `base64(HMAC-SHA1(auth token,
//! that string))`.
//!
//! Two quirks the SDK accepts and so must we:
//! - **Port**: Twilio may have signed the URL with or without an explicit port (`:443`,
//!   `:80`, or the port it was given). Both forms are tried.
//! - **JSON bodies**: Twilio appends `bodySHA256=<hex SHA-256 of the raw body>` to the URL and
//!   signs the URL alone. The body's hash must equal that parameter, and the signature must
//!   cover the URL.
//!
//! The newer SharedKey variant (`X-Twilio-Webhooks-Signature-Settings: …algorithm=HMAC_SHA256`)
//! needs a key we do not hold; such a request is refused rather than checked with the wrong
//! algorithm.

use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha1::Sha1;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// The header carrying the signature.
pub const SIGNATURE_HEADER: &str = "x-twilio-signature";

/// The query parameter Twilio adds for JSON bodies.
pub const BODY_HASH_PARAM: &str = "bodySHA256";

/// `base64(HMAC-SHA1(auth_token, url + sorted params))`.
pub fn compute_signature(auth_token: &str, url: &str, params: &[(String, String)]) -> String {
    let mut names: Vec<&str> = params.iter().map(|(k, _)| k.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    let mut signed = String::from(url);
    for name in names {
        let mut values: Vec<&str> = params
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect();
        values.sort_unstable();
        values.dedup();
        for value in values {
            signed.push_str(name);
            signed.push_str(value);
        }
    }
    // HMAC takes a key of any length; the error branch cannot happen.
    let Ok(mut mac) = Hmac::<Sha1>::new_from_slice(auth_token.as_bytes()) else {
        return String::new();
    };
    mac.update(signed.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// Lowercase hex SHA-256 of `body`, as in `bodySHA256`.
pub fn body_sha256(body: &[u8]) -> String {
    hex::encode(Sha256::digest(body))
}

/// True when `signature` is valid for this request: `params` are the decoded form fields
/// (ignored in the JSON variant, where `body` is hashed instead).
pub fn is_valid(
    auth_token: &str,
    url: &str,
    params: &[(String, String)],
    body: &[u8],
    signature: &str,
) -> bool {
    let body_hash = query_value(url, BODY_HASH_PARAM);
    let (params, body_ok) = match body_hash {
        Some(expected) => {
            let actual = body_sha256(body);
            // Hex is case-insensitive; compare lowercase forms in constant time.
            let ok: bool = actual
                .as_bytes()
                .ct_eq(expected.to_ascii_lowercase().as_bytes())
                .into();
            (&[][..], ok)
        }
        None => (params, true),
    };
    let presented = signature.trim().as_bytes();
    let mut matched = false;
    for candidate in [without_port(url), with_port(url)].into_iter().flatten() {
        let expected = compute_signature(auth_token, &candidate, params);
        // No short-circuit on the first match: both forms always cost the same.
        matched |= bool::from(expected.as_bytes().ct_eq(presented));
    }
    body_ok && matched
}

/// `(scheme://, authority, rest)` of an absolute URL, split on the raw text so nothing is
/// re-encoded or normalised (a parsed `Url` would drop a default port, for one).
fn split(url: &str) -> Option<(&str, &str, &str)> {
    let after_scheme = url.find("://")? + 3;
    let (head, tail) = url.split_at(after_scheme);
    let end = tail.find(['/', '?', '#']).unwrap_or(tail.len());
    let (authority, rest) = tail.split_at(end);
    Some((head, authority, rest))
}

/// Where the port starts in an authority (`user@host:port`, `[::1]:port`), if there is one.
fn port_start(authority: &str) -> Option<usize> {
    let host_start = authority.rfind('@').map_or(0, |i| i + 1);
    let host = &authority[host_start..];
    let colon = host.rfind(':')?;
    if host[colon..].contains(']') {
        return None;
    }
    let digits = &host[colon + 1..];
    (!digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())).then_some(host_start + colon)
}

/// The URL without any explicit port (the SDK's `remove_port`).
fn without_port(url: &str) -> Option<String> {
    let (head, authority, rest) = split(url)?;
    let authority = match port_start(authority) {
        Some(i) => &authority[..i],
        None => authority,
    };
    Some(format!("{head}{authority}{rest}"))
}

/// The URL with an explicit port: its own, or the scheme's default (the SDK's `add_port`).
fn with_port(url: &str) -> Option<String> {
    let (head, authority, rest) = split(url)?;
    if port_start(authority).is_some() {
        return Some(url.to_string());
    }
    let port = if head.eq_ignore_ascii_case("https://") {
        443
    } else {
        80
    };
    Some(format!("{head}{authority}:{port}{rest}"))
}

/// The first value of a query parameter, percent-decoded, read from the raw URL.
fn query_value(url: &str, name: &str) -> Option<String> {
    let query = url.split_once('?')?.1;
    let query = query.split('#').next().unwrap_or_default();
    url::form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}
