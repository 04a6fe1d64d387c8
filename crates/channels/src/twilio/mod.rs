//! Twilio Programmable Messaging: SMS and MMS from a long code, toll-free number or
//! Messaging Service.
//!
//! Sends are `POST {api_base}/2010-04-01/Accounts/{AccountSid}/Messages.json`, form-encoded,
//! with HTTP Basic `AccountSid:AuthToken`. Every message names the channel's own webhook URL
//! as its `StatusCallback`, so inbound messages and status callbacks arrive on one URL,
//! both form-encoded and signed with `X-Twilio-Signature` over that URL (built on
//! `SWITCHBOARD_PUBLIC_URL`) and the form fields; see [`signature`].
//!
//! Twilio takes no idempotency key on message create: as with SendBlue, the `deliver` job
//! records its attempt around the call. Twilio's webhooks carry no timestamp, so replay
//! protection is the dedupe keys (`MessageSid`, and `MessageSid` + status).
//!
//! Status callbacks come once per status change of a message, and may come twice or out
//! of order. A message split into several SMS segments still has one `MessageSid` and one
//! status; whatever Twilio repeats (per segment, or on retry) merges on the dedupe key
//! `status:<MessageSid>:<our status>`, and `queued`/`sending`/`sent` all read as our
//! `sent`, so they merge too. A late `sent` never moves a delivered message back
//! ([`domain::MessageStatus::advance`]).

mod failure;
pub mod signature;
mod webhook;

use base64::Engine as _;
use domain::{MessageStatus, Provider};
use http::Method;
use outbound::{ApiRequest, ApiResponse, Failure};

use crate::address::e164;
use crate::json::{self, Fields};
use crate::{
    Channel, ChannelError, CredentialSpec, Credentials, OutboundMessage, Pacing, SendAccepted,
    WebhookEvent, WebhookReply, WebhookRequest,
};
pub use failure::{OPTED_OUT, RATE_LIMIT_WAIT, TOO_MANY_REQUESTS};
use signature::SIGNATURE_HEADER;
pub use webhook::delivery_status;
use webhook::Form;

/// An empty TwiML document: "received, no reply". Twilio sends its own STOP/HELP replies.
pub const EMPTY_TWIML: &str = r#"<?xml version="1.0" encoding="UTF-8"?><Response></Response>"#;

/// Most media one message may carry.
const MAX_MEDIA: usize = 10;

/// The header of Twilio's newer signing scheme (HMAC-SHA256 with a SharedKey).
const SIGNATURE_SETTINGS_HEADER: &str = "x-twilio-webhooks-signature-settings";

const SPEC: CredentialSpec = CredentialSpec {
    required: &["account_sid", "auth_token"],
    optional: &["messaging_service_sid"],
};

/// The Twilio channel.
#[derive(Debug, Clone, Copy, Default)]
pub struct Twilio;

impl Channel for Twilio {
    fn provider(&self) -> Provider {
        Provider::Twilio
    }

    fn credential_spec(&self) -> CredentialSpec {
        SPEC
    }

    /// Beyond the keys: the SIDs go into a URL path and a form, so they must look like
    /// SIDs (`AC…` and `MG…`, 34 characters).
    fn validate_credentials(&self, credentials: &Credentials) -> Result<(), ChannelError> {
        SPEC.check(Provider::Twilio, credentials)?;
        account_sid(credentials)?;
        if let Some(sid) = credentials.get("messaging_service_sid") {
            check_sid(sid, "MG", "messaging_service_sid")?;
        }
        Ok(())
    }

