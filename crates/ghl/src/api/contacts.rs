//! Contacts: find by phone or email, upsert, read, set do-not-disturb, update fields and add
//! tags.
//!
//! Inbound messages need a GHL contact first. We look it up with the duplicate search
//! (exact, unlike the lagging advanced search) and upsert when it is missing; the upsert
//! itself dedupes by the location's "Allow Duplicate Contact" rules.

use http::Method;
use outbound::{ApiRequest, ApiResponse};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::{classify, missing, read_json, segment, with_query, Api, ApiVersion};
use crate::payload::{lenient, DndSettings, DndStatus};
use crate::Error;

/// What to look a contact up by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContactKey<'a> {
    /// E.164 phone number.
    Phone(&'a str),
    Email(&'a str),
}

/// A GHL contact, as much of it as Switchboard uses.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "ContactFields")]
pub struct Contact {
    pub id: String,
    pub location_id: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub name: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    /// IANA zone, e.g. `America/Chicago`.
    pub timezone: Option<String>,
    pub tags: Vec<String>,
    pub dnd: Option<bool>,
    pub dnd_settings: Option<DndSettings>,
}

/// The contact as sent: API v2 says `id`, some older answers `_id` (possibly both).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ContactFields {
    #[serde(default, deserialize_with = "lenient::opt_string")]
    id: Option<String>,
    #[serde(rename = "_id", default, deserialize_with = "lenient::opt_string")]
    legacy_id: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    location_id: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    phone: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    email: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    name: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    first_name: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    last_name: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    timezone: Option<String>,
    #[serde(default, deserialize_with = "lenient::string_list")]
    tags: Vec<String>,
    #[serde(default, deserialize_with = "lenient::opt_bool")]
    dnd: Option<bool>,
    #[serde(default, deserialize_with = "lenient::tolerant")]
    dnd_settings: Option<DndSettings>,
}

impl TryFrom<ContactFields> for Contact {
    type Error = &'static str;

    fn try_from(fields: ContactFields) -> Result<Self, Self::Error> {
        let id = [fields.id, fields.legacy_id]
            .into_iter()
            .flatten()
            .find(|id| !id.trim().is_empty())
            .ok_or("a GHL contact without an id")?;
        Ok(Contact {
            id,
            location_id: fields.location_id,
            phone: fields.phone,
            email: fields.email,
            name: fields.name,
            first_name: fields.first_name,
            last_name: fields.last_name,
            timezone: fields.timezone,
            tags: fields.tags,
            dnd: fields.dnd,
            dnd_settings: fields.dnd_settings,
        })
    }
}

impl Contact {
    /// Whether GHL marks this contact do-not-disturb for our (SMS-type) messages; see
    /// [`crate::payload::ContactDndUpdate::sms_blocked`].
    pub fn sms_blocked(&self) -> Option<bool> {
        crate::payload::sms_blocked(self.dnd, self.dnd_settings.as_ref())
    }
}

/// The fields we set when creating or updating a contact from an inbound message. Tags are
/// deliberately absent: in an upsert they replace all of the contact's tags.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ContactUpsert<'a> {
    pub location_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_name: Option<&'a str>,
    /// Shown in GHL as where the contact came from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<&'a str>,
}

/// The contact an upsert landed on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpsertedContact {
    pub contact: Contact,
    /// True when GHL created it, false when it updated an existing one.
    pub created: bool,
}

/// A channel key in `dndSettings`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DndChannel {
    Sms,
    WhatsApp,
    Email,
    Call,
    Gmb,
    Fb,
}

impl DndChannel {
    pub fn as_str(self) -> &'static str {
        match self {
            DndChannel::Sms => "SMS",
            DndChannel::WhatsApp => "WhatsApp",
            DndChannel::Email => "Email",
            DndChannel::Call => "Call",
            DndChannel::Gmb => "GMB",
            DndChannel::Fb => "FB",
        }
    }
}

/// A custom field value to write: `{id, key?, field_value}`, as `UpdateContactDto` takes it.
///
/// GHL's spec marks `id` required in every variant, so it is required here; `key` (e.g.
/// `my_custom_field`) may ride along. `field_value` is a string for text, large text,
/// single select and radio fields, a number for numeric and monetary ones, and a list of
/// strings for checkbox and multi-select ones. Read back, GHL shows `{id, value}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CustomFieldValue {
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    pub field_value: Value,
}

/// The standard fields `PUT /contacts/{contactId}` may change, plus custom fields. Unset
/// fields are left out, so GHL keeps their values. Tags are absent on purpose (in an update
/// they replace all of the contact's tags: use [`Api::add_tags`]), and so is DND (see
/// [`Api::update_dnd`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ContactUpdate<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address1: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub city: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub postal_code: Option<&'a str>,
    /// ISO 3166 alpha-2, e.g. `US`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub country: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub website: Option<&'a str>,
    /// IANA zone, e.g. `America/Chicago`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timezone: Option<&'a str>,
    /// `YYYY-MM-DD` (GHL takes seven other layouts too).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub date_of_birth: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<&'a str>,
    /// A user id of the location.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub assigned_to: Option<&'a str>,
    #[serde(skip_serializing_if = "<[CustomFieldValue]>::is_empty")]
    pub custom_fields: &'a [CustomFieldValue],
}

