//! Messages and their timelines.

use domain::{Actor, Direction, MessageEventId, MessageId, MessageStatus};
use sqlx::any::AnyRow;
use sqlx::Row;

use super::{Conversation, NewEvent};
use crate::error::StoreError;
use crate::store::Store;
use crate::tenant::TenantScope;
use crate::tx::Tx;
use domain::EventKind;

/// One message, inbound or outbound.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Message {
    pub id: MessageId,
    pub location_id: domain::LocationId,
    pub conversation_id: domain::ConversationId,
    pub channel_id: domain::ChannelId,
    pub direction: Direction,
    pub actor: Actor,
    pub body: String,
    /// Attachment URLs.
    pub attachments: Vec<String>,
    pub status: MessageStatus,
    pub error: Option<String>,
    pub provider_message_id: Option<String>,
    pub ghl_message_id: Option<String>,
    pub created_at_ms: i64,
    /// What the text costs as SMS, counted when stored (`domain::sms_segments`).
    pub sms_segments: u32,
}

/// A message to store.
#[derive(Debug, Clone)]
pub struct NewMessage {
    pub direction: Direction,
    pub actor: Actor,
    pub body: String,
    pub attachments: Vec<String>,
    pub status: MessageStatus,
    pub provider_message_id: Option<String>,
    pub ghl_message_id: Option<String>,
}

/// One entry of a message's timeline.
#[derive(Debug, Clone, PartialEq)]
pub struct MessageEvent {
    pub id: MessageEventId,
    pub kind: String,
    pub detail: serde_json::Value,
    pub at_ms: i64,
}

pub(super) const COLUMNS: &str =
    "id, location_id, conversation_id, channel_id, direction, actor, body, \
     attachments, status, error, provider_message_id, ghl_message_id, created_at, sms_segments";

/// The `sms_segments` column's value for a text.
pub(super) fn sms_segments_of(body: &str) -> i64 {
    i64::try_from(domain::sms_segments(body).segments).unwrap_or(i64::MAX)
}

/// The detail of a message's first timeline entry, `created`.
pub(super) fn created_detail(new: &NewMessage) -> serde_json::Value {
    serde_json::json!({
        "direction": new.direction, "actor": new.actor, "status": new.status,
    })
}

/// The `message.created` real-time event of a message just stored: ids and states only.
pub(super) fn created_event(agency_id: &domain::AgencyId, message: &Message) -> NewEvent {
    NewEvent {
        agency_id: agency_id.clone(),
        location_id: message.location_id.clone(),
        conversation_id: Some(message.conversation_id.clone()),
        message_id: Some(message.id.clone()),
        kind: EventKind::MessageCreated,
        data: serde_json::json!({
            "direction": message.direction, "actor": message.actor,
            "status": message.status, "channel_id": message.channel_id,
        }),
    }
}

/// The `message.status` real-time event of a status that moved from `from` to `to`.
fn status_event(
    agency_id: &domain::AgencyId,
    message: &Message,
    from: MessageStatus,
    to: MessageStatus,
) -> NewEvent {
    NewEvent {
        agency_id: agency_id.clone(),
        location_id: message.location_id.clone(),
        conversation_id: Some(message.conversation_id.clone()),
        message_id: Some(message.id.clone()),
        kind: EventKind::MessageStatus,
        data: serde_json::json!({"status": to, "from": from}),
    }
}

impl Message {
    pub(super) fn from_row(row: &AnyRow) -> Result<Self, StoreError> {
        let attachments: String = row.try_get("attachments")?;
        Ok(Self {
            id: row.try_get::<String, _>("id")?.parse()?,
            location_id: row.try_get::<String, _>("location_id")?.parse()?,
            conversation_id: row.try_get::<String, _>("conversation_id")?.parse()?,
            channel_id: row.try_get::<String, _>("channel_id")?.parse()?,
            direction: row.try_get::<String, _>("direction")?.parse()?,
            actor: row.try_get::<String, _>("actor")?.parse()?,
            body: row.try_get("body")?,
            attachments: serde_json::from_str(&attachments)?,
            status: row.try_get::<String, _>("status")?.parse()?,
            error: row.try_get("error")?,
            provider_message_id: row.try_get("provider_message_id")?,
            ghl_message_id: row.try_get("ghl_message_id")?,
            created_at_ms: row.try_get("created_at")?,
            sms_segments: u32::try_from(row.try_get::<i64, _>("sms_segments")?).unwrap_or(0),
        })
    }
}

