//! The key ring against the database: checking it is the right one, and rotating.

use super::channels::credentials_context;
use super::installations::token_context as installation_token_context;
use super::locations::token_context;
use crate::error::StoreError;
use crate::store::Store;

/// What `keys rotate` re-sealed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Rotation {
    /// Location tokens re-sealed (access and refresh count separately).
    pub location_tokens: u64,
    pub channel_credentials: u64,
    /// Marketplace install tokens re-sealed (access and refresh count separately).
    pub installation_tokens: u64,
}

const KEY_CHECK: &str = "key_check";
const KEY_CHECK_PLAINTEXT: &str = "switchboard key check";
/// The oldest key version that may still seal or open secrets, set by `keys rotate`.
const KEY_FLOOR: &str = "key_floor";

impl Store {
    /// Fails unless the key ring opens this database's secrets. The first call on a new
    /// database seals a check value under the current key.
    ///
    /// Also refuses a ring whose current key is older than the last rotation's (a process
    /// started with the old configuration would seal new secrets under a retired key), and
    /// warns about previous keys that are retired and can be removed.
    pub async fn verify_keys(&self) -> Result<(), StoreError> {
        let floor: Option<String> =
            sqlx::query_scalar("SELECT value FROM app_settings WHERE name = $1")
                .bind(KEY_FLOOR)
                .fetch_optional(self.db().reader())
                .await?;
        if let Some(floor) = floor.and_then(|f| f.parse::<u32>().ok()) {
            let current = self.keys().current_version();
            if current < floor {
                return Err(StoreError::Config(format!(
                    "this database's secrets were rotated to key version {floor}, but \
                     SWITCHBOARD_MASTER_KEY is version {current}: start with the new key"
                )));
            }
            let retired: Vec<u32> = self.keys().versions().filter(|v| *v < floor).collect();
            if !retired.is_empty() {
                tracing::warn!(?retired, floor, "SWITCHBOARD_PREVIOUS_MASTER_KEYS holds retired key versions; nothing is sealed under them any more, remove them");
            }
        }
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

    /// Re-seals every stored secret that is not under the current key version, in batches
    /// of `batch` rows, each its own short transaction, so the service keeps running (on
    /// SQLite a single long transaction would hold every writer back until the end).
    /// Interrupted, it resumes where it stopped: rows already under the current key are
    /// never selected again.
    ///
    /// Each row is replaced only if it still holds the value that was read
    /// (compare-and-swap): a token the service refreshed meanwhile was sealed under the
    /// current key by the service itself, and must not be overwritten by its older value.
    /// When nothing is left, the key check is re-sealed and the current version recorded
    /// as the floor (see [`Store::verify_keys`]): older versions are retired.
    pub async fn rotate_keys(&self, batch: usize) -> Result<Rotation, StoreError> {
        let mut rotation = Rotation::default();
        for column in SEALED {
            let resealed = self.rotate_column(column, batch.max(1)).await?;
            match column.table {
                "locations" => rotation.location_tokens += resealed,
                "installations" => rotation.installation_tokens += resealed,
                _ => rotation.channel_credentials += resealed,
            }
        }
        self.retire_old_keys().await?;
        Ok(rotation)
    }

    /// Re-seals one column's rows batch by batch; returns how many it replaced.
    async fn rotate_column(&self, column: &SealedColumn, batch: usize) -> Result<u64, StoreError> {
        let keys = self.keys();
        let current = format!("v{}.%", keys.current_version());
        let select = format!(
            "SELECT {key}, {col} FROM {table} WHERE {col} IS NOT NULL AND {col} NOT LIKE $1 \
             ORDER BY {key} LIMIT $2",
            key = column.key,
            col = column.column,
            table = column.table
        );
        let update = format!(
            "UPDATE {table} SET {col} = $1 WHERE {key} = $2 AND {col} = $3",
            key = column.key,
            col = column.column,
            table = column.table
        );
        let mut resealed = 0;
        let mut idle_rounds = 0;
        loop {
            let rows: Vec<(String, String)> = sqlx::query_as(&select)
                .bind(&current)
                .bind(i64::try_from(batch).unwrap_or(i64::MAX))
                .fetch_all(self.db().reader())
                .await?;
            if rows.is_empty() {
                return Ok(resealed);
            }
            let mut replaced = 0;
            let mut tx = self.begin().await?;
            for (id, sealed) in &rows {
                let fresh = keys.reencrypt(sealed, &(column.context)(id))?;
                let done = sqlx::query(&update)
                    .bind(&fresh)
                    .bind(id)
                    .bind(sealed)
                    .execute(&mut *tx)
                    .await?;
                replaced += done.rows_affected();
            }
            tx.commit().await?;
            resealed += replaced;
            // Rows that changed under us are read again next round. If none of a round's
            // rows could be replaced several times over, something keeps writing them
            // under an old key: a process still running with the old key ring.
            idle_rounds = if replaced == 0 { idle_rounds + 1 } else { 0 };
            if idle_rounds >= 5 {
                return Err(StoreError::Conflict(format!(
                    "{}.{} keeps being rewritten under an old key: restart every process with the new SWITCHBOARD_MASTER_KEY, then run keys rotate again",
                    column.table, column.column
                )));
            }
        }
    }

    /// Records that nothing is sealed under a version older than the current one any more.
    async fn retire_old_keys(&self) -> Result<(), StoreError> {
        let keys = self.keys();
        let mut tx = self.begin().await?;
        for (name, value) in [
            (KEY_CHECK, keys.encrypt_str(KEY_CHECK_PLAINTEXT, KEY_CHECK)),
            (KEY_FLOOR, keys.current_version().to_string()),
        ] {
            sqlx::query(
                "INSERT INTO app_settings (name, value) VALUES ($1, $2) \
                 ON CONFLICT (name) DO UPDATE SET value = excluded.value",
            )
            .bind(name)
            .bind(value)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await
    }
}

/// Every `(table, column)` that `keys rotate` re-seals.
pub fn sealed_columns() -> impl Iterator<Item = (&'static str, &'static str)> {
    SEALED.iter().map(|c| (c.table, c.column))
}

/// A column holding sealed secrets, and the context each row's value is sealed with.
/// Every sealed column must be listed here, or `keys rotate` leaves it behind (the
/// rotation test checks every `*_enc` column of the schema is listed).
struct SealedColumn {
    table: &'static str,
    /// The row's key, which the context names.
    key: &'static str,
    column: &'static str,
    context: fn(&str) -> String,
}

const SEALED: &[SealedColumn] = &[
    SealedColumn {
        table: "locations",
        key: "id",
        column: "access_token_enc",
        context: |id| token_context(&id, "access_token"),
    },
    SealedColumn {
        table: "locations",
        key: "id",
        column: "refresh_token_enc",
        context: |id| token_context(&id, "refresh_token"),
    },
    SealedColumn {
        table: "channels",
        key: "id",
        column: "credentials_enc",
        context: |id| credentials_context(&id),
    },
    SealedColumn {
        table: "installations",
        key: "ghl_id",
        column: "access_token_enc",
        context: |id| installation_token_context(id, "access_token"),
    },
    SealedColumn {
        table: "installations",
        key: "ghl_id",
        column: "refresh_token_enc",
        context: |id| installation_token_context(id, "refresh_token"),
    },
    SealedColumn {
        table: "agent_settings",
        key: "location_id",
        column: "api_key_enc",
        context: |id| super::agent_settings::model_key_context(id),
    },
];
