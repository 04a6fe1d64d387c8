//! Marketplace installs: the GHL company or location that installed the app, its token
//! (sealed), the installing GHL user, and the plan; and the lifecycle of what they cover
//! (uninstall keeps the data until the retention period ends, re-install reactivates).

use domain::{AgencyId, LocationId};
use secrecy::SecretString;
use sqlx::any::AnyRow;
use sqlx::Row;

use super::{Agency, Location};
use crate::error::StoreError;
use crate::store::Store;
use crate::tx::Tx;

/// An install, without its tokens (read them with [`Store::installation_tokens`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Installation {
    /// GHL's company id (agency install) or location id (location install).
    pub ghl_id: String,
    pub agency_id: AgencyId,
    /// `Company` or `Location`: which kind of token it holds.
    pub user_type: String,
    /// The GHL user who installed: the agency admin to invite.
    pub ghl_user_id: Option<String>,
    pub plan_id: Option<String>,
    pub status: String,
}

impl Installation {
    pub fn is_company(&self) -> bool {
        self.user_type == "Company"
    }

    fn from_row(row: &AnyRow) -> Result<Self, StoreError> {
        Ok(Self {
            ghl_id: row.try_get("ghl_id")?,
            agency_id: row.try_get::<String, _>("agency_id")?.parse()?,
            user_type: row.try_get("user_type")?,
            ghl_user_id: row.try_get("ghl_user_id")?,
            plan_id: row.try_get("plan_id")?,
            status: row.try_get("status")?,
        })
    }
}

/// What the OAuth callback learned.
#[derive(Debug)]
pub struct NewInstallation<'a> {
    pub ghl_id: &'a str,
    pub user_type: &'a str,
    pub ghl_user_id: Option<&'a str>,
    pub plan_id: Option<&'a str>,
    pub access_token: &'a str,
    pub refresh_token: Option<&'a str>,
    pub expires_at_ms: Option<i64>,
}

/// An install's tokens, opened.
#[derive(Debug)]
pub struct InstallationTokens {
    pub access_token: SecretString,
    pub refresh_token: Option<SecretString>,
    pub expires_at_ms: Option<i64>,
}

const COLUMNS: &str = "ghl_id, agency_id, user_type, ghl_user_id, plan_id, status";

pub(super) fn token_context(ghl_id: &str, which: &str) -> String {
    format!("installation:{ghl_id}:{which}")
}

impl Store {
    /// Records an install, or refreshes the same target's: new tokens, active again. The
    /// installing user and plan are kept when the new grant doesn't name them.
    pub async fn upsert_installation(
        &self,
        tx: &mut Tx,
        agency: &Agency,
        new: &NewInstallation<'_>,
    ) -> Result<Installation, StoreError> {
        let keys = self.keys();
        let access = keys.encrypt_str(new.access_token, &token_context(new.ghl_id, "access_token"));
        let refresh = new
            .refresh_token
            .map(|r| keys.encrypt_str(r, &token_context(new.ghl_id, "refresh_token")));
        let row = sqlx::query(&format!(
            "INSERT INTO installations (ghl_id, agency_id, user_type, ghl_user_id, plan_id, \
             access_token_enc, refresh_token_enc, token_expires_at, status, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'active', $9, $9) \
             ON CONFLICT (ghl_id) DO UPDATE SET user_type = excluded.user_type, \
             ghl_user_id = COALESCE(excluded.ghl_user_id, installations.ghl_user_id), \
             plan_id = COALESCE(excluded.plan_id, installations.plan_id), \
             access_token_enc = excluded.access_token_enc, \
             refresh_token_enc = excluded.refresh_token_enc, \
             token_expires_at = excluded.token_expires_at, status = 'active', \
             updated_at = excluded.updated_at \
             WHERE installations.agency_id = excluded.agency_id RETURNING {COLUMNS}"
        ))
        .bind(new.ghl_id)
        .bind(agency.id.as_str())
        .bind(new.user_type)
        .bind(new.ghl_user_id)
        .bind(new.plan_id)
        .bind(access)
        .bind(refresh)
        .bind(new.expires_at_ms)
        .bind(self.now_ms())
        .fetch_optional(&mut **tx)
        .await?
        .ok_or_else(|| {
            StoreError::Conflict(format!("GHL install {} belongs to another agency", new.ghl_id))
        })?;
        Installation::from_row(&row)
    }