    fn default_api_base(&self) -> &'static str {
        "https://api.twilio.com"
    }

    /// About one message per second per long code (Twilio's messaging skill; toll-free
    /// numbers take about 3/s and short codes more, but a line is paced for the slowest
    /// kind: Twilio queues what exceeds a sender's rate, which only delays, while the
    /// pacing key keeps one line's backlog from starving the others).
    fn pacing(&self) -> Pacing {
        Pacing::per_second(1)
    }

    /// `From` is the line, or `MessagingServiceSid` when the channel has one (Twilio then
    /// picks the sender from the service's pool, sticky per contact). One `MediaUrl` per
    /// attachment, up to Twilio's ten.
    fn build_send(
        &self,
        credentials: &Credentials,
        api_base: &str,
        message: &OutboundMessage,
    ) -> Result<ApiRequest, ChannelError> {
        let sid = account_sid(credentials)?;
        let token = credentials.require(Provider::Twilio, "auth_token")?;
        let url = crate::channel::endpoint(
            api_base,
            &format!("/2010-04-01/Accounts/{sid}/Messages.json"),
        )?;
        let media: Vec<&str> = message
            .media_urls
            .iter()
            .map(|u| u.trim())
            .filter(|u| !u.is_empty())
            .collect();
        if message.body.trim().is_empty() && media.is_empty() {
            return Err(unsendable("no text and no media"));
        }
        if media.len() > MAX_MEDIA {
            return Err(unsendable(&format!(
                "{} media files; Twilio takes at most {MAX_MEDIA}",
                media.len()
            )));
        }
        let mut form = url::form_urlencoded::Serializer::new(String::new());
        form.append_pair("To", &e164("to", &message.to)?);
        match credentials.get("messaging_service_sid") {
            Some(service) => {
                check_sid(service, "MG", "messaging_service_sid")?;
                form.append_pair("MessagingServiceSid", service);
            }
            None => {
                form.append_pair("From", &e164("from_line", &message.from_line)?);
            }
        }
        if !message.body.trim().is_empty() {
            form.append_pair("Body", &message.body);
        }
        for link in media {
            form.append_pair("MediaUrl", link);
        }
        if !message.status_callback.trim().is_empty() {
            form.append_pair("StatusCallback", message.status_callback.trim());
        }
        let basic = base64::engine::general_purpose::STANDARD.encode(format!("{sid}:{token}"));
        Ok(ApiRequest::new(Method::POST, url)
            .header("authorization", format!("Basic {basic}"))
            .header("accept", "application/json")
            .form(form.finish()))
    }

    /// `GET /2010-04-01/Accounts/{account_sid}.json` with HTTP Basic `sid:token`: the
    /// account resource, readable only with that account's own credentials.
    fn build_verify(
        &self,
        credentials: &Credentials,
        api_base: &str,
    ) -> Result<ApiRequest, ChannelError> {
        let sid = account_sid(credentials)?;
        let token = credentials.require(Provider::Twilio, "auth_token")?;
        if let Some(service) = credentials.get("messaging_service_sid") {
            check_sid(service, "MG", "messaging_service_sid")?;
        }
        let url = crate::channel::endpoint(api_base, &format!("/2010-04-01/Accounts/{sid}.json"))?;
        let basic = base64::engine::general_purpose::STANDARD.encode(format!("{sid}:{token}"));
        Ok(ApiRequest::new(Method::GET, url)
            .header("authorization", format!("Basic {basic}"))
            .header("accept", "application/json"))
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
        let fields = Fields(&parsed);
        let Some(sid) = fields.text("sid") else {
            return Err(unreadable("without a sid"));
        };
        let status = fields.text("status").and_then(delivery_status);
        if status == Some(MessageStatus::Failed) {
            let detail = failure::error_summary_of_message(fields)
                .unwrap_or_else(|| outbound::describe(response));
            return Err(if fields.int("error_code") == Some(OPTED_OUT) {
                Failure::OptedOut { detail }
            } else {
                Failure::Permanent { detail }
            });
        }
        Ok(SendAccepted {
            provider_message_id: sid.to_string(),
            // Anything accepted is at least `sent`, whatever new word Twilio uses.
            status: status.unwrap_or(MessageStatus::Sent),
            thread: None,
        })
    }

    /// Checks `X-Twilio-Signature` with the channel's auth token over
    /// [`WebhookRequest::url`] (our public URL, never the Host header) and the form fields,
    /// or over the URL and the body's hash for JSON bodies.
    fn verify_webhook(
        &self,
        credentials: &Credentials,
        request: &WebhookRequest,
    ) -> Result<(), ChannelError> {
        let token = credentials.require(Provider::Twilio, "auth_token")?;
        let Some(presented) = request.header(SIGNATURE_HEADER) else {
            return Err(ChannelError::MissingSignature {
                header: SIGNATURE_HEADER,
            });
        };
        let wrong = ChannelError::WrongSignature {
            header: SIGNATURE_HEADER,
        };
        if let Some(settings) = request.header(SIGNATURE_SETTINGS_HEADER) {
            let sha1 = settings
                .split(',')
                .filter_map(|part| part.trim().split_once('='))
                .find(|(k, _)| k.trim().eq_ignore_ascii_case("algorithm"))
                .is_none_or(|(_, v)| v.trim().eq_ignore_ascii_case("HMAC_SHA1"));
            if !sha1 {
                return Err(wrong);
            }
        }
        let params = if is_form(request) {
            Form::parse(&request.body).0
        } else {
            Vec::new()
        };
        if signature::is_valid(token, &request.url, &params, &request.body, presented) {
            Ok(())
        } else {
            Err(wrong)
        }
    }

    fn parse_webhook(&self, request: &WebhookRequest) -> Result<Vec<WebhookEvent>, ChannelError> {
        if !is_form(request) {
            return Ok(vec![WebhookEvent::ignored(
                "not a form-encoded messaging webhook",
            )]);
        }
        Ok(vec![webhook::event(&Form::parse(&request.body))?])
    }

    /// Twilio's media URLs (`…/Accounts/{sid}/Messages/{sid}/Media/{sid}`) need HTTP Basic
    /// auth when the account has media auth on. The credentials go only to Twilio's own API
    /// (the channel's API base): a URL anywhere else is fetched plainly, so a link never
    /// carries our token to another host.
    fn media_request(
        &self,
        credentials: &Credentials,
        api_base: &str,
        reference: &str,
    ) -> Result<ApiRequest, ChannelError> {
        let request = crate::channel::media_get(reference)?;
        let base = format!("{}/", api_base.trim().trim_end_matches('/'));
        if !reference.starts_with(&base) {
            return Ok(request);
        }
        let sid = account_sid(credentials)?;
        let token = credentials.require(Provider::Twilio, "auth_token")?;
        let basic = base64::engine::general_purpose::STANDARD.encode(format!("{sid}:{token}"));
        Ok(request.header("authorization", format!("Basic {basic}")))
    }

    /// Twilio answers STOP/HELP (and START) itself on long codes and toll-free numbers,
    /// and with Advanced Opt-Out those replies can be edited but not removed. (A standalone
    /// short code outside a Messaging Service gets no such handling; such a channel would
    /// need this turned off.)
    fn replies_to_keywords(&self) -> bool {
        true
    }

    /// Empty TwiML: Twilio reads the answer to an inbound message as instructions, and
    /// an empty `<Response>` means "no reply" (our replies go out through the API).
    fn acknowledgement(&self) -> WebhookReply {
        WebhookReply {
            status: http::StatusCode::OK,
            content_type: "text/xml",
            body: EMPTY_TWIML.to_string(),
        }
    }
}

