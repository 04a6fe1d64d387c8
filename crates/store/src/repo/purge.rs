//! The purge after uninstall: an agency or location uninstalled longer ago than
//! `SWITCHBOARD_UNINSTALL_RETENTION_DAYS` (its `purge_after` has passed) loses its data.
//!
//! Deleted: the knowledge base and the agent's settings, contacts, their consent log, conversations, messages and their timelines,
//! webhook receipts, channels with their sealed credentials, OAuth tokens and installs,
//! the pending jobs (the caller deletes the stored media). Kept: the location and agency
//! rows as tombstones (`purged_at`; a re-install finds them, provisions them again and
//! clears the mark), the audit log with a `location.purged` / `agency.purged` entry, and
//! `contact_suppressions` (keyed hashes, no clear personal data), so people who opted out
//! stay opted out if the agency comes back. Users and API keys are not touched.
//!
//! Every step is a short transaction of its own and only deletes, so an interrupted purge
//! resumes where it stopped; the final step marks the tombstone only if the location is
//! still uninstalled, past its date and empty, so a re-install or a late message stops it.

use domain::{AgencyId, ChannelId, LocationId, MessageId};
use serde_json::json;
use sqlx::Row;

use super::retention::ExpiringMessage;
use crate::error::StoreError;
use crate::multirow;
use crate::store::Store;
use crate::tx::Tx;

/// Who the purge's audit entries name.
pub const PURGE_ACTOR: &str = "system:retention";

/// A location whose data is due for deletion.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PurgeTarget {
    pub location_id: LocationId,
    pub agency_id: AgencyId,
    pub ghl_location_id: String,
    pub purge_after_ms: i64,
    /// Its channels, whichever their status (their jobs are found by pacing key).
    pub channels: Vec<ChannelId>,
}

/// The condition of a location that may be purged at `$1`.
const DUE: &str = "status = 'uninstalled' AND purged_at IS NULL AND purge_after IS NOT NULL \
     AND purge_after <= $1";