impl Store {
    /// Stores a message in a conversation, with a first timeline entry `created`.
    ///
    /// Returns `None` when a message with the same provider id (per channel) or GHL id
    /// (per location) already exists: the duplicate webhook is acknowledged and nothing
    /// is stored twice. Callers enqueue the message's job only when this returns `Some`,
    /// in the same transaction.
    pub async fn insert_message(
        &self,
        tx: &mut Tx,
        conversation: &Conversation,
        agency_id: &domain::AgencyId,
        new: &NewMessage,
    ) -> Result<Option<Message>, StoreError> {
        let now = self.now_ms();
        let row = sqlx::query(&format!(
            "INSERT INTO messages (id, agency_id, location_id, conversation_id, channel_id, \
             direction, actor, body, attachments, status, provider_message_id, ghl_message_id, \
             sms_segments, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $14) \
             ON CONFLICT DO NOTHING RETURNING {COLUMNS}"
        ))
        .bind(MessageId::new().as_str())
        .bind(agency_id.as_str())
        .bind(conversation.location_id.as_str())
        .bind(conversation.id.as_str())
        .bind(conversation.channel_id.as_str())
        .bind(new.direction.as_str())
        .bind(new.actor.as_str())
        .bind(&new.body)
        .bind(serde_json::to_string(&new.attachments)?)
        .bind(new.status.as_str())
        .bind(new.provider_message_id.as_deref())
        .bind(new.ghl_message_id.as_deref())
        .bind(sms_segments_of(&new.body))
        .bind(now)
        .fetch_optional(&mut **tx)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let message = Message::from_row(&row)?;
        sqlx::query("UPDATE conversations SET last_message_at = $1, updated_at = $1 WHERE id = $2")
            .bind(now)
            .bind(conversation.id.as_str())
            .execute(&mut **tx)
            .await?;
        self.append_message_event(tx, agency_id, &message.id, "created", created_detail(new))
            .await?;
        self.record_events(tx, &[created_event(agency_id, &message)])
            .await?;
        Ok(Some(message))
    }

