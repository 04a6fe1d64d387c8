//! `retention`: the daily job that removes what Switchboard no longer may or need keep.
//! With billing on (`SWITCHBOARD_STRIPE_API_KEY`), it also queues yesterday's
//! `billing_meter` report.
//!
//! 1. **Message retention** (`SWITCHBOARD_MESSAGE_RETENTION_DAYS`, `0` = forever):
//!    messages older than the period lose their content (text, attachment references,
//!    error texts, the timeline fields that could quote them, their stored media; see
//!    `store::repo::retention`), in batches of [`BATCH`]. The records stay: usage is
//!    metered from them. Stored media are deleted *before* the batch's transaction, so a
//!    crash in between leaves the batch unmarked and the next run finishes it.
//! 2. **The purge after uninstall** ([`super::purge`]): locations and agencies
//!    uninstalled longer ago than `SWITCHBOARD_UNINSTALL_RETENTION_DAYS` lose their data.
//!
//! **Schedule.** One job a day, keyed `retention:{day}` (days since the Unix epoch, UTC)
//! with a unique index, so asking again is harmless: every process with workers asks for
//! today's at start (it runs at once the first time, and finds it there after that), and
//! each run first asks for tomorrow's at [`RUN_HOUR_UTC`]. Asking before the work means a
//! run that fails for good (the dead-letter queue shows it) does not stop the next day's.
//! The queue's claim gives each run to exactly one process, whatever their number.

use std::time::Duration;

use serde::Deserialize;
use serde_json::json;
use store::queue::{Job, JobId, NewJob, Outcome};
use store::repo::ExpiringMessage;
use store::{Store, StoreError};

use super::JobContext;
use crate::media::{MediaStore, StoreFailure};

/// The job kind.
pub const RETENTION: &str = "retention";

/// Messages (or contacts) handled per transaction: short enough that SQLite's one writer
/// is never held for long, large enough that a year of backlog takes minutes, not days.
pub const BATCH: usize = 500;

/// The hour of the daily run, UTC: night in the Americas, where most GHL agencies are.
pub const RUN_HOUR_UTC: i64 = 8;

const DAY_MS: i64 = 86_400_000;

