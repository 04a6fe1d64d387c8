//! Dashboard users: who they are, their role and tenant, and their sign-in state.
//!
//! The role is stored as a word; what a role may do is the server's business
//! (`server::auth::roles`). Passwords arrive here already hashed (argon2id), never in
//! clear.

use domain::{AgencyId, LocationId, UserId};
use sqlx::any::AnyRow;
use sqlx::Row;

use super::scope_filter;
use crate::error::StoreError;
use crate::store::Store;
use crate::tenant::TenantScope;
use crate::tx::Tx;

/// A user. The password hash is read only by the sign-in path ([`Store::user_for_login`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct User {
    pub id: UserId,
    pub email: String,
    pub name: String,
    pub role: String,
    pub agency_id: Option<AgencyId>,
    pub location_id: Option<LocationId>,
    pub status: String,
    /// Access tokens issued before this time (Unix ms) are no longer accepted.
    pub tokens_valid_after_ms: i64,
    pub created_at_ms: i64,
}

/// What the sign-in path needs beside the user.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct LoginRecord {
    pub user: User,
    pub password_hash: Option<String>,
    pub failed_logins: i64,
    pub locked_until_ms: Option<i64>,
}

/// What a new user needs. The tenant is given as records the store loaded, so a user
/// can't be attached to a tenant by a bare id.
#[derive(Debug, Clone, Default)]
pub struct NewUser {
    pub email: String,
    pub name: String,
    pub role: String,
    pub password_hash: Option<String>,
    pub agency_id: Option<AgencyId>,
    pub location_id: Option<LocationId>,
}

/// What a failed sign-in did to the account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoginFailure {
    pub failed_logins: i64,
    /// True when the account is locked after this failure (the threshold reached or
    /// passed again after a lock ran out).
    pub locked_now: bool,
}

const COLUMNS: &str = "id, email, name, role, agency_id, location_id, status, \
     tokens_valid_after, created_at";

impl User {
    fn from_row(row: &AnyRow) -> Result<Self, StoreError> {
        let agency: Option<String> = row.try_get("agency_id")?;
        let location: Option<String> = row.try_get("location_id")?;
        Ok(Self {
            id: row.try_get::<String, _>("id")?.parse()?,
            email: row.try_get("email")?,
            name: row.try_get("name")?,
            role: row.try_get("role")?,
            agency_id: agency.map(|a| a.parse()).transpose()?,
            location_id: location.map(|l| l.parse()).transpose()?,
            status: row.try_get("status")?,
            tokens_valid_after_ms: row.try_get("tokens_valid_after")?,
            created_at_ms: row.try_get("created_at")?,
        })
    }
}

/// Emails compare without case: one mailbox, one account.
pub fn normalize_email(email: &str) -> String {
    email.trim().to_lowercase()
}

impl Store {
    /// Creates a user. An email already taken (in any case) is a conflict.
    pub async fn create_user(&self, tx: &mut Tx, new: &NewUser) -> Result<User, StoreError> {
        let now = self.now_ms();
        let email = normalize_email(&new.email);
        let row = sqlx::query(&format!(
            "INSERT INTO users (id, agency_id, location_id, email, name, role, password_hash, \
             created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) \
             RETURNING {COLUMNS}"
        ))
        .bind(UserId::new().as_str())
        .bind(new.agency_id.as_ref().map(AgencyId::as_str))
        .bind(new.location_id.as_ref().map(LocationId::as_str))
        .bind(&email)
        .bind(&new.name)
        .bind(&new.role)
        .bind(new.password_hash.as_deref())
        .bind(now)
        .fetch_one(&mut **tx)
        .await
        .map_err(StoreError::from)
        .map_err(|e| {
            if e.is_unique_violation() {
                StoreError::Conflict(format!("a user with email {email} already exists"))
            } else {
                e
            }
        })?;
        User::from_row(&row)
    }

