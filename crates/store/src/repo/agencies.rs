//! Agencies: the GHL companies that installed Switchboard.

use domain::AgencyId;
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::error::StoreError;
use crate::store::Store;
use crate::tx::Tx;

/// An agency. Only the store builds these (see [`TenantScope`](crate::TenantScope)).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Agency {
    pub id: AgencyId,
    pub name: String,
    pub ghl_company_id: Option<String>,
    pub status: String,
    pub created_at_ms: i64,
}

impl Agency {
    pub(super) fn from_row(row: &AnyRow) -> Result<Self, StoreError> {
        Ok(Self {
            id: row.try_get::<String, _>("id")?.parse()?,
            name: row.try_get("name")?,
            ghl_company_id: row.try_get("ghl_company_id")?,
            status: row.try_get("status")?,
            created_at_ms: row.try_get("created_at")?,
        })
    }
}

const COLUMNS: &str = "id, name, ghl_company_id, status, created_at";

impl Store {
    /// Creates an agency, or returns the existing one with the same GHL company id (or,
    /// without one, the same name), so a repeated install doesn't make a second tenant.
    pub async fn upsert_agency(
        &self,
        tx: &mut Tx,
        name: &str,
        ghl_company_id: Option<&str>,
    ) -> Result<Agency, StoreError> {
        let now = self.now_ms();
        let existing = match ghl_company_id {
            Some(company) => {
                sqlx::query(&format!(
                    "SELECT {COLUMNS} FROM agencies WHERE ghl_company_id = $1"
                ))
                .bind(company)
                .fetch_optional(&mut **tx)
                .await?
            }
            None => {
                sqlx::query(&format!(
                    "SELECT {COLUMNS} FROM agencies WHERE ghl_company_id IS NULL AND name = $1 \
                     ORDER BY id LIMIT 1"
                ))
                .bind(name)
                .fetch_optional(&mut **tx)
                .await?
            }
        };
        if let Some(row) = existing {
            return Agency::from_row(&row);
        }
        let row = sqlx::query(&format!(
            "INSERT INTO agencies (id, name, ghl_company_id, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $4) RETURNING {COLUMNS}"
        ))
        .bind(AgencyId::new().as_str())
        .bind(name)
        .bind(ghl_company_id)
        .bind(now)
        .fetch_one(&mut **tx)
        .await?;
        Agency::from_row(&row)
    }

    /// The agency owning a knowledge source, for its ingest job, which then scopes to it.
    pub async fn agency_of_knowledge_source(
        &self,
        source: &domain::KnowledgeSourceId,
    ) -> Result<Agency, StoreError> {
        let columns = COLUMNS
            .split(", ")
            .map(|c| format!("a.{c}"))
            .collect::<Vec<_>>()
            .join(", ");
        let row = sqlx::query(&format!(
            "SELECT {columns} FROM agencies a JOIN knowledge_sources k ON k.agency_id = a.id \
             WHERE k.id = $1"
        ))
        .bind(source.as_str())
        .fetch_optional(self.db().reader())
        .await?
        .ok_or(StoreError::NotFound)?;
        Agency::from_row(&row)
    }

    /// The agency owning a message, for operator tools (`switchboard trace`), which then
    /// scope to it.
    pub async fn agency_of_message(
        &self,
        message: &domain::MessageId,
    ) -> Result<Agency, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {} FROM agencies a JOIN messages m ON m.agency_id = a.id WHERE m.id = $1",
            COLUMNS
                .split(", ")
                .map(|c| format!("a.{c}"))
                .collect::<Vec<_>>()
                .join(", ")
        ))
        .bind(message.as_str())
        .fetch_optional(self.db().reader())
        .await?
        .ok_or(StoreError::NotFound)?;
        Agency::from_row(&row)
    }

    /// An agency by id, for operator tools and the sign-in path, which then derive a
    /// scope from it.
    pub async fn agency(&self, id: &AgencyId) -> Result<Agency, StoreError> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM agencies WHERE id = $1"))
            .bind(id.as_str())
            .fetch_optional(self.db().reader())
            .await?
            .ok_or(StoreError::NotFound)?;
        Agency::from_row(&row)
    }
}

impl Store {
    /// Every agency, newest first, a page at a time: for operators only (no scope).
    pub async fn agencies_for_operator(
        &self,
        paging: &crate::Paging,
    ) -> Result<crate::Paged<Agency>, StoreError> {
        let (at, after_id) = paging.after_binds();
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM agencies WHERE {} ORDER BY created_at DESC, id DESC LIMIT $3",
            crate::page::after_condition("created_at", "id", "$1", "$2")
        ))
        .bind(at)
        .bind(after_id)
        .bind(paging.fetch())
        .fetch_all(self.db().reader())
        .await?;
        let agencies = rows
            .iter()
            .map(Agency::from_row)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(crate::Paged::from_rows(agencies, paging, |a| {
            (a.created_at_ms, a.id.to_string())
        }))
    }

    /// Renames an agency. The caller has already checked that it may (an operator, or the
    /// agency's own admin).
    pub async fn rename_agency(&self, id: &AgencyId, name: &str) -> Result<Agency, StoreError> {
        let row = sqlx::query(&format!(
            "UPDATE agencies SET name = $1, updated_at = $2 WHERE id = $3 RETURNING {COLUMNS}"
        ))
        .bind(name)
        .bind(self.now_ms())
        .bind(id.as_str())
        .fetch_optional(self.db().writer())
        .await?
        .ok_or(StoreError::NotFound)?;
        Agency::from_row(&row)
    }
}
