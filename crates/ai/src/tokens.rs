//! Tokenizer for lexical (BM25) search.
//!
//! Deliberately simple: Unicode lowercasing, splitting on anything that is not
//! a letter or digit, a short English stop-word list and a handful of suffix
//! rules (a plural ending, then "-ing" or "-ed"). It is not a real stemmer and makes mistakes
//! ("making" → "mak" but "make" → "make"), but the same function runs on
//! passages and questions, so most mistakes cancel out, and it has no
//! language data to ship. Knowledge bases in other languages still work on
//! exact word forms because the suffix rules only touch ASCII endings.

/// Common English words that carry no meaning for retrieval.
const STOP_WORDS: &[&str] = &[
    "about", "am", "an", "and", "any", "are", "as", "at", "be", "been", "being", "but", "by",
    "can", "could", "did", "do", "does", "don", "for", "from", "had", "has", "have", "he", "her",
    "him", "his", "how", "if", "in", "into", "is", "it", "its", "just", "ll", "me", "my", "of",
    "on", "or", "our", "re", "she", "should", "so", "than", "that", "the", "their", "them", "then",
    "there", "these", "they", "this", "those", "to", "us", "ve", "was", "we", "were", "what",
    "when", "where", "which", "who", "whom", "why", "will", "with", "would", "you", "your",
];

/// Shortest stem a suffix rule may leave behind.
const MIN_STEM: usize = 3;

/// Splits text into normalised search terms.
pub fn tokenize(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|word| !word.is_empty())
        .filter_map(|word| {
            let lower = word.to_lowercase();
            let mut chars = lower.chars();
            let single = chars.next().filter(|_| chars.next().is_none());
            if single.is_some_and(|c| !c.is_numeric()) || STOP_WORDS.contains(&lower.as_str()) {
                return None;
            }
            Some(stem(lower))
        })
        .collect()
}

/// Strips a plural ending, then an "-ing"/"-ed" ending ("cleanings" → "clean").
fn stem(word: String) -> String {
    if !word.chars().all(|c| c.is_ascii_lowercase()) {
        return word;
    }
    // Only ASCII reaches here, so byte lengths are char lengths.
    let singular = strip_plural(&word);
    strip_verb_ending(&singular).unwrap_or(singular)
}

fn strip_plural(w: &str) -> String {
    if let Some(base) = w.strip_suffix("ies") {
        if base.len() >= MIN_STEM - 1 {
            return format!("{base}y");
        }
    }
    if let Some(base) = w.strip_suffix("es") {
        let sibilant = ["s", "x", "z", "ch", "sh"]
            .iter()
            .any(|s| base.ends_with(s));
        if sibilant && base.len() >= MIN_STEM {
            return base.to_owned();
        }
    }
    if let Some(base) = w.strip_suffix('s') {
        let keep = w.ends_with("ss") || w.ends_with("us") || w.ends_with("is");
        if !keep && base.len() >= MIN_STEM {
            return base.to_owned();
        }
    }
    w.to_owned()
}

fn strip_verb_ending(w: &str) -> Option<String> {
    ["ing", "ed"].iter().find_map(|suffix| {
        w.strip_suffix(suffix)
            .filter(|base| base.len() >= MIN_STEM)
            .map(|base| undouble(base).to_owned())
    })
}

/// "runn" → "run", "stopp" → "stop"; "ll", "ss" and "zz" stay ("fill", "pass").
fn undouble(base: &str) -> &str {
    let bytes = base.as_bytes();
    let n = bytes.len();
    let last = bytes[n - 1];
    let doubled = n >= 2 && bytes[n - 2] == last;
    let consonant = !b"aeiouylsz".contains(&last);
    if doubled && consonant && n > MIN_STEM {
        &base[..n - 1]
    } else {
        base
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(text: &str) -> Vec<String> {
        tokenize(text)
    }

    #[test]
    fn lowercases_splits_and_drops_noise() {
        assert_eq!(
            toks("What are your OPENING-hours on Saturday? 9 a m"),
            ["open", "hour", "saturday", "9"]
        );
        assert_eq!(toks("ÉCOLE Straße"), ["école", "straße"]);
        assert!(toks("").is_empty());
        assert!(toks("... !!! a I").is_empty());
    }

    #[test]
    fn stems_plurals_and_verb_forms() {
        assert_eq!(
            toks("policies prices classes boxes booking booked running parking"),
            ["policy", "price", "class", "box", "book", "book", "run", "park"]
        );
        // Short words and "-ss"/"-us"/"-is" words are left alone.
        assert_eq!(
            toks("bus gas glass analysis red sing"),
            ["bus", "gas", "glass", "analysis", "red", "sing"]
        );
        // Same stem for question and passage forms.
        assert_eq!(toks("cleanings"), toks("cleaning"));
        assert_eq!(toks("appointments"), toks("appointment"));
    }

    #[test]
    fn digits_and_mixed_tokens_are_kept() {
        assert_eq!(
            toks("Call 555-0100 or room 2B"),
            ["call", "555", "0100", "room", "2b"]
        );
    }
}
