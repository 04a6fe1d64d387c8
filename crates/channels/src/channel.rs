//! The one trait every provider implements, and the plain data it speaks.
//!
//! A channel is sans-IO: it builds an [`ApiRequest`] and reads an [`ApiResponse`] (the
//! shared `outbound` executor runs the call with its timeouts, breakers and budgets), and
//! it reads webhook requests the server has already received. So each provider is tested
//! against its published payloads without a network, and the worker, the server and the
//! sandbox treat every provider alike.
//!
//! How the providers still to come fit without changing the trait:
//! - Twilio: form bodies are just another `ApiRequest` body; its HMAC-SHA1 signature covers
//!   [`WebhookRequest::url`] (query string included) and the form fields, both here; its
//!   webhook wants TwiML back, which is [`Channel::acknowledgement`].
//! - WhatsApp Cloud: `X-Hub-Signature-256` over [`WebhookRequest::body`]; the GET
//!   verification is [`Channel::handshake`]; batched events are why webhooks parse to a
//!   `Vec`. The 24-hour window and templates arrive as a new defaulted method plus an
//!   [`OutboundMessage`] field (which has `Default` for that reason).
//! - UniPile: multipart bodies are built by the module; the `X-Switchboard-Secret` header is
//!   checked like SendBlue's with [`crate::secret_matches`]; echoes of our own messages are
//!   [`WebhookEvent::Ignored`].

use std::fmt;

use bytes::Bytes;
use domain::Provider;
use http::{HeaderMap, Method, StatusCode};
use outbound::{ApiRequest, ApiResponse, Failure, Rate};

use crate::{
    ChannelError, CredentialSpec, Credentials, OutboundMessage, SendAccepted, WebhookEvent,
};

/// One messaging provider. Implementations are stateless unit structs registered in
/// [`crate::for_provider`]; everything per channel (credentials, API base) is passed in.
pub trait Channel: Send + Sync + fmt::Debug {
    fn provider(&self) -> Provider;

    /// The credential keys this provider takes.
    fn credential_spec(&self) -> CredentialSpec;

    /// Checks credentials at `channel add` time, so a typo fails there and not at the
    /// first send.
    fn validate_credentials(&self, credentials: &Credentials) -> Result<(), ChannelError> {
        self.credential_spec().check(self.provider(), credentials)
    }

    /// The production API base, used unless the channel carries an `api_base` override
    /// (sandbox, regional endpoints).
    fn default_api_base(&self) -> &'static str;

    /// The API base for a channel: its `api_base` override when it has one (sandbox,
    /// regional endpoints), else what the credentials name (UniPile's per-account `dsn`),
    /// else [`Self::default_api_base`]. Every request the channel builds starts here.
    fn api_base(
        &self,
        _credentials: &Credentials,
        api_base_override: Option<&str>,
    ) -> Result<String, ChannelError> {
        Ok(api_base_override
            .unwrap_or(self.default_api_base())
            .to_string())
    }

    /// How fast one line may send.
    fn pacing(&self) -> Pacing;

    /// The request that sends `message`. An error here means the message can never be
    /// sent as it is (it converts into a permanent [`Failure`]).
    fn build_send(
        &self,
        credentials: &Credentials,
        api_base: &str,
        message: &OutboundMessage,
    ) -> Result<ApiRequest, ChannelError>;

    /// Reads the provider's answer to a send: accepted with its id, or a failure
    /// classified by what the job should do next (retry, wait, give up, record an
    /// opt-out).
    fn parse_send(&self, response: &ApiResponse) -> Result<SendAccepted, Failure>;

    /// The request that checks `credentials` with the provider: one cheap, read-only,
    /// authenticated call, made before credentials are stored (channel creation and
    /// rotation), so a typo is refused up front instead of failing the first send.
    fn build_verify(
        &self,
        credentials: &Credentials,
        api_base: &str,
    ) -> Result<ApiRequest, ChannelError>;

    /// Reads the answer to [`Self::build_verify`]. The shared reading (2xx accepted, other
    /// 4xx refused, 408/429/5xx unavailable) fits every provider so far.
    fn parse_verify(&self, response: &ApiResponse) -> Result<(), crate::VerifyFailure> {
        crate::verify::read_verify_response(response)
    }

    /// Authenticates a webhook on the raw request, before anything is parsed or stored.
    fn verify_webhook(
        &self,
        credentials: &Credentials,
        request: &WebhookRequest,
    ) -> Result<(), ChannelError>;

    /// Reads an authenticated webhook into events (inbound messages, status reports,
    /// ignored noise). One delivery may carry several.
    fn parse_webhook(&self, request: &WebhookRequest) -> Result<Vec<WebhookEvent>, ChannelError>;

    /// Verify, then parse: the order that must never be swapped.
    fn receive_webhook(
        &self,
        credentials: &Credentials,
        request: &WebhookRequest,
    ) -> Result<Vec<WebhookEvent>, ChannelError> {
        self.verify_webhook(credentials, request)?;
        self.parse_webhook(request)
    }

