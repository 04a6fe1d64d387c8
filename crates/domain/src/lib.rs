//! The words of Switchboard's domain, with no I/O: ids, message direction, status and
//! actor, and the channel providers. Everything here is plain data and rules, so every
//! other crate can share it and it can be tested without a database.
#![forbid(unsafe_code)]

pub mod id;
pub mod message;

pub use id::*;
pub use message::*;

/// A value read from storage or input that isn't one of the known words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind}: unknown value {value:?}")]
pub struct UnknownValue {
    pub kind: &'static str,
    pub value: String,
}
