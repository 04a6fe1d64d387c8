//! Jobs that tell GHL what happened: inbound messages (with STOP/START/HELP handling),
//! status changes, and messages that can't be delivered at all.

use domain::{Actor, Direction, LocationId, MessageId, MessageStatus};
use ghl::api::{
    ContactKey, ContactUpsert, DndChannel, GhlMessageStatus, InboundMessage, ProviderError,
};
use ghl::DndStatus;
use outbound::Failure;
use serde::Deserialize;
use serde_json::json;
use store::queue::{Job, NewJob, Outcome};
use store::repo::{Channel, Contact, Location, Message, NewMessage};
use store::{StoreError, TenantScope};

use super::{outcome_of, storage, JobContext};
use crate::webhooks::{line_pacing_key, DELIVER};

/// A handler step's failure: the job's outcome, or a storage error.
enum Stop {
    Outcome(Outcome),
    Store(StoreError),
}

impl From<StoreError> for Stop {
    fn from(e: StoreError) -> Self {
        Stop::Store(e)
    }
}

impl From<ghl::Error> for Stop {
    fn from(e: ghl::Error) -> Self {
        Stop::Outcome(outcome_of(e.into_failure()))
    }
}

fn finish(result: Result<Outcome, Stop>) -> Outcome {
    match result {
        Ok(outcome) | Err(Stop::Outcome(outcome)) => outcome,
        Err(Stop::Store(e)) => storage(e),
    }
}

/// The message with everything around it, read through its agency's scope.
struct Context {
    scope: TenantScope,
    message: Message,
    channel: Channel,
    contact: Contact,
    location: Location,
}

async fn load(ctx: &JobContext, id: &MessageId) -> Result<Context, Stop> {
    let store = &ctx.store;
    let agency = match store.agency_of_message(id).await {
        Err(StoreError::NotFound) => {
            return Err(Stop::Outcome(Outcome::Permanent {
                error: format!("message {id} no longer exists"),
            }))
        }
        other => other?,
    };
    let scope = TenantScope::for_agency(&agency);
    let message = store.message(&scope, id).await?;
    let channel = store.channel(&scope, &message.channel_id).await?;
    let conversation = store.conversation(&scope, &message.conversation_id).await?;
    let contact = store.contact(&scope, &conversation.contact_id).await?;
    let location = store.location(&scope, &channel.location_id).await?;
    Ok(Context {
        scope,
        message,
        channel,
        contact,
        location,
    })
}

#[derive(Debug, Deserialize)]
pub(super) struct SyncInbound {
    message_id: MessageId,
    /// `OptOut`, `OptIn` or `Help` when the message was one of those keywords.
    #[serde(default)]
    keyword: Option<String>,
    /// Whether this message opted the contact out (so a confirmation is due).
    #[serde(default)]
    confirm: bool,
}

/// Posts an inbound message to GHL (once: a rerun skips what is recorded), then handles
/// its keyword: DND in GHL and one confirmation for STOP, DND lifted for START, a help
/// reply for HELP.
pub(super) async fn sync_inbound(ctx: JobContext, job: Job, p: SyncInbound) -> Outcome {
    let give_up_media = job.is_last_attempt() || job.attempt >= crate::media::MEDIA_ATTEMPTS;
    finish(sync_inbound_steps(&ctx, &p, give_up_media).await)
}

