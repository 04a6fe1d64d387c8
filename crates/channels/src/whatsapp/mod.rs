//! WhatsApp Business Cloud API (Meta's Graph API): WhatsApp messages from a business phone
//! number registered with Meta (providers.md §3).
//!
//! Sends are `POST {api_base}/{phone_number_id}/messages` with `Authorization: Bearer
//! <access_token>` and a JSON body ([`send`]). The API version is part of the base
//! (`https://graph.facebook.com/v21.0`), so an operator moves a channel to another Graph
//! version with `--api-base` alone.
//!
//! Webhooks (inbound messages and status reports alike) are JSON, signed with
//! `X-Hub-Signature-256` (HMAC-SHA256 of the raw body keyed by the app secret,
//! [`signature`]); the subscription is confirmed by a GET with `hub.challenge`
//! ([`Channel::handshake`]). One delivery may batch several messages and statuses, and
//! statuses come unordered (`read` may come without `delivered`): each becomes its own
//! event, merged by [`domain::MessageStatus::advance`] and the dedupe keys.
//!
//! Meta delivers the webhooks of every phone number of an app to the app's one URL, and
//! they are all signed with the same app secret. So the signature alone does not say an
//! event is this channel's: [`WhatsApp::receive_webhook`] also reads
//! `metadata.phone_number_id` and ignores events of another number (another channel owns
//! them). [`Channel::parse_webhook`] has no credentials and cannot do that check.
//!
//! Free-form messages are allowed for 24 hours after the contact last wrote
//! ([`Channel::service_window`]); outside it only approved templates go
//! ([`crate::OutboundMessage::template`]). The Cloud API takes no idempotency key:
//! `biz_opaque_callback_data` carries our message id, echoed in status webhooks, for the
//! timeline.

mod failure;
mod media;
mod send;
pub mod signature;
pub(crate) mod webhook;

use std::time::Duration;

use domain::{MessageStatus, Provider};
use outbound::{ApiRequest, ApiResponse, Failure};

use crate::json::{self, Fields};
use crate::secret::secret_matches;
use crate::{
    Channel, ChannelError, CredentialSpec, Credentials, OutboundMessage, Pacing, SendAccepted,
    WebhookEvent, WebhookReply, WebhookRequest,
};
pub use failure::{OUTSIDE_WINDOW, OUTSIDE_WINDOW_REASON, PAIR_RATE_LIMIT, THROUGHPUT_LIMIT};
pub use media::MEDIA_REFERENCE_PREFIX;
use signature::SIGNATURE_HEADER;

/// The production Graph API base, version included (see the module docs).
pub const DEFAULT_API_BASE: &str = "https://graph.facebook.com/v21.0";

/// How long after the contact's last message free-form messages may be sent.
pub const SERVICE_WINDOW: Duration = Duration::from_secs(24 * 60 * 60);

/// Longest `hub.challenge` echoed back: Meta sends an integer; anything much longer is not
/// a verification request.
const MAX_CHALLENGE: usize = 256;

const SPEC: CredentialSpec = CredentialSpec {
    required: &[
        "phone_number_id",
        "access_token",
        "app_secret",
        "verify_token",
    ],
    optional: &["waba_id"],
};

/// The WhatsApp Cloud API channel.
#[derive(Debug, Clone, Copy, Default)]
pub struct WhatsApp;

impl Channel for WhatsApp {
    fn provider(&self) -> Provider {
        Provider::Whatsapp
    }

    fn credential_spec(&self) -> CredentialSpec {
        SPEC
    }

    /// Beyond the keys: the phone number id goes into the URL path, so it must be Meta's
    /// numeric id, and the token into a header, so it must be one line.
    fn validate_credentials(&self, credentials: &Credentials) -> Result<(), ChannelError> {
        SPEC.check(Provider::Whatsapp, credentials)?;
        phone_number_id(credentials)?;
        access_token(credentials)?;
        Ok(())
    }