impl Api<'_> {
    /// `GET /contacts/search/duplicate?locationId=…&number=…` (or `&email=…`).
    pub fn find_contact(&self, location_id: &str, key: ContactKey<'_>) -> ApiRequest {
        let (field, value) = match key {
            ContactKey::Phone(phone) => ("number", phone),
            ContactKey::Email(email) => ("email", email),
        };
        let mut request = self.request(
            Method::GET,
            "/contacts/search/duplicate",
            ApiVersion::Standard,
        );
        request.url = with_query(request.url, &[("locationId", location_id), (field, value)]);
        request
    }

    /// `POST /contacts/upsert`: create, or update the contact matching phone or email.
    pub fn upsert_contact(&self, contact: &ContactUpsert<'_>) -> ApiRequest {
        self.request(Method::POST, "/contacts/upsert", ApiVersion::Standard)
            .json(contact)
    }

    /// `GET /contacts/{contactId}`.
    pub fn get_contact(&self, contact_id: &str) -> ApiRequest {
        let path = format!("/contacts/{}", segment(contact_id));
        self.request(Method::GET, &path, ApiVersion::Standard)
    }

    /// `PUT /contacts/{contactId}` with `{"dndSettings": {"<channel>": {"status", "message"?}}}`:
    /// records a STOP (`Active`) or START (`Inactive`) in GHL. Only the one channel is
    /// sent; the global `dnd` flag is left alone, since it would silence every channel.
    pub fn update_dnd(
        &self,
        contact_id: &str,
        channel: DndChannel,
        status: &DndStatus,
        message: Option<&str>,
    ) -> ApiRequest {
        let mut setting = json!({ "status": status.as_str() });
        if let Some(message) = message {
            setting["message"] = Value::from(message);
        }
        let body = json!({ "dndSettings": { channel.as_str(): setting } });
        let path = format!("/contacts/{}", segment(contact_id));
        self.request(Method::PUT, &path, ApiVersion::Standard)
            .json(&body)
    }

    /// `PUT /contacts/{contactId}` with only the fields set in `update`. Read the answer
    /// with [`parse_contact_update`].
    pub fn update_contact(&self, contact_id: &str, update: &ContactUpdate<'_>) -> ApiRequest {
        let path = format!("/contacts/{}", segment(contact_id));
        self.request(Method::PUT, &path, ApiVersion::Standard)
            .json(update)
    }

    /// `POST /contacts/{contactId}/tags` with `{"tags": [...]}`: adds to the contact's tags,
    /// keeping the others (unlike `tags` in an update, which replaces them all).
    pub fn add_tags(&self, contact_id: &str, tags: &[String]) -> ApiRequest {
        let path = format!("/contacts/{}/tags", segment(contact_id));
        self.request(Method::POST, &path, ApiVersion::Standard)
            .json(&json!({ "tags": tags }))
    }
}

#[derive(Deserialize)]
struct ContactEnvelope {
    #[serde(default)]
    contact: Option<Contact>,
}

/// The duplicate search's answer (`{"contact": {…}}` or `{"contact": null}`; GHL's spec
/// gives no schema): the contact, or `None` when no contact matches.
pub fn parse_find_contact(response: &ApiResponse) -> Result<Option<Contact>, Error> {
    if !response.status.is_success() {
        return Err(classify(response));
    }
    let envelope: ContactEnvelope = read_json(response, "GHL duplicate contact search")?;
    Ok(envelope.contact)
}

/// `GET /contacts/{id}`'s answer.
pub fn parse_contact(response: &ApiResponse) -> Result<Contact, Error> {
    if !response.status.is_success() {
        return Err(classify(response));
    }
    let envelope: ContactEnvelope = read_json(response, "GHL contact")?;
    envelope
        .contact
        .ok_or_else(|| missing("GHL contact answer without a contact"))
}

/// The upsert's answer: `{new, contact, traceId}`.
pub fn parse_upsert_contact(response: &ApiResponse) -> Result<UpsertedContact, Error> {
    #[derive(Deserialize)]
    struct Upserted {
        #[serde(default)]
        contact: Option<Contact>,
        #[serde(rename = "new", default, deserialize_with = "lenient::opt_bool")]
        created: Option<bool>,
    }
    if !response.status.is_success() {
        return Err(classify(response));
    }
    let upserted: Upserted = read_json(response, "GHL contact upsert")?;
    let contact = upserted
        .contact
        .ok_or_else(|| missing("GHL contact upsert answered without a contact"))?;
    Ok(UpsertedContact {
        contact,
        created: upserted.created.unwrap_or(false),
    })
}

/// The contact update's answer: `{succeded, contact}` (GHL's spelling). Returns the
/// contact id when GHL sends the contact back; `succeded: false` is retried.
pub fn parse_contact_update(response: &ApiResponse) -> Result<Option<String>, Error> {
    #[derive(Deserialize)]
    struct Updated {
        #[serde(default)]
        contact: Option<Value>,
        #[serde(alias = "succeeded", default, deserialize_with = "lenient::opt_bool")]
        succeded: Option<bool>,
    }
    if !response.status.is_success() {
        return Err(classify(response));
    }
    let updated: Updated = read_json(response, "GHL contact update")?;
    if updated.succeded == Some(false) {
        return Err(missing("GHL contact update answered succeded: false"));
    }
    Ok(updated
        .contact
        .as_ref()
        .and_then(|contact| contact.get("id").or_else(|| contact.get("_id")))
        .and_then(Value::as_str)
        .map(str::to_owned))
}

/// The add-tags answer (201 `{tags: [...]}`): the contact's tags as GHL now holds them
/// (lowercased by GHL). A 2xx without the list reads as no tags known, not as a failure:
/// the tags were sent and GHL said yes.
pub fn parse_tags(response: &ApiResponse) -> Result<Vec<String>, Error> {
    #[derive(Deserialize)]
    struct Tags {
        #[serde(default, deserialize_with = "lenient::string_list")]
        tags: Vec<String>,
    }
    if !response.status.is_success() {
        return Err(classify(response));
    }
    Ok(read_json::<Tags>(response, "GHL contact tags")?.tags)
}
