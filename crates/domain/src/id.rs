//! Prefixed, sortable identifiers: `msg_01jd…`, `loc_01jd…`.
//!
//! The prefix says what the id names, so an id pasted into the wrong place is caught at
//! parse time and an id in a log line explains itself. The body is a ULID in lower case:
//! ids created later sort after earlier ones, which keeps indexes append-mostly and lets
//! lists page by id.

use std::fmt;
use std::str::FromStr;
use std::sync::Mutex;

use ulid::{Generator, Ulid};

/// One generator for the process, so ids made in the same millisecond still sort in the
/// order they were made (a message's timeline is ordered by id within a millisecond).
static GENERATOR: Mutex<Generator> = Mutex::new(Generator::new());

/// A ULID later than every one this process made before (in practice: the generator
/// only fails after 2^80 ids in one millisecond, and then falls back to a random one).
// `Ulid::default()` is the nil id, not a fresh one, whatever clippy assumes of `new`.
#[allow(clippy::unwrap_or_default)]
fn next_ulid() -> Ulid {
    GENERATOR
        .lock()
        .ok()
        .and_then(|mut g| g.generate().ok())
        .unwrap_or_else(Ulid::new)
}

/// An id string that is not of the expected kind.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{value:?} is not a valid {kind} id (expected {prefix}_ followed by 26 characters)")]
pub struct InvalidId {
    pub kind: &'static str,
    pub prefix: &'static str,
    pub value: String,
}

macro_rules! prefixed_id {
    ($(#[$doc:meta])* $name:ident, $prefix:literal, $kind:literal) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            pub const PREFIX: &'static str = $prefix;

            /// A new id, sorting after every id this process made before.
            pub fn new() -> Self {
                Self(format!("{}_{}", $prefix, next_ulid().to_string().to_ascii_lowercase()))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl FromStr for $name {
            type Err = InvalidId;
            fn from_str(value: &str) -> Result<Self, InvalidId> {
                let invalid = || InvalidId { kind: $kind, prefix: $prefix, value: value.to_string() };
                let body = value
                    .strip_prefix($prefix)
                    .and_then(|rest| rest.strip_prefix('_'))
                    .ok_or_else(invalid)?;
                let parsed = Ulid::from_string(body).map_err(|_| invalid())?;
                Ok(Self(format!("{}_{}", $prefix, parsed.to_string().to_ascii_lowercase())))
            }
        }

        impl TryFrom<String> for $name {
            type Error = InvalidId;
            fn try_from(value: String) -> Result<Self, InvalidId> {
                value.parse()
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

prefixed_id!(
    /// An agency: the GHL company that installed Switchboard, and the billing tenant.
    AgencyId, "agy", "agency");
prefixed_id!(
    /// A location: one GHL sub-account of an agency.
    LocationId, "loc", "location");
prefixed_id!(
    /// A dashboard user.
    UserId, "usr", "user");
prefixed_id!(
    /// A channel: one provider line (a phone number or account) connected to a location.
    ChannelId, "chn", "channel");
prefixed_id!(
    /// A contact of a location: the person on the other end.
    ContactId, "ctc", "contact");
prefixed_id!(
    /// A conversation between a location and a contact.
    ConversationId, "cnv", "conversation");
prefixed_id!(
    /// One message, inbound or outbound.
    MessageId, "msg", "message");
prefixed_id!(
    /// One entry in a message's timeline.
    MessageEventId, "mev", "message event");
prefixed_id!(
    /// A webhook we received and committed.
    WebhookReceiptId, "whr", "webhook receipt");
prefixed_id!(
    /// A change of a contact's consent (opt-out, opt-in).
    ConsentEventId, "cns", "consent event");
prefixed_id!(
    /// An entry in the audit log.
    AuditId, "aud", "audit entry");
prefixed_id!(
    /// One refresh token of a user's sign-in (a session); rotated on every use.
    RefreshTokenId, "rtk", "refresh token");
prefixed_id!(
    /// An API key for programmatic use (the key's secret is never stored).
    ApiKeyId, "key", "API key");
prefixed_id!(
    /// A conversation handed from the AI to a human.
    HandoffId, "hof", "handoff");
prefixed_id!(
    /// A source of a location's knowledge base: a website, a PDF or pasted text.
    KnowledgeSourceId, "kns", "knowledge source");
prefixed_id!(
    /// One passage of a knowledge source, as retrieval returns it.
    KnowledgeChunkId, "knc", "knowledge chunk");

/// A job in the durable queue: `job_` and the queue's sequence number.
///
/// Unlike the other ids this one is the database's own counter, because the queue uses it
/// as enqueue order (the ordering key runs jobs in id order) and claims scan it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct JobId(pub i64);

impl fmt::Display for JobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "job_{}", self.0)
    }
}

impl FromStr for JobId {
    type Err = InvalidId;
    fn from_str(value: &str) -> Result<Self, InvalidId> {
        value
            .strip_prefix("job_")
            .and_then(|n| n.parse::<i64>().ok())
            .filter(|n| *n > 0)
            .map(JobId)
            .ok_or_else(|| InvalidId {
                kind: "job",
                prefix: "job",
                value: value.to_string(),
            })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn ids_carry_their_prefix_and_round_trip() {
        let id = MessageId::new();
        assert!(id.as_str().starts_with("msg_"));
        assert_eq!(id.as_str().len(), 30);
        assert_eq!(id.as_str().parse::<MessageId>().unwrap(), id);
        let json = serde_json_like(&id);
        assert_eq!(json, id.as_str());
    }

    fn serde_json_like(id: &MessageId) -> String {
        String::from(id.clone())
    }

    #[test]
    fn ids_of_another_kind_or_garbage_are_rejected() {
        let loc = LocationId::new();
        let err = loc.as_str().parse::<MessageId>().unwrap_err();
        assert_eq!(err.kind, "message");
        assert!("msg_".parse::<MessageId>().is_err());
        assert!("msg_not-a-ulid-at-all-xxxxxxx"
            .parse::<MessageId>()
            .is_err());
        assert!("".parse::<MessageId>().is_err());
    }

    #[test]
    fn job_ids_are_prefixed_numbers() {
        assert_eq!(JobId(42).to_string(), "job_42");
        assert_eq!("job_42".parse::<JobId>().unwrap(), JobId(42));
        assert!("job_x".parse::<JobId>().is_err());
        assert!("42".parse::<JobId>().is_err());
        assert!("job_-1".parse::<JobId>().is_err());
    }

    #[test]
    fn later_ids_sort_after_earlier_ones_even_within_a_millisecond() {
        let ids: Vec<MessageEventId> = (0..1000).map(|_| MessageEventId::new()).collect();
        assert!(ids.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn parsing_normalises_case() {
        let id = ChannelId::new();
        let upper = format!("chn_{}", &id.as_str()[4..].to_ascii_uppercase());
        assert_eq!(upper.parse::<ChannelId>().unwrap(), id);
    }
}
