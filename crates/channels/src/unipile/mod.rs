//! UniPile: WhatsApp through UniPile's messaging API (v1), which drives a real phone's
//! WhatsApp session (providers.md §4).
//!
//! The API base is per account: `https://{dsn}` from the channel's `dsn` credential
//! (host and port, as UniPile's dashboard shows it, e.g. `api1.unipile.com:13111`), unless
//! the channel has an `--api-base` override, which wins ([`UniPile::api_base`]). Every call
//! carries `X-API-KEY` and `accept: application/json`.
//!
//! Sends are `multipart/form-data` ([`multipart`]): into the contact's chat when we know it
//! (`POST /api/v1/chats/{chat_id}/messages`, the chat id learnt from the contact's messages
//! and kept on the conversation), else a new chat with the contact
//! (`POST /api/v1/chats` with `account_id` and `attendees_ids`, the contact's WhatsApp id
//! `<digits>@s.whatsapp.net`). Attachments travel as uploaded files
//! ([`OutboundMessage::files`], filled by the deliver job because
//! [`Channel::uploads_media`] is true). UniPile takes no idempotency key: as with the other
//! providers, the deliver job records its attempt around the call.
//!
//! **Webhook authentication.** UniPile documents no webhook signature. So the operator, when
//! creating the webhook in UniPile (`POST /api/v1/webhooks` or the dashboard), adds the
//! custom header `X-Switchboard-Secret` with the channel's `webhook_secret`
//! (`"headers": [{"key": "X-Switchboard-Secret", "value": "<webhook_secret>"}]`), and we
//! refuse every delivery without it ([`UniPile::verify_webhook`]). Setting the webhook's
//! `account_ids` to this account alone avoids receiving other accounts' events (which are
//! ignored anyway).

mod failure;
mod multipart;
mod webhook;

use domain::{MessageStatus, Provider};
use http::Method;
use outbound::{ApiRequest, ApiResponse, Failure};

use crate::address::e164;
use crate::json::{self, Fields};
use crate::secret::secret_matches;
use crate::{
    Channel, ChannelError, CredentialSpec, Credentials, OutboundMessage, Pacing, SendAccepted,
    WebhookEvent, WebhookRequest,
};
pub use failure::{
    CANT_SEND_MESSAGE, LIMIT_EXCEEDED, LIMIT_EXCEEDED_WAIT, RATE_LIMIT_WAIT, REQUEST_TIMEOUT,
    TOO_MANY_REQUESTS,
};
pub use multipart::Form;
pub use webhook::ATTACHMENT_REFERENCE;

/// The header that must carry the channel's `webhook_secret` on every webhook.
pub const SECRET_HEADER: &str = "x-switchboard-secret";

/// The prefix of the provider id we record for a send UniPile accepted without naming a
/// `message_id` (see [`UniPile::parse_send`]).
pub const UNNAMED_SEND_PREFIX: &str = "unipile-unnamed:";

/// The example DSN in UniPile's docs; see [`UniPile::default_api_base`].
const EXAMPLE_BASE: &str = "https://api1.unipile.com:13111";

const SPEC: CredentialSpec = CredentialSpec {
    required: &["dsn", "api_key", "account_id", "webhook_secret"],
    optional: &[],
};

/// The UniPile channel.
#[derive(Debug, Clone, Copy, Default)]
pub struct UniPile;

impl Channel for UniPile {
    fn provider(&self) -> Provider {
        Provider::Unipile
    }

    fn credential_spec(&self) -> CredentialSpec {
        SPEC
    }

    /// Beyond the keys: the `dsn` must make a base URL and the API key must fit in a header.
    fn validate_credentials(&self, credentials: &Credentials) -> Result<(), ChannelError> {
        SPEC.check(Provider::Unipile, credentials)?;
        dsn_base(credentials)?;
        api_key(credentials)?;
        Ok(())
    }

