//! A provider's customer-service window (WhatsApp: free-form messages only within 24 hours
//! of the contact's last message) and the template that replaces free text outside it.
//!
//! Decided at send time, before any call: a free-form send outside the window is refused by
//! the provider anyway (WhatsApp's 131047), so attempting it would waste a call and, worse,
//! show the message as `sent` until the failure arrives.

use std::time::Duration;

use channels::Template;
use serde_json::{json, Value};

/// The channel setting naming the template sent outside the window:
/// `{"name": "...", "language": "en_US"}`.
pub const FALLBACK_TEMPLATE_SETTING: &str = "fallback_template";

/// The language a template is sent in when the setting names none.
pub const DEFAULT_TEMPLATE_LANGUAGE: &str = "en_US";

/// Reads `NAME` or `NAME:LANGUAGE` (as typed in `channel add --fallback-template`) into the
/// setting's value. Meta's template names are lowercase letters, digits and underscores.
pub fn fallback_template_setting(text: &str) -> Result<Value, String> {
    let (name, language) = match text.split_once(':') {
        Some((name, language)) => (name.trim(), language.trim()),
        None => (text.trim(), DEFAULT_TEMPLATE_LANGUAGE),
    };
    let name_ok = !name.is_empty()
        && name.len() <= 512
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if !name_ok {
        return Err(format!(
            "template name {name:?} must be lowercase letters, digits and underscores"
        ));
    }
    let language_ok = (2..=10).contains(&language.len())
        && language
            .chars()
            .all(|c| c.is_ascii_alphabetic() || c == '_');
    if !language_ok {
        return Err(format!(
            "template language {language:?} must be a code such as en_US"
        ));
    }
    Ok(json!({"name": name, "language": language}))
}

/// The channel's fallback template, if it has one.
pub fn fallback_template(settings: &Value) -> Option<Template> {
    let setting = settings.get(FALLBACK_TEMPLATE_SETTING)?;
    let name = setting.get("name")?.as_str()?.to_string();
    let language = setting
        .get("language")
        .and_then(Value::as_str)
        .unwrap_or(DEFAULT_TEMPLATE_LANGUAGE)
        .to_string();
    Some(Template { name, language })
}

/// What the window allows for one send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WindowDecision {
    /// No window, or inside it: the text goes out as written.
    FreeForm,
    /// Outside the window: this template goes out instead.
    Template(Template),
    /// Outside the window with no template: nothing is sent, for this reason.
    Refused(String),
}

/// Decides a send on a channel with `window`, given when the contact last wrote (Unix ms,
/// by the provider's clock; `None`: never) and now.
pub fn decide(
    window: Option<Duration>,
    last_inbound_at: Option<i64>,
    now_ms: i64,
    settings: &Value,
) -> WindowDecision {
    let Some(window) = window else {
        return WindowDecision::FreeForm;
    };
    let window_ms = i64::try_from(window.as_millis()).unwrap_or(i64::MAX);
    let open = last_inbound_at.is_some_and(|at| now_ms.saturating_sub(at) < window_ms);
    if open {
        return WindowDecision::FreeForm;
    }
    if let Some(template) = fallback_template(settings) {
        return WindowDecision::Template(template);
    }
    let hours = window.as_secs() / 3600;
    let since = match last_inbound_at {
        Some(at) => format!(
            "the contact last wrote {} hours ago",
            now_ms.saturating_sub(at) / 3_600_000
        ),
        None => "the contact has never written on this line".to_string(),
    };
    WindowDecision::Refused(format!(
        "outside the {hours}-hour customer-service window ({since}) and the channel has no \
         fallback_template: nothing was sent"
    ))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const DAY: Duration = Duration::from_secs(24 * 3600);
    const HOUR_MS: i64 = 3_600_000;

    #[test]
    fn no_window_always_sends_free_form() {
        assert_eq!(decide(None, None, 0, &json!({})), WindowDecision::FreeForm);
    }

    #[test]
    fn the_window_is_open_for_24_hours_after_the_contacts_last_message() {
        let now = 100 * HOUR_MS;
        let settings = json!({});
        let inside = decide(Some(DAY), Some(now - 24 * HOUR_MS + 1), now, &settings);
        assert_eq!(inside, WindowDecision::FreeForm);
        let at_edge = decide(Some(DAY), Some(now - 24 * HOUR_MS), now, &settings);
        assert!(matches!(at_edge, WindowDecision::Refused(_)), "{at_edge:?}");
        let WindowDecision::Refused(reason) =
            decide(Some(DAY), Some(now - 30 * HOUR_MS), now, &settings)
        else {
            panic!("expected a refusal")
        };
        assert!(reason.contains("24-hour"), "{reason}");
        assert!(reason.contains("30 hours ago"), "{reason}");
        let WindowDecision::Refused(never) = decide(Some(DAY), None, now, &settings) else {
            panic!("expected a refusal")
        };
        assert!(never.contains("never written"), "{never}");
    }

    #[test]
    fn outside_the_window_the_fallback_template_goes_out() {
        let settings =
            json!({FALLBACK_TEMPLATE_SETTING: fallback_template_setting("hello_world").unwrap()});
        assert_eq!(
            decide(Some(DAY), None, 0, &settings),
            WindowDecision::Template(Template {
                name: "hello_world".into(),
                language: "en_US".into()
            })
        );
    }

    #[test]
    fn template_settings_are_checked() {
        assert_eq!(
            fallback_template_setting("follow_up:pt_BR").unwrap(),
            json!({"name": "follow_up", "language": "pt_BR"})
        );
        for bad in ["", "Hello World", "x:", "x:e", "bad-name", "x:en-US"] {
            assert!(fallback_template_setting(bad).is_err(), "{bad}");
        }
    }
}
