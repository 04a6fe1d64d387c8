//! The AI's memory of a long conversation: a rolling summary of the messages older than
//! the window the model reads verbatim.
//!
//! As messages age out of the window they are folded into the summary, and
//! `summary_through` records the newest message folded in, so each message is summarised
//! once and a retry folds nothing twice. The summary only moves forward. `summary_from`
//! records the oldest message it covers: message retention clears a summary once that
//! one's content has expired, and the next summary starts from messages still kept.

use domain::ConversationId;
use sqlx::Row;

use super::messages::COLUMNS as MESSAGE_COLUMNS;
use super::Message;
use crate::error::StoreError;
use crate::store::Store;
use crate::tenant::TenantScope;

/// A conversation's rolling summary.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConversationSummary {
    pub text: Option<String>,
    /// `created_at` of the newest message the summary covers.
    pub through_ms: Option<i64>,
}

impl Store {
    /// The conversation's summary. `NotFound` outside the scope.
    pub async fn conversation_summary(
        &self,
        scope: &TenantScope,
        id: &ConversationId,
    ) -> Result<ConversationSummary, StoreError> {
        let row = self
            .scoped_row(
                "conversations",
                "summary, summary_through",
                id.as_str(),
                scope,
            )
            .await?;
        Ok(ConversationSummary {
            text: row.try_get("summary")?,
            through_ms: row.try_get("summary_through")?,
        })
    }

    /// Up to `limit` messages of the conversation created after `after_ms` (all when
    /// `None`) and before the message `before` (the oldest one the model reads verbatim),
    /// oldest first: what the summary has yet to fold in.
    pub async fn messages_to_summarise(
        &self,
        scope: &TenantScope,
        id: &ConversationId,
        after_ms: Option<i64>,
        before: &Message,
        limit: u32,
    ) -> Result<Vec<Message>, StoreError> {
        self.conversation(scope, id).await?;
        let rows = sqlx::query(&format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages WHERE conversation_id = $1 \
             AND ($2 IS NULL OR created_at > $2) \
             AND (created_at < $3 OR (created_at = $3 AND id < $4)) \
             ORDER BY created_at, id LIMIT $5"
        ))
        .bind(id.as_str())
        .bind(after_ms)
        .bind(before.created_at_ms)
        .bind(before.id.as_str())
        .bind(i64::from(limit))
        .fetch_all(&mut *self.db().tenant_reader(scope).await?)
        .await?;
        rows.iter().map(Message::from_row).collect()
    }

    /// Stores a new summary covering messages created from `from_ms` (kept when the new
    /// summary extends a stored one) up to `through_ms`, unless a newer one is already
    /// stored. Returns whether it was stored.
    pub async fn set_conversation_summary(
        &self,
        scope: &TenantScope,
        id: &ConversationId,
        text: &str,
        from_ms: i64,
        through_ms: i64,
    ) -> Result<bool, StoreError> {
        let (agency, only) = scope.binds();
        let mut tx = self.begin_for(scope).await?;
        let done = sqlx::query(&format!(
            "UPDATE conversations SET summary = $1, summary_through = $2, \
             summary_from = CASE WHEN summary IS NULL THEN $6 ELSE summary_from END \
             WHERE id = $3 AND {} AND (summary_through IS NULL OR summary_through < $2)",
            super::scope_filter(4, 5)
        ))
        .bind(text)
        .bind(through_ms)
        .bind(id.as_str())
        .bind(agency)
        .bind(only)
        .bind(from_ms)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(done.rows_affected() == 1)
    }

    /// Message retention: clears up to `limit` summaries that cover a message created
    /// before `before_ms` (whose content has expired). `summary_through` stays, so what
    /// was folded is not folded again. Returns how many.
    pub async fn expire_conversation_summaries(
        &self,
        tx: &mut crate::tx::Tx,
        before_ms: i64,
        limit: usize,
    ) -> Result<u64, StoreError> {
        let result = sqlx::query(
            "UPDATE conversations SET summary = NULL, summary_from = NULL WHERE id IN \
             (SELECT id FROM conversations WHERE summary IS NOT NULL AND summary_from < $1 LIMIT $2)",
        )
        .bind(before_ms)
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .execute(&mut **tx)
        .await?;
        Ok(result.rows_affected())
    }
}
