//! What templates show of the store's records: plain strings and flags, worked out here
//! so templates stay free of logic. Every string is escaped by the template engine.

use store::repo::{InboxRow, Message};

use super::page::When;

/// One conversation in the inbox list.
#[derive(Debug, Clone)]
pub struct RowView {
    pub id: String,
    pub name: String,
    pub handle: String,
    pub channel: String,
    pub snippet: String,
    /// `↩` for the contact's last word, empty for ours.
    pub inbound: bool,
    pub status: String,
    pub unread: bool,
    pub ai_on: bool,
    pub handoff: String,
    pub assigned: bool,
    pub opted_out: bool,
    pub when: When,
}

/// A contact's display name: their name, else their handle, else a placeholder (erased).
pub fn contact_label(name: &str, handle: Option<&str>) -> String {
    if !name.trim().is_empty() {
        name.to_string()
    } else {
        handle.map_or_else(|| "(erased contact)".to_string(), str::to_string)
    }
}

/// The provider's name as people know it.
pub fn provider_label(provider: &str) -> &'static str {
    match provider {
        "sendblue" => "iMessage/SMS",
        "twilio" => "SMS",
        "whatsapp" => "WhatsApp",
        "unipile" => "WhatsApp (UniPile)",
        _ => "Other",
    }
}

/// The first line of a text, cut to `max` characters.
fn snippet(body: &str, max: usize) -> String {
    let line = body.lines().next().unwrap_or("");
    let mut out: String = line.chars().take(max).collect();
    if line.chars().count() > max || body.lines().nth(1).is_some() {
        out.push('…');
    }
    out
}

impl From<&InboxRow> for RowView {
    fn from(r: &InboxRow) -> Self {
        let c = &r.conversation;
        Self {
            id: c.id.to_string(),
            name: contact_label(&r.contact_name, r.contact_handle.as_deref()),
            handle: r.contact_handle.clone().unwrap_or_default(),
            channel: format!("{} · {}", provider_label(&r.provider), r.line),
            snippet: r
                .last_body
                .as_deref()
                .map_or_else(String::new, |b| snippet(b, 80)),
            inbound: r.last_direction.as_deref() == Some("inbound"),
            status: r.last_status.clone().unwrap_or_default(),
            unread: r.unread,
            ai_on: c.ai_enabled,
            handoff: r.handoff_state.clone().unwrap_or_default(),
            assigned: r.assigned_user_id.is_some(),
            opted_out: r.contact_opted_out,
            when: When::at(c.last_message_at.unwrap_or(c.created_at_ms)),
        }
    }
}

/// One message bubble in a thread.
#[derive(Debug, Clone)]
pub struct BubbleView {
    pub id: String,
    pub conversation_id: String,
    pub inbound: bool,
    pub actor: String,
    pub body: String,
    pub attachments: Vec<String>,
    pub status: String,
    /// ✓ sent, ✓✓ delivered, ✓✓ read (coloured), ! failed, … pending.
    pub tick: &'static str,
    pub error: String,
    pub when: When,
}

/// The status mark of an outbound message.
pub fn tick(status: &str) -> &'static str {
    match status {
        "pending" => "…",
        "sent" => "✓",
        "delivered" | "read" => "✓✓",
        "failed" => "!",
        _ => "",
    }
}

impl From<&Message> for BubbleView {
    fn from(m: &Message) -> Self {
        Self {
            id: m.id.to_string(),
            conversation_id: m.conversation_id.to_string(),
            inbound: m.direction == domain::Direction::Inbound,
            actor: m.actor.to_string(),
            body: m.body.clone(),
            attachments: m.attachments.clone(),
            status: m.status.to_string(),
            tick: tick(m.status.as_str()),
            error: m.error.clone().unwrap_or_default(),
            when: When::at(m.created_at_ms),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snippets_cut_long_and_multi_line_texts() {
        assert_eq!(snippet("short", 10), "short");
        assert_eq!(snippet("0123456789abc", 10), "0123456789…");
        assert_eq!(snippet("first\nsecond", 10), "first…");
        assert_eq!(snippet("", 10), "");
    }

    #[test]
    fn erased_contacts_have_a_label() {
        assert_eq!(contact_label("", None), "(erased contact)");
        assert_eq!(contact_label(" ", Some("+15550100")), "+15550100");
        assert_eq!(contact_label("Ana", Some("+15550100")), "Ana");
    }
}
