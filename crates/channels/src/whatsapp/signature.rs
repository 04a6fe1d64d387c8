//! `X-Hub-Signature-256`: `sha256=` then the lowercase hex HMAC-SHA256 of the raw request
//! body, keyed by the Meta app secret (providers.md §3).
//!
//! Always over the exact bytes received: Meta signs its own serialisation (escaped
//! unicode), which re-serialised JSON would not reproduce.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The header carrying the signature.
pub const SIGNATURE_HEADER: &str = "x-hub-signature-256";

/// `sha256=<hex>` as Meta sends it.
pub fn header_value(app_secret: &str, body: &[u8]) -> String {
    // HMAC takes a key of any length; the error branch cannot happen.
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(app_secret.as_bytes()) else {
        return String::new();
    };
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// True when `presented` is the signature of `body` under `app_secret`. The comparison
/// is constant-time (`verify_slice`); hex of either case is accepted, a missing `sha256=`
/// prefix or anything that is not 64 hex digits is not.
pub fn is_valid(app_secret: &str, body: &[u8], presented: &str) -> bool {
    let presented = presented.trim();
    let Some((scheme, digest)) = presented.split_once('=') else {
        return false;
    };
    if !scheme.eq_ignore_ascii_case("sha256") {
        return false;
    }
    let Ok(digest) = hex::decode(digest) else {
        return false;
    };
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(app_secret.as_bytes()) else {
        return false;
    };
    mac.update(body);
    mac.verify_slice(&digest).is_ok()
}
