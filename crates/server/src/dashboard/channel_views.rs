//! What the channels page shows of a line and of each provider's connect form, worked
//! out here so the template stays free of logic. Credential values are never put in a
//! view except identifiers (an account SID, a phone number id) the person just typed.

use domain::Provider;
use store::repo::{Channel, ChannelActivity};

use super::page::When;
use super::views::provider_label;
use crate::connectors::LineBreaker;

/// One line in the list, with its health.
#[derive(Debug)]
pub struct LineView {
    pub id: String,
    pub provider: &'static str,
    pub line: String,
    pub location: String,
    pub active: bool,
    pub webhook_url: String,
    pub last_inbound: Option<When>,
    pub last_sent: Option<When>,
    /// `closed`, `open`, `half-open`, or `unknown` when this process sends nothing.
    pub breaker: &'static str,
    /// The breaker in words (failures so far, when the next trial is).
    pub breaker_note: String,
}

impl LineView {
    pub fn new(
        channel: &Channel,
        location: String,
        webhook_url: String,
        activity: ChannelActivity,
        breaker: Option<LineBreaker>,
    ) -> Self {
        let (breaker, breaker_note) = match breaker {
            None => (
                "unknown",
                "sends run in another process; its breakers are not visible here".to_string(),
            ),
            Some(LineBreaker::Closed { failures: 0 }) => ("closed", "sends go out".to_string()),
            Some(LineBreaker::Closed { failures }) => (
                "closed",
                format!("sends go out; {failures} failed in a row"),
            ),
            Some(LineBreaker::Open { retry_in }) => (
                "open",
                format!(
                    "the provider is failing: sends wait, next try in about {} s",
                    retry_in.as_secs().max(1)
                ),
            ),
            Some(LineBreaker::HalfOpen) => (
                "half-open",
                "the next send is a trial: if it goes out, sends resume".to_string(),
            ),
        };
        Self {
            id: channel.id.to_string(),
            provider: provider_label(channel.provider.as_str()),
            line: channel.line.clone(),
            location,
            active: channel.status == "active",
            webhook_url,
            last_inbound: activity.last_inbound_at.map(When::at),
            last_sent: activity.last_sent_at.map(When::at),
            breaker,
            breaker_note,
        }
    }
}

/// Credential keys that name an account rather than unlock it: shown as text and kept
/// in a form sent back with an error. Every other key (including any a new provider
/// adds) is a secret: a password field, never filled in by us.
const IDENTIFIER_KEYS: [&str; 6] = [
    "account_sid",
    "messaging_service_sid",
    "phone_number_id",
    "waba_id",
    "dsn",
    "account_id",
];

/// The form field of a credential key.
pub fn credential_field_name(key: &str) -> String {
    format!("cred_{key}")
}

/// One credential input of a connect form.
#[derive(Debug)]
pub struct CredentialField {
    pub key: &'static str,
    /// The element id, unique on the page.
    pub id: String,
    pub name: String,
    pub secret: bool,
    pub required: bool,
    /// Only ever an identifier's value, typed by the person, sent back with an error.
    pub value: String,
}

/// A provider's connect form.
#[derive(Debug)]
pub struct ConnectForm {
    pub provider: &'static str,
    pub label: &'static str,
    /// Open on the page (the form sent back with an error).
    pub open: bool,
    pub fields: Vec<CredentialField>,
    pub line: String,
    pub location_id: String,
    pub api_base: String,
}

/// What a connect form that failed sends back to its form (no secret).
#[derive(Debug, Default)]
pub struct ConnectEcho {
    pub provider: String,
    pub line: String,
    pub location_id: String,
    pub api_base: String,
    /// Identifier keys and their values.
    pub identifiers: Vec<(String, String)>,
}

impl ConnectEcho {
    /// The echo of a posted form: everything but the secrets.
    pub fn of(form: &std::collections::BTreeMap<String, String>) -> Self {
        let get = |k: &str| form.get(k).cloned().unwrap_or_default();
        Self {
            provider: get("provider"),
            line: get("line"),
            location_id: get("location_id"),
            api_base: get("api_base"),
            identifiers: IDENTIFIER_KEYS
                .iter()
                .filter_map(|k| {
                    form.get(&credential_field_name(k))
                        .map(|v| (k.to_string(), v.clone()))
                })
                .collect(),
        }
    }
}

