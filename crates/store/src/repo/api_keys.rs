//! API keys for programmatic use, scoped to an agency or one of its locations.
//!
//! The key is `sb_<prefix>_<secret>`. The prefix is public: shown in lists and used to
//! find the row. The whole key is stored only as a SHA-256 hash ([`secret_hash`]), so
//! it is shown once, when made, and never again.

use domain::{ApiKeyId, LocationId};
use sqlx::any::AnyRow;
use sqlx::Row;

use super::scope_filter;
use super::sessions::secret_hash;
use crate::error::StoreError;
use crate::store::Store;
use crate::tenant::TenantScope;
use crate::tx::Tx;

/// An API key, without its secret.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ApiKey {
    pub id: ApiKeyId,
    pub agency_id: domain::AgencyId,
    pub location_id: Option<LocationId>,
    pub name: String,
    pub prefix: String,
    pub role: String,
    pub created_by: String,
    pub created_at_ms: i64,
    pub revoked_at_ms: Option<i64>,
    pub last_used_at_ms: Option<i64>,
}

/// An API key found by its prefix, with the hash to check the presented key against.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ApiKeyCredential {
    pub key: ApiKey,
    pub secret_hash: String,
}

const COLUMNS: &str = "id, agency_id, location_id, name, prefix, role, created_by, created_at, \
     revoked_at, last_used_at";

impl ApiKey {
    fn from_row(row: &AnyRow) -> Result<Self, StoreError> {
        let location: Option<String> = row.try_get("location_id")?;
        Ok(Self {
            id: row.try_get::<String, _>("id")?.parse()?,
            agency_id: row.try_get::<String, _>("agency_id")?.parse()?,
            location_id: location.map(|l| l.parse()).transpose()?,
            name: row.try_get("name")?,
            prefix: row.try_get("prefix")?,
            role: row.try_get("role")?,
            created_by: row.try_get("created_by")?,
            created_at_ms: row.try_get("created_at")?,
            revoked_at_ms: row.try_get("revoked_at")?,
            last_used_at_ms: row.try_get("last_used_at")?,
        })
    }
}

impl Store {
    /// Stores a new key for exactly `scope` (an agency, or one of its locations). `key` is
    /// the whole key the caller made and shows once; only its hash is kept.
    #[allow(clippy::too_many_arguments)]
    pub async fn create_api_key(
        &self,
        tx: &mut Tx,
        scope: &TenantScope,
        name: &str,
        prefix: &str,
        key: &str,
        role: &str,
        created_by: &str,
    ) -> Result<ApiKey, StoreError> {
        let (agency, location) = scope.binds();
        let row = sqlx::query(&format!(
            "INSERT INTO api_keys (id, agency_id, location_id, name, prefix, secret_hash, role, \
             created_by, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
             RETURNING {COLUMNS}"
        ))
        .bind(ApiKeyId::new().as_str())
        .bind(agency)
        .bind(location)
        .bind(name)
        .bind(prefix)
        .bind(secret_hash(key))
        .bind(role)
        .bind(created_by)
        .bind(self.now_ms())
        .fetch_one(&mut **tx)
        .await?;
        ApiKey::from_row(&row)
    }

    /// The keys the scope can see (a location's keys for a location scope), newest first.
    pub async fn api_keys(&self, scope: &TenantScope) -> Result<Vec<ApiKey>, StoreError> {
        let (agency, location) = scope.binds();
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM api_keys WHERE {} ORDER BY id DESC",
            scope_filter(1, 2)
        ))
        .bind(agency)
        .bind(location)
        .fetch_all(self.db().reader())
        .await?;
        rows.iter().map(ApiKey::from_row).collect()
    }

    /// One key within the scope, or `NotFound` (also for another tenant's key).
    pub async fn api_key(&self, scope: &TenantScope, id: &ApiKeyId) -> Result<ApiKey, StoreError> {
        let row = self
            .scoped_row("api_keys", COLUMNS, id.as_str(), scope)
            .await?;
        ApiKey::from_row(&row)
    }

    /// Revokes a key within the scope; revoking a revoked key changes nothing. `NotFound`
    /// for another tenant's key.
    pub async fn revoke_api_key(
        &self,
        tx: &mut Tx,
        scope: &TenantScope,
        id: &ApiKeyId,
    ) -> Result<ApiKey, StoreError> {
        let (agency, location) = scope.binds();
        let row = sqlx::query(&format!(
            "UPDATE api_keys SET revoked_at = COALESCE(revoked_at, $1) WHERE id = $2 AND {} \
             RETURNING {COLUMNS}",
            scope_filter(3, 4)
        ))
        .bind(self.now_ms())
        .bind(id.as_str())
        .bind(agency)
        .bind(location)
        .fetch_optional(&mut **tx)
        .await?
        .ok_or(StoreError::NotFound)?;
        ApiKey::from_row(&row)
    }

    /// A key by its public prefix, for the principal extractor, which then checks the
    /// presented key against `secret_hash` and scopes to the key's tenant.
    pub async fn api_key_for_auth(&self, prefix: &str) -> Result<ApiKeyCredential, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS}, secret_hash FROM api_keys WHERE prefix = $1"
        ))
        .bind(prefix)
        .fetch_optional(self.db().reader())
        .await?
        .ok_or(StoreError::NotFound)?;
        Ok(ApiKeyCredential {
            key: ApiKey::from_row(&row)?,
            secret_hash: row.try_get("secret_hash")?,
        })
    }

    /// Records a use of the key, at most once per `every_ms`: the condition is in the
    /// statement, so busy keys don't write on every request and concurrent uses write
    /// once. Returns whether it wrote.
    pub async fn touch_api_key(&self, id: &ApiKeyId, every_ms: i64) -> Result<bool, StoreError> {
        let now = self.now_ms();
        let id = id.to_string();
        self.write(move |tx| {
            Box::pin(async move {
                let done = sqlx::query(
                    "UPDATE api_keys SET last_used_at = $1 WHERE id = $2 \
                     AND (last_used_at IS NULL OR last_used_at <= $3)",
                )
                .bind(now)
                .bind(&id)
                .bind(now - every_ms)
                .execute(&mut **tx)
                .await?;
                Ok(done.rows_affected() == 1)
            })
        })
        .await
    }
}
