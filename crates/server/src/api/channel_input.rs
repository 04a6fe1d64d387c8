//! What the channels API accepts, checked before anything is called or stored: the
//! provider, the line, the credentials (the same per-provider rules `channel add` applies,
//! from the `channels` crate), the API base and the settings.
//!
//! Every failure is a 400 with a stable code naming the field, and the credentials'
//! values never appear in an answer: a wrong secret is still a secret.

use std::collections::{BTreeMap, BTreeSet};

use axum::http::StatusCode;
use channels::{Channel, Credentials, VerifyFailure};
use domain::{PhoneNumber, Provider};
use serde_json::{Map, Value};

use crate::connectors::{
    fallback_template_setting, Verification, FALLBACK_TEMPLATE_SETTING, PACE_SETTING,
};
use crate::http::ApiError;

/// Channel statuses the API may set. (`deliver` sends only on `active` channels; a
/// `paused` one fails its messages with the reason, and GHL's outbound messages are
/// routed to a location's active lines only.)
pub(super) const STATUSES: [&str; 2] = ["active", "paused"];

/// The provider named, or 400 listing the known ones.
pub(super) fn provider(name: &str) -> Result<(Provider, &'static dyn Channel), ApiError> {
    let unknown = || {
        let known: Vec<&str> = Provider::ALL.iter().map(|p| p.as_str()).collect();
        ApiError::bad_request(
            "unknown_provider",
            format!("provider {name:?} is not one of {}", known.join(", ")),
        )
    };
    let provider: Provider = name.parse().map_err(|_| unknown())?;
    let channel = channels::for_provider(provider).ok_or_else(unknown)?;
    Ok((provider, channel))
}

/// The line as an E.164 number (`+15125550100`).
pub(super) fn line(text: &str) -> Result<String, ApiError> {
    PhoneNumber::parse(text)
        .map(|n| n.to_string())
        .map_err(|e| ApiError::bad_request("invalid_line", format!("line: {e}")))
}

/// The credentials, checked by the provider's own rules (required keys present, no
/// unknown key, values usable), as `channel add` checks them.
pub(super) fn credentials(
    channel: &dyn Channel,
    given: BTreeMap<String, String>,
) -> Result<Credentials, ApiError> {
    let credentials = Credentials::from(given);
    channel
        .validate_credentials(&credentials)
        .map_err(|e| ApiError::bad_request(e.code(), format!("credentials: {e}")))?;
    Ok(credentials)
}

/// An absolute http(s) URL without query or fragment, trailing `/` dropped.
pub(super) fn api_base(raw: &str) -> Result<String, ApiError> {
    let invalid = || {
        ApiError::bad_request(
            "invalid_api_base",
            "api_base must be an http(s) URL without query or fragment",
        )
    };
    let url = url::Url::parse(raw.trim()).map_err(|_| invalid())?;
    if !matches!(url.scheme(), "http" | "https")
        || url.query().is_some()
        || url.fragment().is_some()
    {
        return Err(invalid());
    }
    Ok(raw.trim().trim_end_matches('/').to_string())
}

