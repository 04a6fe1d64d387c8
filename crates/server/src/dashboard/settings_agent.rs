//! Settings, AI agent: per location, the strategy (the location's layer of the prompt),
//! the model (its own base URL, key and models, or the operator's), the booking calendar,
//! the contact fields the AI may fill, its daily reply budget and when it comes back
//! after a handoff.
//!
//! Every field is checked and a bad one refuses the whole form, saying which. The
//! calendar is checked against the location's calendars in GHL, so a typo is refused
//! here rather than failing a lead's booking later. The model key is write-only: the
//! page says whether one is set, never what it is.

use std::collections::BTreeMap;

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use secrecy::SecretString;
use serde::Deserialize;
use serde_json::json;
use store::repo::{AgentSettings, AgentSettingsChange, Location};

use super::page::{render, store_error, Layout};
use super::viewer::{CsrfForm, Viewer};
use crate::auth::Permission;
use crate::AppState;

/// The longest strategy: a page of instructions, not a book.
pub const MAX_STRATEGY_CHARS: usize = 8000;
/// Standard contact fields the AI may always set.
const STANDARD_FIELDS: [&str; 3] = ["first_name", "last_name", "email"];

/// One location's form, as stored or as sent back with its errors.
struct AgentForm {
    id: String,
    name: String,
    strategy: String,
    chat_model: String,
    embedding_model: String,
    api_base: String,
    has_api_key: bool,
    calendar_id: String,
    /// `name = field id`, one per line.
    contact_fields: String,
    replies_per_day: String,
    reactivate_minutes: String,
    errors: Vec<String>,
}

impl AgentForm {
    fn stored(location: &Location, s: &AgentSettings) -> Self {
        Self {
            id: location.id.to_string(),
            name: location.name.clone(),
            strategy: s.strategy.clone(),
            chat_model: s.chat_model.clone().unwrap_or_default(),
            embedding_model: s.embedding_model.clone().unwrap_or_default(),
            api_base: s.api_base.clone().unwrap_or_default(),
            has_api_key: s.has_api_key,
            calendar_id: s.calendar_id.clone().unwrap_or_default(),
            contact_fields: s
                .contact_fields
                .iter()
                .map(|(name, id)| format!("{name} = {id}"))
                .collect::<Vec<_>>()
                .join("\n"),
            replies_per_day: s.replies_per_day.map(|n| n.to_string()).unwrap_or_default(),
            reactivate_minutes: s
                .reactivate_minutes
                .map(|n| n.to_string())
                .unwrap_or_default(),
            errors: Vec::new(),
        }
    }
}

#[derive(Template)]
#[template(path = "settings_agent.html")]
struct AgentPage {
    layout: Layout,
    locations: Vec<AgentForm>,
    may_manage_users: bool,
    may_manage_keys: bool,
    default_model: String,
    default_embedding_model: String,
}

