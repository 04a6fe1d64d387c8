//! Contacts, their conversations with a location, and their consent.

use domain::{ChannelId, ConsentEventId, ContactId, ConversationId};
use sqlx::any::AnyRow;
use sqlx::Row;

use super::{scope_filter, Channel};
use crate::error::StoreError;
use crate::store::Store;
use crate::tenant::TenantScope;
use crate::tx::Tx;

/// A person a location talks to.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Contact {
    pub id: ContactId,
    pub location_id: domain::LocationId,
    pub ghl_contact_id: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub name: String,
    /// Opted out: may receive nothing but the opt-out confirmation.
    pub opted_out: bool,
    pub created_at_ms: i64,
    /// When its personal data was erased (see [`Store::erase_contact`]).
    pub erased_at_ms: Option<i64>,
}

/// A conversation between a location's channel and a contact.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Conversation {
    pub id: ConversationId,
    pub location_id: domain::LocationId,
    pub contact_id: ContactId,
    pub channel_id: ChannelId,
    pub ghl_conversation_id: Option<String>,
    pub ai_enabled: bool,
    /// The provider's chat with the contact (UniPile's `chat_id`), once known.
    pub provider_thread: Option<String>,
    /// When the contact last wrote, by the provider's clock, Unix ms (WhatsApp's window).
    pub last_inbound_at: Option<i64>,
    /// When the conversation last got a message, Unix ms.
    pub last_message_at: Option<i64>,
    pub created_at_ms: i64,
}

/// A consent change to record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsentChange {
    OptOut,
    OptIn,
}

pub(super) const CONTACT_COLUMNS: &str =
    "id, location_id, ghl_contact_id, phone, email, name, opted_out, created_at, erased_at";
pub(super) const CONVERSATION_COLUMNS: &str =
    "id, location_id, contact_id, channel_id, ghl_conversation_id, ai_enabled, \
     provider_thread, last_inbound_at, last_message_at, created_at";

impl Contact {
    pub(super) fn from_row(row: &AnyRow) -> Result<Self, StoreError> {
        Ok(Self {
            id: row.try_get::<String, _>("id")?.parse()?,
            location_id: row.try_get::<String, _>("location_id")?.parse()?,
            ghl_contact_id: row.try_get("ghl_contact_id")?,
            phone: row.try_get("phone")?,
            email: row.try_get("email")?,
            name: row.try_get("name")?,
            opted_out: row.try_get::<i64, _>("opted_out")? != 0,
            created_at_ms: row.try_get("created_at")?,
            erased_at_ms: row.try_get("erased_at")?,
        })
    }
}

impl Conversation {
    pub(super) fn from_row(row: &AnyRow) -> Result<Self, StoreError> {
        Ok(Self {
            id: row.try_get::<String, _>("id")?.parse()?,
            location_id: row.try_get::<String, _>("location_id")?.parse()?,
            contact_id: row.try_get::<String, _>("contact_id")?.parse()?,
            channel_id: row.try_get::<String, _>("channel_id")?.parse()?,
            ghl_conversation_id: row.try_get("ghl_conversation_id")?,
            ai_enabled: row.try_get::<i64, _>("ai_enabled")? != 0,
            provider_thread: row.try_get("provider_thread")?,
            last_inbound_at: row.try_get("last_inbound_at")?,
            last_message_at: row.try_get("last_message_at")?,
            created_at_ms: row.try_get("created_at")?,
        })
    }
}

impl Store {
    /// The contact with this handle at the channel's location, created if new. A handle is
    /// an E.164 phone number or, for iMessage senders using an Apple ID, an email address
    /// (lower-cased by the channel).
    pub async fn contact_for_handle(
        &self,
        tx: &mut Tx,
        channel: &Channel,
        handle: &str,
    ) -> Result<Contact, StoreError> {
        let column = if handle.contains('@') {
            "email"
        } else {
            "phone"
        };
        let created = sqlx::query(&format!(
            "INSERT INTO contacts (id, agency_id, location_id, {column}, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $5) ON CONFLICT (location_id, {column}) DO NOTHING"
        ))
        .bind(ContactId::new().as_str())
        .bind(channel.agency_id.as_str())
        .bind(channel.location_id.as_str())
        .bind(handle)
        .bind(self.now_ms())
        .execute(&mut **tx)
        .await?;
        let row = sqlx::query(&format!(
            "SELECT {CONTACT_COLUMNS} FROM contacts WHERE location_id = $1 AND {column} = $2"
        ))
        .bind(channel.location_id.as_str())
        .bind(handle)
        .fetch_one(&mut **tx)
        .await?;
        let mut contact = Contact::from_row(&row)?;
        // Someone erased after opting out comes back opted out (see `suppression`).
        if created.rows_affected() == 1
            && self
                .is_suppressed_in(tx, &channel.location_id, handle)
                .await?
        {
            let scope = TenantScope::for_channel(channel);
            self.record_consent(
                tx,
                &scope,
                &contact.id,
                ConsentChange::OptOut,
                super::suppression::SUPPRESSION_SOURCE,
                "",
            )
            .await?;
            contact.opted_out = true;
        }
        Ok(contact)
    }

