//! Applying a provider's webhook events: one transaction for the whole delivery (shared with
//! other writers by group commit, `Store::write`), each event
//! deduplicated by a receipt written with its effect, jobs enqueued in the same
//! transaction (an outbox), committed before the provider gets its 200.

use channels::{InboundMessage, StatusReport, WebhookEvent};
use domain::{Actor, Direction, Keyword, MessageStatus};
use serde_json::json;
use store::queue::NewJob;
use store::repo::{Channel, ConsentChange, Message, NewMessage};
use store::{Store, StoreError, TenantScope, Tx};

/// Job kinds the channel ingest path enqueues (handled in `crate::jobs`).
pub const SYNC_INBOUND: &str = "sync_inbound";
pub const SYNC_STATUS: &str = "sync_status";

/// The job that mirrors a message's new status to GHL.
///
/// Ordered by the message, not by its conversation: a message's updates reach GHL in order
/// (`delivered` before `read`), but they wait for the location's GHL budget without holding
/// back the conversation's next send, which only waits for its line.
pub fn sync_status_job(
    message: &Message,
    agency: &domain::AgencyId,
    location: &domain::LocationId,
    status: MessageStatus,
) -> NewJob {
    NewJob::new(
        SYNC_STATUS,
        json!({"message_id": message.id, "status": status}),
    )
    .ordered_by(message.id.as_str())
    .paced_by(ghl_pacing_key(location))
    .for_agency(agency)
}

/// The pacing key of a location's GHL budget.
pub fn ghl_pacing_key(location: &domain::LocationId) -> String {
    format!("ghl:{location}")
}

pub(super) async fn apply(
    store: &Store,
    channel: &Channel,
    events: Vec<WebhookEvent>,
) -> Result<(), StoreError> {
    let (writer, channel) = (store.clone(), channel.clone());
    store
        .write(move |tx| Box::pin(async move { apply_in(&writer, tx, &channel, events).await }))
        .await
}

/// [`apply`] inside a (group's) transaction.
async fn apply_in(
    store: &Store,
    tx: &mut Tx,
    channel: &Channel,
    events: Vec<WebhookEvent>,
) -> Result<(), StoreError> {
    let source = format!("{}:{}", channel.provider, channel.id);
    for event in events {
        let Some(key) = event.dedupe_key() else {
            if let WebhookEvent::Ignored { reason } = &event {
                tracing::debug!(channel = %channel.id, %reason, "webhook event ignored");
            }
            continue;
        };
        if !store
            .record_webhook_receipt(tx, &source, &key, Some(&channel.agency_id))
            .await?
        {
            tracing::info!(channel = %channel.id, %key, "duplicate webhook event; already applied");
            continue;
        }
        match event {
            WebhookEvent::Inbound(message) => inbound(store, tx, channel, &message).await?,
            WebhookEvent::Status(report) => status(store, tx, channel, &report).await?,
            WebhookEvent::Ignored { .. } => {}
        }
    }
    Ok(())
}