async fn sync_inbound_steps(
    ctx: &JobContext,
    p: &SyncInbound,
    give_up_media: bool,
) -> Result<Outcome, Stop> {
    let store = &ctx.store;
    let c = load(ctx, &p.message_id).await?;
    let agency = c.location.agency_id.clone();
    let ghl_contact = ghl_contact_id(ctx, &c).await?;
    if c.message.ghl_message_id.is_none() {
        let Some(provider_id) = c.location.conversation_provider_id.as_deref() else {
            return Ok(Outcome::Permanent {
                error: format!("location {} has no GHL conversation provider id (set it with `switchboard location add --conversation-provider-id`)", c.location.id),
            });
        };
        // The attachments, stored and signed (or refused with a note in the text).
        let media = crate::media::prepare_inbound(
            ctx,
            &c.scope,
            &c.location,
            &c.channel,
            &c.message,
            give_up_media,
        )
        .await
        .map_err(Stop::Outcome)?;
        let inbound = InboundMessage {
            contact_id: &ghl_contact,
            conversation_provider_id: Some(provider_id),
            conversation_id: None,
            message: &media.text,
            attachments: &media.links,
            alt_id: Some(c.message.id.as_str()),
            date: None,
        };
        let posted = ctx
            .connectors
            .ghl
            .call(
                store,
                &c.location,
                "add_inbound_message",
                |api| api.add_inbound_message(&inbound),
                ghl::api::parse_inbound_message,
            )
            .await;
        let added = match posted {
            Err(ghl::Error::Call(Failure::Permanent { detail }))
                if c.contact.ghl_contact_id.is_some() =>
            {
                return Err(stale_mapping(ctx, &c, &ghl_contact, detail).await);
            }
            other => other?,
        };
        let (writer, message) = (store.clone(), c.message.id.clone());
        let agency = agency.clone();
        store
            .write(move |tx| {
                Box::pin(async move {
                    writer
                        .set_ghl_message_id(tx, &message, &added.message_id)
                        .await?;
                    writer
                        .append_message_event(
                            tx,
                            &agency,
                            &message,
                            "ghl.posted",
                            json!({
                                "ghl_message_id": added.message_id,
                                "ghl_conversation_id": added.conversation_id,
                            }),
                        )
                        .await
                })
            })
            .await?;
    }
    // Where the provider answers keywords itself (Twilio), our reply would be a second one.
    let provider_replies = channels::for_provider(c.channel.provider)
        .is_some_and(|channel| channel.replies_to_keywords());
    match p.keyword.as_deref() {
        Some("OptOut") => {
            set_dnd(ctx, &c, &ghl_contact, DndStatus::Active).await?;
            if p.confirm && !provider_replies {
                reply_once(ctx, &c, "opt_out_confirmation", "You have been unsubscribed and will receive no more messages. Reply START to resubscribe.", true).await?;
            }
        }
        Some("OptIn") => set_dnd(ctx, &c, &ghl_contact, DndStatus::Inactive).await?,
        Some("Help") if !provider_replies => {
            reply_once(
                ctx,
                &c,
                "help_reply",
                "Reply STOP to unsubscribe, START to resubscribe.",
                false,
            )
            .await?;
        }
        _ => {}
    }
    if p.keyword.is_none() && !hand_off_if_asked(ctx, &c).await? {
        queue_ai_reply(ctx, &c).await?;
    }
    Ok(Outcome::Completed)
}

/// Queues the AI's answer (flow 3) when a model is configured and both AI switches are on;
/// `ai_reply` checks everything again when it runs. Once per message (a unique key).
async fn queue_ai_reply(ctx: &JobContext, c: &Context) -> Result<(), Stop> {
    if !c.location.ai_enabled {
        return Ok(());
    }
    let store = &ctx.store;
    let (endpoint, _) =
        crate::agent::endpoint_for(store, &ctx.config, &c.scope, &c.location.id).await?;
    if endpoint.is_none() {
        return Ok(());
    }
    let conversation = store
        .conversation(&c.scope, &c.message.conversation_id)
        .await?;
    if !conversation.ai_enabled {
        return Ok(());
    }
    let (job, key) =
        crate::jobs::ai_reply::job(c.scope.agency_id(), &conversation.id, &c.message.id);
    let writer = store.clone();
    store
        .write(move |tx| {
            Box::pin(async move {
                writer
                    .queue()
                    .enqueue_unique(tx, job, &key)
                    .await
                    .map(|_| ())
            })
        })
        .await?;
    Ok(())
}

/// Opens a handoff when the contact asks for a person in words the location listed
/// (flow 4): the AI goes quiet for the conversation and the agents are told, live and by
/// email. On a rerun the open handoff is found again, so nobody is told twice.
/// Answers whether the contact asked.
async fn hand_off_if_asked(ctx: &JobContext, c: &Context) -> Result<bool, Stop> {
    let phrases = c.location.handoff_phrases();
    let Some(phrase) = domain::handoff::asks_for_human(&c.message.body, &phrases) else {
        return Ok(false);
    };
    let store = &ctx.store;
    let handoff = store
        .open_handoff(
            &c.scope,
            &c.message.conversation_id,
            &format!("the contact asked for a person (\"{phrase}\")"),
            "contact",
            &crate::jobs::handoff_notice::notice_job(c.scope.agency_id()),
        )
        .await?;
    let (writer, agency, message) = (
        store.clone(),
        c.scope.agency_id().clone(),
        c.message.id.clone(),
    );
    let detail = json!({"handoff_id": handoff.id, "phrase": phrase, "state": handoff.state});
    store
        .write(move |tx| {
            Box::pin(async move {
                writer
                    .append_message_event(tx, &agency, &message, "handoff.requested", detail)
                    .await
            })
        })
        .await?;
    Ok(true)
}

