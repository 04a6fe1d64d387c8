//! The key ring against the database: checking it is the right one, and rotating.

use domain::{ChannelId, LocationId};
use sqlx::Row;

use super::channels::credentials_context;
use super::locations::token_context;
use crate::error::StoreError;
use crate::store::Store;

/// What `keys rotate` re-sealed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Rotation {
    pub location_tokens: u64,
    pub channel_credentials: u64,
    pub installation_tokens: u64,
}

const KEY_CHECK: &str = "key_check";
const KEY_CHECK_PLAINTEXT: &str = "switchboard key check";

impl Store {
    /// Fails unless the key ring opens this database's secrets. The first call on a new
    /// database seals a check value under the current key.
    pub async fn verify_keys(&self) -> Result<(), StoreError> {
        let sealed: Option<String> =
            sqlx::query_scalar("SELECT value FROM app_settings WHERE name = $1")
                .bind(KEY_CHECK)
                .fetch_optional(self.db().reader())
                .await?;
        match sealed {
            Some(sealed) => {
                let opened = self.keys().decrypt_str(&sealed, KEY_CHECK).map_err(|e| {
                    StoreError::Config(format!(
                        "the master key does not open this database's secrets: {e}. Start with the \
                         SWITCHBOARD_MASTER_KEY (or data-folder master.key) this database was set up with"
                    ))
                })?;
                if opened.as_str() != KEY_CHECK_PLAINTEXT {
                    return Err(StoreError::Corrupt("the key check value is wrong".into()));
                }
                Ok(())
            }
            None => {
                sqlx::query("INSERT INTO app_settings (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING")
                    .bind(KEY_CHECK)
                    .bind(self.keys().encrypt_str(KEY_CHECK_PLAINTEXT, KEY_CHECK))
                    .execute(self.db().writer())
                    .await?;
                Ok(())
            }
        }
    }

    /// Re-seals every stored secret that is not under the current key version, in one
    /// transaction: after it commits, the previous keys can be removed from the ring.
    /// Safe to re-run; values already current are left alone.
    pub async fn rotate_keys(&self) -> Result<Rotation, StoreError> {
        let keys = self.keys();
        let mut rotation = Rotation::default();
        let mut tx = self.begin().await?;
        let rows = sqlx::query("SELECT id, access_token_enc, refresh_token_enc FROM locations WHERE access_token_enc IS NOT NULL")
            .fetch_all(&mut *tx)
            .await?;
        for row in rows {
            let id: LocationId = row.try_get::<String, _>("id")?.parse()?;
            let access: String = row.try_get("access_token_enc")?;
            let refresh: Option<String> = row.try_get("refresh_token_enc")?;
            if !keys.needs_rotation(&access)
                && !refresh.as_deref().is_some_and(|r| keys.needs_rotation(r))
            {
                continue;
            }
            let refresh = refresh
                .map(|r| keys.reencrypt(&r, &token_context(&id, "refresh_token")))
                .transpose()?;
            sqlx::query(
                "UPDATE locations SET access_token_enc = $1, refresh_token_enc = $2 WHERE id = $3",
            )
            .bind(keys.reencrypt(&access, &token_context(&id, "access_token"))?)
            .bind(refresh)
            .bind(id.as_str())
            .execute(&mut *tx)
            .await?;
            rotation.location_tokens += 1;
        }
        let rows = sqlx::query("SELECT id, credentials_enc FROM channels")
            .fetch_all(&mut *tx)
            .await?;
        for row in rows {
            let id: ChannelId = row.try_get::<String, _>("id")?.parse()?;
            let sealed: String = row.try_get("credentials_enc")?;
            if !keys.needs_rotation(&sealed) {
                continue;
            }
            sqlx::query("UPDATE channels SET credentials_enc = $1 WHERE id = $2")
                .bind(keys.reencrypt(&sealed, &credentials_context(&id))?)
                .bind(id.as_str())
                .execute(&mut *tx)
                .await?;
            rotation.channel_credentials += 1;
        }
        rotation.installation_tokens = self.rotate_installation_tokens(&mut tx).await?;
        sqlx::query("UPDATE app_settings SET value = $1 WHERE name = $2")
            .bind(keys.encrypt_str(KEY_CHECK_PLAINTEXT, KEY_CHECK))
            .bind(KEY_CHECK)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(rotation)
    }
}