/// One form per provider this build supports, with exactly its credential keys.
pub fn connect_forms(echo: Option<&ConnectEcho>) -> Vec<ConnectForm> {
    Provider::ALL
        .iter()
        .filter_map(|p| channels::for_provider(*p))
        .map(|implementation| {
            let provider = implementation.provider().as_str();
            let echo = echo.filter(|e| e.provider == provider);
            let spec = implementation.credential_spec();
            let keys = spec
                .required
                .iter()
                .map(|k| (*k, true))
                .chain(spec.optional.iter().map(|k| (*k, false)));
            let fields = keys
                .map(|(key, required)| {
                    let secret = !IDENTIFIER_KEYS.contains(&key);
                    let value = echo
                        .filter(|_| !secret)
                        .and_then(|e| e.identifiers.iter().find(|(k, _)| k == key))
                        .map(|(_, v)| v.clone())
                        .unwrap_or_default();
                    CredentialField {
                        key,
                        id: format!("{provider}-{key}"),
                        name: credential_field_name(key),
                        secret,
                        required,
                        value,
                    }
                })
                .collect();
            ConnectForm {
                provider,
                label: provider_label(provider),
                open: echo.is_some(),
                fields,
                line: echo.map(|e| e.line.clone()).unwrap_or_default(),
                location_id: echo.map(|e| e.location_id.clone()).unwrap_or_default(),
                api_base: echo.map(|e| e.api_base.clone()).unwrap_or_default(),
            }
        })
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn each_form_has_exactly_its_providers_keys_and_secrets_are_password_fields() {
        let forms = connect_forms(None);
        let keys = |p: &str| -> Vec<(&str, bool, bool)> {
            forms
                .iter()
                .find(|f| f.provider == p)
                .unwrap_or_else(|| panic!("a {p} form"))
                .fields
                .iter()
                .map(|f| (f.key, f.required, f.secret))
                .collect()
        };
        assert_eq!(
            keys("sendblue"),
            [
                ("api_key_id", true, true),
                ("api_secret_key", true, true),
                ("signing_secret", true, true)
            ]
        );
        assert_eq!(
            keys("twilio"),
            [
                ("account_sid", true, false),
                ("auth_token", true, true),
                ("messaging_service_sid", false, false)
            ]
        );
        assert_eq!(
            keys("whatsapp"),
            [
                ("phone_number_id", true, false),
                ("access_token", true, true),
                ("app_secret", true, true),
                ("verify_token", true, true),
                ("waba_id", false, false)
            ]
        );
        assert_eq!(
            keys("unipile"),
            [
                ("dsn", true, false),
                ("api_key", true, true),
                ("account_id", true, false),
                ("webhook_secret", true, true)
            ]
        );
    }

    #[test]
    fn a_form_sent_back_keeps_identifiers_and_drops_secrets() {
        let posted = std::collections::BTreeMap::from([
            ("provider".to_string(), "twilio".to_string()),
            ("line".to_string(), "+15125550100".to_string()),
            ("cred_account_sid".to_string(), "AC123".to_string()),
            ("cred_auth_token".to_string(), "very-secret".to_string()),
        ]);
        let echo = ConnectEcho::of(&posted);
        let forms = connect_forms(Some(&echo));
        let twilio = forms.iter().find(|f| f.provider == "twilio").unwrap();
        assert!(twilio.open);
        assert_eq!(twilio.line, "+15125550100");
        let values: Vec<&str> = twilio.fields.iter().map(|f| f.value.as_str()).collect();
        assert_eq!(values, ["AC123", "", ""]);
        assert!(forms
            .iter()
            .filter(|f| f.provider != "twilio")
            .all(|f| !f.open));
        assert!(!format!("{echo:?}").contains("very-secret"));
    }
}
