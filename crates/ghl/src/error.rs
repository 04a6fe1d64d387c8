//! The crate's one error type.

use std::fmt;
use std::time::Duration;

use outbound::Failure;

/// Which of the two GHL webhook keys a problem is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    /// The Ed25519 key behind `X-GHL-Signature`.
    Ed25519,
    /// The legacy RSA key behind `X-WH-Signature`.
    LegacyRsa,
}

impl fmt::Display for KeyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            KeyKind::Ed25519 => "GHL Ed25519 webhook",
            KeyKind::LegacyRsa => "GHL legacy RSA webhook",
        })
    }
}

/// Everything that can go wrong in this crate.
///
/// The webhook variants are kept apart (missing, malformed, invalid, stale) only for logs:
/// the HTTP layer answers 401 to all of them. The API variants tell the executor what to
/// do next: [`Error::Unauthorized`] means "refresh the token once and retry",
/// [`Error::InvalidGrant`] means "this refresh token or code is dead, re-authorise", and
/// [`Error::Call`] carries the generic [`Failure`] classification.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// A configured public key is not a PEM of the expected kind.
    #[error("the {key} public key is not valid: {detail}")]
    BadKey { key: KeyKind, detail: String },
    /// No usable signature header (absent, empty or the literal `N/A`).
    #[error("signature header {header} is missing")]
    SignatureMissing { header: &'static str },
    /// The signature header is there but cannot be a signature (not base64, wrong length).
    #[error("signature header {header} is malformed: {detail}")]
    SignatureMalformed {
        header: &'static str,
        detail: String,
    },
    /// A well-formed signature that does not match the body under the configured key.
    #[error("signature in {header} does not match the body")]
    SignatureInvalid { header: &'static str },
    /// A webhook timestamp that is not an ISO 8601 / RFC 3339 date-time.
    #[error("webhook timestamp {timestamp:?} is not an ISO 8601 date-time")]
    BadTimestamp { timestamp: String },
    /// A webhook timestamp outside the accepted window: a replay or a badly skewed clock.
    #[error("webhook timestamp {timestamp} is {skew:?} from now, outside the {window:?} window")]
    Stale {
        timestamp: String,
        skew: Duration,
        window: Duration,
    },
    /// A body that is not the JSON we expect (the HTTP layer answers 400).
    #[error("bad GHL payload: {0}")]
    Payload(String),
    /// GHL refused the access token (HTTP 401): refresh it once and retry.
    #[error("GHL refused the access token: {detail}")]
    Unauthorized { detail: String },
    /// The refresh token or authorisation code was used, revoked or expired: retrying
    /// with it can never work; the install must be re-authorised.
    #[error("GHL refused the grant: {detail}")]
    InvalidGrant { detail: String },
    /// Any other failed call, classified for the job that made it.
    #[error("GHL call failed: {}", .0.detail())]
    Call(Failure),
}

impl Error {
    /// The failure to record on the job once the executor has done what it can: a 401
    /// that survives a token refresh and a dead grant are permanent for this job.
    pub fn into_failure(self) -> Failure {
        match self {
            Error::Call(failure) => failure,
            other => Failure::Permanent {
                detail: other.to_string(),
            },
        }
    }

    pub(crate) fn payload(detail: impl fmt::Display) -> Self {
        Error::Payload(detail.to_string())
    }
}
