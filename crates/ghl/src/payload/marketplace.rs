//! Marketplace webhooks: app lifecycle (`INSTALL`, `UNINSTALL`, `PLAN_CHANGE`) and the
//! contact events we act on. Everything else is kept whole in [`MarketplaceEvent::Other`].

use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::dnd::{self, DndSettings};
use super::lenient;
use crate::Error;

/// A Marketplace webhook, by its `type`.
// Events are parsed and handled one at a time, never stored in bulk: unboxed variants
// keep matching simple at no real cost.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum MarketplaceEvent {
    Install(AppInstall),
    Uninstall(AppUninstall),
    PlanChange(PlanChange),
    ContactDndUpdate(ContactDndUpdate),
    /// Any other `type`, kept as received.
    Other {
        kind: String,
        raw: Value,
    },
}

/// Where an app was installed or uninstalled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InstallTarget {
    /// One sub-account.
    Location(String),
    /// Several sub-accounts at once (bulk install).
    Locations(Vec<String>),
    /// The agency itself: location tokens are then minted with the agency token.
    Agency(String),
}

/// `INSTALL`. `companyId` and `userId` may be missing (installs to "future locations").
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AppInstall {
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub app_id: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub version_id: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub install_type: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub location_id: Option<String>,
    /// Bulk installs (seen in GHL's SDK, not in the docs).
    #[serde(default, deserialize_with = "lenient::string_list")]
    pub location_ids: Vec<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub company_id: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub user_id: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub plan_id: Option<String>,
    #[serde(default, deserialize_with = "lenient::tolerant")]
    pub trial: Option<Trial>,
    #[serde(default, deserialize_with = "lenient::opt_bool")]
    pub is_whitelabel_company: Option<bool>,
    #[serde(default, deserialize_with = "lenient::tolerant")]
    pub whitelabel_details: Option<WhitelabelDetails>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub company_name: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub timestamp: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub webhook_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Trial {
    #[serde(default, deserialize_with = "lenient::opt_bool")]
    pub on_trial: Option<bool>,
    /// Days, in GHL's example.
    #[serde(default, deserialize_with = "lenient::opt_u64")]
    pub trial_duration: Option<u64>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub trial_start_date: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WhitelabelDetails {
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub domain: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub logo_url: Option<String>,
}

/// `UNINSTALL`: `locationId` for a sub-account, `companyId` for the agency.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AppUninstall {
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub app_id: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub location_id: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub company_id: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub timestamp: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub webhook_id: Option<String>,
}

/// `PLAN_CHANGE`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PlanChange {
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub app_id: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub location_id: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub company_id: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub user_id: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub current_plan_id: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub new_plan_id: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub timestamp: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub webhook_id: Option<String>,
}

/// `ContactDndUpdate`: a contact's do-not-disturb changed in GHL (a consent change we log
/// and honour at send time).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContactDndUpdate {
    /// The contact id (GHL calls it `id` in contact events).
    #[serde(rename = "id", default, deserialize_with = "lenient::opt_string")]
    pub contact_id: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub location_id: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub phone: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub email: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_bool")]
    pub dnd: Option<bool>,
    #[serde(default, deserialize_with = "lenient::tolerant")]
    pub dnd_settings: Option<DndSettings>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub timestamp: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub webhook_id: Option<String>,
}

impl ContactDndUpdate {
    /// Whether our (SMS-type) messages to this contact are now blocked; `None` when the
    /// event says nothing about it. Global `dnd: true` blocks whatever the SMS setting.
    pub fn sms_blocked(&self) -> Option<bool> {
        dnd::sms_blocked(self.dnd, self.dnd_settings.as_ref())
    }
}

impl AppInstall {
    /// Where the app now lives: a location, several, or the agency.
    pub fn target(&self) -> Option<InstallTarget> {
        if let Some(location) = non_empty(&self.location_id) {
            return Some(InstallTarget::Location(location));
        }
        if !self.location_ids.is_empty() {
            return Some(InstallTarget::Locations(self.location_ids.clone()));
        }
        non_empty(&self.company_id).map(InstallTarget::Agency)
    }
}

impl AppUninstall {
    /// What to deactivate: `locationId` when present, else the agency's `companyId`.
    pub fn target(&self) -> Option<InstallTarget> {
        non_empty(&self.location_id)
            .map(InstallTarget::Location)
            .or_else(|| non_empty(&self.company_id).map(InstallTarget::Agency))
    }
}

