//! The OAuth `state` parameter: `v1.EXPIRES.NONCE.MAC`, where MAC is HMAC-SHA256 over
//! `v1.EXPIRES.NONCE` under a key derived from the master key. It proves the install began
//! at our `/install` within the last hour, without storing anything.
//!
//! Whether GHL echoes `state` back is UNCONFIRMED (reference §2.1), so the callback accepts
//! a missing one; a present one must verify.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// How long an install may take from `/install` to the callback.
pub const STATE_LIFETIME_SECS: u64 = 3600;
/// The label the MAC key is derived under (`KeyRing::derive`): `store.keys().derive(LABEL)`.
pub const LABEL: &str = "ghl-install-state";

type HmacSha256 = Hmac<Sha256>;

fn mac(key: &[u8], message: &str) -> HmacSha256 {
    let mut mac = <HmacSha256 as Mac>::new_from_slice(key).expect("HMAC takes a key of any length");
    mac.update(message.as_bytes());
    mac
}

/// A fresh `state` valid until `now_unix + STATE_LIFETIME_SECS`.
pub fn issue(key: &[u8], now_unix: u64) -> String {
    let message = format!(
        "v1.{}.{}",
        now_unix + STATE_LIFETIME_SECS,
        ulid::Ulid::new()
    );
    let tag = hex::encode(mac(key, &message).finalize().into_bytes());
    format!("{message}.{tag}")
}

/// Why a `state` was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum StateError {
    #[error("the state parameter is malformed")]
    Malformed,
    #[error("the state parameter was not issued by this server")]
    BadSignature,
    #[error("the install took too long; start again")]
    Expired,
}

/// Checks a `state` we issued: its MAC (in constant time) and its expiry.
pub fn verify(key: &[u8], state: &str, now_unix: u64) -> Result<(), StateError> {
    let (message, tag) = state.rsplit_once('.').ok_or(StateError::Malformed)?;
    let mut parts = message.split('.');
    let (Some("v1"), Some(expires), Some(_nonce), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(StateError::Malformed);
    };
    let expires: u64 = expires.parse().map_err(|_| StateError::Malformed)?;
    let tag = hex::decode(tag).map_err(|_| StateError::Malformed)?;
    mac(key, message)
        .verify_slice(&tag)
        .map_err(|_| StateError::BadSignature)?;
    if expires < now_unix {
        return Err(StateError::Expired);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issued_states_verify_until_they_expire() {
        let keys = [7u8; 32];
        let state = issue(&keys, 1_000);
        assert_eq!(verify(&keys, &state, 1_000), Ok(()));
        assert_eq!(
            verify(&keys, &state, 1_000 + STATE_LIFETIME_SECS + 1),
            Err(StateError::Expired)
        );
        let last = if state.ends_with('0') { '1' } else { '0' };
        let forged = format!("{}{last}", &state[..state.len() - 1]);
        assert_ne!(verify(&keys, &forged, 1_000), Ok(()));
        assert_eq!(verify(&keys, "nonsense", 1_000), Err(StateError::Malformed));
    }
}