async fn agent_page(state: &AppState, viewer: &Viewer, asked: Option<AgentForm>) -> Response {
    let store = &state.store;
    let locations = match store.locations(&viewer.scope).await {
        Ok(locations) => locations,
        Err(e) => return store_error(viewer, e),
    };
    let mut forms = Vec::with_capacity(locations.len());
    for location in &locations {
        match store.agent_settings(&viewer.scope, &location.id).await {
            Ok(settings) => forms.push(AgentForm::stored(location, &settings)),
            Err(e) => return store_error(viewer, e),
        }
    }
    let refused = asked.is_some();
    if let Some(asked) = asked {
        if let Some(slot) = forms.iter_mut().find(|f| f.id == asked.id) {
            *slot = asked;
        }
    }
    let page = AgentPage {
        layout: Layout::new(state, viewer, "AI agent", "settings").await,
        locations: forms,
        may_manage_users: viewer.may(Permission::ManageUsers),
        may_manage_keys: viewer.may(Permission::ManageApiKeys),
        default_model: state.config.openai_model.clone(),
        default_embedding_model: state
            .config
            .openai_embedding_model
            .clone()
            .unwrap_or_default(),
    };
    let status = if refused {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    render(status, &page)
}

/// `GET /settings/agent`.
pub async fn show(State(state): State<AppState>, viewer: Viewer) -> Response {
    if let Err(refused) = viewer.require(Permission::ManageAi) {
        return refused;
    }
    agent_page(&state, &viewer, None).await
}

#[derive(Debug, Default, Deserialize)]
pub struct AgentFields {
    #[serde(default)]
    strategy: String,
    #[serde(default)]
    chat_model: String,
    #[serde(default)]
    embedding_model: String,
    #[serde(default)]
    api_base: String,
    /// Empty keeps the stored key.
    #[serde(default)]
    api_key: String,
    /// `1` removes the stored key.
    #[serde(default)]
    remove_api_key: String,
    #[serde(default)]
    calendar_id: String,
    #[serde(default)]
    contact_fields: String,
    #[serde(default)]
    replies_per_day: String,
    #[serde(default)]
    reactivate_minutes: String,
}

fn model_name(field: &str, value: &str, errors: &mut Vec<String>) -> Option<String> {
    let value = value.trim();
    if value.is_empty() {
        return None;
    }
    if value.len() > 200 || value.chars().any(|c| c.is_control() || c.is_whitespace()) {
        errors.push(format!(
            "{field}: a model name without spaces, such as gpt-4o-mini."
        ));
        return None;
    }
    Some(value.to_string())
}

fn count(field: &str, value: &str, min: u32, max: u32, errors: &mut Vec<String>) -> Option<u32> {
    let value = value.trim();
    if value.is_empty() {
        return None;
    }
    match value.parse::<u32>() {
        Ok(n) if (min..=max).contains(&n) => Some(n),
        _ => {
            errors.push(format!(
                "{field}: a whole number from {min} to {max}, or empty."
            ));
            None
        }
    }
}

/// The change the form asks for, or what is wrong with it, field by field. The
/// calendar is checked against GHL separately.
fn validate(form: &AgentFields) -> Result<AgentSettingsChange, Vec<String>> {
    let mut errors = Vec::new();
    let strategy = form.strategy.trim().replace("\r\n", "\n");
    if strategy.chars().count() > MAX_STRATEGY_CHARS {
        errors.push(format!(
            "Strategy: at most {MAX_STRATEGY_CHARS} characters."
        ));
    }
    let api_base = form.api_base.trim();
    let api_base = if api_base.is_empty() {
        None
    } else {
        match url::Url::parse(api_base) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some() => {
                Some(api_base.trim_end_matches('/').to_string())
            }
            _ => {
                errors.push("Model API base URL: an http:// or https:// address.".into());
                None
            }
        }
    };
    let api_key = match (form.remove_api_key == "1", form.api_key.trim()) {
        (true, _) => Some(None),
        (false, "") => None,
        (false, key) if key.len() > 500 || key.chars().any(char::is_whitespace) => {
            errors.push("Model API key: one key, without spaces.".into());
            None
        }
        (false, key) => Some(Some(SecretString::from(key))),
    };
    let mut contact_fields = BTreeMap::new();
    for line in form
        .contact_fields
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
    {
        let Some((name, id)) = line.split_once('=') else {
            errors.push(format!(
                "Contact fields: {line:?} is not `name = GHL field id`."
            ));
            continue;
        };
        let (name, id) = (name.trim(), id.trim());
        let valid_name = !name.is_empty()
            && name.len() <= 40
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if !valid_name || STANDARD_FIELDS.contains(&name) {
            errors.push(format!(
                "Contact fields: {name:?} must be lowercase letters, digits and _ (and not a standard field)."
            ));
        } else if id.is_empty() || id.len() > 100 || id.chars().any(char::is_whitespace) {
            errors.push(format!(
                "Contact fields: the GHL field id of {name} is missing or has spaces."
            ));
        } else {
            contact_fields.insert(name.to_string(), id.to_string());
        }
    }
    if contact_fields.len() > 20 {
        errors.push("Contact fields: at most 20.".into());
    }
    let settings = AgentSettings {
        strategy,
        chat_model: model_name("Chat model", &form.chat_model, &mut errors),
        embedding_model: model_name("Embedding model", &form.embedding_model, &mut errors),
        api_base,
        has_api_key: false,
        calendar_id: Some(form.calendar_id.trim().to_string()).filter(|c| !c.is_empty()),
        contact_fields,
        replies_per_day: count(
            "Replies a day",
            &form.replies_per_day,
            0,
            1_000_000,
            &mut errors,
        ),
        reactivate_minutes: count(
            "Back on after a handoff",
            &form.reactivate_minutes,
            1,
            10_080,
            &mut errors,
        ),
    };
    if errors.is_empty() {
        Ok(AgentSettingsChange { settings, api_key })
    } else {
        Err(errors)
    }
}

/// Whether `calendar` is one of the location's calendars in GHL.
async fn check_calendar(
    state: &AppState,
    location: &Location,
    calendar: &str,
) -> Result<(), String> {
    // Token refreshes are single-flight through the store's lease, so a session of our
    // own is safe beside the workers'.
    let ghl = crate::connectors::Ghl::new(state.ghl_outbound.clone(), &state.config);
    let calendars = ghl
        .call(
            &state.store,
            location,
            "list_calendars",
            |api| api.list_calendars(&location.ghl_location_id),
            ghl::api::parse_calendars,
        )
        .await
        .map_err(|e| {
            format!(
                "Calendar: GHL could not be asked for the location's calendars ({e}); try again."
            )
        })?;
    if calendars.iter().any(|c| c.id == calendar) {
        Ok(())
    } else {
        let known: Vec<String> = calendars
            .iter()
            .map(|c| format!("{} ({})", c.name.as_deref().unwrap_or("unnamed"), c.id))
            .collect();
        Err(format!(
            "Calendar: {calendar:?} is not a calendar of this location in GHL. Its calendars: {}.",
            if known.is_empty() {
                "none".to_string()
            } else {
                known.join(", ")
            }
        ))
    }
}