    /// Records GHL's id for a contact (the contact mapping), inside the caller's
    /// transaction. Returns the contact as updated.
    pub async fn link_ghl_contact(
        &self,
        tx: &mut Tx,
        contact: &ContactId,
        ghl_contact_id: &str,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE contacts SET ghl_contact_id = $1, updated_at = $2 WHERE id = $3")
            .bind(ghl_contact_id)
            .bind(self.now_ms())
            .bind(contact.as_str())
            .execute(&mut **tx)
            .await?;
        Ok(())
    }

    /// Forgets GHL's id for a contact (GHL deleted or merged it), so the next sync looks
    /// it up again.
    pub async fn clear_ghl_contact(&self, contact: &ContactId) -> Result<(), StoreError> {
        sqlx::query("UPDATE contacts SET ghl_contact_id = NULL, updated_at = $1 WHERE id = $2")
            .bind(self.now_ms())
            .bind(contact.as_str())
            .execute(self.db().writer())
            .await?;
        Ok(())
    }

    /// The contact GHL knows by `ghl_contact_id` at a location, if mapped.
    pub async fn contact_by_ghl_id(
        &self,
        tx: &mut Tx,
        location: &domain::LocationId,
        ghl_contact_id: &str,
    ) -> Result<Option<Contact>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {CONTACT_COLUMNS} FROM contacts WHERE location_id = $1 AND ghl_contact_id = $2"
        ))
        .bind(location.as_str())
        .bind(ghl_contact_id)
        .fetch_optional(&mut **tx)
        .await?;
        row.as_ref().map(Contact::from_row).transpose()
    }

    /// The channel the contact last talked on, if any: outbound messages go out on the
    /// line the contact knows.
    pub async fn last_channel_of_contact(
        &self,
        tx: &mut Tx,
        contact: &ContactId,
    ) -> Result<Option<ChannelId>, StoreError> {
        let id: Option<String> = sqlx::query_scalar(
            "SELECT channel_id FROM conversations WHERE contact_id = $1 \
             ORDER BY COALESCE(last_message_at, created_at) DESC, id DESC LIMIT 1",
        )
        .bind(contact.as_str())
        .fetch_optional(&mut **tx)
        .await?;
        id.map(|id| id.parse().map_err(StoreError::from))
            .transpose()
    }

    /// A contact within the scope, or `NotFound`.
    pub async fn contact(
        &self,
        scope: &TenantScope,
        id: &ContactId,
    ) -> Result<Contact, StoreError> {
        let row = self
            .scoped_row("contacts", CONTACT_COLUMNS, id.as_str(), scope)
            .await?;
        Contact::from_row(&row)
    }

    /// The contact of a conversation, inside the caller's transaction.
    pub async fn contact_of_conversation(
        &self,
        tx: &mut Tx,
        conversation: &ConversationId,
    ) -> Result<ContactId, StoreError> {
        let id: Option<String> =
            sqlx::query_scalar("SELECT contact_id FROM conversations WHERE id = $1")
                .bind(conversation.as_str())
                .fetch_optional(&mut **tx)
                .await?;
        Ok(id.ok_or(StoreError::NotFound)?.parse()?)
    }

    /// A conversation within the scope, or `NotFound`.
    pub async fn conversation(
        &self,
        scope: &TenantScope,
        id: &ConversationId,
    ) -> Result<Conversation, StoreError> {
        let row = self
            .scoped_row("conversations", CONVERSATION_COLUMNS, id.as_str(), scope)
            .await?;
        Conversation::from_row(&row)
    }

    /// The conversation between a channel and a contact, created if new.
    pub async fn conversation_for(
        &self,
        tx: &mut Tx,
        channel: &Channel,
        contact: &Contact,
    ) -> Result<Conversation, StoreError> {
        let now = self.now_ms();
        sqlx::query(
            "INSERT INTO conversations (id, agency_id, location_id, contact_id, channel_id, \
             created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $6) \
             ON CONFLICT (channel_id, contact_id) DO NOTHING",
        )
        .bind(ConversationId::new().as_str())
        .bind(channel.agency_id.as_str())
        .bind(channel.location_id.as_str())
        .bind(contact.id.as_str())
        .bind(channel.id.as_str())
        .bind(now)
        .execute(&mut **tx)
        .await?;
        let row = sqlx::query(&format!(
            "SELECT {CONVERSATION_COLUMNS} FROM conversations WHERE channel_id = $1 AND contact_id = $2"
        ))
        .bind(channel.id.as_str())
        .bind(contact.id.as_str())
        .fetch_one(&mut **tx)
        .await?;
        Conversation::from_row(&row)
    }

    /// Notes what an inbound message says about its conversation, in the caller's
    /// transaction: the provider's chat it came in (kept when the message names none) and
    /// when the contact wrote. The time only moves forward, so a late redelivery of an old
    /// message cannot close a window a newer one opened.
    pub async fn note_inbound(
        &self,
        tx: &mut Tx,
        conversation: &ConversationId,
        thread: Option<&str>,
        written_at_ms: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE conversations SET provider_thread = COALESCE($1, provider_thread), \
             last_inbound_at = CASE WHEN last_inbound_at IS NULL OR last_inbound_at < $2 \
             THEN $2 ELSE last_inbound_at END, updated_at = $3 WHERE id = $4",
        )
        .bind(thread)
        .bind(written_at_ms)
        .bind(self.now_ms())
        .bind(conversation.as_str())
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    /// Remembers the provider's chat a send went into (UniPile starts one for a new
    /// contact), so the next message goes into the same chat.
    pub async fn set_provider_thread(
        &self,
        tx: &mut Tx,
        conversation: &ConversationId,
        thread: &str,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE conversations SET provider_thread = $1, updated_at = $2 WHERE id = $3")
            .bind(thread)
            .bind(self.now_ms())
            .bind(conversation.as_str())
            .execute(&mut **tx)
            .await?;
        Ok(())
    }

    /// Records a consent change and applies it to the contact, in the caller's
    /// transaction: the flag and its log entry never disagree.
    pub async fn record_consent(
        &self,
        tx: &mut Tx,
        scope: &TenantScope,
        contact: &ContactId,
        change: ConsentChange,
        source: &str,
        detail: &str,
    ) -> Result<(), StoreError> {
        let (agency, location) = scope.binds();
        let now = self.now_ms();
        let opted_out = change == ConsentChange::OptOut;
        let updated = sqlx::query(&format!(
            "UPDATE contacts SET opted_out = $1, updated_at = $2 WHERE id = $3 AND {}",
            scope_filter(4, 5)
        ))
        .bind(i64::from(opted_out))
        .bind(now)
        .bind(contact.as_str())
        .bind(agency)
        .bind(location)
        .execute(&mut **tx)
        .await?;
        if updated.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        if !opted_out {
            self.lift_suppression(tx, contact).await?;
        }
        sqlx::query(
            "INSERT INTO consent_events (id, agency_id, location_id, contact_id, kind, source, detail, at) \
             SELECT $1, agency_id, location_id, id, $2, $3, $4, $5 FROM contacts WHERE id = $6",
        )
        .bind(ConsentEventId::new().as_str())
        .bind(if opted_out { "opt_out" } else { "opt_in" })
        .bind(source)
        .bind(detail)
        .bind(now)
        .bind(contact.as_str())
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    /// A contact's consent log, oldest first: `(kind, source, at_ms)`.
    pub async fn consent_log(
        &self,
        scope: &TenantScope,
        contact: &ContactId,
    ) -> Result<Vec<(String, String, i64)>, StoreError> {
        let (agency, location) = scope.binds();
        Ok(sqlx::query_as(&format!(
            "SELECT kind, source, at FROM consent_events WHERE contact_id = $1 AND {} ORDER BY at, id",
            scope_filter(2, 3)
        ))
        .bind(contact.as_str())
        .bind(agency)
        .bind(location)
        .fetch_all(self.db().reader())
        .await?)
    }
}
