//! Sessions: refresh tokens, rotated on every use, in families.
//!
//! A sign-in starts a family. Each refresh marks the presented token used and issues its
//! child in the same family. A token presented after it was used (or revoked) means two
//! parties hold it — a thief and the user — so the whole family is revoked and both must
//! sign in again. Tokens are stored only as SHA-256 hashes: they are 256 random bits, so
//! a slow hash adds nothing, and a database leak yields nothing usable.

use domain::{AgencyId, RefreshTokenId, UserId};
use sha2::{Digest, Sha256};
use sqlx::Row;

use crate::error::StoreError;
use crate::store::Store;
use crate::tx::Tx;

/// The stored form of a bearer secret (refresh token, API key).
pub fn secret_hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// A refresh token just issued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedRefresh {
    pub id: RefreshTokenId,
    pub family_id: String,
    pub expires_at_ms: i64,
}

/// What presenting a refresh token led to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefreshRotation {
    /// The token was current: it is now used, and `next` replaces it.
    Rotated {
        user_id: UserId,
        next: IssuedRefresh,
    },
    /// The token had been used or revoked before: its family is now revoked.
    Reused {
        user_id: UserId,
        /// The user's agency, for the audit entry.
        agency_id: Option<AgencyId>,
        family_id: String,
    },
    /// Unknown or expired: nothing changed.
    Invalid,
}

impl Store {
    /// Starts a session: the first refresh token of a new family.
    pub async fn start_session(
        &self,
        tx: &mut Tx,
        user: &UserId,
        token: &str,
        ttl_ms: i64,
    ) -> Result<IssuedRefresh, StoreError> {
        let family = RefreshTokenId::new().to_string();
        self.insert_refresh(tx, user, &family, None, token, ttl_ms)
            .await
    }

    async fn insert_refresh(
        &self,
        tx: &mut Tx,
        user: &UserId,
        family: &str,
        parent: Option<&RefreshTokenId>,
        token: &str,
        ttl_ms: i64,
    ) -> Result<IssuedRefresh, StoreError> {
        let id = RefreshTokenId::new();
        let now = self.now_ms();
        sqlx::query(
            "INSERT INTO refresh_tokens (id, user_id, family_id, parent_id, token_hash, \
             created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(id.as_str())
        .bind(user.as_str())
        .bind(family)
        .bind(parent.map(RefreshTokenId::as_str))
        .bind(secret_hash(token))
        .bind(now)
        .bind(now + ttl_ms)
        .execute(&mut **tx)
        .await?;
        Ok(IssuedRefresh {
            id,
            family_id: family.to_string(),
            expires_at_ms: now + ttl_ms,
        })
    }

    /// Presents `token` for rotation, issuing `next` in its place when it is current. The
    /// first statement claims the token atomically (`used_at IS NULL`), so of two
    /// concurrent uses one rotates and the other is a reuse.
    pub async fn rotate_refresh(
        &self,
        tx: &mut Tx,
        token: &str,
        next: &str,
        ttl_ms: i64,
    ) -> Result<RefreshRotation, StoreError> {
        let now = self.now_ms();
        let hash = secret_hash(token);
        let claimed = sqlx::query(
            "UPDATE refresh_tokens SET used_at = $1 WHERE token_hash = $2 AND used_at IS NULL \
             AND revoked_at IS NULL AND expires_at > $1 RETURNING id, user_id, family_id",
        )
        .bind(now)
        .bind(&hash)
        .fetch_optional(&mut **tx)
        .await?;
        if let Some(row) = claimed {
            let id: RefreshTokenId = row.try_get::<String, _>("id")?.parse()?;
            let user_id: UserId = row.try_get::<String, _>("user_id")?.parse()?;
            let family: String = row.try_get("family_id")?;
            let next = self
                .insert_refresh(tx, &user_id, &family, Some(&id), next, ttl_ms)
                .await?;
            return Ok(RefreshRotation::Rotated { user_id, next });
        }
        let known = sqlx::query(
            "SELECT r.user_id, r.family_id, r.used_at, r.revoked_at, u.agency_id \
             FROM refresh_tokens r JOIN users u ON u.id = r.user_id WHERE r.token_hash = $1",
        )
        .bind(&hash)
        .fetch_optional(&mut **tx)
        .await?;
        let Some(row) = known else {
            return Ok(RefreshRotation::Invalid);
        };
        let used: Option<i64> = row.try_get("used_at")?;
        let revoked: Option<i64> = row.try_get("revoked_at")?;
        if used.is_none() && revoked.is_none() {
            return Ok(RefreshRotation::Invalid); // merely expired
        }
        let user_id: UserId = row.try_get::<String, _>("user_id")?.parse()?;
        let family_id: String = row.try_get("family_id")?;
        let agency_id: Option<String> = row.try_get("agency_id")?;
        let agency_id = agency_id.map(|a| a.parse()).transpose()?;
        self.revoke_family(tx, &family_id).await?;
        Ok(RefreshRotation::Reused {
            user_id,
            agency_id,
            family_id,
        })
    }

    /// Revokes every token of a family not revoked yet; returns how many.
    pub async fn revoke_family(&self, tx: &mut Tx, family_id: &str) -> Result<u64, StoreError> {
        let done = sqlx::query(
            "UPDATE refresh_tokens SET revoked_at = $1 WHERE family_id = $2 AND revoked_at IS NULL",
        )
        .bind(self.now_ms())
        .bind(family_id)
        .execute(&mut **tx)
        .await?;
        Ok(done.rows_affected())
    }

    /// Ends the session `token` belongs to (logout); returns its user and the user's
    /// agency (for the audit entry), if the token was known.
    pub async fn end_session(
        &self,
        tx: &mut Tx,
        token: &str,
    ) -> Result<Option<(UserId, Option<AgencyId>)>, StoreError> {
        let row = sqlx::query(
            "SELECT r.user_id, r.family_id, u.agency_id FROM refresh_tokens r \
             JOIN users u ON u.id = r.user_id WHERE r.token_hash = $1",
        )
        .bind(secret_hash(token))
        .fetch_optional(&mut **tx)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let family: String = row.try_get("family_id")?;
        self.revoke_family(tx, &family).await?;
        let agency: Option<String> = row.try_get("agency_id")?;
        Ok(Some((
            row.try_get::<String, _>("user_id")?.parse()?,
            agency.map(|a| a.parse()).transpose()?,
        )))
    }

    /// Revokes every session of a user (logout everywhere); returns how many tokens.
    pub async fn revoke_user_sessions(
        &self,
        tx: &mut Tx,
        user: &UserId,
    ) -> Result<u64, StoreError> {
        let done = sqlx::query(
            "UPDATE refresh_tokens SET revoked_at = $1 WHERE user_id = $2 AND revoked_at IS NULL",
        )
        .bind(self.now_ms())
        .bind(user.as_str())
        .execute(&mut **tx)
        .await?;
        Ok(done.rows_affected())
    }

    /// Whether a family still has a live token (for tests and session lists).
    pub async fn family_is_live(&self, family_id: &str) -> Result<bool, StoreError> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS n FROM refresh_tokens WHERE family_id = $1 \
             AND revoked_at IS NULL AND used_at IS NULL AND expires_at > $2",
        )
        .bind(family_id)
        .bind(self.now_ms())
        .fetch_one(self.db().reader())
        .await?;
        Ok(row.try_get::<i64, _>("n")? > 0)
    }
}