    /// UniPile has no single API host: each account has its own DSN, so [`Self::api_base`]
    /// always derives the base from the `dsn` credential (required) or the override. This
    /// is only what the trait asks of every provider: the example DSN of UniPile's docs,
    /// never used for a channel's calls.
    fn default_api_base(&self) -> &'static str {
        EXAMPLE_BASE
    }

    /// The `--api-base` override when the channel has one, else `https://{dsn}`.
    fn api_base(
        &self,
        credentials: &Credentials,
        api_base_override: Option<&str>,
    ) -> Result<String, ChannelError> {
        match api_base_override.map(str::trim).filter(|b| !b.is_empty()) {
            Some(base) => Ok(base.to_string()),
            None => dsn_base(credentials),
        }
    }

    /// One message a second per line. UniPile publishes no rate, but each line is a real
    /// phone's WhatsApp session: bursts are what gets an account restricted (UniPile's
    /// account-status docs list "excessive requests" among the causes), and one a second is
    /// already faster than a person types.
    fn pacing(&self) -> Pacing {
        Pacing::per_second(1)
    }

    /// Into the known chat, or a new chat with the contact. Media links without fetched
    /// files (`media_urls` set, `files` empty) are not sent: UniPile takes uploads only,
    /// and the deliver job fetches them first; if it has not, the text goes alone rather
    /// than not at all, and a message with neither text nor files is refused.
    fn build_send(
        &self,
        credentials: &Credentials,
        api_base: &str,
        message: &OutboundMessage,
    ) -> Result<ApiRequest, ChannelError> {
        let key = api_key(credentials)?;
        let has_text = !message.body.trim().is_empty();
        if !has_text && message.files.is_empty() {
            return Err(ChannelError::Unsendable {
                provider: Provider::Unipile,
                reason: if message.media_urls.is_empty() {
                    "no text and no media".into()
                } else {
                    "no text, and the media were not fetched for upload".into()
                },
            });
        }
        let thread = message
            .thread
            .as_deref()
            .map(str::trim)
            .filter(|t| !t.is_empty());
        let (path, mut form) = match thread {
            Some(chat_id) => (
                format!("/api/v1/chats/{}/messages", path_segment(chat_id)),
                Form::new(),
            ),
            None => {
                let account = credentials.require(Provider::Unipile, "account_id")?;
                let to = e164("to", &message.to)?;
                let attendee = format!("{}@s.whatsapp.net", to.trim_start_matches('+'));
                (
                    "/api/v1/chats".to_string(),
                    Form::new()
                        .text("account_id", account)
                        .text("attendees_ids", &attendee),
                )
            }
        };
        if has_text {
            form = form.text("text", &message.body);
        }
        for file in &message.files {
            form = form.file(
                "attachments",
                &file.file_name,
                &file.content_type,
                file.bytes.clone(),
            );
        }
        let (content_type, body) = form.finish();
        let url = crate::channel::endpoint(api_base, &path)?;
        let mut request = ApiRequest::new(Method::POST, url)
            .header("x-api-key", key)
            .header("accept", "application/json")
            .header("content-type", content_type);
        request.body = body.into();
        Ok(request)
    }

    /// 201 `{"object":"MessageSent","message_id":…}`; a new chat may answer
    /// `{"object":"ChatStarted","chat_id":…}` instead, or both ids (the reference's
    /// CONFLICT): `message_id` and `chat_id` are read wherever present, and the chat id
    /// becomes [`SendAccepted::thread`].
    ///
    /// `message_id` may be null (the provider named none): the message is sent all the
    /// same, so it is accepted, under [`UNNAMED_SEND_PREFIX`] plus the chat and the time.
    /// Such an id never matches a webhook, so that message gets no read receipt; its echo
    /// is still dropped by its sender. Refusing it would make the job retry and the
    /// contact receive it twice.
    /// `GET {base}/api/v1/accounts/{account_id}` with the API key: the connected account,
    /// which a key of another UniPile tenant cannot read (401 for a wrong key, 404 for an
    /// account the key does not own).
    fn build_verify(
        &self,
        credentials: &Credentials,
        api_base: &str,
    ) -> Result<ApiRequest, ChannelError> {
        let account = credentials.require(Provider::Unipile, "account_id")?;
        let url = crate::channel::endpoint(
            api_base,
            &format!("/api/v1/accounts/{}", path_segment(account)),
        )?;
        Ok(ApiRequest::new(Method::GET, url)
            .header("x-api-key", api_key(credentials)?)
            .header("accept", "application/json"))
    }

    fn parse_send(&self, response: &ApiResponse) -> Result<SendAccepted, Failure> {
        if !response.status.is_success() {
            return Err(failure::classify_failure(response));
        }
        let parsed = json::object(&response.body).map_err(|_| Failure::Permanent {
            detail: format!("accepted without JSON: {}", outbound::describe(response)),
        })?;
        let fields = Fields(&parsed);
        let chat_id = fields.text("chat_id").map(str::to_string);
        let provider_message_id = match fields.text("message_id") {
            Some(id) => id.to_string(),
            None => unnamed_send_id(chat_id.as_deref()),
        };
        Ok(SendAccepted {
            provider_message_id,
            status: MessageStatus::Sent,
            thread: chat_id,
        })
    }

    /// `X-Switchboard-Secret` must equal the channel's `webhook_secret` (constant time).
    fn verify_webhook(
        &self,
        credentials: &Credentials,
        request: &WebhookRequest,
    ) -> Result<(), ChannelError> {
        let secret = credentials.require(Provider::Unipile, "webhook_secret")?;
        let Some(presented) = request.header(SECRET_HEADER) else {
            return Err(ChannelError::MissingSignature {
                header: SECRET_HEADER,
            });
        };
        if secret_matches(presented, secret) {
            Ok(())
        } else {
            Err(ChannelError::WrongSignature {
                header: SECRET_HEADER,
            })
        }
    }

    fn parse_webhook(&self, request: &WebhookRequest) -> Result<Vec<WebhookEvent>, ChannelError> {
        let map = json::object(&request.body)?;
        Ok(vec![webhook::event(&map, None)?])
    }

    /// Verify, then parse knowing the channel's `account_id`, so another account's events
    /// (a webhook without `account_ids` covers them all) are ignored.
    fn receive_webhook(
        &self,
        credentials: &Credentials,
        request: &WebhookRequest,
    ) -> Result<Vec<WebhookEvent>, ChannelError> {
        self.verify_webhook(credentials, request)?;
        let map = json::object(&request.body)?;
        Ok(vec![webhook::event(&map, credentials.get("account_id"))?])
    }

    fn uploads_media(&self) -> bool {
        true
    }

    /// `unipile-attachment:<message_id>/<attachment_id>` →
    /// `GET {base}/api/v1/messages/{message_id}/attachments/{attachment_id}` with the API
    /// key. (That endpoint is in UniPile's API reference; providers.md does not list it.)
    fn media_request(
        &self,
        credentials: &Credentials,
        api_base: &str,
        reference: &str,
    ) -> Result<ApiRequest, ChannelError> {
        let invalid = |reason: &str| ChannelError::InvalidMediaUrl {
            value: reference.chars().take(200).collect(),
            reason: reason.to_string(),
        };
        let rest = reference
            .strip_prefix(ATTACHMENT_REFERENCE)
            .ok_or_else(|| invalid("not a UniPile attachment reference"))?;
        // Message ids are URL-safe; attachment ids are base64 and may hold a `/`.
        let (message_id, attachment_id) = rest
            .split_once('/')
            .filter(|(m, a)| !m.is_empty() && !a.is_empty())
            .ok_or_else(|| invalid("expected <message_id>/<attachment_id>"))?;
        let url = crate::channel::endpoint(
            api_base,
            &format!(
                "/api/v1/messages/{}/attachments/{}",
                path_segment(message_id),
                path_segment(attachment_id)
            ),
        )?;
        Ok(ApiRequest::new(Method::GET, url).header("x-api-key", api_key(credentials)?))
    }
}

