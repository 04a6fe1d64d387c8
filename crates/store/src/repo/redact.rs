//! Removing a message's content while keeping its record: shared by the erasure of a
//! contact (`erase`) and the expiry of old messages (`retention`), so both remove exactly
//! the same things.
//!
//! A message's content is its text, its attachment references and its error text (a
//! provider may quote the text or the number back), and every timeline detail field that
//! could quote them: only fields known to carry none ([`NEUTRAL_FIELDS`]) are kept. The
//! record stays: direction, status, times and SMS segment counts (usage is metered from
//! them).

use std::collections::HashSet;

use crate::error::StoreError;
use crate::tx::Tx;

/// The `SET` clause that clears a message's content columns.
pub(super) const CLEAR_CONTENT: &str = "body = '', attachments = '[]', error = NULL";

/// The condition of a message that still has content to clear.
pub(super) const HAS_CONTENT: &str = "(body <> '' OR attachments <> '[]' OR error IS NOT NULL)";

/// Timeline detail fields that never carry a contact's data: everything else in a
/// redacted message's timeline is dropped. The marks of an earlier redaction stay.
const NEUTRAL_FIELDS: &[&str] = &[
    "direction",
    "actor",
    "status",
    "from",
    "to",
    "attempt",
    "provider",
    "line",
    "sms_segments",
    "template",
    "provider_message_id",
    "ghl_message_id",
    "ghl_conversation_id",
    "source",
    "index",
    "content_type",
    "size",
    "created",
    "erased",
    "expired",
];

/// Why a timeline was redacted, written into each detail as `{mark: true}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Mark {
    /// The contact's personal data was erased (GDPR).
    Erased,
    /// The message outlived the retention period.
    Expired,
}

impl Mark {
    fn field(self) -> &'static str {
        match self {
            Mark::Erased => "erased",
            Mark::Expired => "expired",
        }
    }
}

/// A timeline detail with only its neutral fields, marked.
pub(super) fn neutral(detail: &serde_json::Value, mark: Mark) -> serde_json::Value {
    let mut kept = serde_json::Map::new();
    if let Some(fields) = detail.as_object() {
        for (name, value) in fields {
            if NEUTRAL_FIELDS.contains(&name.as_str()) {
                kept.insert(name.clone(), value.clone());
            }
        }
    }
    kept.insert(mark.field().into(), serde_json::Value::Bool(true));
    serde_json::Value::Object(kept)
}

/// Rewrites each timeline entry `(id, detail)` to its neutral fields, in the caller's
/// transaction; entries already neutral are left alone, so doing it again writes nothing.
/// Returns how many were rewritten.
pub(super) async fn neutralise_events(
    tx: &mut Tx,
    events: Vec<(String, String)>,
    mark: Mark,
) -> Result<usize, StoreError> {
    let mut done = HashSet::new();
    for (event, detail) in events {
        let parsed = serde_json::from_str(&detail).unwrap_or(serde_json::Value::Null);
        let kept = neutral(&parsed, mark);
        if kept == parsed || !done.insert(event.clone()) {
            continue;
        }
        sqlx::query("UPDATE message_events SET detail = $1 WHERE id = $2")
            .bind(kept.to_string())
            .bind(&event)
            .execute(&mut **tx)
            .await?;
    }
    Ok(done.len())
}

#[cfg(test)]
mod tests {
    use super::{neutral, Mark};
    use serde_json::json;

    #[test]
    fn only_neutral_fields_survive() {
        let detail = json!({"status": "failed", "error": "+15550001111 unreachable", "note": "hi"});
        assert_eq!(
            neutral(&detail, Mark::Erased),
            json!({"status": "failed", "erased": true})
        );
        let again = neutral(&neutral(&detail, Mark::Erased), Mark::Erased);
        assert_eq!(again, neutral(&detail, Mark::Erased));
    }

    #[test]
    fn an_erased_timeline_that_expires_keeps_both_marks() {
        let erased = neutral(&json!({"status": "sent", "text": "hi"}), Mark::Erased);
        assert_eq!(
            neutral(&erased, Mark::Expired),
            json!({"status": "sent", "erased": true, "expired": true})
        );
    }
}
