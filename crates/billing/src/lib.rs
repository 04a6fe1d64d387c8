//! Stripe billing, sans I/O: what the gateway needs from Stripe to bill agencies.
//!
//! - [`verify_signature`]: a webhook's `Stripe-Signature` checked on the raw bytes, exactly as
//!   Stripe's SDK does (any `v1` may match during secret rotation; only a too-old timestamp
//!   is refused).
//! - [`parse_event`]: the subscription-relevant events read into a [`BillingChange`],
//!   leniently across API versions, because the payload is rendered in the webhook
//!   endpoint's API version, not ours.
//! - [`meter_event_request`] / [`parse_meter_event`]: usage reported as a Billing Meter
//!   event, built as an [`outbound::ApiRequest`] and read from an [`outbound::ApiResponse`];
//!   the shared outbound layer does the sending, like every other external call.
//!
//! Nothing here does network, file or database access.
#![forbid(unsafe_code)]

mod event;
mod meter;
mod signature;

pub use event::{parse_event, BillingChange, EventError, StripeEvent};
pub use meter::{classify, meter_event_request, parse_meter_event, MeterEvent};
pub use signature::{signature_header, verify_signature, SignatureError};

/// Stripe's default tolerance.
pub const TOLERANCE_SECS: i64 = 300;
