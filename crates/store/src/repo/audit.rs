//! The audit log of security-relevant actions: sign-ins and lockouts, key and credential
//! changes, erasures, role changes, replays. Written in the same transaction as the
//! change it records, so neither exists without the other.

use domain::{AgencyId, AuditId};
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::error::StoreError;
use crate::store::Store;
use crate::tenant::TenantScope;
use crate::tx::Tx;

/// One entry to append.
#[derive(Debug, Clone, Default)]
pub struct NewAuditEntry<'a> {
    pub agency_id: Option<&'a AgencyId>,
    /// `user:usr_…`, `api_key:key_…`, `operator`, `system`.
    pub actor: &'a str,
    /// A dotted verb: `auth.login`, `auth.locked`, `api_key.created`, …
    pub action: &'a str,
    pub target: Option<&'a str>,
    pub detail: serde_json::Value,
    /// The HTTP request that did it, to join the log with request logs.
    pub request_id: Option<&'a str>,
}

/// An entry as stored.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct AuditEntry {
    pub id: AuditId,
    pub agency_id: Option<AgencyId>,
    pub actor: String,
    pub action: String,
    pub target: Option<String>,
    pub detail: serde_json::Value,
    pub request_id: Option<String>,
    pub at_ms: i64,
}

impl AuditEntry {
    fn from_row(row: &AnyRow) -> Result<Self, StoreError> {
        let agency: Option<String> = row.try_get("agency_id")?;
        let detail: String = row.try_get("detail")?;
        Ok(Self {
            id: row.try_get::<String, _>("id")?.parse()?,
            agency_id: agency.map(|a| a.parse()).transpose()?,
            actor: row.try_get("actor")?,
            action: row.try_get("action")?,
            target: row.try_get("target")?,
            detail: serde_json::from_str(&detail)?,
            request_id: row.try_get("request_id")?,
            at_ms: row.try_get("at")?,
        })
    }
}

impl Store {
    /// Appends `entry` in the caller's transaction.
    pub async fn append_audit(
        &self,
        tx: &mut Tx,
        entry: &NewAuditEntry<'_>,
    ) -> Result<AuditId, StoreError> {
        let id = AuditId::new();
        sqlx::query(
            "INSERT INTO audit_log (id, agency_id, actor, action, target, detail, request_id, at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(id.as_str())
        .bind(entry.agency_id.map(AgencyId::as_str))
        .bind(entry.actor)
        .bind(entry.action)
        .bind(entry.target)
        .bind(entry.detail.to_string())
        .bind(entry.request_id)
        .bind(self.now_ms())
        .execute(&mut **tx)
        .await?;
        Ok(id)
    }

    /// The agency's newest entries first, at most `limit`. The log is per agency: a
    /// location scope sees its agency's log only through a role allowed to (the server
    /// checks), so the filter here is the agency.
    pub async fn audit_entries(
        &self,
        scope: &TenantScope,
        limit: i64,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, agency_id, actor, action, target, detail, request_id, at FROM audit_log \
             WHERE agency_id = $1 ORDER BY id DESC LIMIT $2",
        )
        .bind(scope.agency_id().as_str())
        .bind(limit)
        .fetch_all(self.db().reader())
        .await?;
        rows.iter().map(AuditEntry::from_row).collect()
    }
}

impl Store {
    /// A page of the log, newest first: one agency's entries, or (with `None`, for
    /// operators) every entry including installation-wide ones. `action` keeps the
    /// entries whose action is it or starts with it and a dot (`auth` → `auth.login`, …).
    pub async fn audit_page(
        &self,
        agency: Option<&AgencyId>,
        action: Option<&str>,
        paging: &crate::Paging,
    ) -> Result<crate::Paged<AuditEntry>, StoreError> {
        let (at, after_id) = paging.after_binds();
        let rows = sqlx::query(&format!(
            "SELECT id, agency_id, actor, action, target, detail, request_id, at FROM audit_log \
             WHERE ($1 IS NULL OR agency_id = $1) \
             AND ($2 IS NULL OR action = $2 OR substr(action, 1, length($3)) = $3) AND {} \
             ORDER BY at DESC, id DESC LIMIT $6",
            crate::page::after_condition("at", "id", "$4", "$5")
        ))
        .bind(agency.map(AgencyId::as_str))
        .bind(action)
        .bind(action.map(|a| format!("{a}.")))
        .bind(at)
        .bind(after_id)
        .bind(paging.fetch())
        .fetch_all(self.db().reader())
        .await?;
        let entries = rows
            .iter()
            .map(AuditEntry::from_row)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(crate::Paged::from_rows(entries, paging, |e| {
            (e.at_ms, e.id.to_string())
        }))
    }
}