/// The channel settings: a JSON object with only the keys a channel reads.
/// `messages_per_second` is a number of at least 0 (0: no local pacing);
/// `fallback_template` (WhatsApp only) is `"name"`, `"name:language"` or
/// `{"name", "language"}`, stored as the object.
pub(super) fn settings(channel: &dyn Channel, given: &Value) -> Result<Value, ApiError> {
    let invalid = |detail: String| ApiError::bad_request("invalid_settings", detail);
    let Value::Object(given) = given else {
        return Err(invalid("settings must be a JSON object".into()));
    };
    let mut checked = Map::new();
    for (key, value) in given {
        match key.as_str() {
            PACE_SETTING => {
                let rate = value.as_f64().filter(|r| r.is_finite() && *r >= 0.0);
                let Some(rate) = rate else {
                    return Err(invalid(format!(
                        "{PACE_SETTING} must be a number of at least 0"
                    )));
                };
                checked.insert(key.clone(), Value::from(rate));
            }
            FALLBACK_TEMPLATE_SETTING => {
                if channel.service_window().is_none() {
                    return Err(invalid(format!(
                        "{FALLBACK_TEMPLATE_SETTING}: {} has no customer-service window; only WhatsApp takes a template",
                        channel.provider()
                    )));
                }
                let text = match value {
                    Value::String(text) => text.clone(),
                    Value::Object(template) => match (
                        template.get("name").and_then(Value::as_str),
                        template.get("language").and_then(Value::as_str),
                    ) {
                        (Some(name), Some(language)) => format!("{name}:{language}"),
                        (Some(name), None) => name.to_string(),
                        _ => return Err(invalid(format!("{FALLBACK_TEMPLATE_SETTING} needs a name"))),
                    },
                    _ => {
                        return Err(invalid(format!(
                            "{FALLBACK_TEMPLATE_SETTING} must be \"name[:language]\" or {{name, language}}"
                        )))
                    }
                };
                let template = fallback_template_setting(&text)
                    .map_err(|e| invalid(format!("{FALLBACK_TEMPLATE_SETTING}: {e}")))?;
                checked.insert(key.clone(), template);
            }
            other => {
                return Err(invalid(format!(
                    "unknown setting {other:?} (known: {PACE_SETTING}, {FALLBACK_TEMPLATE_SETTING})"
                )))
            }
        }
    }
    Ok(Value::Object(checked))
}

/// `active` or `paused`.
pub(crate) fn status(text: &str) -> Result<String, ApiError> {
    if STATUSES.contains(&text) {
        Ok(text.to_string())
    } else {
        Err(ApiError::bad_request(
            "invalid_status",
            format!("status must be one of {}", STATUSES.join(", ")),
        ))
    }
}

/// The answer to credentials the provider did not confirm. Refused credentials are the
/// caller's to fix (422); a provider that could not answer is nobody's input error (502).
pub(super) fn verification_error(provider: Provider, failure: Verification) -> ApiError {
    match failure {
        Verification::Failed(VerifyFailure::Refused { detail }) => ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "credentials_refused",
            format!("{provider} refused these credentials ({detail}); nothing was changed"),
        ),
        Verification::Failed(VerifyFailure::Unavailable { detail }) => ApiError::new(
            StatusCode::BAD_GATEWAY,
            "provider_unavailable",
            format!(
                "{provider} could not check the credentials ({detail}); nothing was changed, try again"
            ),
        ),
        Verification::Invalid(e) => ApiError::bad_request(e.code(), e.to_string()),
        Verification::Unsupported(p) => ApiError::bad_request(
            "unknown_provider",
            format!("provider {p} is not supported by this build"),
        ),
    }
}

/// Which credential keys a rotation touches, by name only.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct ChangedKeys {
    pub changed: BTreeSet<String>,
    pub added: BTreeSet<String>,
    pub removed: BTreeSet<String>,
}

pub(super) fn changed_keys(
    old: &BTreeMap<String, String>,
    new: &BTreeMap<String, String>,
) -> ChangedKeys {
    let mut keys = ChangedKeys::default();
    for (key, value) in new {
        match old.get(key) {
            None => {
                keys.added.insert(key.clone());
            }
            Some(before) if before != value => {
                keys.changed.insert(key.clone());
            }
            Some(_) => {}
        }
    }
    keys.removed = old
        .keys()
        .filter(|k| !new.contains_key(*k))
        .cloned()
        .collect();
    keys
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_rotation_names_keys_changed_added_and_removed() {
        let map = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        let old = map(&[("a", "1"), ("b", "2"), ("c", "3")]);
        let new = map(&[("a", "1"), ("b", "9"), ("d", "4")]);
        let keys = changed_keys(&old, &new);
        assert_eq!(keys.changed, BTreeSet::from(["b".to_string()]));
        assert_eq!(keys.added, BTreeSet::from(["d".to_string()]));
        assert_eq!(keys.removed, BTreeSet::from(["c".to_string()]));
    }
}
