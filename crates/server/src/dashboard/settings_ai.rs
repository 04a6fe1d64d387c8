//! Settings, AI and quiet hours: per location, whether the AI answers its contacts at
//! all, its time zone, and the quiet hours in which nobody is messaged unprompted.
//!
//! Agency admins set every location's; a location admin sets their own. The time zone is
//! checked against the IANA database built into the binary, so a typo is refused here
//! rather than silently read as UTC when the hours are applied. The AI's replies and
//! campaigns read these settings through [`store::repo::Location`].

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use domain::quiet_hours::{ClockTime, QuietHours, Zone};
use serde::Deserialize;
use serde_json::json;
use store::repo::{Location, LocationAi};

use super::page::{render, store_error, Layout};
use super::viewer::{CsrfForm, Viewer};
use crate::auth::Permission;
use crate::AppState;

/// One location's form, as stored or as sent back with its errors.
struct LocationForm {
    id: String,
    name: String,
    ai_enabled: bool,
    time_zone: String,
    quiet_start: String,
    quiet_end: String,
    /// One phrase per line.
    handoff_phrases: String,
    errors: Vec<String>,
    /// What the settings mean now, in words ("Quiet 21:00–08:00, America/Chicago").
    summary: String,
}

impl LocationForm {
    fn stored(location: &Location) -> Self {
        let quiet = location.quiet_hours.map(|q| (q.start, q.end));
        let zone = location.time_zone.clone().unwrap_or_default();
        let summary = match quiet {
            Some((s, e)) => format!(
                "Quiet {s}–{e}, {}.",
                if zone.is_empty() {
                    "UTC (no time zone set)"
                } else {
                    &zone
                }
            ),
            None => "No quiet hours.".to_string(),
        };
        Self {
            id: location.id.to_string(),
            name: location.name.clone(),
            ai_enabled: location.ai_enabled,
            time_zone: zone,
            quiet_start: quiet.map(|(s, _)| s.to_string()).unwrap_or_default(),
            quiet_end: quiet.map(|(_, e)| e.to_string()).unwrap_or_default(),
            handoff_phrases: location.handoff_phrases().join("\n"),
            errors: Vec::new(),
            summary,
        }
    }
}

#[derive(Template)]
#[template(path = "settings_ai.html")]
struct AiPage {
    layout: Layout,
    locations: Vec<LocationForm>,
    may_manage_users: bool,
    may_manage_keys: bool,
}

