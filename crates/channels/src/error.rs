//! The crate's one error type, for both directions: building a send (bad credentials, bad
//! numbers) and receiving a webhook (bad secret, malformed body). Each variant knows the
//! HTTP answer a webhook sender gets and a stable `code` for our JSON error body, so the
//! server never has to guess.
//!
//! A failed *send* is not a `ChannelError`: the provider's answer is read into an
//! [`outbound::Failure`], which tells the job what to do next.

use domain::Provider;
use http::StatusCode;

/// Anything a channel refuses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChannelError {
    /// A required credential is absent or blank (operator input, or a stored channel that
    /// predates a new key).
    #[error("{provider} channel is missing credential `{key}`")]
    MissingCredential {
        provider: Provider,
        key: &'static str,
    },

    /// A credential key this provider does not know: almost always a typo in
    /// `--credential KEY=VALUE`, caught before it silently does nothing.
    #[error("{provider} channel does not take credential `{key}` (expected: {expected})")]
    UnknownCredential {
        provider: Provider,
        key: String,
        expected: String,
    },

    /// A credential that cannot be used as given (e.g. a line break in an API key, which
    /// cannot travel in an HTTP header). The value itself is never echoed: it is a secret.
    #[error("{provider} credential `{key}` is not usable: {reason}")]
    InvalidCredential {
        provider: Provider,
        key: &'static str,
        reason: &'static str,
    },

    /// The API base URL (default or `--api-base` override) is not an http(s) URL.
    #[error("invalid API base URL {value:?}: {reason}")]
    InvalidApiBase { value: String, reason: String },

    /// An attachment reference that is not a URL we may fetch.
    #[error("invalid media URL {value:?}: {reason}")]
    InvalidMediaUrl { value: String, reason: String },

    /// A phone number or contact handle that is not one.
    #[error("invalid {field} {value:?}: {reason}")]
    InvalidAddress {
        field: &'static str,
        value: String,
        reason: &'static str,
    },

    /// The message cannot be expressed on this provider (no text and no media, …).
    #[error("{provider} cannot send this message: {reason}")]
    Unsendable { provider: Provider, reason: String },

    /// A webhook arrived without the header that authenticates it.
    #[error("missing webhook authentication header `{header}`")]
    MissingSignature { header: &'static str },

    /// A webhook's signature or secret does not match the channel's.
    #[error("webhook authentication failed ({header} does not match)")]
    WrongSignature { header: &'static str },

    /// A verification handshake (WhatsApp's GET) with the wrong verify token.
    #[error("webhook verification token does not match")]
    WrongVerifyToken,

    /// A webhook body we cannot read: not JSON, or missing what every event must carry.
    #[error("malformed webhook: {detail}")]
    Malformed { detail: String },
}

impl ChannelError {
    pub(crate) fn malformed(detail: impl Into<String>) -> Self {
        ChannelError::Malformed {
            detail: detail.into(),
        }
    }

    /// The answer to the webhook sender. Authentication failures are 401 and a wrong
    /// verify token 403 (the public contract); a body we cannot read is 400. A channel
    /// whose own credentials are broken answers 500: the event is fine, we are not, and
    /// the provider should retry after the operator fixes the channel rather than have
    /// the event dropped. (The API answers credential errors at `channel add` itself, as
    /// 4xx, before a channel with bad credentials can exist.)
    pub fn webhook_status(&self) -> StatusCode {
        match self {
            ChannelError::MissingSignature { .. } | ChannelError::WrongSignature { .. } => {
                StatusCode::UNAUTHORIZED
            }
            ChannelError::WrongVerifyToken => StatusCode::FORBIDDEN,
            ChannelError::Malformed { .. } | ChannelError::InvalidAddress { .. } => {
                StatusCode::BAD_REQUEST
            }
            ChannelError::MissingCredential { .. }
            | ChannelError::UnknownCredential { .. }
            | ChannelError::InvalidCredential { .. }
            | ChannelError::InvalidApiBase { .. }
            | ChannelError::InvalidMediaUrl { .. }
            | ChannelError::Unsendable { .. } => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// A stable machine-readable code for the `{code, detail}` error body.
    pub fn code(&self) -> &'static str {
        match self {
            ChannelError::MissingCredential { .. } => "missing_credential",
            ChannelError::UnknownCredential { .. } => "unknown_credential",
            ChannelError::InvalidCredential { .. } => "invalid_credential",
            ChannelError::InvalidApiBase { .. } => "invalid_api_base",
            ChannelError::InvalidMediaUrl { .. } => "invalid_media_url",
            ChannelError::InvalidAddress { .. } => "invalid_address",
            ChannelError::Unsendable { .. } => "unsendable_message",
            ChannelError::MissingSignature { .. } => "missing_signature",
            ChannelError::WrongSignature { .. } => "invalid_signature",
            ChannelError::WrongVerifyToken => "invalid_verify_token",
            ChannelError::Malformed { .. } => "malformed_webhook",
        }
    }
}

/// A send that cannot even be built will not succeed by retrying: the job records it as
/// a permanent failure with the reason.
impl From<ChannelError> for outbound::Failure {
    fn from(error: ChannelError) -> Self {
        outbound::Failure::Permanent {
            detail: error.to_string(),
        }
    }
}
