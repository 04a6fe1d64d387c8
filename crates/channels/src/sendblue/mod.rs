//! SendBlue: iMessage, SMS and RCS from one line.
//!
//! Sends are `POST {api_base}/api/send-message` with the `sb-api-key-id` /
//! `sb-api-secret-key` headers and a JSON body. One message object is used everywhere: the
//! send response, status callbacks and inbound webhooks, told apart by `is_outbound`.
//! Webhooks are not signed: SendBlue sends the configured secret itself in
//! `sb-signing-secret`, so there is no replay protection beyond our dedupe keys.
//!
//! SendBlue has no idempotency key: a send whose answer was lost cannot be made safe to
//! repeat here; the job records the attempt around the call instead.

mod failure;
mod webhook;

use domain::{MessageStatus, Provider};
use http::Method;
use outbound::{ApiRequest, ApiResponse, Failure};
use serde_json::{Map, Value};

use crate::address::e164;
use crate::json::{self, Fields};
use crate::secret::{derived_token, secret_matches};
use crate::{
    Channel, ChannelError, CredentialSpec, Credentials, OutboundMessage, Pacing, SendAccepted,
    WebhookEvent, WebhookRequest,
};
use failure::{classify_failure, reports_failure};
pub use webhook::delivery_status;
use webhook::{inbound_message, status_report};

/// The header SendBlue puts the configured webhook secret in.
pub const SIGNING_SECRET_HEADER: &str = "sb-signing-secret";

/// The query parameter we add to each message's `status_callback` URL, carrying a token
/// derived from the channel's `signing_secret` (see [`SendBlue::verify_webhook`]).
pub const CALLBACK_TOKEN_PARAM: &str = "sb_token";

const CALLBACK_TOKEN_PURPOSE: &str = "switchboard sendblue status callback";

const SPEC: CredentialSpec = CredentialSpec {
    required: &["api_key_id", "api_secret_key", "signing_secret"],
    optional: &[],
};

/// The SendBlue channel.
#[derive(Debug, Clone, Copy, Default)]
pub struct SendBlue;

impl Channel for SendBlue {
    fn provider(&self) -> Provider {
        Provider::Sendblue
    }

    fn credential_spec(&self) -> CredentialSpec {
        SPEC
    }

