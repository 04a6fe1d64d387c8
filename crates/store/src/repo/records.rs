//! Webhook receipts (dedupe) and the audit log.

use domain::{AuditId, WebhookReceiptId};

use crate::error::StoreError;
use crate::store::Store;
use crate::tx::Tx;

impl Store {
    /// Records that the webhook `(source, external_id)` was received, in the caller's
    /// transaction. Returns false when it was already recorded: the event is a duplicate
    /// and its effect must not be applied again. Because the receipt commits with the
    /// effect, a crash between them can't leave one without the other.
    pub async fn record_webhook_receipt(
        &self,
        tx: &mut Tx,
        source: &str,
        external_id: &str,
        agency_id: Option<&domain::AgencyId>,
    ) -> Result<bool, StoreError> {
        let inserted = sqlx::query(
            "INSERT INTO webhook_receipts (id, source, external_id, agency_id, received_at) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (source, external_id) DO NOTHING",
        )
        .bind(WebhookReceiptId::new().as_str())
        .bind(source)
        .bind(external_id)
        .bind(agency_id.map(domain::AgencyId::as_str))
        .bind(self.now_ms())
        .execute(&mut **tx)
        .await?;
        Ok(inserted.rows_affected() == 1)
    }

    /// Appends to the audit log: who (`actor`) did what (`action`) to what (`target`).
    pub async fn audit(
        &self,
        tx: &mut Tx,
        agency_id: Option<&domain::AgencyId>,
        actor: &str,
        action: &str,
        target: Option<&str>,
        detail: serde_json::Value,
    ) -> Result<AuditId, StoreError> {
        let id = AuditId::new();
        sqlx::query(
            "INSERT INTO audit_log (id, agency_id, actor, action, target, detail, at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(id.as_str())
        .bind(agency_id.map(domain::AgencyId::as_str))
        .bind(actor)
        .bind(action)
        .bind(target)
        .bind(detail.to_string())
        .bind(self.now_ms())
        .execute(&mut **tx)
        .await?;
        Ok(id)
    }
}