    /// An install by GHL's id for its target.
    pub async fn installation(&self, ghl_id: &str) -> Result<Installation, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM installations WHERE ghl_id = $1"
        ))
        .bind(ghl_id)
        .fetch_optional(self.db().reader())
        .await?
        .ok_or(StoreError::NotFound)?;
        Installation::from_row(&row)
    }

    /// The agency's active agency-level install, if it has one: what mints location tokens
    /// for locations installed later.
    pub async fn company_installation(
        &self,
        agency: &AgencyId,
    ) -> Result<Option<Installation>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM installations WHERE agency_id = $1 AND user_type = 'Company' \
             AND status = 'active' ORDER BY created_at LIMIT 1"
        ))
        .bind(agency.as_str())
        .fetch_optional(self.db().reader())
        .await?;
        row.as_ref().map(Installation::from_row).transpose()
    }

    /// An install's tokens, opened.
    pub async fn installation_tokens(
        &self,
        ghl_id: &str,
    ) -> Result<InstallationTokens, StoreError> {
        let row: Option<(String, Option<String>, Option<i64>)> = sqlx::query_as(
            "SELECT access_token_enc, refresh_token_enc, token_expires_at FROM installations \
             WHERE ghl_id = $1",
        )
        .bind(ghl_id)
        .fetch_optional(self.db().reader())
        .await?;
        let (access, refresh, expires_at_ms) = row.ok_or(StoreError::NotFound)?;
        let open = |sealed: &str, which: &str| -> Result<SecretString, StoreError> {
            let text = self
                .keys()
                .decrypt_str(sealed, &token_context(ghl_id, which))?;
            Ok(SecretString::from(text.as_str()))
        };
        Ok(InstallationTokens {
            access_token: open(&access, "access_token")?,
            refresh_token: refresh.map(|r| open(&r, "refresh_token")).transpose()?,
            expires_at_ms,
        })
    }

    /// Stores an install's refreshed tokens.
    pub async fn store_installation_tokens(
        &self,
        ghl_id: &str,
        access_token: &str,
        refresh_token: Option<&str>,
        expires_at_ms: Option<i64>,
    ) -> Result<(), StoreError> {
        let keys = self.keys();
        sqlx::query(
            "UPDATE installations SET access_token_enc = $1, \
             refresh_token_enc = COALESCE($2, refresh_token_enc), token_expires_at = $3, \
             updated_at = $4 WHERE ghl_id = $5",
        )
        .bind(keys.encrypt_str(access_token, &token_context(ghl_id, "access_token")))
        .bind(refresh_token.map(|r| keys.encrypt_str(r, &token_context(ghl_id, "refresh_token"))))
        .bind(expires_at_ms)
        .bind(self.now_ms())
        .bind(ghl_id)
        .execute(self.db().writer())
        .await?;
        Ok(())
    }

    /// The agency GHL knows by `company_id`.
    pub async fn agency_by_ghl_company(&self, company_id: &str) -> Result<Agency, StoreError> {
        let row = sqlx::query(
            "SELECT id, name, ghl_company_id, status, created_at FROM agencies \
             WHERE ghl_company_id = $1",
        )
        .bind(company_id)
        .fetch_optional(self.db().reader())
        .await?
        .ok_or(StoreError::NotFound)?;
        Agency::from_row(&row)
    }

    /// Marks the agency installed (again): active, no purge date, no longer a purged
    /// tombstone (a later uninstall starts a new retention period and purge).
    pub async fn activate_agency(&self, tx: &mut Tx, agency: &AgencyId) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE agencies SET status = 'active', uninstalled_at = NULL, purge_after = NULL, \
             purged_at = NULL, updated_at = $1 WHERE id = $2",
        )
        .bind(self.now_ms())
        .bind(agency.as_str())
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    /// Marks the location installed (again) with fresh tokens: active, no purge date, no
    /// longer a purged tombstone.
    pub async fn activate_location(
        &self,
        tx: &mut Tx,
        location: &LocationId,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE locations SET status = 'active', uninstalled_at = NULL, purge_after = NULL, \
             purged_at = NULL, token_refresh_until = NULL, updated_at = $1 WHERE id = $2",
        )
        .bind(self.now_ms())
        .bind(location.as_str())
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    /// Uninstalls one location: status `uninstalled`, tokens dropped (GHL revoked them),
    /// data kept until `purge_after_ms`. Its own location-level install goes too.
    pub async fn uninstall_location(
        &self,
        tx: &mut Tx,
        location: &Location,
        purge_after_ms: i64,
    ) -> Result<(), StoreError> {
        let now = self.now_ms();
        sqlx::query(
            "UPDATE locations SET status = 'uninstalled', uninstalled_at = $1, purge_after = $2, \
             access_token_enc = NULL, refresh_token_enc = NULL, token_expires_at = NULL, \
             updated_at = $1 WHERE id = $3",
        )
        .bind(now)
        .bind(purge_after_ms)
        .bind(location.id.as_str())
        .execute(&mut **tx)
        .await?;
        sqlx::query(
            "UPDATE installations SET status = 'uninstalled', updated_at = $1 WHERE ghl_id = $2",
        )
        .bind(now)
        .bind(&location.ghl_location_id)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    /// Uninstalls a whole agency: it, every location and every install of it.
    pub async fn uninstall_agency(
        &self,
        tx: &mut Tx,
        agency: &AgencyId,
        purge_after_ms: i64,
    ) -> Result<(), StoreError> {
        let now = self.now_ms();
        sqlx::query(
            "UPDATE agencies SET status = 'uninstalled', uninstalled_at = $1, purge_after = $2, \
             updated_at = $1 WHERE id = $3",
        )
        .bind(now)
        .bind(purge_after_ms)
        .bind(agency.as_str())
        .execute(&mut **tx)
        .await?;
        sqlx::query(
            "UPDATE locations SET status = 'uninstalled', uninstalled_at = $1, purge_after = $2, \
             access_token_enc = NULL, refresh_token_enc = NULL, token_expires_at = NULL, \
             updated_at = $1 WHERE agency_id = $3",
        )
        .bind(now)
        .bind(purge_after_ms)
        .bind(agency.as_str())
        .execute(&mut **tx)
        .await?;
        sqlx::query(
            "UPDATE installations SET status = 'uninstalled', updated_at = $1 WHERE agency_id = $2",
        )
        .bind(now)
        .bind(agency.as_str())
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    /// Records the Marketplace plan of an agency, and of one of its locations when given.
    pub async fn record_plan(
        &self,
        tx: &mut Tx,
        agency: &AgencyId,
        location: Option<&LocationId>,
        plan_id: &str,
    ) -> Result<(), StoreError> {
        let now = self.now_ms();
        sqlx::query("UPDATE agencies SET plan_id = $1, updated_at = $2 WHERE id = $3")
            .bind(plan_id)
            .bind(now)
            .bind(agency.as_str())
            .execute(&mut **tx)
            .await?;
        sqlx::query("UPDATE installations SET plan_id = $1, updated_at = $2 WHERE agency_id = $3")
            .bind(plan_id)
            .bind(now)
            .bind(agency.as_str())
            .execute(&mut **tx)
            .await?;
        if let Some(location) = location {
            sqlx::query("UPDATE locations SET plan_id = $1, updated_at = $2 WHERE id = $3")
                .bind(plan_id)
                .bind(now)
                .bind(location.as_str())
                .execute(&mut **tx)
                .await?;
        }
        Ok(())
    }

    /// The lifecycle columns of a location: `(plan_id, uninstalled_at, purge_after)`, for
    /// operators and tests.
    pub async fn location_lifecycle(
        &self,
        location: &LocationId,
    ) -> Result<(Option<String>, Option<i64>, Option<i64>), StoreError> {
        sqlx::query_as("SELECT plan_id, uninstalled_at, purge_after FROM locations WHERE id = $1")
            .bind(location.as_str())
            .fetch_optional(self.db().reader())
            .await?
            .ok_or(StoreError::NotFound)
    }
}
