//! The AI agent's settings per location (edited on the dashboard's AI settings page).
//!
//! A location without a row uses the operator's defaults (`SWITCHBOARD_OPENAI_*`), so the
//! table only holds what an agency chose. The location's own model key is sealed like
//! channel credentials and listed for `keys rotate`.

use std::collections::BTreeMap;

use domain::LocationId;
use secrecy::SecretString;
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::error::StoreError;
use crate::store::Store;
use crate::tenant::TenantScope;
use crate::tx::Tx;

/// The context a location's model key is sealed under.
pub(crate) fn model_key_context(location: &str) -> String {
    format!("agent_settings:{location}:api_key")
}

/// What an agency set for its location's agent. `Default` is "nothing set".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AgentSettings {
    /// The location's layer of the prompt: persona, goals, questions, booking rules.
    pub strategy: String,
    pub chat_model: Option<String>,
    pub embedding_model: Option<String>,
    pub api_base: Option<String>,
    /// Whether the location has its own model key (the key itself is read with
    /// [`Store::agent_model_key`]).
    pub has_api_key: bool,
    /// The GHL calendar the agent books into; `None`: it cannot book.
    pub calendar_id: Option<String>,
    /// Names the model may set with `update_contact` → GHL custom field id or key.
    pub contact_fields: BTreeMap<String, String>,
    pub replies_per_day: Option<u32>,
    /// After a handoff is resolved without resuming the AI, it comes back on this many
    /// minutes later; `None` never.
    pub reactivate_minutes: Option<u32>,
}

/// A change of the settings. `api_key`: `None` keeps the stored key, `Some(None)` removes
/// it, `Some(Some(k))` replaces it.
#[derive(Debug, Clone, Default)]
pub struct AgentSettingsChange {
    pub settings: AgentSettings,
    pub api_key: Option<Option<SecretString>>,
}

const COLUMNS: &str = "strategy, chat_model, embedding_model, api_base, \
    api_key_enc IS NOT NULL AS has_api_key, calendar_id, contact_fields, replies_per_day, \
    reactivate_minutes";

fn count(row: &AnyRow, column: &str) -> Result<Option<u32>, StoreError> {
    Ok(row
        .try_get::<Option<i64>, _>(column)?
        .map(|n| u32::try_from(n).unwrap_or(u32::MAX)))
}

impl AgentSettings {
    fn from_row(row: &AnyRow) -> Result<Self, StoreError> {
        let has_api_key = match row.try_get::<bool, _>("has_api_key") {
            Ok(b) => b,
            // SQLite answers a boolean expression as an integer.
            Err(_) => row.try_get::<i64, _>("has_api_key")? != 0,
        };
        Ok(Self {
            strategy: row.try_get("strategy")?,
            chat_model: row.try_get("chat_model")?,
            embedding_model: row.try_get("embedding_model")?,
            api_base: row.try_get("api_base")?,
            has_api_key,
            calendar_id: row.try_get("calendar_id")?,
            contact_fields: serde_json::from_str(&row.try_get::<String, _>("contact_fields")?)?,
            replies_per_day: count(row, "replies_per_day")?,
            reactivate_minutes: count(row, "reactivate_minutes")?,
        })
    }
}

fn blank_to_none(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

impl Store {
    /// The location's agent settings; the defaults when none were saved. `NotFound` for a
    /// location outside the scope.
    pub async fn agent_settings(
        &self,
        scope: &TenantScope,
        location: &LocationId,
    ) -> Result<AgentSettings, StoreError> {
        let location = self.location(scope, location).await?;
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM agent_settings WHERE location_id = $1"
        ))
        .bind(location.id.as_str())
        .fetch_optional(&mut *self.db().tenant_reader(scope).await?)
        .await?;
        row.as_ref()
            .map_or_else(|| Ok(AgentSettings::default()), AgentSettings::from_row)
    }

    /// The location's own model key, opened; `None` when it has none.
    pub async fn agent_model_key(
        &self,
        scope: &TenantScope,
        location: &LocationId,
    ) -> Result<Option<SecretString>, StoreError> {
        let location = self.location(scope, location).await?;
        let sealed: Option<Option<String>> =
            sqlx::query_scalar("SELECT api_key_enc FROM agent_settings WHERE location_id = $1")
                .bind(location.id.as_str())
                .fetch_optional(&mut *self.db().tenant_reader(scope).await?)
                .await?;
        sealed
            .flatten()
            .map(|s| {
                self.keys()
                    .decrypt_str(&s, &model_key_context(location.id.as_str()))
                    .map(|key| SecretString::from(key.as_str()))
            })
            .transpose()
            .map_err(StoreError::from)
    }

    /// Saves the location's agent settings (the caller checked them) in the caller's
    /// transaction. `NotFound` for a location outside the scope.
    pub async fn set_agent_settings(
        &self,
        tx: &mut Tx,
        scope: &TenantScope,
        location: &LocationId,
        change: &AgentSettingsChange,
    ) -> Result<AgentSettings, StoreError> {
        let (agency, only) = scope.binds();
        let owned: Option<String> = sqlx::query_scalar(
            "SELECT id FROM locations WHERE id = $1 AND agency_id = $2 AND ($3 IS NULL OR id = $3)",
        )
        .bind(location.as_str())
        .bind(agency)
        .bind(only)
        .fetch_optional(&mut **tx)
        .await?;
        let location = owned.ok_or(StoreError::NotFound)?;
        let s = &change.settings;
        let sealed = match &change.api_key {
            Some(Some(key)) => Some(self.keys().encrypt_str(
                secrecy::ExposeSecret::expose_secret(key),
                &model_key_context(&location),
            )),
            _ => None,
        };
        let keep_key = change.api_key.is_none();
        let row = sqlx::query(&format!(
            "INSERT INTO agent_settings (location_id, agency_id, strategy, chat_model, \
             embedding_model, api_base, api_key_enc, calendar_id, contact_fields, \
             replies_per_day, reactivate_minutes, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) \
             ON CONFLICT (location_id) DO UPDATE SET strategy = excluded.strategy, \
             chat_model = excluded.chat_model, embedding_model = excluded.embedding_model, \
             api_base = excluded.api_base, \
             api_key_enc = CASE WHEN $13 = 1 THEN agent_settings.api_key_enc ELSE excluded.api_key_enc END, \
             calendar_id = excluded.calendar_id, contact_fields = excluded.contact_fields, \
             replies_per_day = excluded.replies_per_day, \
             reactivate_minutes = excluded.reactivate_minutes, updated_at = excluded.updated_at \
             RETURNING {COLUMNS}"
        ))
        .bind(&location)
        .bind(agency)
        .bind(s.strategy.trim())
        .bind(blank_to_none(&s.chat_model))
        .bind(blank_to_none(&s.embedding_model))
        .bind(blank_to_none(&s.api_base))
        .bind(sealed)
        .bind(blank_to_none(&s.calendar_id))
        .bind(serde_json::to_string(&s.contact_fields)?)
        .bind(s.replies_per_day.map(i64::from))
        .bind(s.reactivate_minutes.map(i64::from))
        .bind(self.now_ms())
        .bind(i64::from(keep_key))
        .fetch_one(&mut **tx)
        .await?;
        AgentSettings::from_row(&row)
    }
}
