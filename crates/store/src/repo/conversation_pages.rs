//! Paged, filtered reads of conversations and their messages for the API.
//!
//! Conversations are paged by creation, newest first, not by last activity: a keyset on
//! `last_message_at` moves under the reader (a conversation that gets a message while
//! someone pages jumps ahead of the cursor and is never seen), while `(created_at, id)`
//! never changes, so every conversation appears exactly once in a walk. Each row carries
//! `last_message_at` for clients that sort a page by activity.

use domain::{ChannelId, ContactId, ConversationId, Direction, LocationId, MessageStatus};

use super::contacts::CONVERSATION_COLUMNS;
use super::{Conversation, Message};
use crate::error::StoreError;
use crate::page::after_condition;
use crate::store::Store;
use crate::tenant::TenantScope;
use crate::{Paged, Paging};

/// Which conversations a page holds. Ids in it were looked up through the scope already.
#[derive(Debug, Clone, Default)]
pub struct ConversationFilter {
    pub location_id: Option<LocationId>,
    pub channel_id: Option<ChannelId>,
    pub contact_id: Option<ContactId>,
    pub ai_enabled: Option<bool>,
}

/// Which messages of a conversation a page holds.
#[derive(Debug, Clone, Copy, Default)]
pub struct MessageFilter {
    pub direction: Option<Direction>,
    pub status: Option<MessageStatus>,
}

impl Store {
    /// Conversations in the scope, newest (by creation) first, a page at a time.
    pub async fn conversations_page(
        &self,
        scope: &TenantScope,
        filter: &ConversationFilter,
        paging: &Paging,
    ) -> Result<Paged<Conversation>, StoreError> {
        let (agency, only) = scope.binds();
        let (at, after_id) = paging.after_binds();
        let sql = format!(
            "SELECT {CONVERSATION_COLUMNS} FROM conversations WHERE agency_id = $1 \
             AND ($2 IS NULL OR location_id = $2) AND ($3 IS NULL OR location_id = $3) \
             AND ($4 IS NULL OR channel_id = $4) AND ($5 IS NULL OR contact_id = $5) \
             AND ($6 IS NULL OR ai_enabled = $6) \
             AND {} ORDER BY created_at DESC, id DESC LIMIT $9",
            after_condition("created_at", "id", "$7", "$8")
        );
        let rows = sqlx::query(&sql)
            .bind(agency)
            .bind(only)
            .bind(filter.location_id.as_ref().map(LocationId::as_str))
            .bind(filter.channel_id.as_ref().map(ChannelId::as_str))
            .bind(filter.contact_id.as_ref().map(ContactId::as_str))
            .bind(filter.ai_enabled.map(i64::from))
            .bind(at)
            .bind(after_id)
            .bind(paging.fetch())
            .fetch_all(&mut *self.db().tenant_reader(scope).await?)
            .await?;
        let conversations = rows
            .iter()
            .map(Conversation::from_row)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Paged::from_rows(conversations, paging, |c| {
            (c.created_at_ms, c.id.to_string())
        }))
    }

    /// A conversation's messages, newest first, a page at a time; `NotFound` when the
    /// conversation is outside the scope.
    pub async fn messages_page(
        &self,
        scope: &TenantScope,
        conversation: &ConversationId,
        filter: &MessageFilter,
        paging: &Paging,
    ) -> Result<Paged<Message>, StoreError> {
        // Resolving it first makes another tenant's conversation a 404, not an empty page.
        self.conversation(scope, conversation).await?;
        let (at, after_id) = paging.after_binds();
        let sql = format!(
            "SELECT {} FROM messages WHERE conversation_id = $1 \
             AND ($2 IS NULL OR direction = $2) AND ($3 IS NULL OR status = $3) \
             AND {} ORDER BY created_at DESC, id DESC LIMIT $6",
            super::messages::COLUMNS,
            after_condition("created_at", "id", "$4", "$5")
        );
        let rows = sqlx::query(&sql)
            .bind(conversation.as_str())
            .bind(filter.direction.map(Direction::as_str))
            .bind(filter.status.map(MessageStatus::as_str))
            .bind(at)
            .bind(after_id)
            .bind(paging.fetch())
            .fetch_all(&mut *self.db().tenant_reader(scope).await?)
            .await?;
        let messages = rows
            .iter()
            .map(Message::from_row)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Paged::from_rows(messages, paging, |m| {
            (m.created_at_ms, m.id.to_string())
        }))
    }
}
