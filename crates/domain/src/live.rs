//! The kinds of real-time event a dashboard hears on `/ws` (the `events` table).
//!
//! An event names what changed (ids and states), never its content: the dashboard fetches
//! what it shows. New kinds (`handoff.*`) are added here; readers keep a stored kind as
//! text, so an older process relays a kind it doesn't know yet.

use std::fmt;
use std::str::FromStr;

use crate::UnknownValue;

/// What an event reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum EventKind {
    /// A message was stored: inbound from a contact, or outbound accepted from GHL or the
    /// API. `data`: direction, actor, status.
    MessageCreated,
    /// A message's status moved. `data`: the new status (and the one before).
    MessageStatus,
    /// A conversation changed in a way its list row shows.
    ConversationUpdated,
    /// A handoff was opened, taken or resolved. `data`: the handoff's id and state.
    HandoffChanged,
}

impl EventKind {
    pub const ALL: &'static [EventKind] = &[
        EventKind::MessageCreated,
        EventKind::MessageStatus,
        EventKind::ConversationUpdated,
        EventKind::HandoffChanged,
    ];

    /// The word stored in the `events` table and sent in frames.
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::MessageCreated => "message.created",
            EventKind::MessageStatus => "message.status",
            EventKind::ConversationUpdated => "conversation.updated",
            EventKind::HandoffChanged => "handoff.changed",
        }
    }
}

impl FromStr for EventKind {
    type Err = UnknownValue;
    fn from_str(value: &str) -> Result<Self, UnknownValue> {
        EventKind::ALL
            .iter()
            .copied()
            .find(|k| k.as_str() == value)
            .ok_or_else(|| UnknownValue {
                kind: "event kind",
                value: value.to_string(),
            })
    }
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_reads_back_from_its_word_and_nothing_else_does() {
        for kind in EventKind::ALL {
            assert_eq!(kind.as_str().parse::<EventKind>(), Ok(*kind));
        }
        assert!("message".parse::<EventKind>().is_err());
        assert!("Message.Created".parse::<EventKind>().is_err());
    }
}