async fn ai_page(state: &AppState, viewer: &Viewer, asked: Option<LocationForm>) -> Response {
    let locations = match state.store.locations(&viewer.scope).await {
        Ok(locations) => locations,
        Err(e) => return store_error(viewer, e),
    };
    let refused = asked.is_some();
    let mut forms: Vec<LocationForm> = locations.iter().map(LocationForm::stored).collect();
    if let Some(asked) = asked {
        if let Some(slot) = forms.iter_mut().find(|f| f.id == asked.id) {
            *slot = LocationForm {
                summary: slot.summary.clone(),
                ..asked
            };
        }
    }
    let page = AiPage {
        layout: Layout::new(state, viewer, "AI and quiet hours", "settings").await,
        locations: forms,
        may_manage_users: viewer.may(Permission::ManageUsers),
        may_manage_keys: viewer.may(Permission::ManageApiKeys),
    };
    let status = if refused {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    render(status, &page)
}

/// `GET /settings/ai`.
pub async fn show(State(state): State<AppState>, viewer: Viewer) -> Response {
    if let Err(refused) = viewer.require(Permission::ManageAi) {
        return refused;
    }
    ai_page(&state, &viewer, None).await
}

#[derive(Debug, Deserialize)]
pub struct AiForm {
    /// `1` when the box is ticked; absent otherwise (an unticked box sends nothing).
    #[serde(default)]
    ai: String,
    #[serde(default)]
    time_zone: String,
    /// `HH:MM`, or empty with `quiet_end` empty for no quiet hours.
    #[serde(default)]
    quiet_start: String,
    #[serde(default)]
    quiet_end: String,
    /// One per line; empty for none.
    #[serde(default)]
    handoff_phrases: String,
}

/// What a valid form sets.
#[derive(Debug)]
struct Valid {
    ai_enabled: bool,
    quiet: Option<QuietHours>,
    zone: Option<String>,
    /// One phrase per line, trimmed.
    phrases: String,
}

/// What the form asks for, or what is wrong with it, field by field.
fn validate(form: &AiForm) -> Result<Valid, Vec<String>> {
    let mut errors = Vec::new();
    let zone = form.time_zone.trim();
    if !zone.is_empty() {
        if let Err(e) = Zone::named(zone) {
            errors.push(format!("Time zone: {e}."));
        }
    }
    let (start, end) = (form.quiet_start.trim(), form.quiet_end.trim());
    let quiet = match (start.is_empty(), end.is_empty()) {
        (true, true) => None,
        (false, false) => match (start.parse::<ClockTime>(), end.parse::<ClockTime>()) {
            (Ok(s), Ok(e)) => match QuietHours::new(s, e) {
                Ok(q) => Some(q),
                Err(e) => {
                    errors.push(format!("Quiet hours: {e}."));
                    None
                }
            },
            (s, e) => {
                for err in [s.err(), e.err()].into_iter().flatten() {
                    errors.push(format!("Quiet hours: {err}."));
                }
                None
            }
        },
        _ => {
            errors.push("Quiet hours: give both a start and an end, or neither.".into());
            None
        }
    };
    let phrases = match domain::handoff::parse_phrases(&form.handoff_phrases) {
        Ok(phrases) => phrases.join("\n"),
        Err(e) => {
            errors.push(format!("Handoff phrases: {e}."));
            String::new()
        }
    };
    if errors.is_empty() {
        Ok(Valid {
            ai_enabled: form.ai == "1",
            quiet,
            zone: Some(zone.to_string()).filter(|z| !z.is_empty()),
            phrases,
        })
    } else {
        Err(errors)
    }
}

/// `POST /settings/ai/{location_id}`.
pub async fn save(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    CsrfForm(form): CsrfForm<AiForm>,
) -> Response {
    let location =
        match super::viewer::location_to_change(&state, &viewer, &id, Permission::ManageAi).await {
            Ok(location) => location,
            Err(refused) => return refused,
        };
    let Valid {
        ai_enabled,
        quiet,
        zone,
        phrases,
    } = match validate(&form) {
        Ok(valid) => valid,
        Err(errors) => {
            let asked = LocationForm {
                id: location.id.to_string(),
                name: location.name.clone(),
                ai_enabled: form.ai == "1",
                time_zone: form.time_zone,
                quiet_start: form.quiet_start,
                quiet_end: form.quiet_end,
                handoff_phrases: form.handoff_phrases,
                errors,
                summary: String::new(),
            };
            return ai_page(&state, &viewer, Some(asked)).await;
        }
    };
    let store = &state.store;
    let saved = async {
        let mut tx = store.begin().await?;
        let settings = LocationAi {
            ai_enabled,
            quiet_hours: quiet,
            time_zone: zone.as_deref(),
            handoff_phrases: Some(&phrases),
        };
        store
            .set_location_ai(&mut tx, &viewer.scope, &location.id, &settings)
            .await?;
        viewer
            .principal
            .audit(
                store,
                &mut tx,
                Some(viewer.scope.agency_id()),
                "location.ai_settings_changed",
                Some(location.id.as_str()),
                json!({
                    "ai_enabled": ai_enabled,
                    "quiet_hours": quiet.map(|q| q.to_string()),
                    "time_zone": zone,
                    "handoff_phrases": phrases.lines().count(),
                }),
            )
            .await?;
        tx.commit().await
    };
    if let Err(e) = saved.await {
        return store_error(&viewer, e);
    }
    Redirect::to(&format!("/settings/ai#{}", location.id)).into_response()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn form(ai: &str, zone: &str, start: &str, end: &str) -> AiForm {
        AiForm {
            ai: ai.into(),
            time_zone: zone.into(),
            quiet_start: start.into(),
            quiet_end: end.into(),
            handoff_phrases: " human \n\nreal person".into(),
        }
    }

    #[test]
    fn good_settings_pass_and_bad_ones_say_which_field() {
        let valid = validate(&form("1", "America/Chicago", "21:00", "08:00")).unwrap();
        assert!(valid.ai_enabled);
        assert_eq!(valid.quiet.unwrap().to_string(), "21:00–08:00");
        assert_eq!(valid.zone.as_deref(), Some("America/Chicago"));
        assert_eq!(valid.phrases, "human\nreal person");
        let valid = validate(&form("", "", "", "")).unwrap();
        assert!(!valid.ai_enabled && valid.quiet.is_none() && valid.zone.is_none());
        let mut long = form("1", "UTC", "", "");
        long.handoff_phrases = "x".repeat(61);
        assert!(validate(&long).unwrap_err()[0].starts_with("Handoff phrases"));

        let errors = validate(&form("1", "Mars/Olympus", "25:00", "08:00")).unwrap_err();
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert!(errors[0].starts_with("Time zone"));
        assert!(errors[1].starts_with("Quiet hours"));
        let errors = validate(&form("1", "UTC", "21:00", "")).unwrap_err();
        assert!(errors[0].contains("both"), "{errors:?}");
        let errors = validate(&form("1", "UTC", "09:00", "09:00")).unwrap_err();
        assert!(errors[0].contains("different"), "{errors:?}");
    }
}
