//! When a contact asks for a human: phrases that open a handoff (flow 4).
//!
//! Unlike STOP, a request for a person sits inside a sentence ("Can I talk to a person
//! please?"), so a phrase matches anywhere in the message, but only as whole words: "human"
//! matches "a human please" and not "humanities". Matching ignores case, punctuation and
//! runs of spaces. Each location may replace the defaults with its own list (the
//! dashboard's AI settings); an empty list turns keyword handoffs off.

/// The phrases used when a location has set none.
pub const DEFAULT_PHRASES: &[&str] = &[
    "human",
    "agent",
    "real person",
    "live person",
    "speak to a person",
    "talk to a person",
    "speak to someone",
    "talk to someone",
    "representative",
    "customer service",
];

/// The longest phrase a location may set, and how many.
pub const MAX_PHRASE_CHARS: usize = 60;
pub const MAX_PHRASES: usize = 50;

/// Lowercase words separated by single spaces, everything else dropped.
fn words(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_alphanumeric() {
                c.to_lowercase().next().unwrap_or(c)
            } else {
                ' '
            }
        })
        .collect::<String>()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// The first phrase of `phrases` the message asks with, if any.
pub fn asks_for_human<'p>(body: &str, phrases: &'p [String]) -> Option<&'p str> {
    let message = format!(" {} ", words(body));
    phrases.iter().map(String::as_str).find(|phrase| {
        let phrase = words(phrase);
        !phrase.is_empty() && message.contains(&format!(" {phrase} "))
    })
}

/// The default phrases, owned.
pub fn default_phrases() -> Vec<String> {
    DEFAULT_PHRASES.iter().map(|p| (*p).to_string()).collect()
}

/// A location's phrases from its settings text (one per line), checked: trimmed, blank
/// lines dropped, each at most [`MAX_PHRASE_CHARS`], at most [`MAX_PHRASES`], each with at
/// least one letter or digit.
pub fn parse_phrases(text: &str) -> Result<Vec<String>, String> {
    let phrases: Vec<String> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect();
    if phrases.len() > MAX_PHRASES {
        return Err(format!("at most {MAX_PHRASES} phrases"));
    }
    for phrase in &phrases {
        if phrase.chars().count() > MAX_PHRASE_CHARS {
            return Err(format!(
                "{phrase:?} is longer than {MAX_PHRASE_CHARS} characters"
            ));
        }
        if words(phrase).is_empty() {
            return Err(format!("{phrase:?} has no letters or digits"));
        }
    }
    Ok(phrases)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_request_for_a_person_is_found_inside_a_sentence_as_whole_words() {
        let defaults = default_phrases();
        for (body, expected) in [
            ("Can I talk to a person?", Some("talk to a person")),
            ("HUMAN PLEASE!!", Some("human")),
            ("i want a   real\nperson", Some("real person")),
            ("Is there an agent I can speak with", Some("agent")),
            ("Customer-service, now.", Some("customer service")),
            ("I study the humanities", None),
            ("Thursday at 10 works", None),
            ("", None),
        ] {
            assert_eq!(asks_for_human(body, &defaults), expected, "{body:?}");
        }
    }

    #[test]
    fn a_locations_own_list_replaces_the_defaults_and_empty_turns_it_off() {
        let own = parse_phrases("  manager \n\nthe owner\n").unwrap();
        assert_eq!(own, ["manager", "the owner"]);
        assert_eq!(asks_for_human("Get me the manager", &own), Some("manager"));
        assert_eq!(asks_for_human("a human please", &own), None);
        assert_eq!(asks_for_human("a human please", &[]), None);
    }

    #[test]
    fn bad_lists_are_refused() {
        assert!(parse_phrases(&"x".repeat(61)).is_err());
        assert!(parse_phrases("?!").is_err());
        assert!(parse_phrases(&"a\n".repeat(51)).is_err());
        assert_eq!(parse_phrases("").unwrap(), Vec::<String>::new());
    }
}