/// GHL's id for the contact: the stored mapping, else GHL's duplicate search by phone,
/// else a new GHL contact; the mapping is stored for next time.
async fn ghl_contact_id(ctx: &JobContext, c: &Context) -> Result<String, Stop> {
    if let Some(id) = &c.contact.ghl_contact_id {
        return Ok(id.clone());
    }
    let store = &ctx.store;
    let ghl_location = c.location.ghl_location_id.as_str();
    let (phone, email) = (c.contact.phone.as_deref(), c.contact.email.as_deref());
    let key = match (phone, email) {
        (Some(phone), _) => ContactKey::Phone(phone),
        (None, Some(email)) => ContactKey::Email(email),
        (None, None) => {
            return Err(Stop::Outcome(Outcome::Permanent {
                error: "the contact has no phone or email".into(),
            }))
        }
    };
    let found = ctx
        .connectors
        .ghl
        .call(
            store,
            &c.location,
            "find_contact",
            |api| api.find_contact(ghl_location, key),
            ghl::api::parse_find_contact,
        )
        .await?;
    let (id, created) = match found {
        Some(contact) => (contact.id, false),
        None => {
            let upsert = ContactUpsert {
                location_id: ghl_location,
                phone,
                email,
                source: Some("Switchboard"),
                ..Default::default()
            };
            let upserted = ctx
                .connectors
                .ghl
                .call(
                    store,
                    &c.location,
                    "upsert_contact",
                    |api| api.upsert_contact(&upsert),
                    ghl::api::parse_upsert_contact,
                )
                .await?;
            (upserted.contact.id, upserted.created)
        }
    };
    let (writer, contact, agency, message) = (
        store.clone(),
        c.contact.id.clone(),
        c.location.agency_id.clone(),
        c.message.id.clone(),
    );
    let linked = id.clone();
    store
        .write(move |tx| {
            Box::pin(async move {
                writer.link_ghl_contact(tx, &contact, &linked).await?;
                writer
                    .append_message_event(
                        tx,
                        &agency,
                        &message,
                        "ghl.contact",
                        json!({"ghl_contact_id": linked, "created": created}),
                    )
                    .await
            })
        })
        .await?;
    Ok(id)
}

/// GHL refused a message for a contact we had mapped. If GHL no longer knows that contact
/// (deleted or merged), forget the mapping and retry at once: the next run finds or
/// creates the contact again. Otherwise the refusal stands.
async fn stale_mapping(ctx: &JobContext, c: &Context, ghl_contact: &str, detail: String) -> Stop {
    let lookup = ctx
        .connectors
        .ghl
        .call(
            &ctx.store,
            &c.location,
            "get_contact",
            |api| api.get_contact(ghl_contact),
            ghl::api::parse_contact,
        )
        .await;
    match lookup {
        Err(ghl::Error::Call(Failure::Permanent { .. })) => {
            if let Err(e) = ctx.store.clear_ghl_contact(&c.contact.id).await {
                return Stop::Store(e);
            }
            tracing::warn!(contact = %c.contact.id, %ghl_contact, "GHL no longer knows the mapped contact; mapping cleared");
            Stop::Outcome(Outcome::Retry {
                error: format!(
                    "GHL no longer knows contact {ghl_contact}; it will be looked up again"
                ),
                after: Some(std::time::Duration::ZERO),
            })
        }
        Ok(_) => Stop::Outcome(Outcome::Permanent { error: detail }),
        Err(e) => Stop::from(e),
    }
}

async fn set_dnd(
    ctx: &JobContext,
    c: &Context,
    ghl_contact: &str,
    status: DndStatus,
) -> Result<(), Stop> {
    ctx.connectors
        .ghl
        .call(
            &ctx.store,
            &c.location,
            "update_dnd",
            |api| api.update_dnd(ghl_contact, DndChannel::Sms, &status, None),
            ghl::api::parse_contact_update,
        )
        .await?;
    ctx.store
        .note_message_event(
            &c.location.agency_id,
            &c.message.id,
            "ghl.dnd",
            json!({"status": status.as_str()}),
        )
        .await?;
    Ok(())
}

