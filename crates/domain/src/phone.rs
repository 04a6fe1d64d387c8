//! Phone numbers in E.164 form (`+15551234567`), the one form we store and compare.

use std::fmt;
use std::str::FromStr;

/// A phone number in E.164: `+`, a country code, at most 15 digits in all.
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(try_from = "String", into = "String")]
pub struct PhoneNumber(String);

/// Text that is not a usable phone number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a phone number in international form (e.g. +15551234567)")]
pub struct InvalidPhone(pub String);

impl PhoneNumber {
    /// Parses a number written with the usual separators (`+1 (555) 123-4567`,
    /// `+44 20 7946 0958`). A leading `00` counts as `+`. A number without a country code
    /// is refused rather than guessed: the same digits mean different people in different
    /// countries.
    pub fn parse(text: &str) -> Result<Self, InvalidPhone> {
        let invalid = || InvalidPhone(text.to_string());
        let trimmed = text.trim();
        let rest = if let Some(rest) = trimmed.strip_prefix('+') {
            rest
        } else if let Some(rest) = trimmed.strip_prefix("00") {
            rest
        } else {
            return Err(invalid());
        };
        let mut digits = String::with_capacity(15);
        for c in rest.chars() {
            match c {
                '0'..='9' => digits.push(c),
                ' ' | '-' | '.' | '(' | ')' => {}
                _ => return Err(invalid()),
            }
        }
        if !(8..=15).contains(&digits.len()) || digits.starts_with('0') {
            return Err(invalid());
        }
        Ok(Self(format!("+{digits}")))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for PhoneNumber {
    type Err = InvalidPhone;
    fn from_str(s: &str) -> Result<Self, InvalidPhone> {
        Self::parse(s)
    }
}

impl TryFrom<String> for PhoneNumber {
    type Error = InvalidPhone;
    fn try_from(s: String) -> Result<Self, InvalidPhone> {
        Self::parse(&s)
    }
}

impl From<PhoneNumber> for String {
    fn from(p: PhoneNumber) -> String {
        p.0
    }
}

impl fmt::Display for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::PhoneNumber;

    #[test]
    fn usual_spellings_become_e164() {
        for (text, e164) in [
            ("+15551234567", "+15551234567"),
            ("+1 (555) 123-4567", "+15551234567"),
            (" +44 20 7946 0958 ", "+442079460958"),
            ("0033 6 12 34 56 78", "+33612345678"),
            ("+49.30.901820", "+4930901820"),
        ] {
            assert_eq!(PhoneNumber::parse(text).unwrap().as_str(), e164, "{text}");
        }
    }

    #[test]
    fn numbers_without_country_or_with_junk_are_refused() {
        for text in [
            "5551234567",
            "+1555",
            "+0155512345",
            "+1555123456789012",
            "+1555abc4567",
            "",
            "+",
            "tel:+15551234567",
        ] {
            assert!(PhoneNumber::parse(text).is_err(), "{text:?}");
        }
    }
}
