//! Phone numbers and contact handles as providers give and take them.
//!
//! Everything past a channel speaks E.164 (`+15122164639`): contacts are deduplicated by
//! phone in GHL, and opt-outs are keyed by it, so one person must have one spelling.
//! Providers differ (SendBlue `+1…`, WhatsApp digits without `+`, Twilio `whatsapp:+…`);
//! each channel normalises at its edge with these functions and rejects what is not a
//! number rather than passing garbage on.

use crate::ChannelError;

/// The fewest digits we accept after `+`. Real numbers are shorter than 8 digits only
/// for a few small countries (Niue, +683 and 4 digits).
const MIN_DIGITS: usize = 7;
/// E.164's maximum.
const MAX_DIGITS: usize = 15;

/// Normalises a phone number to E.164: `+` then 7–15 digits, the first not zero.
///
/// Human formatting (spaces, dashes, dots, parentheses) is dropped. The leading `+` is
/// required: without a country code a number is ambiguous, and guessing one would
/// message a stranger.
pub fn e164(field: &'static str, raw: &str) -> Result<String, ChannelError> {
    let invalid = |reason| ChannelError::InvalidAddress {
        field,
        value: shorten(raw),
        reason,
    };
    let trimmed = raw.trim();
    let Some(rest) = trimmed.strip_prefix('+') else {
        return Err(invalid(
            "an E.164 number starts with + and the country code",
        ));
    };
    let mut digits = String::with_capacity(rest.len());
    for c in rest.chars() {
        match c {
            '0'..='9' => digits.push(c),
            ' ' | '-' | '.' | '(' | ')' => {}
            _ => return Err(invalid("only digits may follow the +")),
        }
    }
    if digits.starts_with('0') {
        return Err(invalid("a country code never starts with 0"));
    }
    if !(MIN_DIGITS..=MAX_DIGITS).contains(&digits.len()) {
        return Err(invalid("an E.164 number has 7 to 15 digits"));
    }
    Ok(format!("+{digits}"))
}

/// A contact's handle: an E.164 number, or an email address (iMessage users can write
/// from an Apple ID email; SendBlue's service lookup takes "E.164 or email"). Emails are
/// lowercased: Apple IDs are case-insensitive, and one contact needs one key.
pub fn contact_handle(field: &'static str, raw: &str) -> Result<String, ChannelError> {
    let trimmed = raw.trim();
    if trimmed.contains('@') {
        return email(field, trimmed);
    }
    e164(field, trimmed)
}

fn email(field: &'static str, raw: &str) -> Result<String, ChannelError> {
    let invalid = |reason| ChannelError::InvalidAddress {
        field,
        value: shorten(raw),
        reason,
    };
    if raw.len() > 254 || raw.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(invalid("not an email address"));
    }
    match raw.split_once('@') {
        Some((local, domain))
            if !local.is_empty()
                && !domain.contains('@')
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.') =>
        {
            Ok(raw.to_lowercase())
        }
        _ => Err(invalid("not an email address")),
    }
}

/// Input echoed in an error, cut short: a hostile body must not make our logs huge.
fn shorten(raw: &str) -> String {
    raw.chars().take(40).collect()
}