/// Why a retention run stopped; the job retries it (everything done so far stays done).
#[derive(Debug, thiserror::Error)]
pub enum RetentionError {
    #[error("storage: {0}")]
    Store(#[from] StoreError),
    #[error("media store: {0}")]
    Media(#[from] StoreFailure),
}

/// What one run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sweep {
    /// Messages whose content was removed.
    pub messages_expired: u64,
    /// Stored media objects deleted (expired messages' and purged locations').
    pub media_removed: usize,
    /// Consent events whose words were cleared.
    pub consent_words_cleared: u64,
    /// AI conversation summaries cleared because they covered expired messages.
    pub summaries_cleared: u64,
    /// Locations whose data was purged.
    pub locations_purged: Vec<domain::LocationId>,
    /// Agencies whose own data (installs, receipts, jobs) was purged.
    pub agencies_purged: Vec<domain::AgencyId>,
}

#[derive(Debug, Deserialize)]
pub(super) struct Retention {
    /// The day this run is for (its unique key); informative.
    #[allow(dead_code)]
    day: i64,
}

fn unique_key(day: i64) -> String {
    format!("{RETENTION}:{day}")
}

async fn schedule_day(
    store: &Store,
    day: i64,
    delay: Duration,
) -> Result<Option<JobId>, StoreError> {
    let mut tx = store.begin().await?;
    let job = NewJob::new(RETENTION, json!({ "day": day })).delayed(delay);
    let id = store
        .queue()
        .enqueue_unique(&mut tx, job, &unique_key(day))
        .await?;
    tx.commit().await?;
    Ok(id)
}

/// Makes sure today's run exists: enqueued to run now unless it already exists (pending
/// or done). Called by every process that runs workers, at start. Returns the new job.
pub async fn schedule(store: &Store) -> Result<Option<JobId>, StoreError> {
    schedule_day(store, store.now_ms().div_euclid(DAY_MS), Duration::ZERO).await
}

/// Makes sure tomorrow's run exists, at [`RUN_HOUR_UTC`].
pub async fn schedule_next(store: &Store) -> Result<Option<JobId>, StoreError> {
    let now = store.now_ms();
    let day = now.div_euclid(DAY_MS) + 1;
    let at = day * DAY_MS + RUN_HOUR_UTC * 3_600_000;
    let delay = Duration::from_millis(u64::try_from(at - now).unwrap_or(0));
    schedule_day(store, day, delay).await
}

pub(super) async fn retention(ctx: JobContext, _job: Job, _p: Retention) -> Outcome {
    if let Err(e) = schedule_next(&ctx.store).await {
        return super::storage(e);
    }
    if ctx.config.stripe_api_key.is_some() {
        // Yesterday is complete: its usage goes to Stripe (once: a unique job).
        let yesterday = ctx.store.now_ms().div_euclid(DAY_MS) - 1;
        let (job, key) = super::billing_meter::job(yesterday);
        let queued = async {
            let mut tx = ctx.store.begin().await?;
            ctx.store.queue().enqueue_unique(&mut tx, job, &key).await?;
            tx.commit().await
        };
        if let Err(e) = queued.await {
            return super::storage(e);
        }
    }
    match sweep(&ctx.store, &ctx.media.store, &ctx.config, BATCH).await {
        Ok(done) => {
            tracing::info!(
                messages_expired = done.messages_expired,
                media_removed = done.media_removed,
                consent_words_cleared = done.consent_words_cleared,
                summaries_cleared = done.summaries_cleared,
                locations_purged = done.locations_purged.len(),
                agencies_purged = done.agencies_purged.len(),
                "retention run finished"
            );
            Outcome::Completed
        }
        Err(e) => Outcome::Retry {
            error: e.to_string(),
            after: None,
        },
    }
}

/// One whole run: message retention, then the purge after uninstall.
pub async fn sweep(
    store: &Store,
    media: &MediaStore,
    config: &config::Config,
    batch: usize,
) -> Result<Sweep, RetentionError> {
    let mut done = Sweep::default();
    if config.message_retention_days > 0 {
        let cutoff = store.now_ms() - i64::from(config.message_retention_days) * DAY_MS;
        while expire_batch(store, media, cutoff, batch, &mut done).await? > 0 {}
        loop {
            let mut tx = store.begin().await?;
            let cleared = store.expire_consent_words(&mut tx, cutoff, batch).await?;
            tx.commit().await?;
            done.consent_words_cleared += cleared;
            if cleared == 0 {
                break;
            }
        }
        // The AI's summaries quote what contacts wrote: one covering expired messages goes.
        loop {
            let mut tx = store.begin().await?;
            let cleared = store
                .expire_conversation_summaries(&mut tx, cutoff, batch)
                .await?;
            tx.commit().await?;
            done.summaries_cleared += cleared;
            if cleared == 0 {
                break;
            }
        }
    }
    super::purge::purge_uninstalled(store, media, batch, &mut done).await?;
    Ok(done)
}

/// Expires one batch of messages created before `cutoff_ms`: their media first, then
/// their content in one transaction. Returns how many were expired (0: nothing left).
pub async fn expire_batch(
    store: &Store,
    media: &MediaStore,
    cutoff_ms: i64,
    batch: usize,
    done: &mut Sweep,
) -> Result<u64, RetentionError> {
    let messages = store.messages_to_expire(cutoff_ms, batch).await?;
    done.media_removed += remove_media(media, &messages).await?;
    let ids: Vec<_> = messages.into_iter().map(|m| m.id).collect();
    let mut tx = store.begin().await?;
    let expired = store.expire_messages(&mut tx, &ids).await?;
    tx.commit().await?;
    done.messages_expired += expired;
    Ok(expired)
}

/// Deletes the stored media of the messages that reference attachments.
pub(super) async fn remove_media(
    media: &MediaStore,
    messages: &[ExpiringMessage],
) -> Result<usize, StoreFailure> {
    let mut removed = 0;
    for m in messages.iter().filter(|m| m.has_attachments) {
        removed += media
            .remove_message_media(&m.agency_id, &m.location_id, &m.id)
            .await?;
    }
    Ok(removed)
}