/// `POST /settings/agent/{location_id}`.
pub async fn save(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    CsrfForm(form): CsrfForm<AgentFields>,
) -> Response {
    let location =
        match super::viewer::location_to_change(&state, &viewer, &id, Permission::ManageAi).await {
            Ok(location) => location,
            Err(refused) => return refused,
        };
    let store = &state.store;
    let stored = match store.agent_settings(&viewer.scope, &location.id).await {
        Ok(stored) => stored,
        Err(e) => return store_error(&viewer, e),
    };
    let mut checked = validate(&form);
    // A new calendar is checked against GHL; an unchanged one was checked when chosen.
    let new_calendar = match &checked {
        Ok(change) => change
            .settings
            .calendar_id
            .clone()
            .filter(|wanted| stored.calendar_id.as_ref() != Some(wanted)),
        Err(_) => None,
    };
    if let Some(wanted) = new_calendar {
        if let Err(why) = check_calendar(&state, &location, &wanted).await {
            checked = Err(vec![why]);
        }
    }
    let change = match checked {
        Ok(change) => change,
        Err(errors) => {
            let asked = AgentForm {
                id: location.id.to_string(),
                name: location.name.clone(),
                strategy: form.strategy,
                chat_model: form.chat_model,
                embedding_model: form.embedding_model,
                api_base: form.api_base,
                has_api_key: stored.has_api_key,
                calendar_id: form.calendar_id,
                contact_fields: form.contact_fields,
                replies_per_day: form.replies_per_day,
                reactivate_minutes: form.reactivate_minutes,
                errors,
            };
            return agent_page(&state, &viewer, Some(asked)).await;
        }
    };
    let saved = async {
        let mut tx = store.begin().await?;
        let saved = store
            .set_agent_settings(&mut tx, &viewer.scope, &location.id, &change)
            .await?;
        viewer
            .principal
            .audit(
                store,
                &mut tx,
                Some(viewer.scope.agency_id()),
                "location.agent_settings_changed",
                Some(location.id.as_str()),
                json!({
                    "strategy_chars": saved.strategy.chars().count(),
                    "chat_model": saved.chat_model,
                    "embedding_model": saved.embedding_model,
                    "api_base": saved.api_base,
                    "api_key": match &change.api_key {
                        None => "kept",
                        Some(None) => "removed",
                        Some(Some(_)) => "replaced",
                    },
                    "calendar_id": saved.calendar_id,
                    "contact_fields": saved.contact_fields.len(),
                    "replies_per_day": saved.replies_per_day,
                    "reactivate_minutes": saved.reactivate_minutes,
                }),
            )
            .await?;
        tx.commit().await
    };
    if let Err(e) = saved.await {
        return store_error(&viewer, e);
    }
    Redirect::to(&format!("/settings/agent#{}", location.id)).into_response()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use secrecy::ExposeSecret;

    use super::*;

    #[test]
    fn good_fields_pass_and_each_bad_one_is_named() {
        let good = AgentFields {
            strategy: "Be brief.\r\nAsk for their budget.".into(),
            chat_model: "gpt-4o".into(),
            api_base: "http://127.0.0.1:11434/v1/".into(),
            api_key: "sk-abc".into(),
            contact_fields: "budget = cf_123\n\nmove_date=cf_456".into(),
            replies_per_day: "50".into(),
            reactivate_minutes: "120".into(),
            ..Default::default()
        };
        let change = validate(&good).unwrap();
        assert_eq!(change.settings.strategy, "Be brief.\nAsk for their budget.");
        assert_eq!(
            change.settings.api_base.as_deref(),
            Some("http://127.0.0.1:11434/v1")
        );
        assert_eq!(change.settings.contact_fields.len(), 2);
        assert_eq!(change.api_key.unwrap().unwrap().expose_secret(), "sk-abc");
        assert!(
            validate(&AgentFields::default()).unwrap().api_key.is_none(),
            "an empty key keeps the stored one"
        );

        let bad = AgentFields {
            strategy: "x".repeat(MAX_STRATEGY_CHARS + 1),
            chat_model: "gpt 4".into(),
            api_base: "ftp://models".into(),
            contact_fields: "Budget = cf_1\nemail = cf_2\nnoequals".into(),
            replies_per_day: "-1".into(),
            reactivate_minutes: "0".into(),
            ..Default::default()
        };
        let errors = validate(&bad).unwrap_err();
        assert_eq!(errors.len(), 8, "{errors:#?}");
    }
}
