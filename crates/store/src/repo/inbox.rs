//! The dashboard's inbox: conversations by last activity, each with what a row in the list
//! shows (the contact, the line, the last message, unread, AI, assignee, open handoff),
//! and the inbox's own changes to a conversation (read, assign, AI on or off).
//!
//! Unlike the API's pages (by creation, stable), the inbox is ordered by activity, as
//! people expect: a conversation that gets a message while someone reads moves to the top,
//! and live updates put it there. "Older" pages keyset on `(last_message_at, id)`.

use domain::{ChannelId, ConversationId, LocationId, UserId};
use sqlx::any::AnyRow;
use sqlx::Row;

use super::Conversation;
use crate::error::StoreError;
use crate::page::{after_condition, Paged, Paging};
use crate::store::Store;
use crate::tenant::TenantScope;

/// Which conversations an inbox page holds. Ids were looked up through the scope.
#[derive(Debug, Clone, Default)]
pub struct InboxFilter {
    pub location_id: Option<LocationId>,
    pub channel_id: Option<ChannelId>,
    /// Words in the contact's name, phone or email.
    pub search: Option<String>,
    pub unread_only: bool,
    /// Only conversations assigned to this user.
    pub assigned_to: Option<UserId>,
}

/// One row of the inbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboxRow {
    pub conversation: Conversation,
    pub contact_name: String,
    pub contact_handle: Option<String>,
    pub contact_opted_out: bool,
    pub provider: String,
    pub line: String,
    pub last_body: Option<String>,
    pub last_direction: Option<String>,
    pub last_status: Option<String>,
    pub unread: bool,
    pub assigned_user_id: Option<UserId>,
    /// `pending` or `assigned` while a handoff is open.
    pub handoff_state: Option<String>,
}

/// A value for [`Store::update_conversation`].
enum Value {
    Number(i64),
    Text(Option<String>),
}

