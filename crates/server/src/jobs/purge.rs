//! The purge after uninstall, run by the daily `retention` job (see `store::repo::purge`
//! for what goes and what stays).
//!
//! A location is purged in steps ([`purge_step`]), each a short transaction of its own:
//! a batch of messages (their stored media deleted first), then batches of contacts with
//! their conversations and consent log, then the last step, which deletes the channels,
//! tokens and install, marks the tombstone and writes the audit entry. Each step starts by
//! checking that the location is still due, so a re-install stops it; interrupted, the
//! next run carries on from what is left. An agency is purged once all its locations are.

use store::repo::PurgeTarget;
use store::Store;

use super::retention::{remove_media, RetentionError, Sweep};
use crate::media::MediaStore;
use crate::webhooks::{ghl_pacing_key, line_pacing_key};

/// Rounds of a location's purge in one run: a message arriving between the last batch
/// and the final step sends the purge round again; more than this waits for tomorrow.
const ROUNDS: usize = 3;

/// What one step of a location's purge did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PurgeStep {
    /// Deleted this many messages (and their media).
    Messages(u64),
    /// Deleted this many rows of contacts, conversations or consent events.
    Contacts(u64),
    /// The location is purged.
    Finished,
    /// It is empty but could not be finished (a message or contact arrived): step again.
    Raced,
    /// Not to be purged (any more): re-installed, or purged already.
    NotDue,
}

/// Purges every location and agency due at this time.
pub(super) async fn purge_uninstalled(
    store: &Store,
    media: &MediaStore,
    batch: usize,
    done: &mut Sweep,
) -> Result<(), RetentionError> {
    let now = store.now_ms();
    for target in store.locations_to_purge(now).await? {
        if purge_location(store, media, &target, batch, done).await? {
            tracing::info!(location = %target.location_id, "uninstalled location purged");
            done.locations_purged.push(target.location_id);
        }
    }
    for agency in store.agencies_to_purge(now).await? {
        let mut tx = store.begin().await?;
        if store.finish_agency_purge(&mut tx, &agency).await? {
            tx.commit().await?;
            tracing::info!(%agency, "uninstalled agency purged");
            done.agencies_purged.push(agency);
        }
    }
    Ok(())
}

/// Purges one location to the end; false when it stopped because it is not due any more
/// or kept receiving data.
pub async fn purge_location(
    store: &Store,
    media: &MediaStore,
    target: &PurgeTarget,
    batch: usize,
    done: &mut Sweep,
) -> Result<bool, RetentionError> {
    // Its pending jobs go first, so none of them runs against half-deleted data.
    let mut tx = store.begin().await?;
    store
        .delete_location_jobs(&mut tx, target, &pacing_keys(target))
        .await?;
    tx.commit().await?;
    let mut raced = 0;
    loop {
        match purge_step(store, media, target, batch, done).await? {
            PurgeStep::Messages(_) | PurgeStep::Contacts(_) => {}
            PurgeStep::Finished => return Ok(true),
            PurgeStep::NotDue => return Ok(false),
            PurgeStep::Raced => {
                raced += 1;
                if raced >= ROUNDS {
                    tracing::warn!(location = %target.location_id,
                        "uninstalled location keeps receiving data; its purge resumes tomorrow");
                    return Ok(false);
                }
            }
        }
    }
}

/// The pacing keys of the location's jobs: its GHL budget and its lines.
fn pacing_keys(target: &PurgeTarget) -> Vec<String> {
    std::iter::once(ghl_pacing_key(&target.location_id))
        .chain(target.channels.iter().map(line_pacing_key))
        .collect()
}

/// One step of a location's purge (see the module doc).
pub async fn purge_step(
    store: &Store,
    media: &MediaStore,
    target: &PurgeTarget,
    batch: usize,
    done: &mut Sweep,
) -> Result<PurgeStep, RetentionError> {
    if !store.purge_still_due(target, store.now_ms()).await? {
        return Ok(PurgeStep::NotDue);
    }
    let messages = store.location_messages(&target.location_id, batch).await?;
    if !messages.is_empty() {
        done.media_removed += remove_media(media, &messages).await?;
        let ids: Vec<_> = messages.into_iter().map(|m| m.id).collect();
        let mut tx = store.begin().await?;
        let deleted = store
            .delete_messages(&mut tx, &target.location_id, &ids)
            .await?;
        tx.commit().await?;
        return Ok(PurgeStep::Messages(deleted));
    }
    let mut tx = store.begin().await?;
    let deleted = store
        .delete_location_contacts(&mut tx, &target.location_id, batch)
        .await?;
    if deleted > 0 {
        tx.commit().await?;
        return Ok(PurgeStep::Contacts(deleted));
    }
    store
        .delete_location_jobs(&mut tx, target, &pacing_keys(target))
        .await?;
    if store.finish_location_purge(&mut tx, target).await? {
        tx.commit().await?;
        return Ok(PurgeStep::Finished);
    }
    tx.rollback().await?;
    Ok(PurgeStep::Raced)
}