/// `https://{dsn}` from the `dsn` credential: host and port as UniPile shows them, or a full
/// `https://host:port` (a trailing `/` or `/api/v1` is dropped, since paths add it).
fn dsn_base(credentials: &Credentials) -> Result<String, ChannelError> {
    let dsn = credentials.require(Provider::Unipile, "dsn")?.trim();
    let invalid = |reason| ChannelError::InvalidCredential {
        provider: Provider::Unipile,
        key: "dsn",
        reason,
    };
    let with_scheme = if dsn.contains("://") {
        dsn.to_string()
    } else {
        format!("https://{dsn}")
    };
    let url = url::Url::parse(&with_scheme)
        .map_err(|_| invalid("expected host:port, e.g. api1.unipile.com:13111"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none_or(str::is_empty) {
        return Err(invalid("expected host:port, e.g. api1.unipile.com:13111"));
    }
    let path = url.path().trim_end_matches('/');
    if !(path.is_empty() || path == "/api/v1")
        || url.query().is_some()
        || url.fragment().is_some()
        || !url.username().is_empty()
    {
        return Err(invalid("a DSN is a host and port, with no path or query"));
    }
    let port = url.port().map(|p| format!(":{p}")).unwrap_or_default();
    let host = url.host_str().unwrap_or_default();
    Ok(format!("{}://{host}{port}", url.scheme()))
}

/// The API key, which must be a valid header value.
fn api_key(credentials: &Credentials) -> Result<&str, ChannelError> {
    let key = credentials.require(Provider::Unipile, "api_key")?;
    http::HeaderValue::from_str(key).map_err(|_| ChannelError::InvalidCredential {
        provider: Provider::Unipile,
        key: "api_key",
        reason: "contains characters not allowed in an HTTP header",
    })?;
    Ok(key)
}

/// The id recorded for a send UniPile accepted without a `message_id`: unique (the time in
/// nanoseconds) and plainly not one of UniPile's.
fn unnamed_send_id(chat_id: Option<&str>) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!(
        "{UNNAMED_SEND_PREFIX}{}:{nanos}",
        chat_id.unwrap_or("new-chat")
    )
}

/// One path segment, percent-encoded except RFC 3986's unreserved characters, so an id
/// holding `/`, `?` or `#` cannot change the path.
fn path_segment(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
