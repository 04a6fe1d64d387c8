//! One-time account links (password reset, invitation): issued hashed, taken once, before
//! they expire.

use domain::{AgencyId, UserId};

use super::sessions::secret_hash;
use crate::error::StoreError;
use crate::store::Store;
use crate::tx::Tx;

/// What an account token is for; a token only works for its own purpose.
pub const PASSWORD_RESET: &str = "password_reset";
/// An invitation: the invited user chooses a password and becomes active.
pub const INVITATION: &str = "invitation";

impl Store {
    /// Stores a new token for `user` (its hash only). Earlier unused tokens for the same
    /// purpose stop working: only the newest link in the user's mailbox opens.
    pub async fn issue_account_token(
        &self,
        tx: &mut Tx,
        user: &UserId,
        purpose: &str,
        token: &str,
        expires_at_ms: i64,
    ) -> Result<(), StoreError> {
        let now = self.now_ms();
        sqlx::query(
            "UPDATE account_tokens SET used_at = $1 \
             WHERE user_id = $2 AND purpose = $3 AND used_at IS NULL",
        )
        .bind(now)
        .bind(user.as_str())
        .bind(purpose)
        .execute(&mut **tx)
        .await?;
        sqlx::query(
            "INSERT INTO account_tokens (token_hash, user_id, purpose, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(secret_hash(token))
        .bind(user.as_str())
        .bind(purpose)
        .bind(now)
        .bind(expires_at_ms)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    /// Uses up every open link of `user` (any purpose): a deactivated account must not
    /// come back through an invitation or reset mailed earlier.
    pub async fn spend_account_tokens(
        &self,
        tx: &mut Tx,
        user: &UserId,
    ) -> Result<u64, StoreError> {
        let done = sqlx::query(
            "UPDATE account_tokens SET used_at = $1 WHERE user_id = $2 AND used_at IS NULL",
        )
        .bind(self.now_ms())
        .bind(user.as_str())
        .execute(&mut **tx)
        .await?;
        Ok(done.rows_affected())
    }

    /// Uses up `token` if it is current and for `purpose`, in one statement (two requests
    /// with one link: one wins). Returns its user and the user's agency; `NotFound` for an
    /// unknown, used, expired or other-purpose token, which callers answer alike.
    pub async fn take_account_token(
        &self,
        tx: &mut Tx,
        purpose: &str,
        token: &str,
    ) -> Result<(UserId, Option<AgencyId>), StoreError> {
        let now = self.now_ms();
        let user: Option<String> = sqlx::query_scalar(
            "UPDATE account_tokens SET used_at = $1 \
             WHERE token_hash = $2 AND purpose = $3 AND used_at IS NULL AND expires_at > $1 \
             RETURNING user_id",
        )
        .bind(now)
        .bind(secret_hash(token))
        .bind(purpose)
        .fetch_optional(&mut **tx)
        .await?;
        let user: UserId = user.ok_or(StoreError::NotFound)?.parse()?;
        let agency: Option<String> =
            sqlx::query_scalar("SELECT agency_id FROM users WHERE id = $1")
                .bind(user.as_str())
                .fetch_one(&mut **tx)
                .await?;
        Ok((user, agency.map(|a| a.parse()).transpose()?))
    }
}

impl Store {
    /// Sets a user's status (`active`, `invited`, `disabled`).
    pub async fn set_user_status(
        &self,
        tx: &mut Tx,
        user: &UserId,
        status: &str,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE users SET status = $1, updated_at = $2 WHERE id = $3")
            .bind(status)
            .bind(self.now_ms())
            .bind(user.as_str())
            .execute(&mut **tx)
            .await?;
        Ok(())
    }
}