    fn default_api_base(&self) -> &'static str {
        DEFAULT_API_BASE
    }

    /// About 80 messages a second per business number: the Cloud API's default throughput,
    /// beyond which Meta answers 130429 (providers.md §3, "Errors and rate limits"; the
    /// number is from third-party copies of Meta's page). The per-recipient pair limit
    /// (131056, about one message every 6 s to the same user) is left to the error's
    /// rate-limited retry.
    fn pacing(&self) -> Pacing {
        Pacing::per_second(80)
    }

    /// The sender is the channel's `phone_number_id` (so `from_line` is not sent), and
    /// statuses go to the Meta app's one webhook URL, configured in Meta's dashboard to be
    /// the channel's webhook URL (a send cannot name one, so `status_callback` is not sent).
    fn build_send(
        &self,
        credentials: &Credentials,
        api_base: &str,
        message: &OutboundMessage,
    ) -> Result<ApiRequest, ChannelError> {
        let id = phone_number_id(credentials)?;
        let token = access_token(credentials)?;
        let url = crate::channel::endpoint(api_base, &format!("/{id}/messages"))?;
        let body = send::body(message)?;
        Ok(ApiRequest::new(http::Method::POST, url)
            .header("authorization", format!("Bearer {token}"))
            .json(&body))
    }

    /// `GET {api_base}/{phone_number_id}` with the bearer token: the Graph API's phone
    /// number node, at the same API version as sends (the version is part of the base).
    /// A token that cannot see the number gets 400 (code 100) or 401 (code 190).
    fn build_verify(
        &self,
        credentials: &Credentials,
        api_base: &str,
    ) -> Result<ApiRequest, ChannelError> {
        let id = phone_number_id(credentials)?;
        let token = access_token(credentials)?;
        let url = crate::channel::endpoint(api_base, &format!("/{id}"))?;
        Ok(ApiRequest::new(http::Method::GET, url)
            .header("authorization", format!("Bearer {token}")))
    }

    fn parse_send(&self, response: &ApiResponse) -> Result<SendAccepted, Failure> {
        if !response.status.is_success() {
            return Err(failure::classify_failure(response));
        }
        // A 2xx we cannot read may still have been accepted: retrying could send twice,
        // so it is a permanent failure an operator sees, never a silent repeat.
        let unreadable = |what: &str| Failure::Permanent {
            detail: format!("accepted {what}: {}", outbound::describe(response)),
        };
        let parsed = json::object(&response.body).map_err(|_| unreadable("without JSON"))?;
        let id = parsed
            .get("messages")
            .and_then(|m| m.as_array())
            .and_then(|m| m.first())
            .and_then(|m| m.as_object())
            .and_then(|m| Fields(m).text("id"));
        let Some(id) = id else {
            return Err(unreadable("without messages[0].id"));
        };
        Ok(SendAccepted {
            provider_message_id: id.to_string(),
            // `accepted` or `held_for_quality_assessment` (UNCONFIRMED field): both mean
            // Meta has the message; delivery is reported by webhook.
            status: MessageStatus::Sent,
            thread: None,
        })
    }

    /// Checks `X-Hub-Signature-256` with the channel's app secret over the raw body.
    fn verify_webhook(
        &self,
        credentials: &Credentials,
        request: &WebhookRequest,
    ) -> Result<(), ChannelError> {
        let secret = credentials.require(Provider::Whatsapp, "app_secret")?;
        let Some(presented) = request.header(SIGNATURE_HEADER) else {
            return Err(ChannelError::MissingSignature {
                header: SIGNATURE_HEADER,
            });
        };
        if signature::is_valid(secret, &request.body, presented) {
            Ok(())
        } else {
            Err(ChannelError::WrongSignature {
                header: SIGNATURE_HEADER,
            })
        }
    }

    /// Every event of the delivery, whatever phone number it is for (no credentials here;
    /// see [`Self::receive_webhook`]).
    fn parse_webhook(&self, request: &WebhookRequest) -> Result<Vec<WebhookEvent>, ChannelError> {
        webhook::events(&request.body, None)
    }

    /// Verify, then parse, ignoring events addressed to another phone number of the same
    /// Meta app (same URL, same secret; another channel's business).
    fn receive_webhook(
        &self,
        credentials: &Credentials,
        request: &WebhookRequest,
    ) -> Result<Vec<WebhookEvent>, ChannelError> {
        self.verify_webhook(credentials, request)?;
        webhook::events(&request.body, Some(phone_number_id(credentials)?))
    }

    /// Meta's subscription check: `hub.mode=subscribe`, `hub.verify_token`,
    /// `hub.challenge` → 200 with the challenge as a plain-text body. A wrong token is
    /// refused (403); a GET that is not a verification request is a 400.
    fn handshake(
        &self,
        credentials: &Credentials,
        request: &WebhookRequest,
    ) -> Option<Result<WebhookReply, ChannelError>> {
        Some(verification(credentials, request))
    }

    fn service_window(&self) -> Option<Duration> {
        Some(SERVICE_WINDOW)
    }

    /// `whatsapp-media:<id>` → the Graph media lookup (`GET {base}/{id}`), whose JSON
    /// answer names the download URL; that URL is fetched next, with the same bearer.
    fn media_request(
        &self,
        credentials: &Credentials,
        api_base: &str,
        reference: &str,
    ) -> Result<ApiRequest, ChannelError> {
        media::request(access_token(credentials)?, api_base, reference)
    }

    fn media_location(&self, response: &ApiResponse) -> Option<String> {
        media::location(response)
    }
}

