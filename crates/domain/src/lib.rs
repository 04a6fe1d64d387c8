//! The words of Switchboard's domain, with no I/O: ids, message direction, status and
//! actor, the channel providers, phone numbers, consent keywords and SMS segment counts. Everything here is plain data and rules, so every
//! other crate can share it and it can be tested without a database.
#![forbid(unsafe_code)]

pub mod consent;
pub mod handoff;
pub mod id;
pub mod live;
pub mod message;
pub mod phone;
pub mod quiet_hours;
pub mod sms;

pub use consent::Keyword;
pub use id::*;
pub use live::EventKind;
pub use message::*;
pub use phone::{InvalidPhone, PhoneNumber};
pub use sms::{sms_segments, SmsEncoding, SmsSegments};

/// A value read from storage or input that isn't one of the known words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind}: unknown value {value:?}")]
pub struct UnknownValue {
    pub kind: &'static str,
    pub value: String,
}
