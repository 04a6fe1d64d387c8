//! Checking a channel's credentials with the provider before they are stored.
//!
//! `channel add` and the API used to accept any well-formed credentials, so a wrong key
//! surfaced only at the first send, as a failed message. Each provider now names one
//! cheap, read-only, authenticated request ([`crate::Channel::build_verify`]); the server
//! runs it through the shared `outbound` executor like a send, and this module reads the
//! answer into a [`VerifyFailure`] that says whether the credentials were refused (tell
//! the caller, store nothing) or the provider could not answer (try again later).

use outbound::ApiResponse;

/// Why credentials could not be confirmed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyFailure {
    /// The provider answered and said no: wrong key, token or secret, or an account the
    /// credentials cannot reach (Twilio's other SID, a WhatsApp number of another app, a
    /// UniPile account of another key).
    #[error("the provider refused the credentials: {detail}")]
    Refused { detail: String },
    /// No usable answer: the provider is down, slow, rate limiting us, or unreachable.
    /// Says nothing about the credentials.
    #[error("the provider could not check the credentials: {detail}")]
    Unavailable { detail: String },
}

/// The reading every provider shares: 2xx accepts; 408, 429 and 5xx say the provider
/// could not answer now; any other 4xx (401 and 403 above all, but also the 400 or 404 a
/// provider gives for an account the credentials cannot see) refuses them.
pub fn read_verify_response(response: &ApiResponse) -> Result<(), VerifyFailure> {
    let status = response.status;
    if status.is_success() {
        return Ok(());
    }
    let detail = outbound::describe(response);
    if status.is_server_error()
        || status == http::StatusCode::TOO_MANY_REQUESTS
        || status == http::StatusCode::REQUEST_TIMEOUT
    {
        return Err(VerifyFailure::Unavailable { detail });
    }
    if status.is_client_error() {
        return Err(VerifyFailure::Refused { detail });
    }
    // 1xx/3xx: not an answer about credentials (a redirect would mean a wrong API base).
    Err(VerifyFailure::Unavailable { detail })
}
