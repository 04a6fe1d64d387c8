//! Consent keywords: STOP, START, HELP and their synonyms.
//!
//! The list is Twilio's default set (the industry reference carriers expect), with
//! SendBlue's built-in words added (`opt out`, `revoke`). As carriers do, only a message
//! whose whole body is the keyword counts ("STOP please" is a message, not an opt-out);
//! matching ignores case, surrounding whitespace and trailing punctuation ("Stop!",
//! " stop.").

/// What a keyword message asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keyword {
    /// Stop all messages.
    OptOut,
    /// Resume messages.
    OptIn,
    /// Who is this, how do I stop.
    Help,
}

const OPT_OUT: &[&str] = &[
    "stop",
    "stopall",
    "unsubscribe",
    "cancel",
    "end",
    "quit",
    "revoke",
    "optout",
    "opt out",
    "opt-out",
];
const OPT_IN: &[&str] = &["start", "yes", "unstop"];
const HELP: &[&str] = &["help", "info"];

impl Keyword {
    /// The keyword a whole message body is, if it is one.
    pub fn of_message(body: &str) -> Option<Keyword> {
        let word = body
            .trim()
            .trim_end_matches(['.', '!', '?'])
            .trim()
            .to_lowercase();
        let word = word.split_whitespace().collect::<Vec<_>>().join(" ");
        if OPT_OUT.contains(&word.as_str()) {
            Some(Keyword::OptOut)
        } else if OPT_IN.contains(&word.as_str()) {
            Some(Keyword::OptIn)
        } else if HELP.contains(&word.as_str()) {
            Some(Keyword::Help)
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Keyword::{self, *};

    #[test]
    fn whole_message_keywords_match_loosely() {
        for (body, expected) in [
            ("STOP", Some(OptOut)),
            ("  stop  ", Some(OptOut)),
            ("Stop!", Some(OptOut)),
            ("StopAll", Some(OptOut)),
            ("unsubscribe.", Some(OptOut)),
            ("opt   out", Some(OptOut)),
            ("OPTOUT", Some(OptOut)),
            ("revoke", Some(OptOut)),
            ("quit", Some(OptOut)),
            ("START", Some(OptIn)),
            ("yes", Some(OptIn)),
            ("Unstop", Some(OptIn)),
            ("help", Some(Help)),
            ("INFO?", Some(Help)),
        ] {
            assert_eq!(Keyword::of_message(body), expected, "{body:?}");
        }
    }

    #[test]
    fn keywords_inside_sentences_do_not_count() {
        for body in [
            "STOP please",
            "don't stop",
            "yes please",
            "",
            "   ",
            "stopp",
            "help me",
        ] {
            assert_eq!(Keyword::of_message(body), None, "{body:?}");
        }
    }
}
