//! The JSON body of a Cloud API send: text, media by link, or a template
//! (`whatsapp-send-text-request.txt`, `whatsapp-send-image-request.txt`).
//!
//! One of our messages is one WhatsApp message, so it has one provider id and one status.
//! WhatsApp carries one media per message: the first attachment travels as the media
//! object with the text as its `caption`, and any further attachments go as links on their
//! own lines after the text (as the SendBlue channel does), rather than splitting our
//! message into several of Meta's. Audio takes no caption, so audio with text or with
//! more attachments is refused with the reason ([`crate::ChannelError::Unsendable`]).

use serde_json::{json, Map, Value};

use super::unsendable;
use crate::address::e164;
use crate::OutboundMessage;

/// Meta's limit on `text.body`.
pub const MAX_TEXT: usize = 4096;
/// Meta's limit on a media `caption`.
pub const MAX_CAPTION: usize = 1024;

/// The media types Meta accepts by link, as a send's `type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaKind {
    Image,
    Video,
    Audio,
    Document,
}

impl MediaKind {
    pub fn as_str(self) -> &'static str {
        match self {
            MediaKind::Image => "image",
            MediaKind::Video => "video",
            MediaKind::Audio => "audio",
            MediaKind::Document => "document",
        }
    }

    /// The kind from a link's file extension (query and fragment ignored): the types Meta
    /// lists as supported for each; anything else goes as a document, which takes any file.
    pub fn of_url(url: &str) -> Self {
        let path = url.split(['?', '#']).next().unwrap_or_default();
        let name = path.rsplit('/').next().unwrap_or_default();
        let extension = name
            .rsplit_once('.')
            .map(|(_, e)| e.to_ascii_lowercase())
            .unwrap_or_default();
        match extension.as_str() {
            "jpg" | "jpeg" | "png" => MediaKind::Image,
            "mp4" | "3gp" => MediaKind::Video,
            "aac" | "amr" | "mp3" | "m4a" | "ogg" | "opus" => MediaKind::Audio,
            _ => MediaKind::Document,
        }
    }

    fn takes_caption(self) -> bool {
        !matches!(self, MediaKind::Audio)
    }
}

/// The request body for `message`.
pub fn body(message: &OutboundMessage) -> Result<Value, crate::ChannelError> {
    let mut body = Map::new();
    body.insert("messaging_product".into(), "whatsapp".into());
    body.insert("recipient_type".into(), "individual".into());
    body.insert("to".into(), e164("to", &message.to)?.into());
    if !message.reference.trim().is_empty() {
        body.insert(
            "biz_opaque_callback_data".into(),
            message.reference.trim().into(),
        );
    }
    // A template send ignores body and media: it is the approved text or nothing.
    if let Some(template) = &message.template {
        if template.name.trim().is_empty() || template.language.trim().is_empty() {
            return Err(unsendable("a template needs a name and a language code"));
        }
        body.insert("type".into(), "template".into());
        body.insert(
            "template".into(),
            json!({
                "name": template.name.trim(),
                "language": {"code": template.language.trim(), "policy": "deterministic"},
            }),
        );
        return Ok(Value::Object(body));
    }
    let media: Vec<&str> = message
        .media_urls
        .iter()
        .map(|u| u.trim())
        .filter(|u| !u.is_empty())
        .collect();
    let text = message.body.as_str();
    let Some((first, rest)) = media.split_first() else {
        if text.trim().is_empty() {
            return Err(unsendable("no text and no media"));
        }
        if text.chars().count() > MAX_TEXT {
            return Err(unsendable(format!(
                "the text is longer than WhatsApp's {MAX_TEXT} characters"
            )));
        }
        body.insert("type".into(), "text".into());
        body.insert("text".into(), json!({"preview_url": false, "body": text}));
        return Ok(Value::Object(body));
    };
    let kind = MediaKind::of_url(first);
    let mut caption = text.trim_end().to_string();
    for link in rest {
        if !caption.is_empty() {
            caption.push('\n');
        }
        caption.push_str(link);
    }
    let mut object = Map::new();
    object.insert("link".into(), (*first).into());
    if !caption.trim().is_empty() {
        if !kind.takes_caption() {
            return Err(unsendable(
                "WhatsApp audio takes no caption: send the text or other media separately",
            ));
        }
        if caption.chars().count() > MAX_CAPTION {
            return Err(unsendable(format!(
                "the caption (text and extra links) is longer than WhatsApp's {MAX_CAPTION} characters"
            )));
        }
        object.insert("caption".into(), caption.into());
    }
    body.insert("type".into(), kind.as_str().into());
    body.insert(kind.as_str().into(), Value::Object(object));
    Ok(Value::Object(body))
}
