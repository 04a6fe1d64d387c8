//! Channels: provider lines connected to a location, with credentials sealed at rest.

use std::collections::BTreeMap;

use domain::{ChannelId, Provider};
use sqlx::any::AnyRow;
use sqlx::Row;
use zeroize::Zeroizing;

use super::Location;
use crate::error::StoreError;
use crate::store::Store;
use crate::tenant::TenantScope;
use crate::tx::Tx;

/// A channel. Credentials are not here: read them with [`Store::channel_credentials`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Channel {
    pub id: ChannelId,
    pub agency_id: domain::AgencyId,
    pub location_id: domain::LocationId,
    pub provider: Provider,
    /// The line: an E.164 number or a provider account handle.
    pub line: String,
    /// Overrides the provider's API base URL (sandbox, regional endpoints).
    pub api_base: Option<String>,
    pub settings: serde_json::Value,
    pub status: String,
    pub created_at_ms: i64,
}

/// What a new channel needs.
#[derive(Debug, Clone)]
pub struct NewChannel {
    pub provider: Provider,
    pub line: String,
    /// Provider credentials by key (`api_key_id`, `auth_token`, …); sealed as one value.
    pub credentials: BTreeMap<String, String>,
    pub api_base: Option<String>,
    pub settings: serde_json::Value,
}

/// What the API may change on a channel; `None` keeps the current value.
#[derive(Debug, Clone, Default)]
pub struct ChannelChange {
    pub settings: Option<serde_json::Value>,
    /// `Some(None)` clears the override (back to the provider's default base).
    pub api_base: Option<Option<String>>,
    /// `active` or `paused`.
    pub status: Option<String>,
}

pub(super) const COLUMNS: &str =
    "id, agency_id, location_id, provider, line, api_base, settings, status, created_at";

impl Channel {
    pub(super) fn from_row(row: &AnyRow) -> Result<Self, StoreError> {
        let settings: String = row.try_get("settings")?;
        Ok(Self {
            id: row.try_get::<String, _>("id")?.parse()?,
            agency_id: row.try_get::<String, _>("agency_id")?.parse()?,
            location_id: row.try_get::<String, _>("location_id")?.parse()?,
            provider: row.try_get::<String, _>("provider")?.parse()?,
            line: row.try_get("line")?,
            api_base: row.try_get("api_base")?,
            settings: serde_json::from_str(&settings)?,
            status: row.try_get("status")?,
            created_at_ms: row.try_get("created_at")?,
        })
    }
}

pub(super) fn credentials_context(id: &impl std::fmt::Display) -> String {
    format!("channel:{id}:credentials")
}

impl Store {
    /// Connects a line to a location. The same provider line twice is a conflict.
    pub async fn create_channel(
        &self,
        tx: &mut Tx,
        location: &Location,
        new: &NewChannel,
    ) -> Result<Channel, StoreError> {
        let id = ChannelId::new();
        let credentials = Zeroizing::new(serde_json::to_string(&new.credentials)?);
        let sealed = self
            .keys()
            .encrypt_str(&credentials, &credentials_context(&id));
        let row = sqlx::query(&format!(
            "INSERT INTO channels (id, agency_id, location_id, provider, line, credentials_enc, \
             api_base, settings, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9) RETURNING {COLUMNS}"
        ))
        .bind(id.as_str())
        .bind(location.agency_id.as_str())
        .bind(location.id.as_str())
        .bind(new.provider.as_str())
        .bind(&new.line)
        .bind(sealed)
        .bind(new.api_base.as_deref())
        .bind(new.settings.to_string())
        .bind(self.now_ms())
        .fetch_one(&mut **tx)
        .await
        .map_err(StoreError::from)
        .map_err(|e| {
            if e.is_unique_violation() {
                StoreError::Conflict(format!(
                    "{} line {} is already connected",
                    new.provider, new.line
                ))
            } else {
                e
            }
        })?;
        Channel::from_row(&row)
    }

    /// A channel within the scope, or `NotFound`.
    pub async fn channel(
        &self,
        scope: &TenantScope,
        id: &ChannelId,
    ) -> Result<Channel, StoreError> {
        let row = self
            .scoped_row("channels", COLUMNS, id.as_str(), scope)
            .await?;
        Channel::from_row(&row)
    }

