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

use crate::repo::{Agency, Channel, Location};

/// Whose data a piece of code may touch: one agency, optionally narrowed to a location.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantScope {
    agency_id: AgencyId,
    location_id: Option<LocationId>,
}

impl TenantScope {
    /// Everything of one agency.
    pub fn for_agency(agency: &Agency) -> Self {
        Self {
            agency_id: agency.id.clone(),
            location_id: None,
        }
    }

    /// Only one location of an agency.
    pub fn for_location(location: &Location) -> Self {
        Self {
            agency_id: location.agency_id.clone(),
            location_id: Some(location.id.clone()),
        }
    }

    /// The location a channel belongs to (a verified webhook's channel).
    pub fn for_channel(channel: &Channel) -> Self {
        Self {
            agency_id: channel.agency_id.clone(),
            location_id: Some(channel.location_id.clone()),
        }
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
