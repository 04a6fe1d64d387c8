//! Do-not-disturb settings, as GHL stores them on a contact and reports them in
//! `ContactDndUpdate`.

use serde::{Deserialize, Deserializer};

use super::lenient;

/// A channel's DND state. GHL documents `active`, `inactive` and `permanent`; anything
/// else is kept as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DndStatus {
    /// The contact must not be messaged on this channel.
    Active,
    /// Messaging allowed.
    Inactive,
    /// DND that the contact cannot lift by replying (set by GHL or an admin).
    Permanent,
    Other(String),
}

impl DndStatus {
    pub fn as_str(&self) -> &str {
        match self {
            DndStatus::Active => "active",
            DndStatus::Inactive => "inactive",
            DndStatus::Permanent => "permanent",
            DndStatus::Other(text) => text,
        }
    }

    /// True when messages must not go out.
    pub fn blocks(&self) -> bool {
        matches!(self, DndStatus::Active | DndStatus::Permanent)
    }
}

impl From<&str> for DndStatus {
    fn from(text: &str) -> Self {
        match text.trim().to_ascii_lowercase().as_str() {
            "active" => DndStatus::Active,
            "inactive" => DndStatus::Inactive,
            "permanent" => DndStatus::Permanent,
            _ => DndStatus::Other(text.to_owned()),
        }
    }
}

impl<'de> Deserialize<'de> for DndStatus {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(lenient::opt_string(d)?
            .map(|text| DndStatus::from(text.as_str()))
            .unwrap_or(DndStatus::Other(String::new())))
    }
}

/// One channel's setting: `{status, message?, code?}`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct DndSetting {
    pub status: DndStatus,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub message: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub code: Option<String>,
}

/// `dndSettings`: one optional setting per GHL channel.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct DndSettings {
    #[serde(rename = "SMS", default, deserialize_with = "lenient::tolerant")]
    pub sms: Option<DndSetting>,
    #[serde(rename = "WhatsApp", default, deserialize_with = "lenient::tolerant")]
    pub whatsapp: Option<DndSetting>,
    #[serde(rename = "Email", default, deserialize_with = "lenient::tolerant")]
    pub email: Option<DndSetting>,
    #[serde(rename = "Call", default, deserialize_with = "lenient::tolerant")]
    pub call: Option<DndSetting>,
    #[serde(rename = "GMB", default, deserialize_with = "lenient::tolerant")]
    pub gmb: Option<DndSetting>,
    #[serde(rename = "FB", default, deserialize_with = "lenient::tolerant")]
    pub fb: Option<DndSetting>,
}

/// Whether a contact may receive our messages, from GHL's global `dnd` flag and the SMS
/// setting. Every message we carry is an SMS in GHL's eyes (our provider is SMS-type),
/// whatever line it leaves on, so `SMS` is the channel that counts.
///
/// `Some(true)`: blocked (global DND, or SMS `active`/`permanent`). `Some(false)`: SMS is
/// explicitly `inactive` and global DND is not on. `None`: the payload says nothing.
pub(crate) fn sms_blocked(dnd: Option<bool>, settings: Option<&DndSettings>) -> Option<bool> {
    let sms = settings
        .and_then(|s| s.sms.as_ref())
        .map(|s| s.status.blocks());
    match (dnd, sms) {
        (Some(true), _) | (_, Some(true)) => Some(true),
        (_, Some(false)) => Some(false),
        (Some(false), None) => Some(false),
        (None, None) => None,
    }
}
