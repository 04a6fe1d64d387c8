//! Signed, expiring links to stored media: `PUBLIC_URL/media/KEY?expires=UNIX&sig=HEX`.
//!
//! GHL is handed these links as attachment URLs and keeps them (it does not copy the
//! file), and agents open them from GHL. So a link must work without a login, yet must not
//! be guessable or usable forever: the signature (HMAC-SHA256 over the key and the expiry,
//! under a key derived from the master key) proves we issued it, the expiry bounds it.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The label the signing key is derived under (see `secrets::KeyRing::derive`).
pub const KEY_LABEL: &str = "media-links";

/// Why a link was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkError {
    /// The signature does not match the key and expiry (edited, forged or missing), or
    /// it was signed under a master key since rotated.
    Invalid,
    /// Authentic, but past its expiry.
    Expired,
}

/// Signs and checks media links.
#[derive(Clone)]
pub struct LinkSigner {
    mac: Hmac<Sha256>,
    public_url: String,
    ttl: Duration,
}

impl std::fmt::Debug for LinkSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LinkSigner")
            .field("public_url", &self.public_url)
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

impl LinkSigner {
    /// `key`: 32 secret bytes; `public_url`: `SWITCHBOARD_PUBLIC_URL` (never a Host header).
    pub fn new(key: &[u8], public_url: &str, ttl: Duration) -> Self {
        Self {
            mac: <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes any key length"),
            public_url: public_url.trim_end_matches('/').to_string(),
            ttl,
        }
    }

    /// A link to `key` valid for the configured lifetime from now.
    pub fn link(&self, key: &str) -> String {
        self.link_until(key, now_unix().saturating_add(self.ttl.as_secs()))
    }

    /// A link to `key` valid until `expires` (unix seconds). Public so tests can make an
    /// already-expired link the way the server would.
    pub fn link_until(&self, key: &str, expires: u64) -> String {
        format!(
            "{}/media/{key}?expires={expires}&sig={}",
            self.public_url,
            hex::encode(self.signature(key, expires))
        )
    }

    /// Checks a link's parts, in constant time for the signature. The signature is
    /// checked first: an edited expiry is `Invalid`, not `Expired`.
    pub fn verify(
        &self,
        key: &str,
        expires: u64,
        sig_hex: &str,
        now: u64,
    ) -> Result<(), LinkError> {
        let sig = hex::decode(sig_hex).map_err(|_| LinkError::Invalid)?;
        let mut mac = self.mac.clone();
        mac.update(&message(key, expires));
        mac.verify_slice(&sig).map_err(|_| LinkError::Invalid)?;
        if now >= expires {
            return Err(LinkError::Expired);
        }
        Ok(())
    }

    fn signature(&self, key: &str, expires: u64) -> Vec<u8> {
        let mut mac = self.mac.clone();
        mac.update(&message(key, expires));
        mac.finalize().into_bytes().to_vec()
    }
}

/// What is signed: the key and the expiry, separated by a byte neither contains.
fn message(key: &str, expires: u64) -> Vec<u8> {
    format!("{key}\n{expires}").into_bytes()
}

/// Seconds since the Unix epoch.
pub fn now_unix() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn signer() -> LinkSigner {
        LinkSigner::new(&[7u8; 32], "https://sb.example/", Duration::from_secs(60))
    }

    fn parts(link: &str) -> (String, u64, String) {
        let url = url::Url::parse(link).unwrap();
        let q: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
        (
            url.path().trim_start_matches("/media/").to_string(),
            q["expires"].parse().unwrap(),
            q["sig"].clone(),
        )
    }

    #[test]
    fn a_link_verifies_until_it_expires() {
        let s = signer();
        let link = s.link("ag/lo/msg/0-photo.jpg");
        assert!(link.starts_with("https://sb.example/media/ag/lo/msg/0-photo.jpg?expires="));
        let (key, expires, sig) = parts(&link);
        assert_eq!(s.verify(&key, expires, &sig, now_unix()), Ok(()));
        assert_eq!(
            s.verify(&key, expires, &sig, expires),
            Err(LinkError::Expired)
        );
    }

    #[test]
    fn any_change_is_invalid() {
        let s = signer();
        let (key, expires, sig) = parts(&s.link("ag/lo/msg/0-photo.jpg"));
        let now = now_unix();
        assert_eq!(
            s.verify("ag/lo/msg/1-photo.jpg", expires, &sig, now),
            Err(LinkError::Invalid)
        );
        assert_eq!(
            s.verify(&key, expires + 1, &sig, now),
            Err(LinkError::Invalid)
        );
        let mut flipped = sig.clone().into_bytes();
        flipped[0] = if flipped[0] == b'0' { b'1' } else { b'0' };
        let flipped = String::from_utf8(flipped).unwrap();
        assert_eq!(
            s.verify(&key, expires, &flipped, now),
            Err(LinkError::Invalid)
        );
        assert_eq!(s.verify(&key, expires, "zz", now), Err(LinkError::Invalid));
        assert_eq!(s.verify(&key, expires, "", now), Err(LinkError::Invalid));
        let other = LinkSigner::new(&[8u8; 32], "https://sb.example", Duration::from_secs(60));
        assert_eq!(
            other.verify(&key, expires, &sig, now),
            Err(LinkError::Invalid)
        );
    }
}