/// Stores an inbound message and enqueues its post to GHL. A STOP is recorded here, in the
/// same transaction, so no send can slip out between the message and its consent change
/// even while GHL is unreachable.
async fn inbound(
    store: &Store,
    tx: &mut Tx,
    channel: &Channel,
    message: &InboundMessage,
) -> Result<(), StoreError> {
    let contact = store.contact_for_handle(tx, channel, &message.from).await?;
    let conversation = store.conversation_for(tx, channel, &contact).await?;
    let stored = store
        .insert_message(
            tx,
            &conversation,
            &channel.agency_id,
            &NewMessage {
                direction: Direction::Inbound,
                actor: Actor::Contact,
                body: message.body.clone(),
                attachments: message.media_urls.clone(),
                status: MessageStatus::Delivered,
                provider_message_id: Some(message.provider_message_id.clone()),
                ghl_message_id: None,
            },
        )
        .await?;
    let Some(stored) = stored else {
        // The provider's id is already stored (a redelivery with another dedupe key).
        return Ok(());
    };
    store
        .note_inbound(
            tx,
            &conversation.id,
            message.thread.as_deref(),
            written_at_ms(message, store.now_ms()),
        )
        .await?;
    store
        .append_message_event(
            tx,
            &channel.agency_id,
            &stored.id,
            "webhook.received",
            json!({
                "provider": channel.provider, "provider_message_id": message.provider_message_id,
            }),
        )
        .await?;
    let scope = TenantScope::for_channel(channel);
    // Our keyword list first; then the provider's own reading (Twilio's Advanced Opt-Out
    // `OptOutType`, which knows a service's custom keywords).
    let keyword = Keyword::of_message(&message.body).or(message.keyword);
    let change = match keyword {
        Some(Keyword::OptOut) => Some(ConsentChange::OptOut),
        Some(Keyword::OptIn) => Some(ConsentChange::OptIn),
        _ if message.opted_out => Some(ConsentChange::OptOut),
        _ => None,
    };
    if let Some(change) = change {
        let source = format!(
            "{}:{}",
            channel.provider,
            if keyword.is_some() {
                "keyword"
            } else {
                "provider"
            }
        );
        store
            .record_consent(tx, &scope, &contact.id, change, &source, &message.body)
            .await?;
    }
    store
        .queue()
        .enqueue(
            tx,
            NewJob::new(
                SYNC_INBOUND,
                json!({
                    "message_id": stored.id,
                    "keyword": keyword.map(|k| format!("{k:?}")),
                    // One confirmation per opt-out: a STOP from someone already opted out
                    // changes nothing and is not confirmed again.
                    "confirm": change == Some(ConsentChange::OptOut) && !contact.opted_out,
                }),
            )
            .ordered_by(conversation.id.as_str())
            .paced_by(ghl_pacing_key(&channel.location_id))
            .for_agency(&channel.agency_id),
        )
        .await?;
    Ok(())
}

/// When the contact wrote, by the provider's clock (WhatsApp's window is counted from it),
/// never later than now: a provider clock running ahead must not keep a window open
/// longer than the provider itself will. Without a timestamp, now.
fn written_at_ms(message: &InboundMessage, now_ms: i64) -> i64 {
    message
        .sent_at
        .as_deref()
        .and_then(ghl::parse_rfc3339)
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .and_then(|d| i64::try_from(d.as_millis()).ok())
        .map_or(now_ms, |at| at.min(now_ms))
}

/// Moves a message's status forward and enqueues the update to GHL when it changed.
async fn status(
    store: &Store,
    tx: &mut Tx,
    channel: &Channel,
    report: &StatusReport,
) -> Result<(), StoreError> {
    let Some(message) = store
        .message_by_provider_id(tx, &channel.id, &report.provider_message_id)
        .await?
    else {
        // A status about a message we never sent (another system on the same line): 2xx,
        // logged, ignored.
        tracing::info!(channel = %channel.id, provider_message_id = %report.provider_message_id, "status for an unknown message ignored");
        return Ok(());
    };
    if report.opted_out {
        let scope = TenantScope::for_channel(channel);
        if let Ok(contact) = store
            .contact_of_conversation(tx, &message.conversation_id)
            .await
        {
            store
                .record_consent(
                    tx,
                    &scope,
                    &contact,
                    ConsentChange::OptOut,
                    &format!("{}:provider", channel.provider),
                    "",
                )
                .await?;
        }
    }
    let changed = store
        .advance_message_status(
            tx,
            &message,
            &channel.agency_id,
            report.status,
            report.error.as_deref(),
        )
        .await?;
    if let Some(new_status) = changed {
        store
            .queue()
            .enqueue(
                tx,
                sync_status_job(
                    &message,
                    &channel.agency_id,
                    &channel.location_id,
                    new_status,
                ),
            )
            .await?;
    }
    Ok(())
}
