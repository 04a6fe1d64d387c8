//! The demo location's AI agent: a strategy, a booking calendar in the sandbox's GHL, and
//! a small knowledge base, so the knowledge page, the AI agent settings and the AI's
//! timeline (passages, tools) have something to show.

use anyhow::{Context, Result};
use serde_json::json;
use server::jobs::knowledge_ingest;
use store::repo::{AgentSettingsChange, NewKnowledgeSource};
use store::{Store, TenantScope};

use super::seed::GHL_LOCATION_ID;
use super::Control;

const STRATEGY: &str = "You are the friendly assistant of Bright Smile Dental in Austin. \
Goals: answer questions from the knowledge passages, find out which treatment the lead \
wants, and book cleanings and consultations into the calendar. Ask one question at a time. \
Never quote prices that are not in the passages.";

const FAQ: &str = "Bright Smile Dental is a family dental clinic in Austin, open Monday to \
Friday from 8am to 5pm and Saturday mornings by appointment.\n\nA routine cleaning and exam \
costs $120 without insurance. Professional teeth whitening costs $299 and takes about 90 \
minutes; take-home whitening trays are $149. We accept Delta Dental, Cigna and Aetna PPO \
plans.\n\nFree parking is behind the building, entrance on Elm Street. New patients should \
arrive 15 minutes early to fill in a short form.";

/// Seeds the agent; a re-run keeps the knowledge base and points at the new calendar
/// (the sandbox forgets its calendars when it stops).
pub(crate) async fn seed_agent(
    store: &Store,
    control: &Control,
    scope: &TenantScope,
) -> Result<()> {
    let location = store
        .location_by_ghl_id(GHL_LOCATION_ID)
        .await
        .context("the demo location")?;
    let calendar = control
        .post(
            "/ghl/calendars",
            json!({"locationId": GHL_LOCATION_ID, "name": "Cleanings and consultations",
                   "timezone": "America/Chicago", "slotMinutes": 60}),
        )
        .await?;
    let calendar_id = calendar["id"]
        .as_str()
        .context("the calendar's id")?
        .to_string();
    let mut change = AgentSettingsChange {
        settings: store.agent_settings(scope, &location.id).await?,
        ..Default::default()
    };
    if change.settings.strategy.is_empty() {
        change.settings.strategy = STRATEGY.to_string();
    }
    change.settings.calendar_id = Some(calendar_id);
    let mut tx = store.begin().await?;
    store
        .set_agent_settings(&mut tx, scope, &location.id, &change)
        .await?;
    tx.commit().await?;
    if store
        .knowledge_sources(scope, Some(&location.id))
        .await?
        .is_empty()
    {
        let source = NewKnowledgeSource {
            kind: "text".into(),
            title: "Clinic FAQ".into(),
            document: Some(FAQ.as_bytes().to_vec()),
            ..Default::default()
        };
        store
            .add_knowledge_source(
                scope,
                &location.id,
                &source,
                &knowledge_ingest::job(location.agency_id.clone()),
            )
            .await?;
    }
    Ok(())
}