/// Sends a system reply to this inbound message at most once, however often the job runs:
/// the guard receipt, the reply and its `deliver` job commit together.
async fn reply_once(
    ctx: &JobContext,
    c: &Context,
    purpose: &str,
    body: &str,
    confirmation: bool,
) -> Result<(), StoreError> {
    let store = &ctx.store;
    // Read before the transaction (see `webhooks::ghl_provider`: one pool on PostgreSQL).
    let conversation = store
        .conversation(&c.scope, &c.message.conversation_id)
        .await?;
    let mut tx = store.begin().await?;
    if !store
        .record_webhook_receipt(
            &mut tx,
            purpose,
            c.message.id.as_str(),
            Some(&c.location.agency_id),
        )
        .await?
    {
        return Ok(());
    }
    let reply = store
        .insert_message(
            &mut tx,
            &conversation,
            &c.location.agency_id,
            &NewMessage {
                direction: Direction::Outbound,
                actor: Actor::System,
                body: body.to_string(),
                attachments: vec![],
                status: MessageStatus::Pending,
                provider_message_id: None,
                ghl_message_id: None,
            },
        )
        .await?;
    if let Some(reply) = reply {
        store
            .queue()
            .enqueue(
                &mut tx,
                NewJob::new(
                    DELIVER,
                    json!({"message_id": reply.id, "confirmation": confirmation}),
                )
                .ordered_by(conversation.id.as_str())
                .paced_by(line_pacing_key(&c.channel.id))
                .for_agency(&c.channel.agency_id),
            )
            .await?;
    }
    tx.commit().await
}

#[derive(Debug, Deserialize)]
pub(super) struct SyncStatus {
    message_id: MessageId,
    status: MessageStatus,
}

/// Mirrors a status change to GHL, for messages GHL sent through us. GHL has no `sent`.
pub(super) async fn sync_status(ctx: JobContext, _job: Job, p: SyncStatus) -> Outcome {
    finish(sync_status_steps(&ctx, &p).await)
}

async fn sync_status_steps(ctx: &JobContext, p: &SyncStatus) -> Result<Outcome, Stop> {
    let c = load(ctx, &p.message_id).await?;
    let (Some(ghl_id), Some(status)) = (
        c.message.ghl_message_id.as_deref(),
        GhlMessageStatus::from_domain(p.status),
    ) else {
        return Ok(Outcome::Completed);
    };
    if c.message.direction != Direction::Outbound {
        return Ok(Outcome::Completed);
    }
    let error = c.message.error.as_deref().map(|message| ProviderError {
        code: "1".into(),
        kind: "saas".into(),
        message: message.to_string(),
    });
    ctx.connectors
        .ghl
        .call(
            &ctx.store,
            &c.location,
            "update_message_status",
            |api| api.update_message_status(ghl_id, status, error.as_ref()),
            ghl::api::parse_status_update,
        )
        .await?;
    ctx.store
        .note_message_event(
            &c.location.agency_id,
            &c.message.id,
            "ghl.status",
            json!({"status": status.as_str()}),
        )
        .await?;
    Ok(Outcome::Completed)
}

#[derive(Debug, Deserialize)]
pub(super) struct FailInGhl {
    location_id: LocationId,
    ghl_message_id: String,
    reason: String,
}

/// Tells GHL a message it sent us can't be delivered (no line on the location).
pub(super) async fn fail_in_ghl(ctx: JobContext, _job: Job, p: FailInGhl) -> Outcome {
    let location = match ctx.store.location_for_operator(&p.location_id).await {
        Ok(location) => location,
        Err(StoreError::NotFound) => {
            return Outcome::Permanent {
                error: format!("location {} no longer exists", p.location_id),
            }
        }
        Err(e) => return storage(e),
    };
    let error = ProviderError {
        code: "1".into(),
        kind: "saas".into(),
        message: p.reason.clone(),
    };
    match ctx
        .connectors
        .ghl
        .call(
            &ctx.store,
            &location,
            "update_message_status",
            |api| {
                api.update_message_status(&p.ghl_message_id, GhlMessageStatus::Failed, Some(&error))
            },
            ghl::api::parse_status_update,
        )
        .await
    {
        Ok(()) => Outcome::Completed,
        Err(e) => outcome_of(e.into_failure()),
    }
}