fn verification(
    credentials: &Credentials,
    request: &WebhookRequest,
) -> Result<WebhookReply, ChannelError> {
    let expected = credentials.require(Provider::Whatsapp, "verify_token")?;
    let mode = request.query_param("hub.mode");
    if mode.as_deref() != Some("subscribe") {
        return Err(ChannelError::malformed(
            "not a verification request: hub.mode must be subscribe",
        ));
    }
    let presented = request.query_param("hub.verify_token").unwrap_or_default();
    if !secret_matches(&presented, expected) {
        return Err(ChannelError::WrongVerifyToken);
    }
    let challenge = request.query_param("hub.challenge").unwrap_or_default();
    let printable = challenge.chars().all(|c| c.is_ascii_graphic());
    if challenge.is_empty() || challenge.len() > MAX_CHALLENGE || !printable {
        return Err(ChannelError::malformed(
            "hub.challenge is missing or not a short printable token",
        ));
    }
    Ok(WebhookReply {
        status: http::StatusCode::OK,
        content_type: "text/plain; charset=utf-8",
        body: challenge,
    })
}

/// Meta's phone number id: digits only (it is a path segment of every send).
fn phone_number_id(credentials: &Credentials) -> Result<&str, ChannelError> {
    let id = credentials.require(Provider::Whatsapp, "phone_number_id")?;
    if id.len() <= 32 && id.bytes().all(|b| b.is_ascii_digit()) {
        Ok(id)
    } else {
        Err(ChannelError::InvalidCredential {
            provider: Provider::Whatsapp,
            key: "phone_number_id",
            reason: "a WhatsApp phone number id is Meta's numeric id (digits only)",
        })
    }
}

fn access_token(credentials: &Credentials) -> Result<&str, ChannelError> {
    let token = credentials.require(Provider::Whatsapp, "access_token")?;
    if token.bytes().all(|b| b.is_ascii_graphic()) {
        Ok(token)
    } else {
        Err(ChannelError::InvalidCredential {
            provider: Provider::Whatsapp,
            key: "access_token",
            reason: "an access token is one word of printable characters",
        })
    }
}

pub(crate) fn unsendable(reason: impl Into<String>) -> ChannelError {
    ChannelError::Unsendable {
        provider: Provider::Whatsapp,
        reason: reason.into(),
    }
}
