//! `deliver`: send one outbound message through its channel (flow 1).
//!
//! Consent is checked here, at send time, not when the message arrived: the contact's
//! opt-out flag and the suppression list of erased opt-outs. The attempt is
//! written to the timeline before the call and the provider's answer right after it. If
//! the process dies between the provider accepting and our record, the job runs again and
//! the message is sent a second time: SendBlue takes no idempotency key. The timeline
//! then shows a `send.attempt` without its `send.accepted`, which is how such a
//! duplicate is found.
//!
//! A channel that is not `active` (paused through the API) sends nothing: its messages
//! fail with the reason.
//!
//! A provider with a customer-service window (WhatsApp) gets free text only inside it;
//! outside, the channel's fallback template goes out instead, or the message fails with
//! the reason and nothing is called (see `connectors::window`).

use channels::OutboundMessage;
use domain::{MessageId, MessageStatus};
use outbound::Failure;
use serde::Deserialize;
use serde_json::json;
use store::queue::{Job, Outcome};
use store::repo::{ConsentChange, Message};
use store::{Store, StoreError, TenantScope};

use super::{outcome_of, storage, JobContext};
use crate::connectors::{decide_window, WindowDecision};
use crate::webhooks::sync_status_job;

#[derive(Debug, Deserialize)]
pub(super) struct Deliver {
    message_id: MessageId,
    /// An opt-out confirmation: the one message an opted-out contact still receives.
    #[serde(default)]
    confirmation: bool,
}

pub(super) async fn deliver(ctx: JobContext, job: Job, p: Deliver) -> Outcome {
    match run(&ctx, &job, &p).await {
        Ok(outcome) => outcome,
        Err(e) => storage(e),
    }
}

async fn run(ctx: &JobContext, job: &Job, p: &Deliver) -> Result<Outcome, StoreError> {
    let store = &ctx.store;
    let agency = match store.agency_of_message(&p.message_id).await {
        Err(StoreError::NotFound) => {
            return Ok(Outcome::Permanent {
                error: format!("message {} no longer exists", p.message_id),
            })
        }
        other => other?,
    };
    let scope = TenantScope::for_agency(&agency);
    let message = store.message(&scope, &p.message_id).await?;
    if message.status != MessageStatus::Pending {
        // Already sent (or failed) by an earlier run that got as far as recording it.
        return Ok(Outcome::Completed);
    }
    let channel = store.channel(&scope, &message.channel_id).await?;
    if channel.status != "active" {
        // A paused line sends nothing, not even what was queued before the pause: the
        // message fails with the reason (and GHL hears so) rather than waiting unseen.
        let reason = format!(
            "channel {} is {}; nothing was sent",
            channel.id, channel.status
        );
        fail(store, &agency.id, &message, &channel.location_id, &reason).await?;
        return Ok(Outcome::Completed);
    }
    let conversation = store.conversation(&scope, &message.conversation_id).await?;
    let contact = store.contact(&scope, &conversation.contact_id).await?;
    if contact.opted_out && !p.confirmation {
        fail(
            store,
            &agency.id,
            &message,
            &channel.location_id,
            "the contact has opted out (STOP); nothing was sent",
        )
        .await?;
        return Ok(Outcome::Completed);
    }
    let Some(to) = contact.phone.clone().or(contact.email.clone()) else {
        fail(
            store,
            &agency.id,
            &message,
            &channel.location_id,
            "the contact has no phone number",
        )
        .await?;
        return Ok(Outcome::Completed);
    };
    // An opt-out that outlived an erasure (the contact row forgot the handle, the
    // suppression list did not).
    if !p.confirmation && store.is_suppressed(&channel.location_id, &to).await? {
        fail(
            store,
            &agency.id,
            &message,
            &channel.location_id,
            "the recipient opted out before their data was erased (suppression list); nothing was sent",
        )
        .await?;
        return Ok(Outcome::Completed);
    }
    let window = channels::for_provider(channel.provider).and_then(|c| c.service_window());
    let template = match decide_window(
        window,
        conversation.last_inbound_at,
        store.now_ms(),
        &channel.settings,
    ) {
        WindowDecision::FreeForm => None,
        WindowDecision::Template(template) => Some(template),
        WindowDecision::Refused(reason) => {
            fail(store, &agency.id, &message, &channel.location_id, &reason).await?;
            return Ok(Outcome::Completed);
        }
    };
    let attempt = json!({
        "attempt": job.attempt, "provider": channel.provider, "line": channel.line,
        // What the text costs if it goes out as SMS (iMessage has no segments).
        "sms_segments": message.sms_segments,
        // Outside the provider's window the template goes out instead of the text.
        "template": template.as_ref().map(|t| &t.name),
    });
    store
        .note_message_event(&agency.id, &message.id, "send.attempt", attempt)
        .await?;

    let mut outbound = OutboundMessage {
        to,
        from_line: channel.line.clone(),
        body: message.body.clone(),
        media_urls: message.attachments.clone(),
        status_callback: ctx.connectors.channels.webhook_url(&channel),
        reference: message.id.to_string(),
        thread: conversation.provider_thread.clone(),
        template,
        ..Default::default()
    };
    // Providers that take uploads get the files; a refused attachment fails like a send.
    let result = match crate::media::attach_uploads(&ctx.media, &channel, &mut outbound).await {
        Ok(()) => {
            ctx.connectors
                .channels
                .send(store, &channel, &outbound)
                .await
        }
        Err(failure) => Err(failure),
    };
    let sent = Sent {
        agency: agency.id.clone(),
        message,
        channel,
        conversation: conversation.id.clone(),
        contact: contact.id.clone(),
        attempt: job.attempt,
        last_attempt: job.is_last_attempt(),
    };
    let writer = store.clone();
    store
        .write(move |tx| Box::pin(async move { record(&writer, tx, &sent, result).await }))
        .await
}