fn limit(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

impl Store {
    /// Locations uninstalled whose purge date has passed at `now_ms` and not yet purged,
    /// oldest purge date first.
    pub async fn locations_to_purge(&self, now_ms: i64) -> Result<Vec<PurgeTarget>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT id, agency_id, ghl_location_id, purge_after FROM locations WHERE {DUE} \
             ORDER BY purge_after, id"
        ))
        .bind(now_ms)
        .fetch_all(self.db().reader())
        .await?;
        let mut targets = Vec::with_capacity(rows.len());
        for row in rows {
            let location_id: String = row.try_get("id")?;
            let channels: Vec<String> =
                sqlx::query_scalar("SELECT id FROM channels WHERE location_id = $1 ORDER BY id")
                    .bind(&location_id)
                    .fetch_all(self.db().reader())
                    .await?;
            targets.push(PurgeTarget {
                location_id: location_id.parse()?,
                agency_id: row.try_get::<String, _>("agency_id")?.parse()?,
                ghl_location_id: row.try_get("ghl_location_id")?,
                purge_after_ms: row.try_get("purge_after")?,
                channels: channels
                    .iter()
                    .map(|c| c.parse())
                    .collect::<Result<_, _>>()?,
            });
        }
        Ok(targets)
    }

    /// True while the location is still uninstalled, past its purge date and not purged:
    /// checked before each step, so a re-install stops a purge under way.
    pub async fn purge_still_due(
        &self,
        target: &PurgeTarget,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        let due: Option<String> =
            sqlx::query_scalar(&format!("SELECT id FROM locations WHERE id = $2 AND {DUE}"))
                .bind(now_ms)
                .bind(target.location_id.as_str())
                .fetch_optional(self.db().reader())
                .await?;
        Ok(due.is_some())
    }

    /// Deletes the location's jobs that are not running: those paced by one of
    /// `pacing_keys` (its GHL budget, its lines) and those whose payload names the
    /// location. Returns how many.
    pub async fn delete_location_jobs(
        &self,
        tx: &mut Tx,
        target: &PurgeTarget,
        pacing_keys: &[String],
    ) -> Result<u64, StoreError> {
        let mention = format!("%\"location_id\":\"{}\"%", target.location_id);
        let mut deleted = sqlx::query(
            "DELETE FROM jobs WHERE agency_id = $1 AND state <> 'running' AND payload LIKE $2",
        )
        .bind(target.agency_id.as_str())
        .bind(&mention)
        .execute(&mut **tx)
        .await?
        .rows_affected();
        for chunk in multirow::chunks(pacing_keys, 1) {
            let sql = format!(
                "DELETE FROM jobs WHERE agency_id = $1 AND state <> 'running' \
                 AND pacing_key IN ({})",
                multirow::values_list(chunk.len(), 2)
            );
            let mut query = sqlx::query(&sql).bind(target.agency_id.as_str());
            for key in chunk {
                query = query.bind(key);
            }
            deleted += query.execute(&mut **tx).await?.rows_affected();
        }
        Ok(deleted)
    }

    /// Up to `limit` of the location's messages, to delete with their media.
    pub async fn location_messages(
        &self,
        location: &LocationId,
        limit: usize,
    ) -> Result<Vec<ExpiringMessage>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, agency_id, location_id, attachments FROM messages \
             WHERE location_id = $1 ORDER BY id LIMIT $2",
        )
        .bind(location.as_str())
        .bind(self::limit(limit))
        .fetch_all(self.db().reader())
        .await?;
        rows.iter().map(ExpiringMessage::from_row).collect()
    }

    /// Deletes these messages of the location with their timelines and the receipts
    /// keyed by them (a system reply's guard), in the caller's transaction.
    pub async fn delete_messages(
        &self,
        tx: &mut Tx,
        location: &LocationId,
        ids: &[MessageId],
    ) -> Result<u64, StoreError> {
        let mut deleted = 0;
        for chunk in multirow::chunks(ids, 1) {
            let list = multirow::values_list(chunk.len(), 2);
            let owned =
                format!("SELECT id FROM messages WHERE location_id = $1 AND id IN ({list})");
            let receipts = format!("DELETE FROM webhook_receipts WHERE external_id IN ({owned})");
            let events = format!("DELETE FROM message_events WHERE message_id IN ({owned})");
            let messages =
                format!("DELETE FROM messages WHERE location_id = $1 AND id IN ({list})");
            // Receipts and timelines first: they point at the messages.
            for statement in [&receipts, &events, &messages] {
                let mut query = sqlx::query(statement).bind(location.as_str());
                for id in chunk {
                    query = query.bind(id.as_str());
                }
                let done = query.execute(&mut **tx).await?;
                if statement == &messages {
                    deleted += done.rows_affected();
                }
            }
        }
        Ok(deleted)
    }

    /// Deletes up to `limit` rows of the location's knowledge base and agent settings, then
    /// of its contacts and what hangs on them (consent events and handoffs first, then conversations, then contacts whose
    /// conversations are gone), in the caller's transaction. Call it until it returns 0; messages must be
    /// gone first.
    pub async fn delete_location_contacts(
        &self,
        tx: &mut Tx,
        location: &LocationId,
        limit: usize,
    ) -> Result<u64, StoreError> {
        for statement in [
            "DELETE FROM knowledge_chunks WHERE id IN \
             (SELECT id FROM knowledge_chunks WHERE location_id = $1 LIMIT $2)",
            "DELETE FROM knowledge_sources WHERE id IN \
             (SELECT id FROM knowledge_sources WHERE location_id = $1 LIMIT $2)",
            "DELETE FROM agent_settings WHERE location_id = $1 AND $2 > 0",
            "DELETE FROM consent_events WHERE id IN \
             (SELECT id FROM consent_events WHERE location_id = $1 LIMIT $2)",
            "DELETE FROM handoffs WHERE id IN \
             (SELECT id FROM handoffs WHERE location_id = $1 LIMIT $2)",
            "DELETE FROM conversations WHERE id IN \
             (SELECT id FROM conversations WHERE location_id = $1 LIMIT $2)",
            "DELETE FROM contacts WHERE id IN \
             (SELECT id FROM contacts WHERE location_id = $1 LIMIT $2)",
        ] {
            let done = sqlx::query(statement)
                .bind(location.as_str())
                .bind(self::limit(limit))
                .execute(&mut **tx)
                .await?;
            if done.rows_affected() > 0 {
                return Ok(done.rows_affected());
            }
        }
        Ok(0)
    }

    /// The last step of a location's purge, in the caller's transaction: deletes its
    /// channels (credentials with them) and their receipts, its own install's tokens,
    /// marks the row purged and writes the audit entry. Returns false, changing nothing,
    /// when the location is no longer due (re-installed) or not empty (a message arrived
    /// meanwhile): the caller rolls back and runs the batches again.
    pub async fn finish_location_purge(
        &self,
        tx: &mut Tx,
        target: &PurgeTarget,
    ) -> Result<bool, StoreError> {
        let now = self.now_ms();
        let location = target.location_id.as_str();
        let marked = sqlx::query(&format!(
            "UPDATE locations SET purged_at = $1, access_token_enc = NULL, \
             refresh_token_enc = NULL, token_expires_at = NULL, updated_at = $1 \
             WHERE id = $2 AND {DUE} \
             AND NOT EXISTS (SELECT 1 FROM messages WHERE location_id = $2) \
             AND NOT EXISTS (SELECT 1 FROM contacts WHERE location_id = $2)"
        ))
        .bind(now)
        .bind(location)
        .execute(&mut **tx)
        .await?;
        if marked.rows_affected() == 0 {
            return Ok(false);
        }
        let channels = "SELECT provider || ':' || id FROM channels WHERE location_id = $1";
        sqlx::query(&format!(
            "DELETE FROM webhook_receipts WHERE source IN ({channels})"
        ))
        .bind(location)
        .execute(&mut **tx)
        .await?;
        let channels = sqlx::query("DELETE FROM channels WHERE location_id = $1")
            .bind(location)
            .execute(&mut **tx)
            .await?
            .rows_affected();
        sqlx::query("DELETE FROM installations WHERE ghl_id = $1 AND agency_id = $2")
            .bind(&target.ghl_location_id)
            .bind(target.agency_id.as_str())
            .execute(&mut **tx)
            .await?;
        self.audit(
            tx,
            Some(&target.agency_id),
            PURGE_ACTOR,
            "location.purged",
            Some(location),
            json!({"purge_after": target.purge_after_ms, "channels": channels}),
        )
        .await?;
        Ok(true)
    }

    /// Agencies uninstalled, past their purge date, not yet purged, and whose locations
    /// are all purged.
    pub async fn agencies_to_purge(&self, now_ms: i64) -> Result<Vec<AgencyId>, StoreError> {
        let ids: Vec<String> = sqlx::query_scalar(&format!(
            "SELECT id FROM agencies a WHERE {DUE} AND NOT EXISTS \
             (SELECT 1 FROM locations l WHERE l.agency_id = a.id AND l.purged_at IS NULL) \
             ORDER BY purge_after, id"
        ))
        .bind(now_ms)
        .fetch_all(self.db().reader())
        .await?;
        ids.iter()
            .map(|id| id.parse().map_err(StoreError::from))
            .collect()
    }

    /// Purges what belongs to the agency itself, in the caller's transaction: its installs
    /// (tokens), its remaining jobs that are not running and its webhook receipts; marks it
    /// purged and audits it. Returns false, changing nothing, when it is no longer due.
    pub async fn finish_agency_purge(
        &self,
        tx: &mut Tx,
        agency: &AgencyId,
    ) -> Result<bool, StoreError> {
        let now = self.now_ms();
        let row = sqlx::query(&format!(
            "UPDATE agencies SET purged_at = $1, updated_at = $1 WHERE id = $2 AND {DUE} \
             AND NOT EXISTS (SELECT 1 FROM locations l WHERE l.agency_id = $2 \
             AND l.purged_at IS NULL) RETURNING purge_after"
        ))
        .bind(now)
        .bind(agency.as_str())
        .fetch_optional(&mut **tx)
        .await?;
        let Some(row) = row else { return Ok(false) };
        let purge_after: i64 = row.try_get("purge_after")?;
        for statement in [
            "DELETE FROM installations WHERE agency_id = $1",
            "DELETE FROM jobs WHERE agency_id = $1 AND state <> 'running'",
            "DELETE FROM webhook_receipts WHERE agency_id = $1",
        ] {
            sqlx::query(statement)
                .bind(agency.as_str())
                .execute(&mut **tx)
                .await?;
        }
        self.audit(
            tx,
            Some(agency),
            PURGE_ACTOR,
            "agency.purged",
            Some(agency.as_str()),
            json!({"purge_after": purge_after}),
        )
        .await?;
        Ok(true)
    }

    /// When the location's data was purged, if it was: for tests and operators.
    pub async fn location_purged_at(&self, id: &LocationId) -> Result<Option<i64>, StoreError> {
        sqlx::query_scalar("SELECT purged_at FROM locations WHERE id = $1")
            .bind(id.as_str())
            .fetch_optional(self.db().reader())
            .await?
            .ok_or(StoreError::NotFound)
    }

    /// When the agency's own data was purged, if it was.
    pub async fn agency_purged_at(&self, id: &AgencyId) -> Result<Option<i64>, StoreError> {
        sqlx::query_scalar("SELECT purged_at FROM agencies WHERE id = $1")
            .bind(id.as_str())
            .fetch_optional(self.db().reader())
            .await?
            .ok_or(StoreError::NotFound)
    }
}
