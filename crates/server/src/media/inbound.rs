//! The inbound half: a contact's attachments become our signed links in GHL.

use std::collections::HashMap;

use channels::Credentials;
use serde_json::json;
use store::queue::Outcome;
use store::repo::{Channel, Location, Message};
use store::{StoreError, TenantScope};

use super::FetchError;
use crate::jobs::{storage, JobContext};

/// What is posted to GHL for a message: its text (with a note for each refused
/// attachment) and the links to the stored ones.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboundMedia {
    pub text: String,
    pub links: Vec<String>,
}

/// How many runs of `sync_inbound` wait for an attachment that fails transiently (a 5xx,
/// a timeout, a host that does not resolve) before it is given up with a note and the text
/// goes to GHL: about 15 to 30 seconds with the default backoff. The contact's words matter
/// more than their picture, and the job's full retry budget (minutes) is for GHL itself.
pub const MEDIA_ATTEMPTS: u32 = 4;

/// Fetches and stores `message`'s attachments, once: an attachment already stored (or
/// already refused, per the timeline) on an earlier run is not fetched again. `Err` is the
/// job's outcome: a transient failure retries it, except when `last_attempt` (the job's
/// last, or its [`MEDIA_ATTEMPTS`]th), when the attachment is given up with a note so the
/// text still reaches GHL.
pub async fn prepare_inbound(
    ctx: &JobContext,
    scope: &TenantScope,
    location: &Location,
    channel: &Channel,
    message: &Message,
    last_attempt: bool,
) -> Result<InboundMedia, Outcome> {
    let mut prepared = InboundMedia {
        text: message.body.clone(),
        links: Vec::new(),
    };
    if message.attachments.is_empty() {
        return Ok(prepared);
    }
    let store = &ctx.store;
    let media = &ctx.media;
    let refused: HashMap<u64, String> = store
        .message_timeline(scope, &message.id)
        .await
        .map_err(storage)?
        .into_iter()
        .filter(|e| e.kind == "media.refused")
        .filter_map(|e| {
            Some((
                e.detail["index"].as_u64()?,
                e.detail["note"].as_str()?.to_string(),
            ))
        })
        .collect();
    let folder = super::message_folder(&location.agency_id, &location.id, &message.id);
    let mut source: Option<Source> = None;
    let mut notes = Vec::new();
    for (n, reference) in message.attachments.iter().enumerate() {
        let index = n as u64;
        if let Some(note) = refused.get(&index) {
            notes.push(note.clone());
            continue;
        }
        let stored = media.store.find(&folder, &format!("{n}-")).await;
        if let Some(key) = stored.map_err(|e| retry(format!("media store: {e}")))? {
            prepared.links.push(media.links.link(&key));
            continue;
        }
        if source.is_none() {
            source = Some(Source::load(ctx, channel).await.map_err(storage)?);
        }
        let fetched = match source.as_ref() {
            Some(Source::Ready {
                channel,
                credentials,
                api_base,
            }) => {
                media
                    .downloader
                    .inbound(*channel, credentials, api_base, reference)
                    .await
            }
            Some(Source::Broken(reason)) => Err(FetchError::Refused {
                reason: reason.clone(),
                size: None,
            }),
            None => Err(FetchError::Refused {
                reason: "the channel cannot fetch media".into(),
                size: None,
            }),
        };
        let agency = &location.agency_id;
        match fetched {
            Ok(f) => {
                let name = super::kind::sanitised_name(reference);
                let key = format!("{folder}/{n}-{name}.{}", f.extension);
                let size = f.bytes.len();
                media
                    .store
                    .put(&key, f.bytes)
                    .await
                    .map_err(|e| retry(format!("media store: {e}")))?;
                record(
                    ctx,
                    agency,
                    message,
                    "media.stored",
                    json!({
                        "index": index, "key": key, "content_type": f.content_type, "size": size,
                    }),
                )
                .await?;
                prepared.links.push(media.links.link(&key));
            }
            Err(FetchError::Refused { reason, size }) => {
                let note = format!("[attachment refused: {reason}]");
                record(
                    ctx,
                    agency,
                    message,
                    "media.refused",
                    json!({
                        "index": index, "reason": reason, "size": size, "note": note,
                    }),
                )
                .await?;
                notes.push(note);
            }
            Err(FetchError::Transient(error)) if last_attempt => {
                let note = format!("[attachment could not be fetched: {error}]");
                record(
                    ctx,
                    agency,
                    message,
                    "media.refused",
                    json!({
                        "index": index, "reason": error, "size": null, "note": note,
                    }),
                )
                .await?;
                notes.push(note);
            }
            Err(FetchError::Transient(error)) => {
                record(
                    ctx,
                    agency,
                    message,
                    "media.failed",
                    json!({"index": index, "error": error}),
                )
                .await?;
                return Err(retry(format!("attachment {n}: {error}")));
            }
        }
    }
    if !notes.is_empty() {
        let notes = notes.join("\n");
        prepared.text = if prepared.text.is_empty() {
            notes
        } else {
            format!("{}\n{notes}", prepared.text)
        };
    }
    Ok(prepared)
}

/// How attachments of this channel are fetched: its credentials and API base, read once
/// per run and only when something must be fetched.
enum Source {
    Ready {
        channel: &'static dyn channels::Channel,
        credentials: Credentials,
        api_base: String,
    },
    Broken(String),
}

impl Source {
    async fn load(ctx: &JobContext, channel: &Channel) -> Result<Self, StoreError> {
        let Some(implementation) = channels::for_provider(channel.provider) else {
            return Ok(Source::Broken(format!(
                "provider {} is not supported",
                channel.provider
            )));
        };
        let credentials = Credentials::from(ctx.store.channel_credentials(channel).await?);
        Ok(
            match implementation.api_base(&credentials, channel.api_base.as_deref()) {
                Ok(api_base) => Source::Ready {
                    channel: implementation,
                    credentials,
                    api_base,
                },
                Err(e) => Source::Broken(e.to_string()),
            },
        )
    }
}

fn retry(error: String) -> Outcome {
    Outcome::Retry { error, after: None }
}

async fn record(
    ctx: &JobContext,
    agency: &domain::AgencyId,
    message: &Message,
    kind: &str,
    detail: serde_json::Value,
) -> Result<(), Outcome> {
    let store = &ctx.store;
    let mut tx = store.begin().await.map_err(storage)?;
    store
        .append_message_event(&mut tx, agency, &message.id, kind, detail)
        .await
        .map_err(storage)?;
    tx.commit().await.map_err(storage)
}
