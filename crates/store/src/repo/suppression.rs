//! The suppression list: opt-outs that outlive a contact's erasure.
//!
//! Erasing a contact (GDPR) removes its phone and email, and with them what ties a later
//! message from the same person to their STOP. So before an opted-out contact's handles go,
//! each is kept here as a keyed hash, `HMAC-SHA256(derive("contact-suppression"), handle)`,
//! per location: enough to recognise the handle again, not to recover it (phone numbers are
//! few enough that a plain hash would be reversed by enumeration; the key lives outside the
//! database). A contact created with a suppressed handle starts opted out (with a consent
//! event, source `suppression`), and `deliver` checks the handle it sends to. A later
//! opt-in (START) by the contact lifts the suppression of its handles.
//!
//! The key is derived from the current master key: after `keys rotate` older hashes no
//! longer match (see docs/ARCHITECTURE.md).

use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::Contact;
use crate::error::StoreError;
use crate::store::Store;
use crate::tx::Tx;

/// The label of the key the hashes are made with.
const KEY_LABEL: &str = "contact-suppression";
/// The consent source of an opt-out carried over from the suppression list.
pub const SUPPRESSION_SOURCE: &str = "suppression";

/// A handle in the one form it is hashed in: trimmed, and lower-cased (emails; a phone
/// number in E.164 has no case).
fn normal(handle: &str) -> String {
    handle.trim().to_lowercase()
}

impl Store {
    /// The keyed hash of a handle.
    fn handle_hash(&self, handle: &str) -> String {
        let key = self.keys().derive(KEY_LABEL);
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&key[..])
            .unwrap_or_else(|_| unreachable!("HMAC takes a key of any length"));
        mac.update(normal(handle).as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    /// Puts a contact's phone and email on its location's suppression list.
    pub(super) async fn suppress_handles(
        &self,
        tx: &mut Tx,
        agency: &domain::AgencyId,
        contact: &Contact,
    ) -> Result<(), StoreError> {
        for handle in [&contact.phone, &contact.email].into_iter().flatten() {
            sqlx::query(
                "INSERT INTO contact_suppressions (location_id, handle_hash, agency_id, created_at) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT (location_id, handle_hash) DO NOTHING",
            )
            .bind(contact.location_id.as_str())
            .bind(self.handle_hash(handle))
            .bind(agency.as_str())
            .bind(self.now_ms())
            .execute(&mut **tx)
            .await?;
        }
        Ok(())
    }

    /// Takes a contact's handles off the suppression list (the contact opted in again).
    pub(super) async fn lift_suppression(
        &self,
        tx: &mut Tx,
        contact: &domain::ContactId,
    ) -> Result<(), StoreError> {
        let handles: Option<(String, Option<String>, Option<String>)> =
            sqlx::query_as("SELECT location_id, phone, email FROM contacts WHERE id = $1")
                .bind(contact.as_str())
                .fetch_optional(&mut **tx)
                .await?;
        let Some((location, phone, email)) = handles else {
            return Ok(());
        };
        for handle in [phone, email].into_iter().flatten() {
            sqlx::query(
                "DELETE FROM contact_suppressions WHERE location_id = $1 AND handle_hash = $2",
            )
            .bind(&location)
            .bind(self.handle_hash(&handle))
            .execute(&mut **tx)
            .await?;
        }
        Ok(())
    }

    /// Whether `handle` is suppressed at a location, inside the caller's transaction.
    pub(super) async fn is_suppressed_in(
        &self,
        tx: &mut Tx,
        location: &domain::LocationId,
        handle: &str,
    ) -> Result<bool, StoreError> {
        let found: Option<i64> = sqlx::query_scalar(
            "SELECT 1 FROM contact_suppressions WHERE location_id = $1 AND handle_hash = $2",
        )
        .bind(location.as_str())
        .bind(self.handle_hash(handle))
        .fetch_optional(&mut **tx)
        .await?;
        Ok(found.is_some())
    }

    /// Whether `handle` is suppressed at a location: checked at send time.
    pub async fn is_suppressed(
        &self,
        location: &domain::LocationId,
        handle: &str,
    ) -> Result<bool, StoreError> {
        let found: Option<i64> = sqlx::query_scalar(
            "SELECT 1 FROM contact_suppressions WHERE location_id = $1 AND handle_hash = $2",
        )
        .bind(location.as_str())
        .bind(self.handle_hash(handle))
        .fetch_optional(self.db().reader())
        .await?;
        Ok(found.is_some())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::normal;

    #[test]
    fn handles_are_hashed_in_one_form() {
        assert_eq!(normal(" Ann@Example.COM "), "ann@example.com");
        assert_eq!(normal("+15550001111"), "+15550001111");
    }
}
