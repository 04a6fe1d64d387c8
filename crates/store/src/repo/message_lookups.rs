//! Finding a message by the ids other systems know it by, outside any transaction: for
//! operator tools and the demo, which only read. (Inside a transaction, the ingest path
//! uses [`Store::message_by_provider_id`].)

use domain::{ChannelId, MessageId};

use crate::error::StoreError;
use crate::store::Store;
use crate::tenant::TenantScope;

impl Store {
    /// Our id of the message GHL knows as `ghl_message_id`, within the scope.
    pub async fn message_id_by_ghl_id(
        &self,
        scope: &TenantScope,
        ghl_message_id: &str,
    ) -> Result<Option<MessageId>, StoreError> {
        let (agency, location) = scope.binds();
        let id: Option<String> = sqlx::query_scalar(&format!(
            "SELECT id FROM messages WHERE ghl_message_id = $1 AND {} ORDER BY id LIMIT 1",
            super::scope_filter(2, 3)
        ))
        .bind(ghl_message_id)
        .bind(agency)
        .bind(location)
        .fetch_optional(self.db().reader())
        .await?;
        id.map(|id| id.parse().map_err(StoreError::from))
            .transpose()
    }

    /// Our id of the message the channel's provider knows as `provider_message_id`,
    /// within the scope.
    pub async fn message_id_by_provider_id(
        &self,
        scope: &TenantScope,
        channel: &ChannelId,
        provider_message_id: &str,
    ) -> Result<Option<MessageId>, StoreError> {
        let (agency, location) = scope.binds();
        let id: Option<String> = sqlx::query_scalar(&format!(
            "SELECT id FROM messages WHERE channel_id = $1 AND provider_message_id = $2 AND {}",
            super::scope_filter(3, 4)
        ))
        .bind(channel.as_str())
        .bind(provider_message_id)
        .bind(agency)
        .bind(location)
        .fetch_optional(self.db().reader())
        .await?;
        id.map(|id| id.parse().map_err(StoreError::from))
            .transpose()
    }
}