/// Form-encoded, or no content type at all (Twilio always sets one; a body without it is
/// read as a form, which is what every messaging webhook is).
fn is_form(request: &WebhookRequest) -> bool {
    match request.header("content-type") {
        None => true,
        Some(ct) => ct
            .trim()
            .to_ascii_lowercase()
            .starts_with("application/x-www-form-urlencoded"),
    }
}

fn account_sid(credentials: &Credentials) -> Result<&str, ChannelError> {
    let sid = credentials.require(Provider::Twilio, "account_sid")?;
    check_sid(sid, "AC", "account_sid")?;
    Ok(sid)
}

/// A Twilio SID: a two-letter prefix and 32 hex digits.
fn check_sid(sid: &str, prefix: &str, key: &'static str) -> Result<(), ChannelError> {
    let ok = sid.len() == 34
        && sid.starts_with(prefix)
        && sid[2..].bytes().all(|b| b.is_ascii_hexdigit());
    if ok {
        Ok(())
    } else {
        Err(ChannelError::InvalidCredential {
            provider: Provider::Twilio,
            key,
            reason: if prefix == "AC" {
                "an Account SID is AC followed by 32 hex digits"
            } else {
                "a Messaging Service SID is MG followed by 32 hex digits"
            },
        })
    }
}

fn unsendable(reason: &str) -> ChannelError {
    ChannelError::Unsendable {
        provider: Provider::Twilio,
        reason: reason.to_string(),
    }
}
