//! How many SMS segments a text takes, by the published rules (3GPP TS 23.038 and the
//! concatenation header of TS 23.040), as carriers bill and Twilio reports `num_segments`.
//!
//! - A text made only of characters of the GSM 7-bit default alphabet is sent in GSM-7:
//!   160 septets fit one SMS. The characters of the extension table (`^ { } \ [ ~ ] | €`
//!   and form feed) take two septets each (an escape, then the character).
//! - Any other character (accented letters outside the alphabet, most scripts, emoji) makes
//!   the whole text UCS-2: 70 UTF-16 code units fit one SMS, and a character outside the
//!   Basic Multilingual Plane (most emoji) takes two.
//! - A longer text is split into segments that each lose room to the concatenation header:
//!   153 septets or 67 code units. A two-septet character or a surrogate pair is never
//!   split across segments, so a segment may end a unit short.
//!
//! An empty text is no segment (a message of media alone sends no SMS text).

/// How a text is encoded over SMS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmsEncoding {
    Gsm7,
    Ucs2,
}

/// What sending a text as SMS costs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SmsSegments {
    pub encoding: SmsEncoding,
    /// Septets (GSM-7) or UTF-16 code units (UCS-2) of the whole text.
    pub units: usize,
    /// SMS segments: what carriers bill.
    pub segments: usize,
}

/// The GSM 7-bit default alphabet (TS 23.038 §6.2.1), escape excluded.
const GSM7_BASIC: &str = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?\
¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
/// The extension table reachable by the escape (two septets each).
const GSM7_EXTENSION: &str = "\u{0C}^{}\\[~]|€";

/// Septets a character takes in GSM-7, or `None` if GSM-7 can't carry it.
fn gsm7_septets(c: char) -> Option<usize> {
    if GSM7_BASIC.contains(c) {
        Some(1)
    } else if GSM7_EXTENSION.contains(c) {
        Some(2)
    } else {
        None
    }
}

/// The segments `text` takes as SMS.
pub fn sms_segments(text: &str) -> SmsSegments {
    let gsm: Option<Vec<usize>> = text.chars().map(gsm7_septets).collect();
    let (encoding, costs, single, multi) = match gsm {
        Some(costs) => (SmsEncoding::Gsm7, costs, 160, 153),
        None => (
            SmsEncoding::Ucs2,
            text.chars().map(char::len_utf16).collect(),
            70,
            67,
        ),
    };
    let units: usize = costs.iter().sum();
    let segments = if units == 0 {
        0
    } else if units <= single {
        1
    } else {
        // Fill each segment with whole characters.
        let mut segments = 1;
        let mut used = 0;
        for cost in costs {
            if used + cost > multi {
                segments += 1;
                used = 0;
            }
            used += cost;
        }
        segments
    };
    SmsSegments {
        encoding,
        units,
        segments,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count(text: &str) -> (SmsEncoding, usize, usize) {
        let s = sms_segments(text);
        (s.encoding, s.units, s.segments)
    }

    #[test]
    fn the_gsm_alphabet_has_its_128_characters_less_the_escape() {
        assert_eq!(GSM7_BASIC.chars().count(), 127);
        assert_eq!(GSM7_EXTENSION.chars().count(), 10);
    }

    #[test]
    fn plain_text_is_gsm7_160_then_153_a_segment() {
        use SmsEncoding::Gsm7;
        assert_eq!(count(""), (Gsm7, 0, 0));
        assert_eq!(
            count("Hi there, your appointment is at 3pm."),
            (Gsm7, 37, 1)
        );
        assert_eq!(count(&"a".repeat(160)), (Gsm7, 160, 1));
        assert_eq!(count(&"a".repeat(161)), (Gsm7, 161, 2));
        assert_eq!(count(&"a".repeat(306)), (Gsm7, 306, 2));
        assert_eq!(count(&"a".repeat(307)), (Gsm7, 307, 3));
        // `ã` is not in the alphabet: UCS-2. `é`, `à`, `Ø` and `¿` are: GSM-7.
        assert_eq!(count("Café à São? ¿Qué?"), (SmsEncoding::Ucs2, 17, 1));
        assert_eq!(count("Café à Ølsted, ¿Qué?"), (Gsm7, 20, 1));
    }

    #[test]
    fn extension_characters_take_two_septets_and_are_never_split() {
        use SmsEncoding::Gsm7;
        assert_eq!(count("Price: 5€ [incl. ~tax]"), (Gsm7, 26, 1));
        assert_eq!(count(&"€".repeat(80)), (Gsm7, 160, 1));
        // 81 × 2 = 162 septets: two segments of 76 and 5 characters (a 77th would need
        // 154 septets in the first).
        assert_eq!(count(&"€".repeat(81)), (Gsm7, 162, 2));
        // 152 plain, then one extension character: it can't start in the last septet.
        let edge = format!("{}{}{}", "a".repeat(152), "{", "a".repeat(10));
        assert_eq!(count(&edge), (Gsm7, 164, 2));
        let split = format!("{}{}{}", "a".repeat(152), "{", "a".repeat(152));
        assert_eq!(count(&split), (Gsm7, 306, 3));
    }

    #[test]
    fn anything_else_makes_the_whole_text_ucs2_70_then_67() {
        use SmsEncoding::Ucs2;
        assert_eq!(count(&"ç".repeat(70)), (Ucs2, 70, 1));
        assert_eq!(count(&"ç".repeat(71)), (Ucs2, 71, 2));
        assert_eq!(count(&"ç".repeat(134)), (Ucs2, 134, 2));
        assert_eq!(count(&"ç".repeat(135)), (Ucs2, 135, 3));
        assert_eq!(count("Привет"), (Ucs2, 6, 1));
    }

    #[test]
    fn emoji_outside_the_bmp_take_two_units_and_are_never_split() {
        use SmsEncoding::Ucs2;
        assert_eq!(count("Hello 😀"), (Ucs2, 8, 1));
        // 35 emoji = 70 units: one SMS.
        assert_eq!(count(&"😀".repeat(35)), (Ucs2, 70, 1));
        // 36 = 72 units: segments hold 33 emoji (66 units; a 34th would need 68).
        assert_eq!(count(&"😀".repeat(36)), (Ucs2, 72, 2));
        assert_eq!(count(&"😀".repeat(66)), (Ucs2, 132, 2));
        assert_eq!(count(&"😀".repeat(67)), (Ucs2, 134, 3));
        // One emoji in a long GSM text turns all of it into UCS-2.
        let long = format!("{}😀", "a".repeat(100));
        assert_eq!(count(&long), (Ucs2, 102, 2));
    }
}