    /// The message a provider knows by `provider_message_id` on this channel, read inside
    /// the caller's transaction (a status callback about it).
    pub async fn message_by_provider_id(
        &self,
        tx: &mut Tx,
        channel: &domain::ChannelId,
        provider_message_id: &str,
    ) -> Result<Option<Message>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM messages WHERE channel_id = $1 AND provider_message_id = $2"
        ))
        .bind(channel.as_str())
        .bind(provider_message_id)
        .fetch_optional(&mut **tx)
        .await?;
        row.as_ref().map(Message::from_row).transpose()
    }

    /// A message within the scope, or `NotFound`.
    pub async fn message(
        &self,
        scope: &TenantScope,
        id: &MessageId,
    ) -> Result<Message, StoreError> {
        let row = self
            .scoped_row("messages", COLUMNS, id.as_str(), scope)
            .await?;
        Message::from_row(&row)
    }

    /// Moves a message's status forward (see [`MessageStatus::advance`]) and logs the
    /// change on its timeline. Returns the new status, or `None` when the report was late
    /// or a duplicate and changed nothing.
    pub async fn advance_message_status(
        &self,
        tx: &mut Tx,
        message: &Message,
        agency_id: &domain::AgencyId,
        report: MessageStatus,
        error: Option<&str>,
    ) -> Result<Option<MessageStatus>, StoreError> {
        let current: String =
            sqlx::query_scalar("SELECT status FROM messages WHERE id = $1 AND agency_id = $2")
                .bind(message.id.as_str())
                .bind(agency_id.as_str())
                .fetch_optional(&mut **tx)
                .await?
                .ok_or(StoreError::NotFound)?;
        let current: MessageStatus = current.parse()?;
        let Some(next) = current.advance(report) else {
            return Ok(None);
        };
        let now = self.now_ms();
        let stamp = match next {
            MessageStatus::Sent => "sent_at",
            MessageStatus::Delivered => "delivered_at",
            MessageStatus::Read => "read_at",
            MessageStatus::Failed => "failed_at",
            MessageStatus::Pending => "updated_at",
        };
        sqlx::query(&format!(
            "UPDATE messages SET status = $1, error = COALESCE($2, error), {stamp} = $3, updated_at = $3 \
             WHERE id = $4 AND status = $5"
        ))
        .bind(next.as_str())
        .bind(error)
        .bind(now)
        .bind(message.id.as_str())
        .bind(current.as_str())
        .execute(&mut **tx)
        .await?;
        self.append_message_event(
            tx,
            agency_id,
            &message.id,
            "status",
            serde_json::json!({
                "from": current, "to": next, "error": error,
            }),
        )
        .await?;
        self.record_events(tx, &[status_event(agency_id, message, current, next)])
            .await?;
        Ok(Some(next))
    }

    /// Records the provider's id for a message we sent, in the caller's transaction.
    pub async fn set_provider_message_id(
        &self,
        tx: &mut Tx,
        message: &MessageId,
        provider_message_id: &str,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE messages SET provider_message_id = $1, updated_at = $2 WHERE id = $3")
            .bind(provider_message_id)
            .bind(self.now_ms())
            .bind(message.as_str())
            .execute(&mut **tx)
            .await?;
        Ok(())
    }

    /// Records GHL's id for a message we posted to GHL, in the caller's transaction.
    pub async fn set_ghl_message_id(
        &self,
        tx: &mut Tx,
        message: &MessageId,
        ghl_message_id: &str,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE messages SET ghl_message_id = $1, updated_at = $2 WHERE id = $3")
            .bind(ghl_message_id)
            .bind(self.now_ms())
            .bind(message.as_str())
            .execute(&mut **tx)
            .await?;
        Ok(())
    }

    /// Adds an entry to a message's timeline.
    pub async fn append_message_event(
        &self,
        tx: &mut Tx,
        agency_id: &domain::AgencyId,
        message: &MessageId,
        kind: &str,
        detail: serde_json::Value,
    ) -> Result<MessageEventId, StoreError> {
        let id = MessageEventId::new();
        sqlx::query(
            "INSERT INTO message_events (id, agency_id, message_id, kind, detail, at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(id.as_str())
        .bind(agency_id.as_str())
        .bind(message.as_str())
        .bind(kind)
        .bind(detail.to_string())
        .bind(self.now_ms())
        .execute(&mut **tx)
        .await?;
        Ok(id)
    }

    /// Appends one entry to a message's timeline in a write of its own (grouped with other
    /// writers, see [`Store::write`]), for steps that record nothing else.
    pub async fn note_message_event(
        &self,
        agency_id: &domain::AgencyId,
        message: &MessageId,
        kind: &str,
        detail: serde_json::Value,
    ) -> Result<MessageEventId, StoreError> {
        let (store, agency_id, message, kind) = (
            self.clone(),
            agency_id.clone(),
            message.clone(),
            kind.to_owned(),
        );
        self.write(move |tx| {
            Box::pin(async move {
                store
                    .append_message_event(tx, &agency_id, &message, &kind, detail)
                    .await
            })
        })
        .await
    }

    /// A message's timeline, oldest first; `NotFound` outside the scope.
    pub async fn message_timeline(
        &self,
        scope: &TenantScope,
        message: &MessageId,
    ) -> Result<Vec<MessageEvent>, StoreError> {
        // Resolving the message first makes another tenant's id a 404, not an empty list.
        self.message(scope, message).await?;
        let rows = sqlx::query(
            "SELECT id, kind, detail, at FROM message_events WHERE message_id = $1 ORDER BY at, id",
        )
        .bind(message.as_str())
        .fetch_all(self.db().reader())
        .await?;
        rows.iter()
            .map(|row| {
                let detail: String = row.try_get("detail")?;
                Ok(MessageEvent {
                    id: row.try_get::<String, _>("id")?.parse()?,
                    kind: row.try_get("kind")?,
                    detail: serde_json::from_str(&detail)?,
                    at_ms: row.try_get("at")?,
                })
            })
            .collect()
    }
}
