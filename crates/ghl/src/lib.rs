//! GoHighLevel (GHL), as Switchboard sees it: a Marketplace app and an SMS-type
//! conversation provider.
//!
//! Everything here is *sans-IO*. [`webhook`] checks the signatures GHL puts on the raw
//! bytes it posts to us; [`payload`] reads those bodies; [`api`] builds the
//! [`outbound::ApiRequest`]s we send to GHL and reads the [`outbound::ApiResponse`]s. The
//! caller (the server's executor) owns the network, timeouts, breakers, rate budgets and
//! the single-flight token refresh, so this crate is tested without a server.
//!
//! The facts encoded here come from the project's GHL reference; where GHL's behaviour is
//! unconfirmed, the code accepts both readings and says so next to the code.
#![forbid(unsafe_code)]

pub mod api;
mod error;
pub mod payload;
mod timestamp;
pub mod user_context;
pub mod webhook;

pub use api::{
    classify, AddedMessage, Api, ApiVersion, Appointment, AppointmentStatus, Calendar, Contact,
    ContactKey, ContactUpdate, ContactUpsert, CustomFieldValue, DndChannel, FreeSlot,
    FreeSlotsQuery, GhlMessageStatus, InboundMessage, NewAppointment, NewTask, ProviderError,
    RateLimit, Task, TokenGrant, UpsertedContact, UserType, DEFAULT_API_BASE,
};
pub use error::{Error, KeyKind};
pub use payload::{
    DndSetting, DndSettings, DndStatus, MarketplaceEvent, OutboundSender, ProviderOutboundMessage,
};
pub use timestamp::{format_rfc3339, parse_rfc3339};
pub use webhook::{
    check_freshness, SignatureScheme, WebhookKeys, GHL_ED25519_PUBLIC_KEY,
    GHL_LEGACY_RSA_PUBLIC_KEY,
};

#[cfg(test)]
mod tests;
