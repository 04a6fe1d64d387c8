//! A line's recent activity, for the dashboard's channels page: when it last received a
//! message and when it last sent one. Read from the messages themselves (each answer is
//! one probe of a partial index, migration `0016_channel_health`), so nothing on the hot
//! paths writes anything more than the message it was already writing.

use domain::ChannelId;

use crate::error::StoreError;
use crate::store::Store;
use crate::tenant::TenantScope;

/// When a line was last active, Unix ms; `None` for never.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ChannelActivity {
    /// The newest inbound message's arrival.
    pub last_inbound_at: Option<i64>,
    /// The newest send the provider accepted (the message reached `sent`).
    pub last_sent_at: Option<i64>,
}

impl Store {
    /// The activity of a channel within the scope; a channel outside it reads as never
    /// active (the caller has looked the channel up through the same scope first).
    pub async fn channel_activity(
        &self,
        scope: &TenantScope,
        channel: &ChannelId,
    ) -> Result<ChannelActivity, StoreError> {
        let (agency, location) = scope.binds();
        let mut reader = self.db().tenant_reader(scope).await?;
        // `ORDER BY … LIMIT 1` rather than `MAX`: both backends then walk the partial
        // index from its newest entry for the channel and stop at the first row.
        let last_inbound_at: Option<i64> = sqlx::query_scalar(&format!(
            "SELECT created_at FROM messages WHERE channel_id = $1 AND direction = 'inbound' \
             AND {} ORDER BY created_at DESC LIMIT 1",
            super::scope_filter(2, 3)
        ))
        .bind(channel.as_str())
        .bind(agency)
        .bind(location)
        .fetch_optional(&mut *reader)
        .await?;
        let last_sent_at: Option<i64> = sqlx::query_scalar(&format!(
            "SELECT sent_at FROM messages WHERE channel_id = $1 AND sent_at IS NOT NULL \
             AND {} ORDER BY sent_at DESC LIMIT 1",
            super::scope_filter(2, 3)
        ))
        .bind(channel.as_str())
        .bind(agency)
        .bind(location)
        .fetch_optional(&mut *reader)
        .await?;
        Ok(ChannelActivity {
            last_inbound_at,
            last_sent_at,
        })
    }
}
