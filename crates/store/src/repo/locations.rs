//! Locations: GHL sub-accounts, with their OAuth tokens sealed at rest.

use domain::quiet_hours::{ClockTime, QuietHours, Zone};
use domain::LocationId;
use secrecy::SecretString;
use sqlx::any::AnyRow;
use sqlx::Row;

use super::Agency;
use crate::error::StoreError;
use crate::store::Store;
use crate::tenant::TenantScope;
use crate::tx::Tx;

/// A location. Tokens are not here: read them with [`Store::location_tokens`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Location {
    pub id: LocationId,
    pub agency_id: domain::AgencyId,
    pub ghl_location_id: String,
    pub name: String,
    pub time_zone: Option<String>,
    pub conversation_provider_id: Option<String>,
    pub status: String,
    pub created_at_ms: i64,
    /// Whether the AI answers this location's contacts at all (each conversation has
    /// its own switch too).
    pub ai_enabled: bool,
    /// Quiet hours, in `time_zone`.
    pub quiet_hours: Option<QuietHours>,
    /// What a contact writes to ask for a person, one per line; `None` for the defaults
    /// ([`domain::handoff::DEFAULT_PHRASES`]), empty for none.
    pub handoff_phrases: Option<String>,
}

impl Location {
    /// The location's time zone; UTC when none is set (or one no longer known).
    pub fn zone(&self) -> Zone {
        self.time_zone
            .as_deref()
            .and_then(|z| Zone::named(z).ok())
            .unwrap_or_else(Zone::utc)
    }

    /// The phrases that open a handoff for this location's contacts.
    pub fn handoff_phrases(&self) -> Vec<String> {
        match &self.handoff_phrases {
            None => domain::handoff::default_phrases(),
            Some(text) => text
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(str::to_string)
                .collect(),
        }
    }
}

/// What a new location needs.
#[derive(Debug, Clone, Default)]
pub struct NewLocation {
    pub ghl_location_id: String,
    pub name: String,
    pub time_zone: Option<String>,
    pub conversation_provider_id: Option<String>,
}

/// A location's AI settings, as the dashboard's settings set them.
#[derive(Debug, Clone, Copy)]
pub struct LocationAi<'a> {
    pub ai_enabled: bool,
    pub quiet_hours: Option<QuietHours>,
    pub time_zone: Option<&'a str>,
    /// One phrase per line (already checked); `None` for the defaults.
    pub handoff_phrases: Option<&'a str>,
}

/// A location's OAuth tokens, opened.
#[derive(Debug)]
pub struct LocationTokens {
    pub access_token: SecretString,
    pub refresh_token: SecretString,
    pub expires_at_ms: Option<i64>,
}

pub(super) const COLUMNS: &str =
    "id, agency_id, ghl_location_id, name, time_zone, conversation_provider_id, status, created_at, \
     ai_enabled, quiet_start, quiet_end, handoff_phrases";

impl Location {
    pub(super) fn from_row(row: &AnyRow) -> Result<Self, StoreError> {
        Ok(Self {
            id: row.try_get::<String, _>("id")?.parse()?,
            agency_id: row.try_get::<String, _>("agency_id")?.parse()?,
            ghl_location_id: row.try_get("ghl_location_id")?,
            name: row.try_get("name")?,
            time_zone: row.try_get("time_zone")?,
            conversation_provider_id: row.try_get("conversation_provider_id")?,
            status: row.try_get("status")?,
            created_at_ms: row.try_get("created_at")?,
            ai_enabled: row.try_get::<i64, _>("ai_enabled")? != 0,
            quiet_hours: quiet_hours(
                row.try_get::<Option<i64>, _>("quiet_start")?,
                row.try_get::<Option<i64>, _>("quiet_end")?,
            ),
            handoff_phrases: row.try_get("handoff_phrases")?,
        })
    }
}

/// Both ends or none: a half-set or empty window (which the code never writes) reads as
/// none.
fn quiet_hours(start: Option<i64>, end: Option<i64>) -> Option<QuietHours> {
    let clock = |m: i64| ClockTime::from_minutes(u16::try_from(m).ok()?);
    QuietHours::new(clock(start?)?, clock(end?)?).ok()
}