    /// The SDK's default. (`api.sendblue.com` also appears in official material; a
    /// channel's `api_base` override covers it.)
    fn default_api_base(&self) -> &'static str {
        "https://api.sendblue.co"
    }

    /// About one message per second per line (DESIGN; SendBlue's lines are real phones).
    fn pacing(&self) -> Pacing {
        Pacing::per_second(1)
    }

    /// `from_number` is always sent: the SDK makes it optional on some plans, the docs
    /// make it required, and we always know the line.
    ///
    /// SendBlue takes one `media_url` per message. With several media, the first travels
    /// as `media_url` and the others as links on their own lines after the text: the
    /// contact gets everything in one message with one provider id, where splitting would
    /// make one of our messages several of theirs.
    fn build_send(
        &self,
        credentials: &Credentials,
        api_base: &str,
        message: &OutboundMessage,
    ) -> Result<ApiRequest, ChannelError> {
        let key_id = header_credential(credentials, "api_key_id")?;
        let secret_key = header_credential(credentials, "api_secret_key")?;
        let signing_secret = credentials.require(Provider::Sendblue, "signing_secret")?;
        let url = crate::channel::endpoint(api_base, "/api/send-message")?;

        let mut body = Map::new();
        body.insert("number".into(), e164("to", &message.to)?.into());
        body.insert(
            "from_number".into(),
            e164("from_line", &message.from_line)?.into(),
        );
        let mut media = message
            .media_urls
            .iter()
            .map(|u| u.trim())
            .filter(|u| !u.is_empty());
        let first_media = media.next();
        let mut content = message.body.clone();
        for link in media {
            if !content.trim().is_empty() {
                content.push('\n');
            }
            content.push_str(link);
        }
        if content.trim().is_empty() && first_media.is_none() {
            return Err(ChannelError::Unsendable {
                provider: Provider::Sendblue,
                reason: "no text and no media".into(),
            });
        }
        if !content.trim().is_empty() {
            body.insert("content".into(), content.into());
        }
        if let Some(link) = first_media {
            body.insert("media_url".into(), link.into());
        }
        if !message.status_callback.trim().is_empty() {
            let callback = status_callback_url(&message.status_callback, signing_secret)?;
            body.insert("status_callback".into(), callback.into());
        }

        Ok(ApiRequest::new(Method::POST, url)
            .header("sb-api-key-id", key_id)
            .header("sb-api-secret-key", secret_key)
            .header("accept", "application/json")
            .json(&Value::Object(body)))
    }

    /// `GET /api/account/webhooks`: lists the account's webhook configuration, needs both
    /// API headers, and changes nothing.
    fn build_verify(
        &self,
        credentials: &Credentials,
        api_base: &str,
    ) -> Result<ApiRequest, ChannelError> {
        let key_id = header_credential(credentials, "api_key_id")?;
        let secret_key = header_credential(credentials, "api_secret_key")?;
        let url = crate::channel::endpoint(api_base, "/api/account/webhooks")?;
        Ok(ApiRequest::new(Method::GET, url)
            .header("sb-api-key-id", key_id)
            .header("sb-api-secret-key", secret_key)
            .header("accept", "application/json"))
    }

    fn parse_send(&self, response: &ApiResponse) -> Result<SendAccepted, Failure> {
        let parsed = json::object(&response.body).ok();
        let fields = parsed.as_ref().map(Fields);
        if !response.status.is_success() {
            return Err(classify_failure(response, fields));
        }
        // A 2xx we cannot read may still have been accepted: retrying could send twice,
        // so it is a permanent failure an operator sees, never a silent repeat.
        let Some(fields) = fields else {
            return Err(Failure::Permanent {
                detail: format!(
                    "accepted without a readable message: {}",
                    outbound::describe(response)
                ),
            });
        };
        if reports_failure(fields) {
            return Err(classify_failure(response, Some(fields)));
        }
        let Some(handle) = fields.text("message_handle") else {
            return Err(Failure::Permanent {
                detail: format!(
                    "accepted without a message_handle: {}",
                    outbound::describe(response)
                ),
            });
        };
        Ok(SendAccepted {
            provider_message_id: handle.to_string(),
            // Anything accepted is at least `sent`, whatever new word SendBlue uses.
            status: fields
                .text("status")
                .and_then(delivery_status)
                .filter(|s| *s != MessageStatus::Failed)
                .unwrap_or(MessageStatus::Sent),
            thread: None,
        })
    }

    /// Accepts a delivery when `sb-signing-secret` equals the channel's `signing_secret`
    /// (constant-time). A present but wrong header is refused outright.
    ///
    /// UNCONFIRMED in SendBlue's docs: whether that header also comes with
    /// `status_callback` deliveries (one page says "inbound message webhook requests",
    /// another "with requests"). Accepting unauthenticated status reports is not an
    /// option: a forged `opted_out` or `ERROR` would stop messages to a contact. So,
    /// coding for both readings, every `status_callback` URL we hand SendBlue carries
    /// [`CALLBACK_TOKEN_PARAM`], a token derived from the signing secret (HMAC, so the
    /// URL never holds the secret itself). A delivery without the header is accepted
    /// only with a valid token **and** only for a status report (`is_outbound: true`):
    /// the token can never admit an inbound message.
    fn verify_webhook(
        &self,
        credentials: &Credentials,
        request: &WebhookRequest,
    ) -> Result<(), ChannelError> {
        let secret = credentials.require(Provider::Sendblue, "signing_secret")?;
        if let Some(presented) = request.header(SIGNING_SECRET_HEADER) {
            return if secret_matches(presented, secret) {
                Ok(())
            } else {
                Err(ChannelError::WrongSignature {
                    header: SIGNING_SECRET_HEADER,
                })
            };
        }
        let missing = ChannelError::MissingSignature {
            header: SIGNING_SECRET_HEADER,
        };
        let Some(token) = request.query_param(CALLBACK_TOKEN_PARAM) else {
            return Err(missing);
        };
        if token.is_empty() || !secret_matches(&token, &callback_token(secret)) {
            return Err(ChannelError::WrongSignature {
                header: CALLBACK_TOKEN_PARAM,
            });
        }
        let is_status_report = json::object(&request.body)
            .map(|map| Fields(&map).flag("is_outbound") == Some(true))
            .unwrap_or(false);
        if is_status_report {
            Ok(())
        } else {
            Err(missing)
        }
    }

    /// `is_outbound: false` (or no direction but status `RECEIVED`) is a contact writing
    /// in; `is_outbound: true` is a report about our message and is never read as
    /// inbound. Typing indicators, group chats and other webhook types are ignored.
    fn parse_webhook(&self, request: &WebhookRequest) -> Result<Vec<WebhookEvent>, ChannelError> {
        let map = json::object(&request.body)?;
        let fields = Fields(&map);
        if fields.has("is_typing") {
            return Ok(vec![WebhookEvent::ignored("typing indicator")]);
        }
        let looks_like_message =
            fields.has("is_outbound") || fields.has("status") || fields.has("content");
        let handle = match fields.text("message_handle") {
            Some(handle) => handle,
            None if looks_like_message => {
                return Err(ChannelError::malformed("message without a message_handle"))
            }
            None => return Ok(vec![WebhookEvent::ignored("not a message event")]),
        };
        let received = fields
            .text("status")
            .is_some_and(|s| s.eq_ignore_ascii_case("RECEIVED"));
        let event = match fields.flag("is_outbound") {
            Some(true) => status_report(fields, handle),
            Some(false) => inbound_message(fields, handle)?,
            None if received => inbound_message(fields, handle)?,
            None => WebhookEvent::ignored("message without a direction (is_outbound)"),
        };
        Ok(vec![event])
    }
}

/// The token proving a status callback came from a URL we gave SendBlue.
fn callback_token(signing_secret: &str) -> String {
    derived_token(signing_secret, CALLBACK_TOKEN_PURPOSE)
}

/// `status_callback` with our token added to its query.
fn status_callback_url(base: &str, signing_secret: &str) -> Result<String, ChannelError> {
    let mut url = url::Url::parse(base.trim()).map_err(|e| ChannelError::Unsendable {
        provider: Provider::Sendblue,
        reason: format!("status_callback is not a URL: {e}"),
    })?;
    url.query_pairs_mut()
        .append_pair(CALLBACK_TOKEN_PARAM, &callback_token(signing_secret));
    Ok(url.into())
}

/// A required credential that must also be a valid HTTP header value.
fn header_credential<'c>(
    credentials: &'c Credentials,
    key: &'static str,
) -> Result<&'c str, ChannelError> {
    let value = credentials.require(Provider::Sendblue, key)?;
    http::HeaderValue::from_str(value).map_err(|_| ChannelError::InvalidCredential {
        provider: Provider::Sendblue,
        key,
        reason: "contains characters not allowed in an HTTP header",
    })?;
    Ok(value)
}