/// What a send was about, for recording its result.
struct Sent {
    agency: domain::AgencyId,
    message: Message,
    channel: store::repo::Channel,
    conversation: domain::ConversationId,
    contact: domain::ContactId,
    attempt: u32,
    last_attempt: bool,
}

/// Records the provider's answer (or the failure) and says what becomes of the job.
async fn record(
    store: &Store,
    tx: &mut store::Tx,
    sent: &Sent,
    result: Result<channels::SendAccepted, Failure>,
) -> Result<Outcome, StoreError> {
    let outcome = match result {
        Ok(accepted) => {
            store
                .set_provider_message_id(tx, &sent.message.id, &accepted.provider_message_id)
                .await?;
            if let Some(thread) = accepted.thread.as_deref() {
                store
                    .set_provider_thread(tx, &sent.conversation, thread)
                    .await?;
            }
            store
                .append_message_event(tx, &sent.agency, &sent.message.id, "send.accepted", json!({
                    "provider_message_id": accepted.provider_message_id, "status": accepted.status,
                }))
                .await?;
            let changed = store
                .advance_message_status(tx, &sent.message, &sent.agency, accepted.status, None)
                .await?;
            if let Some(status) = changed.filter(|s| *s != MessageStatus::Sent) {
                enqueue_status(
                    store,
                    tx,
                    &sent.message,
                    &sent.agency,
                    &sent.channel.location_id,
                    status,
                )
                .await?;
            }
            Outcome::Completed
        }
        Err(failure) => {
            store
                .append_message_event(
                    tx,
                    &sent.agency,
                    &sent.message.id,
                    "send.failed",
                    json!({
                        "attempt": sent.attempt, "error": failure.detail(),
                    }),
                )
                .await?;
            match failure {
                Failure::OptedOut { detail } => {
                    store
                        .record_consent(
                            tx,
                            &TenantScope::for_channel(&sent.channel),
                            &sent.contact,
                            ConsentChange::OptOut,
                            &format!("{}:send", sent.channel.provider),
                            &detail,
                        )
                        .await?;
                    fail_in(
                        store,
                        tx,
                        &sent.agency,
                        &sent.message,
                        &sent.channel.location_id,
                        &format!("the recipient has opted out: {detail}"),
                    )
                    .await?;
                    Outcome::Completed
                }
                Failure::Permanent { detail } => {
                    fail_in(
                        store,
                        tx,
                        &sent.agency,
                        &sent.message,
                        &sent.channel.location_id,
                        &detail,
                    )
                    .await?;
                    Outcome::Permanent { error: detail }
                }
                Failure::Retry { detail, after } if sent.last_attempt => {
                    fail_in(
                        store,
                        tx,
                        &sent.agency,
                        &sent.message,
                        &sent.channel.location_id,
                        &format!("gave up after {} attempts: {detail}", sent.attempt),
                    )
                    .await?;
                    Outcome::Retry {
                        error: detail,
                        after,
                    }
                }
                other => outcome_of(other),
            }
        }
    };
    Ok(outcome)
}

/// Marks a message failed (forward-only) and queues the news for GHL.
async fn fail(
    store: &Store,
    agency: &domain::AgencyId,
    message: &Message,
    location: &domain::LocationId,
    reason: &str,
) -> Result<(), StoreError> {
    let (writer, agency, message, location) = (
        store.clone(),
        agency.clone(),
        message.clone(),
        location.clone(),
    );
    let reason = reason.to_owned();
    store
        .write(move |tx| {
            Box::pin(
                async move { fail_in(&writer, tx, &agency, &message, &location, &reason).await },
            )
        })
        .await
}

async fn fail_in(
    store: &Store,
    tx: &mut store::Tx,
    agency: &domain::AgencyId,
    message: &Message,
    location: &domain::LocationId,
    reason: &str,
) -> Result<(), StoreError> {
    if store
        .advance_message_status(tx, message, agency, MessageStatus::Failed, Some(reason))
        .await?
        .is_some()
    {
        enqueue_status(store, tx, message, agency, location, MessageStatus::Failed).await?;
    }
    Ok(())
}

async fn enqueue_status(
    store: &Store,
    tx: &mut store::Tx,
    message: &Message,
    agency: &domain::AgencyId,
    location: &domain::LocationId,
    status: MessageStatus,
) -> Result<(), StoreError> {
    store
        .queue()
        .enqueue(tx, sync_status_job(message, agency, location, status))
        .await?;
    Ok(())
}
