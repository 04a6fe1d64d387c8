//! Messaging channels: one module per provider behind the [`Channel`] trait.
//!
//! A channel turns our words (send this message to this contact from this line) into a
//! provider's request, and a provider's answers and webhooks back into our words
//! ([`SendAccepted`], [`WebhookEvent`]). It does no I/O: the shared `outbound` executor
//! runs the requests and the server hands in the webhooks it received, so every provider
//! is tested against its published payloads alone.
//!
//! Adding a provider is its module plus one line in [`for_provider`].
#![forbid(unsafe_code)]

mod address;
mod channel;
mod credentials;
mod error;
mod event;
mod json;
mod secret;
pub mod sendblue;
pub mod twilio;
pub mod unipile;
mod verify;
pub mod whatsapp;

pub use address::{contact_handle, e164};
pub use channel::{media_get, Channel, Pacing, WebhookReply, WebhookRequest};
pub use credentials::{CredentialSpec, Credentials};
pub use error::ChannelError;
pub use event::{
    InboundMessage, MediaFile, OutboundMessage, SendAccepted, StatusReport, Template, WebhookEvent,
};
pub use secret::secret_matches;
pub use sendblue::SendBlue;
pub use twilio::Twilio;
pub use unipile::UniPile;
pub use verify::{read_verify_response, VerifyFailure};
pub use whatsapp::WhatsApp;

use domain::Provider;

/// The channel implementation for a provider; `None` for providers not built yet.
pub fn for_provider(provider: Provider) -> Option<&'static dyn Channel> {
    match provider {
        Provider::Sendblue => Some(&SendBlue),
        Provider::Twilio => Some(&Twilio),
        Provider::Whatsapp => Some(&WhatsApp),
        Provider::Unipile => Some(&UniPile),
    }
}

#[cfg(test)]
mod tests;
