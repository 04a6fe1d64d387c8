//! Repositories for the core domain, one file per resource. Each tenant-owned lookup
//! takes a [`TenantScope`](crate::TenantScope).

mod agencies;
mod channels;
mod contacts;
mod locations;
mod messages;
mod records;

pub use agencies::Agency;
pub use channels::{Channel, NewChannel};
pub use contacts::{ConsentChange, Contact, Conversation};
pub use locations::{Location, LocationTokens, NewLocation};
pub use messages::{Message, MessageEvent, NewMessage};

/// The scope filter every tenant-owned query ends with; `$A` is the agency and `$L` the
/// optional location, numbered by the caller.
pub(crate) fn scope_filter(agency: usize, location: usize) -> String {
    format!("agency_id = ${agency} AND (${location} IS NULL OR location_id = ${location})")
}