    /// The active channels the scope can see, oldest first.
    pub async fn channels(&self, scope: &TenantScope) -> Result<Vec<Channel>, StoreError> {
        let (agency, location) = scope.binds();
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM channels WHERE status = 'active' AND {} ORDER BY id",
            super::scope_filter(1, 2)
        ))
        .bind(agency)
        .bind(location)
        .fetch_all(self.db().reader())
        .await?;
        rows.iter().map(Channel::from_row).collect()
    }

    /// Points a channel within the scope at another provider API base URL (`None`: the
    /// provider's default); `NotFound` for a channel outside the scope. Credentials,
    /// settings and the webhook URL stay as they are.
    pub async fn set_channel_api_base(
        &self,
        tx: &mut Tx,
        scope: &TenantScope,
        id: &ChannelId,
        api_base: Option<&str>,
    ) -> Result<Channel, StoreError> {
        let (agency, location) = scope.binds();
        let row = sqlx::query(&format!(
            "UPDATE channels SET api_base = $1, updated_at = $2 WHERE id = $3 AND {} \
             RETURNING {COLUMNS}",
            super::scope_filter(4, 5)
        ))
        .bind(api_base)
        .bind(self.now_ms())
        .bind(id.as_str())
        .bind(agency)
        .bind(location)
        .fetch_optional(&mut **tx)
        .await?
        .ok_or(StoreError::NotFound)?;
        Channel::from_row(&row)
    }

    /// The channels the scope can see, newest first, a page at a time, optionally only
    /// one location's or one provider's.
    pub async fn channels_page(
        &self,
        scope: &TenantScope,
        location: Option<&domain::LocationId>,
        provider: Option<Provider>,
        paging: &crate::Paging,
    ) -> Result<crate::Paged<Channel>, StoreError> {
        let (agency, only) = scope.binds();
        let (at, after_id) = paging.after_binds();
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM channels WHERE {} AND ($3 IS NULL OR location_id = $3) \
             AND ($4 IS NULL OR provider = $4) AND {} \
             ORDER BY created_at DESC, id DESC LIMIT $7",
            super::scope_filter(1, 2),
            crate::page::after_condition("created_at", "id", "$5", "$6")
        ))
        .bind(agency)
        .bind(only)
        .bind(location.map(|l| l.as_str()))
        .bind(provider.map(|p| p.as_str()))
        .bind(at)
        .bind(after_id)
        .bind(paging.fetch())
        .fetch_all(&mut *self.db().tenant_reader(scope).await?)
        .await?;
        let channels = rows
            .iter()
            .map(Channel::from_row)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(crate::Paged::from_rows(channels, paging, |c| {
            (c.created_at_ms, c.id.to_string())
        }))
    }

    /// Changes a channel's settings, API base or status within the scope; `NotFound` for
    /// a channel outside it.
    pub async fn update_channel(
        &self,
        tx: &mut Tx,
        scope: &TenantScope,
        id: &ChannelId,
        change: &ChannelChange,
    ) -> Result<Channel, StoreError> {
        let (agency, location) = scope.binds();
        let settings = change.settings.as_ref().map(|s| s.to_string());
        let row = sqlx::query(&format!(
            "UPDATE channels SET settings = COALESCE($1, settings), \
             api_base = CASE WHEN $2 = 1 THEN $3 ELSE api_base END, \
             status = COALESCE($4, status), updated_at = $5 \
             WHERE id = $6 AND {} RETURNING {COLUMNS}",
            super::scope_filter(7, 8)
        ))
        .bind(settings)
        .bind(i64::from(change.api_base.is_some()))
        .bind(change.api_base.clone().flatten())
        .bind(change.status.as_deref())
        .bind(self.now_ms())
        .bind(id.as_str())
        .bind(agency)
        .bind(location)
        .fetch_optional(&mut **tx)
        .await?
        .ok_or(StoreError::NotFound)?;
        Channel::from_row(&row)
    }

    /// Replaces a channel's credentials (sealed like [`Store::create_channel`] seals them)
    /// within the scope; `NotFound` for a channel outside it. Meant to run in the same
    /// transaction as the audit entry that records the rotation.
    pub async fn replace_channel_credentials(
        &self,
        tx: &mut Tx,
        scope: &TenantScope,
        id: &ChannelId,
        credentials: &BTreeMap<String, String>,
    ) -> Result<(), StoreError> {
        let (agency, location) = scope.binds();
        let json = Zeroizing::new(serde_json::to_string(credentials)?);
        let sealed = self.keys().encrypt_str(&json, &credentials_context(id));
        let updated = sqlx::query(&format!(
            "UPDATE channels SET credentials_enc = $1, updated_at = $2 WHERE id = $3 AND {}",
            super::scope_filter(4, 5)
        ))
        .bind(sealed)
        .bind(self.now_ms())
        .bind(id.as_str())
        .bind(agency)
        .bind(location)
        .execute(&mut **tx)
        .await?;
        if updated.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    /// The channel a provider webhook URL names, before any scope exists: the webhook
    /// handler verifies the signature with this channel's secret and only then acts
    /// within its location.
    pub async fn channel_for_webhook(&self, id: &ChannelId) -> Result<Channel, StoreError> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM channels WHERE id = $1"))
            .bind(id.as_str())
            .fetch_optional(self.db().reader())
            .await?
            .ok_or(StoreError::NotFound)?;
        Channel::from_row(&row)
    }

    /// A channel's credentials, opened.
    pub async fn channel_credentials(
        &self,
        channel: &Channel,
    ) -> Result<BTreeMap<String, String>, StoreError> {
        let sealed: String =
            sqlx::query_scalar("SELECT credentials_enc FROM channels WHERE id = $1")
                .bind(channel.id.as_str())
                .fetch_optional(self.db().reader())
                .await?
                .ok_or(StoreError::NotFound)?;
        let json = self
            .keys()
            .decrypt_str(&sealed, &credentials_context(&channel.id))?;
        Ok(serde_json::from_str(&json)?)
    }
}
