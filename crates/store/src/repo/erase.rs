//! GDPR erasure of a contact's personal data.
//!
//! What goes: the contact's phone, email, name and GHL id; its messages' bodies,
//! attachment references and error texts; every timeline detail field that could quote
//! them (only fields known to carry none are kept: `redact`, shared with retention); the words of its consent events; the
//! provider's chat id of its conversations and the AI's summary of them. What stays, because the law lets us and the
//! product needs it: the rows themselves with their direction, status, times and SMS
//! segment counts (usage is metered from message records), and the consent log's kinds,
//! sources and times (proof of consent). An opted-out contact's handles go to the
//! suppression list first (see `suppression`), so the opt-out outlives the erasure.
//! Erasing again finds nothing left to remove and answers the same.

use domain::{ContactId, MessageId};

use super::contacts::CONTACT_COLUMNS;
use super::redact::{self, Mark, CLEAR_CONTENT, HAS_CONTENT};
use super::{scope_filter, Contact};
use crate::error::StoreError;
use crate::store::Store;
use crate::tenant::TenantScope;
use crate::tx::Tx;

/// What an erasure did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Erasure {
    /// The contact as it is now (no personal data).
    pub contact: Contact,
    /// Its messages: their stored media objects are under `{agency}/{location}/{message}`.
    pub messages: Vec<MessageId>,
    /// True when the contact had already been erased.
    pub again: bool,
}

impl Store {
    /// Erases a contact's personal data (see the module doc) in the caller's transaction.
    /// `NotFound` outside the scope.
    pub async fn erase_contact(
        &self,
        tx: &mut Tx,
        scope: &TenantScope,
        id: &ContactId,
    ) -> Result<Erasure, StoreError> {
        let (agency, location) = scope.binds();
        let now = self.now_ms();
        // The contact's row is locked first, as consent changes do (contact, then its
        // messages), so an erasure and a send's consent update don't lock in turn.
        let row = sqlx::query(&format!(
            "UPDATE contacts SET updated_at = $1 WHERE id = $2 AND {} RETURNING {CONTACT_COLUMNS}",
            scope_filter(3, 4)
        ))
        .bind(now)
        .bind(id.as_str())
        .bind(agency)
        .bind(location)
        .fetch_optional(&mut **tx)
        .await?
        .ok_or(StoreError::NotFound)?;
        let before = Contact::from_row(&row)?;
        if before.opted_out {
            self.suppress_handles(tx, scope.agency_id(), &before)
                .await?;
        }
        let conversations = "SELECT id FROM conversations WHERE contact_id = $1";
        let ids: Vec<String> = sqlx::query_scalar(&format!(
            "SELECT id FROM messages WHERE conversation_id IN ({conversations}) ORDER BY id"
        ))
        .bind(id.as_str())
        .fetch_all(&mut **tx)
        .await?;
        sqlx::query(&format!(
            "UPDATE messages SET {CLEAR_CONTENT}, updated_at = $2 \
             WHERE conversation_id IN ({conversations}) AND {HAS_CONTENT}"
        ))
        .bind(id.as_str())
        .bind(now)
        .execute(&mut **tx)
        .await?;
        self.neutralise_timelines(tx, id).await?;
        sqlx::query("UPDATE consent_events SET detail = '' WHERE contact_id = $1 AND detail <> ''")
            .bind(id.as_str())
            .execute(&mut **tx)
            .await?;
        sqlx::query(
            "UPDATE conversations SET provider_thread = NULL, summary = NULL, \
             summary_through = NULL WHERE contact_id = $1 \
             AND (provider_thread IS NOT NULL OR summary IS NOT NULL)",
        )
        .bind(id.as_str())
        .execute(&mut **tx)
        .await?;
        let row = sqlx::query(&format!(
            "UPDATE contacts SET phone = NULL, email = NULL, name = '', ghl_contact_id = NULL, \
             erased_at = COALESCE(erased_at, $1), updated_at = $1 WHERE id = $2 \
             RETURNING {CONTACT_COLUMNS}"
        ))
        .bind(now)
        .bind(id.as_str())
        .fetch_one(&mut **tx)
        .await?;
        Ok(Erasure {
            contact: Contact::from_row(&row)?,
            messages: ids
                .into_iter()
                .map(|m| m.parse())
                .collect::<Result<_, _>>()?,
            again: before.erased_at_ms.is_some(),
        })
    }

    /// Keeps only the neutral fields of every timeline entry of the contact's messages.
    async fn neutralise_timelines(&self, tx: &mut Tx, id: &ContactId) -> Result<(), StoreError> {
        let events: Vec<(String, String)> = sqlx::query_as(
            "SELECT e.id, e.detail FROM message_events e JOIN messages m ON m.id = e.message_id \
             JOIN conversations c ON c.id = m.conversation_id WHERE c.contact_id = $1",
        )
        .bind(id.as_str())
        .fetch_all(&mut **tx)
        .await?;
        redact::neutralise_events(tx, events, Mark::Erased).await?;
        Ok(())
    }
}
