//! Lenient reading of provider JSON.
//!
//! Provider payloads are open-ended: fields appear, disappear, turn `null`, and change
//! type between API versions (SendBlue's `error_code` is an int in one place and could be
//! a string in another). A typed struct would turn one surprising field into a rejected
//! webhook, which the provider then retries forever. So a body is read as a JSON object
//! and each field is taken only if it has a usable shape; what is required is checked
//! by the caller, with a clear error.

use serde_json::{Map, Value};

use crate::ChannelError;

/// Parses a body that must be one JSON object.
pub(crate) fn object(body: &[u8]) -> Result<Map<String, Value>, ChannelError> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(other) => Err(ChannelError::malformed(format!(
            "expected a JSON object, got {}",
            kind(&other)
        ))),
        Err(e) => Err(ChannelError::malformed(format!("invalid JSON: {e}"))),
    }
}

/// Read-only typed access to a JSON object's fields.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Fields<'a>(pub &'a Map<String, Value>);

impl<'a> Fields<'a> {
    pub fn has(&self, key: &str) -> bool {
        self.0.contains_key(key)
    }

    /// A string field, trimmed, if present and not blank.
    pub fn text(&self, key: &str) -> Option<&'a str> {
        self.0
            .get(key)
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
    }

    /// A string field exactly as sent (message text keeps its whitespace).
    pub fn raw_text(&self, key: &str) -> Option<&'a str> {
        self.0.get(key).and_then(Value::as_str)
    }

    /// A boolean, also accepting `"true"` / `"false"` strings.
    pub fn flag(&self, key: &str) -> Option<bool> {
        match self.0.get(key)? {
            Value::Bool(b) => Some(*b),
            Value::String(s) if s.eq_ignore_ascii_case("true") => Some(true),
            Value::String(s) if s.eq_ignore_ascii_case("false") => Some(false),
            _ => None,
        }
    }

    /// An integer, also accepting a numeric string.
    pub fn int(&self, key: &str) -> Option<i64> {
        match self.0.get(key)? {
            Value::Number(n) => n.as_i64(),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        }
    }

    /// Non-blank strings from a field that is a string or an array of strings.
    pub fn texts(&self, key: &str) -> Vec<String> {
        let non_blank = |v: &Value| {
            v.as_str()
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
        };
        match self.0.get(key) {
            Some(Value::Array(items)) => items.iter().filter_map(non_blank).collect(),
            Some(v) => non_blank(v).into_iter().collect(),
            None => Vec::new(),
        }
    }

    pub fn is_array(&self, key: &str) -> bool {
        matches!(self.0.get(key), Some(Value::Array(_)))
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}
