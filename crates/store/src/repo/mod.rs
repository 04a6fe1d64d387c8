//! Repositories for the core domain, one file per resource. Each tenant-owned lookup
//! takes a [`TenantScope`](crate::TenantScope).

mod agencies;
mod channels;
mod contacts;
mod keys;
mod locations;
mod messages;
mod outbound;
mod records;

pub use agencies::Agency;
pub use channels::{Channel, NewChannel};
pub use contacts::{ConsentChange, Contact, Conversation};
pub use keys::Rotation;
pub use locations::{Location, LocationTokens, NewLocation};
pub use messages::{Message, MessageEvent, NewMessage};
pub use outbound::{AcceptedOutbound, OutboundOutcome, OutboundRequest};

use sqlx::any::AnyRow;

use crate::error::StoreError;
use crate::store::Store;
use crate::tenant::TenantScope;

impl Store {
    /// One row of a tenant-owned `table` by id, within the scope; `NotFound` for a missing
    /// row and for another tenant's row alike.
    pub(crate) async fn scoped_row(
        &self,
        table: &str,
        columns: &str,
        id: &str,
        scope: &TenantScope,
    ) -> Result<AnyRow, StoreError> {
        let (agency, location) = scope.binds();
        sqlx::query(&format!(
            "SELECT {columns} FROM {table} WHERE id = $1 AND {}",
            scope_filter(2, 3)
        ))
        .bind(id)
        .bind(agency)
        .bind(location)
        .fetch_optional(self.db().reader())
        .await?
        .ok_or(StoreError::NotFound)
    }
}

/// The scope filter every tenant-owned query ends with; `$A` is the agency and `$L` the
/// optional location, numbered by the caller.
pub(crate) fn scope_filter(agency: usize, location: usize) -> String {
    format!("agency_id = ${agency} AND (${location} IS NULL OR location_id = ${location})")
}

/// `$first, $first+1, …`: an `IN (…)` list of `n` parameters.
pub(crate) fn values_list(n: usize, first: usize) -> String {
    (first..first + n)
        .map(|p| format!("${p}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The `VALUES` rows of a multi-row insert: `rows` tuples shaped by `columns`, where an
/// empty entry takes the next fresh parameter (numbered from `first`) and any other entry
/// is written as given (a parameter shared by every row, such as `$1` for the time).
pub(crate) fn values_rows(rows: usize, columns: &[&str], first: usize) -> String {
    let mut next = first;
    (0..rows)
        .map(|_| {
            let cells: Vec<String> = columns
                .iter()
                .map(|c| {
                    if c.is_empty() {
                        next += 1;
                        format!("${}", next - 1)
                    } else {
                        (*c).to_string()
                    }
                })
                .collect();
            format!("({})", cells.join(", "))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_rows_number_fresh_parameters_and_keep_shared_ones() {
        assert_eq!(
            values_rows(2, &["", "$1", ""], 2),
            "($2, $1, $3), ($4, $1, $5)"
        );
        assert_eq!(values_list(3, 4), "$4, $5, $6");
    }
}
