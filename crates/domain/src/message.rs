//! Messages: which way they travel, who wrote them, and where they are on their way.

use std::fmt;
use std::str::FromStr;

use crate::UnknownValue;

macro_rules! word_enum {
    ($(#[$doc:meta])* $name:ident, $kind:literal { $($(#[$vdoc:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($(#[$vdoc])* $variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The word stored in the database and shown in the API.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl FromStr for $name {
            type Err = UnknownValue;
            fn from_str(value: &str) -> Result<Self, UnknownValue> {
                match value {
                    $($text => Ok($name::$variant),)+
                    _ => Err(UnknownValue { kind: $kind, value: value.to_string() }),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

word_enum!(
    /// Which way a message travels.
    Direction, "direction" {
        /// Contact → location (provider webhook → GHL).
        Inbound = "inbound",
        /// Location → contact (GHL or AI → provider).
        Outbound = "outbound",
    }
);

word_enum!(
    /// Who wrote a message. The AI only ever answers `contact` messages, never its own or
    /// an agent's.
    Actor, "actor" {
        Contact = "contact",
        /// A person working the conversation in GHL or the dashboard.
        Agent = "agent",
        Ai = "ai",
        /// Switchboard itself (opt-out confirmations, campaign sends).
        System = "system",
    }
);

word_enum!(
    /// The channel provider a line belongs to.
    Provider, "provider" {
        Sendblue = "sendblue",
        Twilio = "twilio",
        Whatsapp = "whatsapp",
        Unipile = "unipile",
    }
);

word_enum!(
    /// Where a message is on its way. Moves forward only; see [`MessageStatus::advance`].
    MessageStatus, "message status" {
        /// Stored and queued, not yet accepted by the provider.
        Pending = "pending",
        /// Accepted by the provider.
        Sent = "sent",
        Delivered = "delivered",
        Read = "read",
        Failed = "failed",
    }
);

impl MessageStatus {
    /// Position on the way to the contact. `failed` ranks with `delivered`: a failure
    /// report beats a late `sent`, but a message known delivered or read stays so.
    fn rank(self) -> u8 {
        match self {
            MessageStatus::Pending => 0,
            MessageStatus::Sent => 1,
            MessageStatus::Delivered | MessageStatus::Failed => 2,
            MessageStatus::Read => 3,
        }
    }

    /// The status after a report of `next`: providers send callbacks late, twice and out
    /// of order, so a report only ever moves a message forward. Returns `None` when the
    /// report changes nothing.
    pub fn advance(self, next: MessageStatus) -> Option<MessageStatus> {
        (next.rank() > self.rank()).then_some(next)
    }

    /// No further report can move the message.
    pub fn is_final(self) -> bool {
        matches!(self, MessageStatus::Read)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use MessageStatus::*;

    #[test]
    fn words_round_trip() {
        for s in MessageStatus::ALL {
            assert_eq!(s.as_str().parse::<MessageStatus>().unwrap(), *s);
        }
        for p in Provider::ALL {
            assert_eq!(p.as_str().parse::<Provider>().unwrap(), *p);
        }
        let err = "carrier-pigeon".parse::<Provider>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "provider: unknown value \"carrier-pigeon\""
        );
    }

    #[test]
    fn status_moves_forward_only() {
        assert_eq!(Pending.advance(Sent), Some(Sent));
        assert_eq!(Sent.advance(Delivered), Some(Delivered));
        assert_eq!(Delivered.advance(Read), Some(Read));
        // Late and duplicate callbacks change nothing.
        assert_eq!(Delivered.advance(Sent), None);
        assert_eq!(Read.advance(Delivered), None);
        assert_eq!(Sent.advance(Sent), None);
        // A failure after `sent` counts; after delivery it does not.
        assert_eq!(Sent.advance(Failed), Some(Failed));
        assert_eq!(Delivered.advance(Failed), None);
        assert_eq!(Failed.advance(Sent), None);
        assert!(Read.is_final());
    }
}