    /// A user by email with the sign-in state, for the sign-in path only (no scope yet:
    /// this lookup is what establishes one).
    pub async fn user_for_login(&self, email: &str) -> Result<LoginRecord, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS}, password_hash, failed_logins, locked_until FROM users \
             WHERE email = $1"
        ))
        .bind(normalize_email(email))
        .fetch_optional(self.db().reader())
        .await?
        .ok_or(StoreError::NotFound)?;
        Ok(LoginRecord {
            user: User::from_row(&row)?,
            password_hash: row.try_get("password_hash")?,
            failed_logins: row.try_get("failed_logins")?,
            locked_until_ms: row.try_get("locked_until")?,
        })
    }

    /// A user by id, for the principal extractor after it verified a signed token that
    /// names the user.
    pub async fn user_for_principal(&self, id: &UserId) -> Result<User, StoreError> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM users WHERE id = $1"))
            .bind(id.as_str())
            .fetch_optional(self.db().reader())
            .await?
            .ok_or(StoreError::NotFound)?;
        User::from_row(&row)
    }

    /// The users of a scope (an agency's all, agency-wide ones included; a location's own
    /// only), by email. Every status: the settings page shows invited and disabled ones too.
    pub async fn users_of_scope(&self, scope: &TenantScope) -> Result<Vec<User>, StoreError> {
        let (agency, location) = scope.binds();
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM users WHERE {} ORDER BY email",
            scope_filter(1, 2)
        ))
        .bind(agency)
        .bind(location)
        .fetch_all(&mut *self.db().tenant_reader(scope).await?)
        .await?;
        rows.iter().map(User::from_row).collect()
    }

    /// One user of the scope, any status; `NotFound` also for another tenant's user.
    pub async fn user_of_scope(
        &self,
        scope: &TenantScope,
        id: &UserId,
    ) -> Result<User, StoreError> {
        let row = self
            .scoped_row("users", COLUMNS, id.as_str(), scope)
            .await?;
        User::from_row(&row)
    }

    /// Sets the role of one user of the scope; `NotFound` for another tenant's user.
    pub async fn set_user_role(
        &self,
        tx: &mut Tx,
        scope: &TenantScope,
        id: &UserId,
        role: &str,
    ) -> Result<User, StoreError> {
        let (agency, location) = scope.binds();
        let row = sqlx::query(&format!(
            "UPDATE users SET role = $1, updated_at = $2 WHERE id = $3 AND {} \
             RETURNING {COLUMNS}",
            scope_filter(4, 5)
        ))
        .bind(role)
        .bind(self.now_ms())
        .bind(id.as_str())
        .bind(agency)
        .bind(location)
        .fetch_optional(&mut **tx)
        .await?
        .ok_or(StoreError::NotFound)?;
        User::from_row(&row)
    }

    /// Counts a failed sign-in; the `threshold`-th consecutive one locks the account until
    /// `lock_until_ms`. One statement, so concurrent failures all count.
    pub async fn record_login_failure(
        &self,
        tx: &mut Tx,
        user: &UserId,
        threshold: i64,
        lock_until_ms: i64,
    ) -> Result<LoginFailure, StoreError> {
        let row = sqlx::query(
            "UPDATE users SET failed_logins = failed_logins + 1, \
             locked_until = CASE WHEN failed_logins + 1 >= $1 THEN $2 ELSE locked_until END, \
             updated_at = $3 WHERE id = $4 RETURNING failed_logins",
        )
        .bind(threshold)
        .bind(lock_until_ms)
        .bind(self.now_ms())
        .bind(user.as_str())
        .fetch_optional(&mut **tx)
        .await?
        .ok_or(StoreError::NotFound)?;
        let failed_logins: i64 = row.try_get("failed_logins")?;
        Ok(LoginFailure {
            failed_logins,
            locked_now: failed_logins >= threshold,
        })
    }

    /// A successful sign-in clears the failure count and any expired lock.
    pub async fn record_login_success(&self, tx: &mut Tx, user: &UserId) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE users SET failed_logins = 0, locked_until = NULL, updated_at = $1 \
             WHERE id = $2",
        )
        .bind(self.now_ms())
        .bind(user.as_str())
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    /// Replaces a user's password hash and clears any lock (an operator's reset, the
    /// demo's fresh password).
    pub async fn set_user_password(
        &self,
        tx: &mut Tx,
        user: &UserId,
        password_hash: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE users SET password_hash = $1, failed_logins = 0, locked_until = NULL, \
             updated_at = $2 WHERE id = $3",
        )
        .bind(password_hash)
        .bind(self.now_ms())
        .bind(user.as_str())
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    /// Ends every access token the user holds now (logout everywhere); refresh tokens are
    /// revoked separately ([`Store::revoke_user_sessions`]).
    pub async fn end_user_access_tokens(
        &self,
        tx: &mut Tx,
        user: &UserId,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE users SET tokens_valid_after = $1, updated_at = $1 WHERE id = $2")
            .bind(now_ms)
            .bind(user.as_str())
            .execute(&mut **tx)
            .await?;
        Ok(())
    }
}
