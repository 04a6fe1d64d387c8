//! Is this POST really from GHL? Signature checks on the raw body, and replay windows.
//!
//! GHL signs the exact bytes it sends, so verification happens on the raw body before any
//! JSON parsing (GHL's own SDK re-serialises the parsed body, which only works by luck of
//! compact JSON; we don't copy that).

mod keys;

use std::time::{Duration, SystemTime};

use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine as _;
use ed25519_dalek::{Signature, VerifyingKey};
use http::HeaderMap;
use rsa::pkcs1v15;
use rsa::signature::Verifier as _;
use sha2::Sha256;

pub use keys::{GHL_ED25519_PUBLIC_KEY, GHL_LEGACY_RSA_PUBLIC_KEY};

use crate::Error;

/// The current header: base64 Ed25519 signature of the raw body.
pub const GHL_SIGNATURE_HEADER: &str = "x-ghl-signature";
/// The legacy header: base64 RSA PKCS#1 v1.5 SHA-256 signature of the raw body.
pub const LEGACY_SIGNATURE_HEADER: &str = "x-wh-signature";

/// Standard base64, padded or not: signatures are copied through proxies and SDKs that
/// don't all agree on padding.
const SIGNATURE_BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Which signature vouched for a Marketplace webhook (for logs and for watching the
/// legacy header's retirement).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureScheme {
    Ed25519,
    LegacyRsa,
}

/// The public keys GHL's webhooks are checked against.
#[derive(Debug, Clone)]
pub struct WebhookKeys {
    ed25519: VerifyingKey,
    legacy_rsa: pkcs1v15::VerifyingKey<Sha256>,
}

impl WebhookKeys {
    /// Keys from PEM text; a bad PEM is an error naming which key.
    pub fn new(ed25519_pem: &str, legacy_rsa_pem: &str) -> Result<Self, Error> {
        Ok(Self {
            ed25519: keys::ed25519_from_pem(ed25519_pem)?,
            legacy_rsa: pkcs1v15::VerifyingKey::new(keys::rsa_from_pem(legacy_rsa_pem)?),
        })
    }

    /// GHL's published keys.
    pub fn published() -> Result<Self, Error> {
        Self::new(GHL_ED25519_PUBLIC_KEY, GHL_LEGACY_RSA_PUBLIC_KEY)
    }

    /// A configured Ed25519 key (the one operators override) with GHL's published RSA key.
    pub fn with_ed25519(ed25519_pem: &str) -> Result<Self, Error> {
        Self::new(ed25519_pem, GHL_LEGACY_RSA_PUBLIC_KEY)
    }

    /// The conversation-provider Delivery URL. GHL sends only `X-GHL-Signature` there, so
    /// nothing else is accepted: a legacy `X-WH-Signature` on this route is ignored and
    /// the request fails as unsigned.
    pub fn verify_provider_delivery(
        &self,
        headers: &HeaderMap,
        raw_body: &[u8],
    ) -> Result<(), Error> {
        let signature =
            signature_header(headers, GHL_SIGNATURE_HEADER)?.ok_or(Error::SignatureMissing {
                header: GHL_SIGNATURE_HEADER,
            })?;
        self.verify_ed25519(&signature, raw_body)
    }

    /// The Marketplace webhook URL, in the order GHL's SDK uses: `X-GHL-Signature` when
    /// present, with no fallback if it fails (else an attacker could strip it and forge
    /// the weaker one); otherwise the legacy `X-WH-Signature`.
    pub fn verify_marketplace(
        &self,
        headers: &HeaderMap,
        raw_body: &[u8],
    ) -> Result<SignatureScheme, Error> {
        if let Some(signature) = signature_header(headers, GHL_SIGNATURE_HEADER)? {
            self.verify_ed25519(&signature, raw_body)?;
            return Ok(SignatureScheme::Ed25519);
        }
        if let Some(signature) = signature_header(headers, LEGACY_SIGNATURE_HEADER)? {
            self.verify_legacy_rsa(&signature, raw_body)?;
            return Ok(SignatureScheme::LegacyRsa);
        }
        Err(Error::SignatureMissing {
            header: "x-ghl-signature or x-wh-signature",
        })
    }

    fn verify_ed25519(&self, signature: &str, raw_body: &[u8]) -> Result<(), Error> {
        let header = GHL_SIGNATURE_HEADER;
        let bytes = decode(header, signature)?;
        let signature = Signature::from_slice(&bytes).map_err(|_| Error::SignatureMalformed {
            header,
            detail: format!("an Ed25519 signature is 64 bytes, got {}", bytes.len()),
        })?;
        self.ed25519
            .verify_strict(raw_body, &signature)
            .map_err(|_| Error::SignatureInvalid { header })
    }

    fn verify_legacy_rsa(&self, signature: &str, raw_body: &[u8]) -> Result<(), Error> {
        let header = LEGACY_SIGNATURE_HEADER;
        let bytes = decode(header, signature)?;
        let signature = pkcs1v15::Signature::try_from(bytes.as_slice()).map_err(|err| {
            Error::SignatureMalformed {
                header,
                detail: err.to_string(),
            }
        })?;
        self.legacy_rsa
            .verify(raw_body, &signature)
            .map_err(|_| Error::SignatureInvalid { header })
    }
}

/// The header's value, or `None` when it is absent, empty or `N/A` (some GHL setups send
/// the literal `N/A` for a signature they didn't compute).
fn signature_header(headers: &HeaderMap, name: &'static str) -> Result<Option<String>, Error> {
    let Some(value) = headers.get(name) else {
        return Ok(None);
    };
    let value = value.to_str().map_err(|_| Error::SignatureMalformed {
        header: name,
        detail: "not visible ASCII".into(),
    })?;
    let value = value.trim();
    if value.is_empty() || value.eq_ignore_ascii_case("N/A") {
        return Ok(None);
    }
    Ok(Some(value.to_owned()))
}

fn decode(header: &'static str, signature: &str) -> Result<Vec<u8>, Error> {
    SIGNATURE_BASE64
        .decode(signature)
        .map_err(|err| Error::SignatureMalformed {
            header,
            detail: format!("not base64: {err}"),
        })
}

/// Rejects a webhook whose `timestamp` is more than `window` away from `now`, in either
/// direction (GHL's doc suggests 5 minutes). Pair it with a unique `webhookId`: the window
/// bounds how long ids must be remembered.
///
/// Accepts RFC 3339 (`2025-01-28T14:35:00Z`, fractions, `±HH:MM` offsets), GHL's
/// documented form; and, defensively, an all-digit epoch (13 or more digits read as
/// milliseconds, fewer as seconds), since some GHL payloads carry epoch numbers.
pub fn check_freshness(timestamp: &str, now: SystemTime, window: Duration) -> Result<(), Error> {
    let text = timestamp.trim();
    let sent = crate::parse_rfc3339(text)
        .or_else(|| epoch(text))
        .ok_or_else(|| Error::BadTimestamp {
            timestamp: timestamp.chars().take(64).collect(),
        })?;
    let skew = match now.duration_since(sent) {
        Ok(age) => age,
        Err(ahead) => ahead.duration(),
    };
    if skew > window {
        return Err(Error::Stale {
            timestamp: text.chars().take(64).collect(),
            skew,
            window,
        });
    }
    Ok(())
}

fn epoch(text: &str) -> Option<SystemTime> {
    if text.is_empty() || text.len() > 16 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let value: u64 = text.parse().ok()?;
    let since = if text.len() >= 13 {
        Duration::from_millis(value)
    } else {
        Duration::from_secs(value)
    };
    SystemTime::UNIX_EPOCH.checked_add(since)
}