    /// A subscription handshake the provider performs on the webhook URL (WhatsApp's GET
    /// with `hub.challenge`). `None`: this provider has none, and the request is not one
    /// (the server answers 405 to a GET).
    fn handshake(
        &self,
        _credentials: &Credentials,
        _request: &WebhookRequest,
    ) -> Option<Result<WebhookReply, ChannelError>> {
        None
    }

    /// The provider itself answers STOP and HELP with its standard reply (Twilio on long
    /// codes and toll-free numbers), so we send no confirmation or help text of our own: it
    /// would reach the contact twice, and after a STOP the provider refuses it anyway.
    fn replies_to_keywords(&self) -> bool {
        false
    }

    /// Free-form messages are allowed only this long after the contact last wrote
    /// (WhatsApp's 24-hour customer-service window, counted from the provider's timestamp of
    /// the contact's last message). Outside it the deliver job sends the channel's
    /// `fallback_template` instead, or fails the message with the reason and calls nothing.
    /// `None`: no window.
    fn service_window(&self) -> Option<std::time::Duration> {
        None
    }

    /// The provider takes attachments as uploaded files, not links (UniPile's multipart):
    /// the deliver job fetches them into [`OutboundMessage::files`].
    fn uploads_media(&self) -> bool {
        false
    }

    /// The request that downloads an inbound attachment named by `reference` (an entry of
    /// [`crate::InboundMessage::media_urls`], or a location from [`Self::media_location`]).
    /// Default: a plain GET of the reference as an absolute URL.
    fn media_request(
        &self,
        _credentials: &Credentials,
        _api_base: &str,
        reference: &str,
    ) -> Result<ApiRequest, ChannelError> {
        media_get(reference)
    }

    /// A download answered with where the bytes really are (WhatsApp's media lookup answers
    /// JSON with a `url`): that location is fetched next, once, through
    /// [`Self::media_request`]. `None`: the response is the media itself.
    fn media_location(&self, _response: &ApiResponse) -> Option<String> {
        None
    }

    /// What a successfully received webhook is answered with, once it is committed.
    fn acknowledgement(&self) -> WebhookReply {
        WebhookReply::empty()
    }
}

/// A send rate for one line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pacing {
    /// At most `max` sends per `interval` from one line (the pacing key of `deliver`).
    pub per_line: Rate,
}

impl Pacing {
    /// At most `n` sends a second from one line.
    pub const fn per_second(n: u32) -> Self {
        Self {
            per_line: Rate {
                max: n,
                interval: std::time::Duration::from_secs(1),
            },
        }
    }
}

/// A webhook request as the provider sent it.
#[derive(Debug, Clone)]
pub struct WebhookRequest {
    pub method: Method,
    /// The full URL the provider requested, **query string included**, built on
    /// `SWITCHBOARD_PUBLIC_URL` (never on the Host header): some signatures cover it, and
    /// SendBlue status callbacks carry their token in it.
    pub url: String,
    pub headers: HeaderMap,
    /// The raw body: signatures cover these exact bytes, never re-serialised JSON.
    pub body: Bytes,
}

impl WebhookRequest {
    /// A header's value, if present and valid text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// A query parameter of [`Self::url`], percent-decoded.
    pub fn query_param(&self, name: &str) -> Option<String> {
        let url = url::Url::parse(&self.url).ok()?;
        let found = url
            .query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned());
        found
    }
}

/// The answer to a webhook request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookReply {
    pub status: StatusCode,
    pub content_type: &'static str,
    pub body: String,
}

impl WebhookReply {
    /// 200 with no body: what most providers expect.
    pub fn empty() -> Self {
        Self {
            status: StatusCode::OK,
            content_type: "text/plain; charset=utf-8",
            body: String::new(),
        }
    }
}

/// A GET of an absolute http(s) URL, refusing anything else (a webhook must not make us
/// read `file://` or another scheme).
pub fn media_get(url: &str) -> Result<ApiRequest, ChannelError> {
    let parsed = url::Url::parse(url).map_err(|e| ChannelError::InvalidMediaUrl {
        value: url.chars().take(200).collect(),
        reason: e.to_string(),
    })?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(ChannelError::InvalidMediaUrl {
            value: url.chars().take(200).collect(),
            reason: "scheme must be http or https".into(),
        });
    }
    Ok(ApiRequest::new(Method::GET, url))
}

/// `api_base` + `path`, after checking the base is an absolute http(s) URL. A trailing
/// slash on the base is allowed (`http://host/sendblue/`), a query or fragment is not.
pub(crate) fn endpoint(api_base: &str, path: &str) -> Result<String, ChannelError> {
    let invalid = |reason: &str| ChannelError::InvalidApiBase {
        value: api_base.chars().take(200).collect(),
        reason: reason.to_string(),
    };
    let parsed = url::Url::parse(api_base).map_err(|e| invalid(&e.to_string()))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(invalid("scheme must be http or https"));
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(invalid("must not carry a query or fragment"));
    }
    Ok(format!("{}{path}", api_base.trim().trim_end_matches('/')))
}
