//! Identifiers shaped like each vendor's, so a gateway's column sizes and parsers meet real shapes.

use base64::Engine as _;

const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// A GHL object id: 20 alphanumeric characters (`GKBhT6BfwY9mjzXAU3sq`).
pub(crate) fn ghl_id() -> String {
    (0..20)
        .map(|_| char::from(ALNUM[fastrand::usize(..ALNUM.len())]))
        .collect()
}

/// A random UUID v4, lowercase (SendBlue's `message_handle`).
pub(crate) fn uuid_v4() -> String {
    let mut b = fastrand::u128(..).to_be_bytes();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

/// A GHL OAuth token. Real GHL tokens are JWTs of several hundred characters; these have the same
/// three-part shape and a similar length (so a too-short column fails here, not in production),
/// but the signature part is random: only the simulator can tell whether a token is valid.
pub(crate) fn ghl_token(kind: &str, location_id: &str, expires_at_unix: u64) -> String {
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let header = b64.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
    let scopes =
        "conversations/message.readonly conversations/message.write conversations.readonly \
                  conversations.write contacts.readonly contacts.write calendars.readonly \
                  calendars/events.readonly calendars/events.write locations.readonly";
    let payload = serde_json::json!({
        "authClass": "Location",
        "authClassId": location_id,
        "source": "INTEGRATION",
        "sourceId": ghl_id(),
        "channel": "OAUTH",
        "primaryAuthClassId": location_id,
        "oauthMeta": { "scopes": scopes.split_whitespace().collect::<Vec<_>>(), "client": ghl_id(), "versionId": ghl_id() },
        "tokenType": kind,
        "jti": uuid_v4(),
        "iat": expires_at_unix.saturating_sub(86_399),
        "exp": expires_at_unix,
    });
    let payload = b64.encode(payload.to_string());
    let signature: Vec<u8> = (0..256).map(|_| fastrand::u8(..)).collect();
    format!("{header}.{payload}.{}", b64.encode(signature))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes() {
        let id = ghl_id();
        assert_eq!(id.len(), 20);
        assert!(id.chars().all(|c| c.is_ascii_alphanumeric()));
        let u = uuid_v4();
        assert_eq!(u.len(), 36);
        assert_eq!(&u[14..15], "4");
        let t = ghl_token("access", "loc", 1_700_000_000);
        assert_eq!(t.split('.').count(), 3);
        assert!(t.len() > 500);
    }
}