/// `%`, `_` and `\` in a search are literal.
fn like_pattern(words: &str) -> String {
    let mut pattern = String::from("%");
    for c in words.trim().to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

const INBOX_COLUMNS: &str = "c.id, c.location_id, c.contact_id, c.channel_id, \
    c.ghl_conversation_id, c.ai_enabled, c.provider_thread, c.last_inbound_at, \
    c.last_message_at, c.created_at, c.assigned_user_id, c.read_at, \
    ct.name AS contact_name, COALESCE(ct.phone, ct.email) AS contact_handle, \
    ct.opted_out AS contact_opted_out, ch.provider, ch.line, \
    m.body AS last_body, m.direction AS last_direction, m.status AS last_status, \
    h.state AS handoff_state";

const INBOX_JOINS: &str = "FROM conversations c \
    JOIN contacts ct ON ct.id = c.contact_id \
    JOIN channels ch ON ch.id = c.channel_id \
    LEFT JOIN messages m ON m.id = (SELECT id FROM messages WHERE conversation_id = c.id \
        ORDER BY created_at DESC, id DESC LIMIT 1) \
    LEFT JOIN handoffs h ON h.conversation_id = c.id AND h.state <> 'resolved'";

impl InboxRow {
    fn from_row(row: &AnyRow) -> Result<Self, StoreError> {
        let conversation = Conversation::from_row(row)?;
        let read_at: Option<i64> = row.try_get("read_at")?;
        let unread = match (conversation.last_inbound_at, read_at) {
            (Some(inbound), Some(read)) => inbound > read,
            (Some(_), None) => true,
            (None, _) => false,
        };
        Ok(Self {
            contact_name: row.try_get("contact_name")?,
            contact_handle: row.try_get("contact_handle")?,
            contact_opted_out: row.try_get::<i64, _>("contact_opted_out")? != 0,
            provider: row.try_get("provider")?,
            line: row.try_get("line")?,
            last_body: row.try_get("last_body")?,
            last_direction: row.try_get("last_direction")?,
            last_status: row.try_get("last_status")?,
            unread,
            assigned_user_id: row
                .try_get::<Option<String>, _>("assigned_user_id")?
                .map(|id| id.parse())
                .transpose()?,
            handoff_state: row.try_get("handoff_state")?,
            conversation,
        })
    }
}

impl Store {
    /// A page of the scope's conversations, most recently active first.
    pub async fn inbox_page(
        &self,
        scope: &TenantScope,
        filter: &InboxFilter,
        paging: &Paging,
    ) -> Result<Paged<InboxRow>, StoreError> {
        let (agency, only) = scope.binds();
        let (at, after_id) = paging.after_binds();
        let sql = format!(
            "SELECT {INBOX_COLUMNS} {INBOX_JOINS} WHERE c.agency_id = $1 \
             AND ($2 IS NULL OR c.location_id = $2) AND ($3 IS NULL OR c.location_id = $3) \
             AND ($4 IS NULL OR c.channel_id = $4) \
             AND ($5 IS NULL OR LOWER(ct.name) LIKE $5 ESCAPE '\\' \
                  OR LOWER(COALESCE(ct.phone, '')) LIKE $5 ESCAPE '\\' \
                  OR LOWER(COALESCE(ct.email, '')) LIKE $5 ESCAPE '\\') \
             AND ($6 = 0 OR (c.last_inbound_at IS NOT NULL \
                  AND (c.read_at IS NULL OR c.last_inbound_at > c.read_at))) \
             AND ($7 IS NULL OR c.assigned_user_id = $7) \
             AND {} ORDER BY COALESCE(c.last_message_at, c.created_at) DESC, c.id DESC \
             LIMIT $10",
            after_condition(
                "COALESCE(c.last_message_at, c.created_at)",
                "c.id",
                "$8",
                "$9"
            )
        );
        let search = filter
            .search
            .as_deref()
            .filter(|s| !s.trim().is_empty())
            .map(like_pattern);
        let rows = sqlx::query(&sql)
            .bind(agency)
            .bind(only)
            .bind(filter.location_id.as_ref().map(LocationId::as_str))
            .bind(filter.channel_id.as_ref().map(ChannelId::as_str))
            .bind(search)
            .bind(i64::from(filter.unread_only))
            .bind(filter.assigned_to.as_ref().map(UserId::as_str))
            .bind(at)
            .bind(after_id)
            .bind(paging.fetch())
            .fetch_all(&mut *self.db().tenant_reader(scope).await?)
            .await?;
        let rows = rows
            .iter()
            .map(InboxRow::from_row)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Paged::from_rows(rows, paging, |r| {
            let c = &r.conversation;
            (
                c.last_message_at.unwrap_or(c.created_at_ms),
                c.id.to_string(),
            )
        }))
    }

    /// One inbox row; `NotFound` outside the scope.
    pub async fn inbox_row(
        &self,
        scope: &TenantScope,
        conversation: &ConversationId,
    ) -> Result<InboxRow, StoreError> {
        let (agency, only) = scope.binds();
        let sql = format!(
            "SELECT {INBOX_COLUMNS} {INBOX_JOINS} WHERE c.id = $1 AND c.agency_id = $2 \
             AND ($3 IS NULL OR c.location_id = $3)"
        );
        let row = sqlx::query(&sql)
            .bind(conversation.as_str())
            .bind(agency)
            .bind(only)
            .fetch_optional(&mut *self.db().tenant_reader(scope).await?)
            .await?
            .ok_or(StoreError::NotFound)?;
        InboxRow::from_row(&row)
    }

    /// Notes that an agent read the conversation now.
    pub async fn mark_conversation_read(
        &self,
        scope: &TenantScope,
        conversation: &ConversationId,
    ) -> Result<(), StoreError> {
        let now = self.now_ms();
        self.update_conversation(scope, conversation, "read_at", Value::Number(now))
            .await
    }

    /// Assigns the conversation to a user of the scope, or to nobody.
    pub async fn assign_conversation(
        &self,
        scope: &TenantScope,
        conversation: &ConversationId,
        user: Option<&UserId>,
    ) -> Result<(), StoreError> {
        if let Some(user) = user {
            self.user_in_scope(scope, user).await?;
        }
        let user = Value::Text(user.map(|u| u.as_str().to_string()));
        self.update_conversation(scope, conversation, "assigned_user_id", user)
            .await
    }

    /// Turns the AI on or off for one conversation.
    pub async fn set_conversation_ai(
        &self,
        scope: &TenantScope,
        conversation: &ConversationId,
        on: bool,
    ) -> Result<(), StoreError> {
        let on = Value::Number(i64::from(on));
        self.update_conversation(scope, conversation, "ai_enabled", on)
            .await
    }

    /// Sets one column of one conversation of the scope; `NotFound` outside it.
    async fn update_conversation(
        &self,
        scope: &TenantScope,
        conversation: &ConversationId,
        column: &str,
        value: Value,
    ) -> Result<(), StoreError> {
        let (agency, only) = scope.binds();
        let sql = format!(
            "UPDATE conversations SET {column} = $1, updated_at = $2 WHERE id = $3 \
             AND agency_id = $4 AND ($5 IS NULL OR location_id = $5)"
        );
        let query = match value {
            Value::Number(n) => sqlx::query(&sql).bind(n),
            Value::Text(t) => sqlx::query(&sql).bind(t),
        };
        let mut tx = self.begin_for(scope).await?;
        let done = query
            .bind(self.now_ms())
            .bind(conversation.as_str())
            .bind(agency)
            .bind(only)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        // Reading is one agent's business; a switch or an assignee shows on every list.
        if column != "read_at" {
            let location: String =
                sqlx::query_scalar("SELECT location_id FROM conversations WHERE id = $1")
                    .bind(conversation.as_str())
                    .fetch_one(&mut *tx)
                    .await?;
            let event = super::NewEvent {
                agency_id: scope.agency_id().clone(),
                location_id: location.parse()?,
                conversation_id: Some(conversation.clone()),
                message_id: None,
                kind: domain::EventKind::ConversationUpdated,
                data: serde_json::json!({"changed": column}),
            };
            self.record_events(&mut tx, &[event]).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The user, if it belongs to the scope (its agency, and the location when narrowed,
    /// or the agency as a whole); `NotFound` otherwise.
    pub async fn user_in_scope(
        &self,
        scope: &TenantScope,
        user: &UserId,
    ) -> Result<(), StoreError> {
        let (agency, only) = scope.binds();
        sqlx::query(
            "SELECT id FROM users WHERE id = $1 AND agency_id = $2 AND status = 'active' \
             AND ($3 IS NULL OR location_id IS NULL OR location_id = $3)",
        )
        .bind(user.as_str())
        .bind(agency)
        .bind(only)
        .fetch_optional(&mut *self.db().tenant_reader(scope).await?)
        .await?
        .map(|_| ())
        .ok_or(StoreError::NotFound)
    }
}
