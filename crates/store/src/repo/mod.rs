//! Repositories for the core domain, one file per resource. Each tenant-owned lookup
//! takes a [`TenantScope`](crate::TenantScope).

mod account_tokens;
mod agencies;
mod agent_settings;
mod api_keys;
mod api_send;
mod audit;
mod billing;
mod brands;
mod channel_health;
mod channels;
mod contact_pages;
mod contacts;
mod conversation_memory;
mod conversation_pages;
mod erase;
mod events;
mod handoffs;
mod inbox;
mod installations;
mod keys;
mod knowledge;
mod locations;
mod message_lookups;
mod messages;
mod outbound;
mod purge;
mod records;
mod redact;
mod retention;
mod sessions;
mod suppression;
mod usage;
mod users;

pub use account_tokens::{INVITATION, PASSWORD_RESET};
pub use agencies::Agency;
pub use agent_settings::{AgentSettings, AgentSettingsChange};
pub use api_keys::{ApiKey, ApiKeyCredential};
pub use api_send::{ApiSend, ApiSent};
pub use audit::{AuditEntry, NewAuditEntry};
pub use billing::{AgencyBilling, SubscriptionState};
pub use brands::Brand;
pub use channel_health::ChannelActivity;
pub use channels::{Channel, ChannelChange, NewChannel};
pub use contact_pages::{ConsentEvent, ConsentFilter, ContactFilter};
pub use contacts::{ConsentChange, Contact, Conversation};
pub use conversation_memory::ConversationSummary;
pub use conversation_pages::{ConversationFilter, MessageFilter};
pub use erase::Erasure;
pub(crate) use events::prune_events;
pub use events::{Event, FanoutRead, NewEvent, Snapshot, EVENT_RETENTION_MS};
pub use handoffs::{Handoff, HANDOFF_STATES};
pub use inbox::{InboxFilter, InboxRow};
pub use installations::{Installation, InstallationTokens, NewInstallation};
pub use keys::{sealed_columns, Rotation};
pub use knowledge::{
    KnowledgeChunk, KnowledgeSource, NewKnowledgeChunk, NewKnowledgeSource, KNOWLEDGE_KINDS,
};
pub use locations::{Location, LocationAi, LocationTokens, NewLocation};
pub use messages::{Message, MessageEvent, NewMessage};
pub use outbound::{AcceptedOutbound, OutboundOutcome, OutboundRequest};
pub use purge::{PurgeTarget, PURGE_ACTOR};
pub use retention::ExpiringMessage;
pub use sessions::{secret_hash, IssuedRefresh, RefreshRotation};
pub use suppression::SUPPRESSION_SOURCE;
pub use usage::{OptOutDay, Usage, UsageRange, UsageRow, DAY_MS};
pub use users::{normalize_email, LoginFailure, LoginRecord, NewUser, User};

use sqlx::any::AnyRow;

/// The status of an agency or location whose install was removed: kept, never acted for.
pub const UNINSTALLED: &str = "uninstalled";

use crate::error::StoreError;
use crate::store::Store;
use crate::tenant::TenantScope;

impl Store {
    /// One row of a tenant-owned `table` by id, within the scope; `NotFound` for a missing
    /// row and for another tenant's row alike.
    pub(crate) async fn scoped_row(
        &self,
        table: &str,
        columns: &str,
        id: &str,
        scope: &TenantScope,
    ) -> Result<AnyRow, StoreError> {
        let (agency, location) = scope.binds();
        sqlx::query(&format!(
            "SELECT {columns} FROM {table} WHERE id = $1 AND {}",
            scope_filter(2, 3)
        ))
        .bind(id)
        .bind(agency)
        .bind(location)
        .fetch_optional(&mut *self.db().tenant_reader(scope).await?)
        .await?
        .ok_or(StoreError::NotFound)
    }
}

/// The scope filter every tenant-owned query ends with; `$A` is the agency and `$L` the
/// optional location, numbered by the caller.
pub(crate) fn scope_filter(agency: usize, location: usize) -> String {
    format!("agency_id = ${agency} AND (${location} IS NULL OR location_id = ${location})")
}
