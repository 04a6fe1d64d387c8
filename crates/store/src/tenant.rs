//! The tenant scope every tenant-owned query goes through.
//!
//! A [`TenantScope`] can't be built from an id a request supplied: its constructors take
//! an [`Agency`] or [`Location`] record, and only the store produces those, from a lookup
//! that itself was authorised (a verified webhook's channel, an operator command, and —
//! once users sign in — the authenticated principal). Every repository method for tenant
//! data takes the scope and filters on its agency (and location, when narrowed), so a row
//! of another tenant reads exactly like a missing row: [`StoreError::NotFound`].
//!
//! [`StoreError::NotFound`]: crate::StoreError::NotFound

use domain::{AgencyId, LocationId};

use crate::error::StoreError;

use crate::repo::{Agency, Channel, Location};

/// Whose data a piece of code may touch: one agency, optionally narrowed to a location.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantScope {
    agency_id: AgencyId,
    location_id: Option<LocationId>,
    /// Reads through [`crate::Db::tenant_reader`] go behind PostgreSQL's row-level
    /// security wall too (see [`TenantScope::walled`]).
    walled: bool,
}

impl TenantScope {
    /// Everything of one agency.
    pub fn for_agency(agency: &Agency) -> Self {
        Self {
            agency_id: agency.id.clone(),
            location_id: None,
            walled: false,
        }
    }

    /// Only one location of an agency.
    pub fn for_location(location: &Location) -> Self {
        Self {
            agency_id: location.agency_id.clone(),
            location_id: Some(location.id.clone()),
            walled: false,
        }
    }

    /// The location a channel belongs to (a verified webhook's channel).
    pub fn for_channel(channel: &Channel) -> Self {
        Self {
            agency_id: channel.agency_id.clone(),
            location_id: Some(channel.location_id.clone()),
            walled: false,
        }
    }

    /// The same scope, its reads behind the database's own wall as well: on PostgreSQL,
    /// row-level security shows them only this agency's rows. For requests from outside
    /// (the API, the dashboard), where a forgotten filter would leak; the workers' own
    /// scopes skip the extra round trips.
    pub fn walled(mut self) -> Self {
        self.walled = true;
        self
    }

    /// This scope narrowed to one of its locations (looked up through it), keeping its
    /// wall.
    pub fn narrowed_to(&self, location: &Location) -> Self {
        Self {
            walled: self.walled,
            ..Self::for_location(location)
        }
    }

    /// Whether reads and writes for this scope go behind the row-level security wall.
    pub fn is_walled(&self) -> bool {
        self.walled
    }

    pub fn agency_id(&self) -> &AgencyId {
        &self.agency_id
    }

    /// The location this scope is narrowed to, if any.
    pub fn location_id(&self) -> Option<&LocationId> {
        self.location_id.as_ref()
    }

    /// Binds for the `(agency_id = $a AND ($l IS NULL OR location_id = $l))` filter.
    pub(crate) fn binds(&self) -> (&str, Option<&str>) {
        (
            self.agency_id.as_str(),
            self.location_id.as_ref().map(LocationId::as_str),
        )
    }
}

/// A connection for reads on behalf of one tenant (see [`crate::Db::tenant_reader`]).
///
/// On PostgreSQL, for a [walled](TenantScope::walled) scope, it is a transaction that has
/// set `switchboard.agency_id`: the row-level security policies (migration 0011) then
/// hide every other agency's rows from whatever runs on it, even a query that forgot its
/// scope filter. Otherwise it is a plain pooled connection. Dropping it ends the
/// transaction (it only read).
#[derive(Debug)]
pub enum TenantReader {
    Walled(sqlx::Transaction<'static, sqlx::Any>),
    Plain(sqlx::pool::PoolConnection<sqlx::Any>),
}

impl TenantReader {
    /// Ends the reader's transaction now, instead of when the dropped connection is next
    /// used. A walled reader dropped last thing before its runtime stops stays "idle in
    /// transaction", holding its locks (a test's `DROP SCHEMA` then waits for ever).
    pub async fn finish(self) -> Result<(), StoreError> {
        match self {
            TenantReader::Walled(tx) => Ok(tx.rollback().await?),
            TenantReader::Plain(_) => Ok(()),
        }
    }
}

impl std::ops::Deref for TenantReader {
    type Target = sqlx::AnyConnection;
    fn deref(&self) -> &sqlx::AnyConnection {
        match self {
            TenantReader::Walled(tx) => tx,
            TenantReader::Plain(conn) => conn,
        }
    }
}

impl std::ops::DerefMut for TenantReader {
    fn deref_mut(&mut self) -> &mut sqlx::AnyConnection {
        match self {
            TenantReader::Walled(tx) => tx,
            TenantReader::Plain(conn) => conn,
        }
    }
}

impl crate::Db {
    /// A connection to read `scope`'s data on: behind the row-level security wall when the
    /// scope is walled and the backend is PostgreSQL (one `BEGIN` and one `set_config`
    /// more than a pooled read), a pooled connection otherwise.
    pub async fn tenant_reader(&self, scope: &TenantScope) -> Result<TenantReader, StoreError> {
        if !(scope.walled && self.backend() == crate::Backend::Postgres) {
            return Ok(TenantReader::Plain(self.reader().acquire().await?));
        }
        let mut tx = self.reader().begin().await?;
        sqlx::query("SELECT set_config('switchboard.agency_id', $1, true)")
            .bind(scope.agency_id.as_str())
            .execute(&mut *tx)
            .await?;
        Ok(TenantReader::Walled(tx))
    }
}