fn non_empty(value: &Option<String>) -> Option<String> {
    value
        .as_deref()
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
}

impl MarketplaceEvent {
    /// Reads a raw body (after the signature check). The documented events are flat;
    /// GHL's integration guide also shows `{type, timestamp, webhookId, data: {…}}`, so
    /// fields inside `data` fill in any the top level lacks. Only a body that is not a
    /// JSON object, has no `type`, or mistypes a modelled field is an error.
    pub fn parse(raw_body: &[u8]) -> Result<Self, Error> {
        let raw: Value = serde_json::from_slice(raw_body).map_err(Error::payload)?;
        let Value::Object(top) = &raw else {
            return Err(Error::payload("a GHL webhook is a JSON object"));
        };
        let merged = Value::Object(merge_data(top));
        let kind = match merged.get("type") {
            Some(Value::String(kind)) if !kind.trim().is_empty() => kind.trim().to_owned(),
            _ => return Err(Error::payload("the webhook has no `type`")),
        };
        Ok(match kind.as_str() {
            "INSTALL" => MarketplaceEvent::Install(read(merged)?),
            "UNINSTALL" => MarketplaceEvent::Uninstall(read(merged)?),
            "PLAN_CHANGE" => MarketplaceEvent::PlanChange(read(merged)?),
            "ContactDndUpdate" => MarketplaceEvent::ContactDndUpdate(read(merged)?),
            _ => MarketplaceEvent::Other { kind, raw },
        })
    }

    /// The event's `type` as GHL wrote it.
    pub fn kind(&self) -> &str {
        match self {
            MarketplaceEvent::Install(_) => "INSTALL",
            MarketplaceEvent::Uninstall(_) => "UNINSTALL",
            MarketplaceEvent::PlanChange(_) => "PLAN_CHANGE",
            MarketplaceEvent::ContactDndUpdate(_) => "ContactDndUpdate",
            MarketplaceEvent::Other { kind, .. } => kind,
        }
    }

    /// GHL's id for this delivery, the key for deduplication, when the payload has one.
    pub fn webhook_id(&self) -> Option<&str> {
        match self {
            MarketplaceEvent::Install(e) => e.webhook_id.as_deref(),
            MarketplaceEvent::Uninstall(e) => e.webhook_id.as_deref(),
            MarketplaceEvent::PlanChange(e) => e.webhook_id.as_deref(),
            MarketplaceEvent::ContactDndUpdate(e) => e.webhook_id.as_deref(),
            MarketplaceEvent::Other { raw, .. } => envelope_field(raw, "webhookId"),
        }
    }

    /// When GHL sent it (ISO 8601), for [`crate::check_freshness`], when present.
    pub fn timestamp(&self) -> Option<&str> {
        match self {
            MarketplaceEvent::Install(e) => e.timestamp.as_deref(),
            MarketplaceEvent::Uninstall(e) => e.timestamp.as_deref(),
            MarketplaceEvent::PlanChange(e) => e.timestamp.as_deref(),
            MarketplaceEvent::ContactDndUpdate(e) => e.timestamp.as_deref(),
            MarketplaceEvent::Other { raw, .. } => envelope_field(raw, "timestamp"),
        }
    }

    /// The sub-account the event is about, when it names one.
    pub fn location_id(&self) -> Option<&str> {
        match self {
            MarketplaceEvent::Install(e) => e.location_id.as_deref(),
            MarketplaceEvent::Uninstall(e) => e.location_id.as_deref(),
            MarketplaceEvent::PlanChange(e) => e.location_id.as_deref(),
            MarketplaceEvent::ContactDndUpdate(e) => e.location_id.as_deref(),
            MarketplaceEvent::Other { raw, .. } => envelope_field(raw, "locationId"),
        }
    }
}

/// Top-level fields, plus those of an object `data` that the top level lacks.
fn merge_data(top: &Map<String, Value>) -> Map<String, Value> {
    let mut merged = top.clone();
    if let Some(Value::Object(data)) = top.get("data") {
        for (key, value) in data {
            merged.entry(key.clone()).or_insert_with(|| value.clone());
        }
    }
    merged
}

/// A string field at the top level or inside `data`.
fn envelope_field<'a>(raw: &'a Value, field: &str) -> Option<&'a str> {
    raw.get(field)
        .or_else(|| raw.get("data").and_then(|data| data.get(field)))
        .and_then(Value::as_str)
}

fn read<T: DeserializeOwned>(value: Value) -> Result<T, Error> {
    serde_json::from_value(value).map_err(Error::payload)
}