pub(super) fn token_context(id: &impl std::fmt::Display, which: &str) -> String {
    format!("location:{id}:{which}")
}

impl Store {
    /// Adds a location to an agency. A GHL location id already registered is a conflict.
    pub async fn create_location(
        &self,
        tx: &mut Tx,
        agency: &Agency,
        new: &NewLocation,
    ) -> Result<Location, StoreError> {
        let now = self.now_ms();
        let row = sqlx::query(&format!(
            "INSERT INTO locations (id, agency_id, ghl_location_id, name, time_zone, \
             conversation_provider_id, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $7) RETURNING {COLUMNS}"
        ))
        .bind(LocationId::new().as_str())
        .bind(agency.id.as_str())
        .bind(&new.ghl_location_id)
        .bind(&new.name)
        .bind(new.time_zone.as_deref())
        .bind(new.conversation_provider_id.as_deref())
        .bind(now)
        .fetch_one(&mut **tx)
        .await
        .map_err(StoreError::from)
        .map_err(|e| {
            if e.is_unique_violation() {
                StoreError::Conflict(format!(
                    "GHL location {} is already registered",
                    new.ghl_location_id
                ))
            } else {
                e
            }
        })?;
        Location::from_row(&row)
    }

    /// Registers a location, or updates the one already registered under the same GHL id
    /// (name, time zone and conversation provider id, where given): re-adding is how an
    /// operator refreshes a location. A GHL location registered to another agency is a
    /// conflict.
    pub async fn upsert_location(
        &self,
        tx: &mut Tx,
        agency: &Agency,
        new: &NewLocation,
    ) -> Result<Location, StoreError> {
        let existing = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM locations WHERE ghl_location_id = $1"
        ))
        .bind(&new.ghl_location_id)
        .fetch_optional(&mut **tx)
        .await?;
        let Some(row) = existing else {
            return self.create_location(tx, agency, new).await;
        };
        let current = Location::from_row(&row)?;
        if current.agency_id != agency.id {
            return Err(StoreError::Conflict(format!(
                "GHL location {} belongs to another agency",
                new.ghl_location_id
            )));
        }
        let row = sqlx::query(&format!(
            "UPDATE locations SET name = CASE WHEN $1 = '' THEN name ELSE $1 END, \
             time_zone = COALESCE($2, time_zone), \
             conversation_provider_id = COALESCE($3, conversation_provider_id), updated_at = $4 \
             WHERE id = $5 RETURNING {COLUMNS}"
        ))
        .bind(&new.name)
        .bind(new.time_zone.as_deref())
        .bind(new.conversation_provider_id.as_deref())
        .bind(self.now_ms())
        .bind(current.id.as_str())
        .fetch_one(&mut **tx)
        .await?;
        Location::from_row(&row)
    }

    /// A location within the scope, or `NotFound` (also for another tenant's location).
    pub async fn location(
        &self,
        scope: &TenantScope,
        id: &LocationId,
    ) -> Result<Location, StoreError> {
        let (agency, only) = scope.binds();
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM locations WHERE id = $1 AND agency_id = $2 AND ($3 IS NULL OR id = $3)"
        ))
        .bind(id.as_str())
        .bind(agency)
        .bind(only)
        .fetch_optional(&mut *self.db().tenant_reader(scope).await?)
        .await?
        .ok_or(StoreError::NotFound)?;
        Location::from_row(&row)
    }

    /// The locations the scope can see, oldest first.
    pub async fn locations(&self, scope: &TenantScope) -> Result<Vec<Location>, StoreError> {
        let (agency, only) = scope.binds();
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM locations WHERE agency_id = $1 AND ($2 IS NULL OR id = $2) ORDER BY id"
        ))
        .bind(agency)
        .bind(only)
        .fetch_all(self.db().reader())
        .await?;
        rows.iter().map(Location::from_row).collect()
    }

    /// The locations the scope can see, newest first, a page at a time.
    pub async fn locations_page(
        &self,
        scope: &TenantScope,
        paging: &crate::Paging,
    ) -> Result<crate::Paged<Location>, StoreError> {
        let (agency, only) = scope.binds();
        let (at, after_id) = paging.after_binds();
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM locations WHERE agency_id = $1 AND ($2 IS NULL OR id = $2) \
             AND {} ORDER BY created_at DESC, id DESC LIMIT $5",
            crate::page::after_condition("created_at", "id", "$3", "$4")
        ))
        .bind(agency)
        .bind(only)
        .bind(at)
        .bind(after_id)
        .bind(paging.fetch())
        .fetch_all(&mut *self.db().tenant_reader(scope).await?)
        .await?;
        let locations = rows
            .iter()
            .map(Location::from_row)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(crate::Paged::from_rows(locations, paging, |l| {
            (l.created_at_ms, l.id.to_string())
        }))
    }

    /// Changes a location's name and time zone (`None` leaves a field as it is). Another
    /// tenant's location is `NotFound`.
    pub async fn update_location(
        &self,
        scope: &TenantScope,
        id: &LocationId,
        name: Option<&str>,
        time_zone: Option<&str>,
    ) -> Result<Location, StoreError> {
        let (agency, only) = scope.binds();
        let row = sqlx::query(&format!(
            "UPDATE locations SET name = COALESCE($1, name), time_zone = COALESCE($2, time_zone), \
             updated_at = $3 WHERE id = $4 AND agency_id = $5 AND ($6 IS NULL OR id = $6) \
             RETURNING {COLUMNS}"
        ))
        .bind(name)
        .bind(time_zone)
        .bind(self.now_ms())
        .bind(id.as_str())
        .bind(agency)
        .bind(only)
        .fetch_optional(self.db().writer())
        .await?
        .ok_or(StoreError::NotFound)?;
        Location::from_row(&row)
    }

    /// Sets a location's AI switch, quiet hours (minutes after local midnight, both ends
    /// or none) and time zone (already checked by the caller against the zone database).
    /// Another tenant's location is `NotFound`.
    pub async fn set_location_ai(
        &self,
        tx: &mut Tx,
        scope: &TenantScope,
        id: &LocationId,
        settings: &LocationAi<'_>,
    ) -> Result<Location, StoreError> {
        let (agency, only) = scope.binds();
        let (start, end) = settings
            .quiet_hours
            .map(|q| (q.start.minutes(), q.end.minutes()))
            .unzip();
        let row = sqlx::query(&format!(
            "UPDATE locations SET ai_enabled = $1, quiet_start = $2, quiet_end = $3, \
             time_zone = $4, handoff_phrases = $5, updated_at = $6 \
             WHERE id = $7 AND agency_id = $8 AND ($9 IS NULL OR id = $9) RETURNING {COLUMNS}"
        ))
        .bind(i64::from(settings.ai_enabled))
        .bind(start.map(i64::from))
        .bind(end.map(i64::from))
        .bind(settings.time_zone)
        .bind(settings.handoff_phrases)
        .bind(self.now_ms())
        .bind(id.as_str())
        .bind(agency)
        .bind(only)
        .fetch_optional(&mut **tx)
        .await?
        .ok_or(StoreError::NotFound)?;
        Location::from_row(&row)
    }

    /// A location by our id, for operator commands (`channel add`), which then scope to
    /// it.
    pub async fn location_for_operator(&self, id: &LocationId) -> Result<Location, StoreError> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM locations WHERE id = $1"))
            .bind(id.as_str())
            .fetch_optional(self.db().reader())
            .await?
            .ok_or(StoreError::NotFound)?;
        Location::from_row(&row)
    }

    /// The location GHL knows by `ghl_location_id`. Used where GHL itself names the
    /// location in a signed webhook; the caller then scopes to it.
    pub async fn location_by_ghl_id(&self, ghl_location_id: &str) -> Result<Location, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM locations WHERE ghl_location_id = $1"
        ))
        .bind(ghl_location_id)
        .fetch_optional(self.db().reader())
        .await?
        .ok_or(StoreError::NotFound)?;
        Location::from_row(&row)
    }

    /// Stores a location's OAuth tokens, sealed under the current key.
    pub async fn set_location_tokens(
        &self,
        tx: &mut Tx,
        scope: &TenantScope,
        id: &LocationId,
        access_token: &str,
        refresh_token: &str,
        expires_at_ms: Option<i64>,
    ) -> Result<(), StoreError> {
        let (agency, only) = scope.binds();
        let result = sqlx::query(
            "UPDATE locations SET access_token_enc = $1, refresh_token_enc = $2, \
             token_expires_at = $3, updated_at = $4 \
             WHERE id = $5 AND agency_id = $6 AND ($7 IS NULL OR id = $7)",
        )
        .bind(
            self.keys()
                .encrypt_str(access_token, &token_context(id, "access_token")),
        )
        .bind(
            self.keys()
                .encrypt_str(refresh_token, &token_context(id, "refresh_token")),
        )
        .bind(expires_at_ms)
        .bind(self.now_ms())
        .bind(id.as_str())
        .bind(agency)
        .bind(only)
        .execute(&mut **tx)
        .await?;
        if result.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    /// Takes the location's token-refresh lease until `until_ms` if nobody holds it: GHL
    /// rotates the refresh token on every use, so only one process may refresh at a time.
    /// Returns false when another holder's lease is still running.
    pub async fn take_token_refresh_lease(
        &self,
        id: &LocationId,
        until_ms: i64,
    ) -> Result<bool, StoreError> {
        let now = self.now_ms();
        let taken = sqlx::query(
            "UPDATE locations SET token_refresh_until = $1 WHERE id = $2 \
             AND (token_refresh_until IS NULL OR token_refresh_until < $3)",
        )
        .bind(until_ms)
        .bind(id.as_str())
        .bind(now)
        .execute(self.db().writer())
        .await?;
        Ok(taken.rows_affected() == 1)
    }

    /// Stores refreshed tokens and releases the refresh lease in one statement.
    pub async fn store_refreshed_tokens(
        &self,
        id: &LocationId,
        access_token: &str,
        refresh_token: &str,
        expires_at_ms: Option<i64>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE locations SET access_token_enc = $1, refresh_token_enc = $2, \
             token_expires_at = $3, token_refresh_until = NULL, updated_at = $4 WHERE id = $5",
        )
        .bind(
            self.keys()
                .encrypt_str(access_token, &token_context(id, "access_token")),
        )
        .bind(
            self.keys()
                .encrypt_str(refresh_token, &token_context(id, "refresh_token")),
        )
        .bind(expires_at_ms)
        .bind(self.now_ms())
        .bind(id.as_str())
        .execute(self.db().writer())
        .await?;
        Ok(())
    }

    /// Releases the refresh lease without new tokens (the refresh failed).
    pub async fn release_token_refresh_lease(&self, id: &LocationId) -> Result<(), StoreError> {
        sqlx::query("UPDATE locations SET token_refresh_until = NULL WHERE id = $1")
            .bind(id.as_str())
            .execute(self.db().writer())
            .await?;
        Ok(())
    }

    /// Marks a location whose install must be re-authorised (its refresh token is dead).
    pub async fn mark_location_needs_reauth(&self, id: &LocationId) -> Result<(), StoreError> {
        sqlx::query("UPDATE locations SET status = 'needs_reauth', token_refresh_until = NULL, updated_at = $1 WHERE id = $2")
            .bind(self.now_ms())
            .bind(id.as_str())
            .execute(self.db().writer())
            .await?;
        Ok(())
    }

    /// A location's OAuth tokens, opened. `NotFound` if the location has none.
    pub async fn location_tokens(
        &self,
        scope: &TenantScope,
        id: &LocationId,
    ) -> Result<LocationTokens, StoreError> {
        let (agency, only) = scope.binds();
        let row: Option<(Option<String>, Option<String>, Option<i64>)> = sqlx::query_as(
            "SELECT access_token_enc, refresh_token_enc, token_expires_at FROM locations \
             WHERE id = $1 AND agency_id = $2 AND ($3 IS NULL OR id = $3)",
        )
        .bind(id.as_str())
        .bind(agency)
        .bind(only)
        .fetch_optional(self.db().reader())
        .await?;
        let Some((Some(access), Some(refresh), expires_at_ms)) = row else {
            return Err(StoreError::NotFound);
        };
        let open = |sealed: &str, which: &str| -> Result<SecretString, StoreError> {
            let text = self.keys().decrypt_str(sealed, &token_context(id, which))?;
            Ok(SecretString::from(text.as_str()))
        };
        Ok(LocationTokens {
            access_token: open(&access, "access_token")?,
            refresh_token: open(&refresh, "refresh_token")?,
            expires_at_ms,
        })
    }
}
