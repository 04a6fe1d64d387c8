//! Message retention: the content of messages older than the retention period goes, the
//! records stay (see `redact` for what "content" is, shared with erasure).
//!
//! The work is done in batches, each its own short transaction, by the daily `retention`
//! job (`server::jobs::retention`): read a batch of the oldest messages not yet purged
//! ([`Store::messages_to_expire`]), delete their stored media, then clear them and mark
//! them purged ([`Store::expire_messages`]). The mark (`messages.purged_at`) is what makes
//! the work resumable: a crash before a batch's commit leaves its messages unmarked and
//! the next run redoes them (their media are already gone, which is not an error); after
//! it, they are never read again.

use domain::{AgencyId, LocationId, MessageId};
use sqlx::any::AnyRow;
use sqlx::Row;

use super::redact::{self, Mark, CLEAR_CONTENT};
use crate::error::StoreError;
use crate::multirow;
use crate::store::Store;
use crate::tx::Tx;

/// A message whose content is about to go: enough to find its stored media, which live
/// under `{agency}/{location}/{message}`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ExpiringMessage {
    pub id: MessageId,
    pub agency_id: AgencyId,
    pub location_id: LocationId,
    /// It still references attachments, so media may be stored for it. Media are only
    /// deleted before the content is cleared, so one without attachments has none left.
    pub has_attachments: bool,
}

impl ExpiringMessage {
    pub(super) fn from_row(row: &AnyRow) -> Result<Self, StoreError> {
        let attachments: String = row.try_get("attachments")?;
        Ok(Self {
            id: row.try_get::<String, _>("id")?.parse()?,
            agency_id: row.try_get::<String, _>("agency_id")?.parse()?,
            location_id: row.try_get::<String, _>("location_id")?.parse()?,
            has_attachments: attachments != "[]",
        })
    }
}

impl Store {
    /// The oldest `limit` messages created before `before_ms` and not yet purged, oldest
    /// first (index `messages_to_expire`).
    pub async fn messages_to_expire(
        &self,
        before_ms: i64,
        limit: usize,
    ) -> Result<Vec<ExpiringMessage>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, agency_id, location_id, attachments FROM messages \
             WHERE purged_at IS NULL AND created_at < $1 ORDER BY created_at, id LIMIT $2",
        )
        .bind(before_ms)
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(self.db().reader())
        .await?;
        rows.iter().map(ExpiringMessage::from_row).collect()
    }

    /// Clears the content of these messages and of their timelines (neutral fields kept,
    /// marked `expired`) and marks them purged, in the caller's transaction. Messages
    /// already purged are skipped, so a batch run twice changes nothing the second time.
    /// Returns how many were purged now.
    pub async fn expire_messages(&self, tx: &mut Tx, ids: &[MessageId]) -> Result<u64, StoreError> {
        let now = self.now_ms();
        let mut purged = 0;
        for chunk in multirow::chunks(ids, 1) {
            let sql = format!(
                "UPDATE messages SET {CLEAR_CONTENT}, purged_at = $1, updated_at = $1 \
                 WHERE purged_at IS NULL AND id IN ({}) RETURNING id",
                multirow::values_list(chunk.len(), 2)
            );
            let mut query = sqlx::query_scalar::<_, String>(&sql).bind(now);
            for id in chunk {
                query = query.bind(id.as_str());
            }
            let now_purged = query.fetch_all(&mut **tx).await?;
            if now_purged.is_empty() {
                continue;
            }
            purged += now_purged.len() as u64;
            let list = multirow::values_list(now_purged.len(), 1);
            let sql = format!("SELECT id, detail FROM message_events WHERE message_id IN ({list})");
            let mut query = sqlx::query_as::<_, (String, String)>(&sql);
            for id in &now_purged {
                query = query.bind(id);
            }
            let events = query.fetch_all(&mut **tx).await?;
            redact::neutralise_events(tx, events, Mark::Expired).await?;
        }
        Ok(purged)
    }

    /// Clears the words of up to `limit` consent events logged before `before_ms` (the
    /// STOP or START message's text, a copy of an expired message's body); the kind,
    /// source and time stay as proof of consent. Returns how many.
    pub async fn expire_consent_words(
        &self,
        tx: &mut Tx,
        before_ms: i64,
        limit: usize,
    ) -> Result<u64, StoreError> {
        let result = sqlx::query(
            "UPDATE consent_events SET detail = '' WHERE id IN \
             (SELECT id FROM consent_events WHERE at < $1 AND detail <> '' LIMIT $2)",
        )
        .bind(before_ms)
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .execute(&mut **tx)
        .await?;
        Ok(result.rows_affected())
    }

    /// When a message was purged (its content removed), if it was: for tests and operators.
    pub async fn message_purged_at(&self, id: &MessageId) -> Result<Option<i64>, StoreError> {
        sqlx::query_scalar("SELECT purged_at FROM messages WHERE id = $1")
            .bind(id.as_str())
            .fetch_optional(self.db().reader())
            .await?
            .ok_or(StoreError::NotFound)
    }
}
