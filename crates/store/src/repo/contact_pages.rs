//! Paged, filtered reads of contacts and consent events for the API.

use domain::{ContactId, LocationId};
use sqlx::any::AnyRow;
use sqlx::Row;

use super::contacts::CONTACT_COLUMNS;
use super::Contact;
use crate::error::StoreError;
use crate::page::after_condition;
use crate::store::Store;
use crate::tenant::TenantScope;
use crate::{Paged, Paging};

/// Which contacts a page holds. Ids in it were looked up through the scope already.
#[derive(Debug, Clone, Default)]
pub struct ContactFilter {
    pub location_id: Option<LocationId>,
    /// Matches the start of the phone number or email (any case), or any part of the
    /// name (any case).
    pub q: Option<String>,
    pub opted_out: Option<bool>,
}

/// Which consent events a page holds.
#[derive(Debug, Clone, Default)]
pub struct ConsentFilter {
    pub contact_id: Option<ContactId>,
    /// `opt_out` or `opt_in`.
    pub kind: Option<String>,
}

/// One entry of a contact's consent log.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConsentEvent {
    pub id: domain::ConsentEventId,
    pub location_id: LocationId,
    pub contact_id: ContactId,
    /// `opt_out` or `opt_in`.
    pub kind: String,
    /// What told us: `sendblue:inbound`, `ghl:dnd`, `suppression`, …
    pub source: String,
    /// The words that did it (e.g. the STOP message); blanked by an erasure.
    pub detail: String,
    pub at_ms: i64,
}

impl ConsentEvent {
    fn from_row(row: &AnyRow) -> Result<Self, StoreError> {
        Ok(Self {
            id: row.try_get::<String, _>("id")?.parse()?,
            location_id: row.try_get::<String, _>("location_id")?.parse()?,
            contact_id: row.try_get::<String, _>("contact_id")?.parse()?,
            kind: row.try_get("kind")?,
            source: row.try_get("source")?,
            detail: row.try_get("detail")?,
            at_ms: row.try_get("at")?,
        })
    }
}

/// `text` as a `LIKE` pattern matching itself literally (`\` escapes).
fn literal(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

impl Store {
    /// Contacts in the scope, newest first, a page at a time.
    pub async fn contacts_page(
        &self,
        scope: &TenantScope,
        filter: &ContactFilter,
        paging: &Paging,
    ) -> Result<Paged<Contact>, StoreError> {
        let (agency, only) = scope.binds();
        let (at, after_id) = paging.after_binds();
        let q = filter.q.as_deref().map(|q| literal(&q.to_lowercase()));
        let sql = format!(
            "SELECT {CONTACT_COLUMNS} FROM contacts WHERE agency_id = $1 \
             AND ($2 IS NULL OR location_id = $2) AND ($3 IS NULL OR location_id = $3) \
             AND ($4 IS NULL OR opted_out = $4) \
             AND ($5 IS NULL OR phone LIKE $5 ESCAPE '\\' OR LOWER(email) LIKE $5 ESCAPE '\\' \
                  OR LOWER(name) LIKE $6 ESCAPE '\\') \
             AND {} ORDER BY created_at DESC, id DESC LIMIT $9",
            after_condition("created_at", "id", "$7", "$8")
        );
        let rows = sqlx::query(&sql)
            .bind(agency)
            .bind(only)
            .bind(filter.location_id.as_ref().map(LocationId::as_str))
            .bind(filter.opted_out.map(i64::from))
            .bind(q.as_ref().map(|q| format!("{q}%")))
            .bind(q.as_ref().map(|q| format!("%{q}%")))
            .bind(at)
            .bind(after_id)
            .bind(paging.fetch())
            .fetch_all(&mut *self.db().tenant_reader(scope).await?)
            .await?;
        let contacts = rows
            .iter()
            .map(Contact::from_row)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Paged::from_rows(contacts, paging, |c| {
            (c.created_at_ms, c.id.to_string())
        }))
    }

    /// Consent events in the scope, newest first, a page at a time.
    pub async fn consent_events_page(
        &self,
        scope: &TenantScope,
        filter: &ConsentFilter,
        paging: &Paging,
    ) -> Result<Paged<ConsentEvent>, StoreError> {
        let (agency, only) = scope.binds();
        let (at, after_id) = paging.after_binds();
        let sql = format!(
            "SELECT id, location_id, contact_id, kind, source, detail, at FROM consent_events \
             WHERE agency_id = $1 AND ($2 IS NULL OR location_id = $2) \
             AND ($3 IS NULL OR contact_id = $3) AND ($4 IS NULL OR kind = $4) \
             AND {} ORDER BY at DESC, id DESC LIMIT $7",
            after_condition("at", "id", "$5", "$6")
        );
        let rows = sqlx::query(&sql)
            .bind(agency)
            .bind(only)
            .bind(filter.contact_id.as_ref().map(ContactId::as_str))
            .bind(filter.kind.as_deref())
            .bind(at)
            .bind(after_id)
            .bind(paging.fetch())
            .fetch_all(&mut *self.db().tenant_reader(scope).await?)
            .await?;
        let events = rows
            .iter()
            .map(ConsentEvent::from_row)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Paged::from_rows(events, paging, |e| {
            (e.at_ms, e.id.to_string())
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::literal;

    #[test]
    fn like_patterns_match_literally() {
        assert_eq!(literal("50%_a\\b"), "50\\%\\_a\\\\b");
    }
}
