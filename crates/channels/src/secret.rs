//! Comparing shared secrets presented by webhook senders.
//!
//! SendBlue (and UniPile, through our own header) authenticate a webhook by sending the
//! secret itself, not a signature. A plain `==` stops at the first differing byte, so its
//! timing tells an attacker how much of a guess was right. Both sides are hashed first
//! and the digests compared in constant time, so neither the content nor the length of
//! the secret leaks.

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// True when `presented` equals `expected`, in time independent of where they differ.
pub fn secret_matches(presented: &str, expected: &str) -> bool {
    let presented = Sha256::digest(presented.as_bytes());
    let expected = Sha256::digest(expected.as_bytes());
    presented.ct_eq(&expected).into()
}

/// A token derived from a channel secret for one purpose: hex HMAC-SHA256 keyed by the
/// secret. Lets us put proof of the secret where the secret itself should not go (a
/// URL) without exposing it.
pub(crate) fn derived_token(secret: &str, purpose: &str) -> String {
    // HMAC accepts keys of any length, so `new_from_slice` cannot fail; an empty token
    // (which never matches a real one) is the harmless fallback.
    match Hmac::<Sha256>::new_from_slice(secret.as_bytes()) {
        Ok(mut mac) => {
            mac.update(purpose.as_bytes());
            hex::encode(mac.finalize().into_bytes())
        }
        Err(_) => String::new(),
    }
}
