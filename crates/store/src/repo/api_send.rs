//! Messages sent from the REST API (`POST /api/v1/conversations/{id}/messages`).
//!
//! Stored exactly as GHL's outbound messages are ([`Store::accept_outbound`]): `pending`,
//! with its timeline and its `deliver` job in the same transaction, so consent, pacing,
//! the breaker and status reports apply the same way. An `Idempotency-Key` is stored on
//! the message under a UNIQUE `(agency_id, idempotency_key)` index, so a retried request
//! finds the first message instead of sending twice, even when the two race.

use domain::{Actor, Direction, MessageId, MessageStatus};

use super::messages::{created_detail, sms_segments_of, COLUMNS};
use super::{AcceptedOutbound, Channel, Conversation, Message, NewMessage};
use crate::error::StoreError;
use crate::queue::NewJob;
use crate::store::Store;
use crate::tenant::TenantScope;
use crate::tx::Tx;

/// A message to send from the API.
#[derive(Debug, Clone)]
pub struct ApiSend<'a> {
    /// The new message's id when the caller made it first (the dashboard stores uploaded
    /// files under it before the message exists); `None` for a fresh one.
    pub message_id: Option<MessageId>,
    pub body: &'a str,
    /// http(s) URLs.
    pub attachments: &'a [String],
    /// `agent` for a user, `system` for an API key.
    pub actor: Actor,
    /// Who asked (`user:usr_…`, `api_key:key_…`), for the timeline.
    pub caller: &'a str,
    pub idempotency_key: Option<&'a str>,
}

/// What a send from the API led to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiSent {
    /// Stored, its `deliver` job queued.
    Created(Message),
    /// The idempotency key was used before: the first message, nothing new stored.
    Repeated(Message),
}

impl Store {
    /// Stores an outbound message in `conversation` (already resolved through `scope`) and
    /// queues the job `job` makes for it, in one transaction. A key already used in the
    /// agency answers the first message; used for another conversation, a conflict.
    pub async fn send_from_api(
        &self,
        scope: &TenantScope,
        conversation: &Conversation,
        send: &ApiSend<'_>,
        job: &(dyn Fn(&AcceptedOutbound) -> NewJob + Sync),
    ) -> Result<ApiSent, StoreError> {
        let mut tx = self.begin().await?;
        let sent = self
            .insert_api_send(&mut tx, scope, conversation, send, job)
            .await?;
        tx.commit().await?;
        Ok(sent)
    }

    /// Sends from a line (already resolved through `scope`) to a handle (an E.164 number
    /// or an email address): the contact and its conversation on that line are found or
    /// created, and the message stored with its `deliver` job, all in one transaction, so
    /// a failure leaves nothing behind. The dashboard's test send.
    pub async fn send_on_line(
        &self,
        scope: &TenantScope,
        channel: &Channel,
        handle: &str,
        send: &ApiSend<'_>,
        job: &(dyn Fn(&AcceptedOutbound) -> NewJob + Sync),
    ) -> Result<(Conversation, ApiSent), StoreError> {
        let mut tx = self.begin().await?;
        let contact = self.contact_for_handle(&mut tx, channel, handle).await?;
        let conversation = self.conversation_for(&mut tx, channel, &contact).await?;
        let sent = self
            .insert_api_send(&mut tx, scope, &conversation, send, job)
            .await?;
        tx.commit().await?;
        Ok((conversation, sent))
    }

    /// The message, its timeline and its job, in the caller's transaction.
    async fn insert_api_send(
        &self,
        tx: &mut Tx,
        scope: &TenantScope,
        conversation: &Conversation,
        send: &ApiSend<'_>,
        job: &(dyn Fn(&AcceptedOutbound) -> NewJob + Sync),
    ) -> Result<ApiSent, StoreError> {
        let agency = scope.agency_id();
        let new = NewMessage {
            direction: Direction::Outbound,
            actor: send.actor,
            body: send.body.to_string(),
            attachments: send.attachments.to_vec(),
            status: MessageStatus::Pending,
            provider_message_id: None,
            ghl_message_id: None,
        };
        let now = self.now_ms();
        let row = sqlx::query(&format!(
            "INSERT INTO messages (id, agency_id, location_id, conversation_id, channel_id, \
             direction, actor, body, attachments, status, idempotency_key, sms_segments, \
             created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $13) \
             ON CONFLICT DO NOTHING RETURNING {COLUMNS}"
        ))
        .bind(send.message_id.clone().unwrap_or_default().as_str())
        .bind(agency.as_str())
        .bind(conversation.location_id.as_str())
        .bind(conversation.id.as_str())
        .bind(conversation.channel_id.as_str())
        .bind(new.direction.as_str())
        .bind(new.actor.as_str())
        .bind(&new.body)
        .bind(serde_json::to_string(&new.attachments)?)
        .bind(new.status.as_str())
        .bind(send.idempotency_key)
        .bind(sms_segments_of(&new.body))
        .bind(now)
        .fetch_optional(&mut **tx)
        .await?;
        let Some(row) = row else {
            // Only the idempotency key can collide: the provider and GHL ids are empty.
            let row = sqlx::query(&format!(
                "SELECT {COLUMNS} FROM messages WHERE agency_id = $1 AND idempotency_key = $2"
            ))
            .bind(agency.as_str())
            .bind(send.idempotency_key)
            .fetch_optional(&mut **tx)
            .await?
            .ok_or(StoreError::NotFound)?;
            let first = Message::from_row(&row)?;
            if first.conversation_id != conversation.id {
                return Err(StoreError::Conflict(
                    "this Idempotency-Key was already used for a message in another conversation"
                        .into(),
                ));
            }
            return Ok(ApiSent::Repeated(first));
        };
        let message = Message::from_row(&row)?;
        sqlx::query("UPDATE conversations SET last_message_at = $1, updated_at = $1 WHERE id = $2")
            .bind(now)
            .bind(conversation.id.as_str())
            .execute(&mut **tx)
            .await?;
        self.append_message_event(tx, agency, &message.id, "created", created_detail(&new))
            .await?;
        self.append_message_event(
            tx,
            agency,
            &message.id,
            "api.received",
            serde_json::json!({"source": "api", "caller": send.caller}),
        )
        .await?;
        self.record_events(tx, &[super::messages::created_event(agency, &message)])
            .await?;
        let accepted = AcceptedOutbound {
            message_id: message.id.clone(),
            conversation: conversation.clone(),
            agency_id: agency.clone(),
        };
        self.queue().enqueue(tx, job(&accepted)).await?;
        Ok(ApiSent::Created(message))
    }
}
