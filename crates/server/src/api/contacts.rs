//! `/api/v1/contacts` and `/api/v1/consent-events`: the people a tenant's locations talk
//! to, their consent log, and GDPR erasure.
//!
//! Erasing (`manage_contacts`) removes the contact's personal data and its messages'
//! texts, attachments and stored media, keeps the records usage and proof of consent need,
//! and, for a contact who had opted out, keeps the opt-out as a keyed hash of the handle
//! (see `store::repo::erase` and `suppression`). It is idempotent: erasing again answers
//! the same contact.

use axum::extract::{Path, Query, State};
use axum::Json;
use domain::ContactId;
use serde::{Deserialize, Serialize};
use serde_json::json;
use store::repo::{ConsentEvent, ConsentFilter, Contact, ContactFilter, Erasure};
use store::{StoreError, TenantScope};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::filters::{flag, scoped_contact, scoped_location};
use super::{Page, PageQuery};
use crate::auth::{Permission, Principal};
use crate::http::ApiError;
use crate::AppState;

/// How many times an erasure that lost a lock conflict is tried.
const ERASE_TRIES: u32 = 3;
/// The longest search text we take.
const MAX_QUERY_CHARS: usize = 100;

/// A person a location talks to. After an erasure, phone, email and name are empty.
#[derive(Debug, Serialize, ToSchema)]
pub struct ContactView {
    pub id: String,
    pub location_id: String,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub name: String,
    pub ghl_contact_id: Option<String>,
    /// Opted out: receives nothing but the opt-out confirmation.
    pub opted_out: bool,
    /// When the personal data was erased, Unix milliseconds.
    pub erased_at: Option<i64>,
    /// Unix milliseconds.
    pub created_at: i64,
}

impl From<Contact> for ContactView {
    fn from(c: Contact) -> Self {
        Self {
            id: c.id.to_string(),
            location_id: c.location_id.to_string(),
            phone: c.phone,
            email: c.email,
            name: c.name,
            ghl_contact_id: c.ghl_contact_id,
            opted_out: c.opted_out,
            erased_at: c.erased_at_ms,
            created_at: c.created_at_ms,
        }
    }
}

/// One consent change of a contact.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConsentEventView {
    pub id: String,
    pub contact_id: String,
    pub location_id: String,
    /// `opt_out` or `opt_in`.
    pub kind: String,
    /// What told us: `sendblue:inbound`, `ghl:dnd`, `suppression`, …
    pub source: String,
    /// The words that did it; empty after an erasure.
    pub detail: String,
    /// Unix milliseconds.
    pub at: i64,
}

impl From<ConsentEvent> for ConsentEventView {
    fn from(e: ConsentEvent) -> Self {
        Self {
            id: e.id.to_string(),
            contact_id: e.contact_id.to_string(),
            location_id: e.location_id.to_string(),
            kind: e.kind,
            source: e.source,
            detail: e.detail,
            at: e.at_ms,
        }
    }
}

/// `?location_id=&q=&opted_out=`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ContactQuery {
    /// Only this location's contacts (loc_…).
    pub location_id: Option<String>,
    /// The start of the phone number or email, or any part of the name (any case).
    pub q: Option<String>,
    /// `true` or `false`.
    pub opted_out: Option<String>,
}

/// `?contact_id=&kind=`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ConsentQuery {
    /// Only this contact's events (con_…).
    pub contact_id: Option<String>,
    /// `opt_out` or `opt_in`.
    pub kind: Option<String>,
}

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(get_one))
        .routes(routes!(consent_of_contact))
        .routes(routes!(erase))
        .routes(routes!(consent_events))
}

/// A path id as a contact id; one that can't be ours reads as missing.
fn contact_id(id: &str) -> Result<ContactId, ApiError> {
    id.parse().map_err(|_| ApiError::not_found())
}

/// Contacts in the caller's scope, newest first.
#[utoipa::path(get, path = "/api/v1/contacts", tag = "contacts",
    params(PageQuery, ContactQuery),
    responses((status = 200, body = Page<ContactView>)))]
async fn list(
    State(state): State<AppState>,
    principal: Principal,
    Query(page): Query<PageQuery>,
    Query(query): Query<ContactQuery>,
) -> Result<Json<Page<ContactView>>, ApiError> {
    let scope = principal.scope()?;
    let location_id = scoped_location(&state, scope, query.location_id.as_deref()).await?;
    principal.require(Permission::ViewConversations)?;
    let q = query.q.as_deref().map(str::trim).filter(|q| !q.is_empty());
    if q.is_some_and(|q| q.chars().count() > MAX_QUERY_CHARS) {
        return Err(ApiError::bad_request(
            "invalid_q",
            format!("q must be at most {MAX_QUERY_CHARS} characters"),
        ));
    }
    let filter = ContactFilter {
        location_id,
        q: q.map(str::to_string),
        opted_out: flag("opted_out", query.opted_out.as_deref())?,
    };
    let paged = state
        .store
        .contacts_page(scope, &filter, &page.paging()?)
        .await?;
    Ok(Json(Page::from_store(paged, ContactView::from)))
}

/// One contact.
#[utoipa::path(get, path = "/api/v1/contacts/{id}", tag = "contacts",
    params(("id" = String, Path, description = "the contact's id (con_…)")),
    responses((status = 200, body = ContactView)))]
async fn get_one(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Json<ContactView>, ApiError> {
    let contact = state
        .store
        .contact(principal.scope()?, &contact_id(&id)?)
        .await?;
    principal.require(Permission::ViewConversations)?;
    Ok(Json(contact.into()))
}

/// A contact's consent log, newest first.
#[utoipa::path(get, path = "/api/v1/contacts/{id}/consent-events", tag = "contacts",
    params(("id" = String, Path, description = "the contact's id (con_…)"), PageQuery),
    responses((status = 200, body = Page<ConsentEventView>)))]
async fn consent_of_contact(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    Query(page): Query<PageQuery>,
) -> Result<Json<Page<ConsentEventView>>, ApiError> {
    let scope = principal.scope()?;
    let contact = state.store.contact(scope, &contact_id(&id)?).await?;
    principal.require(Permission::ViewConversations)?;
    let filter = ConsentFilter {
        contact_id: Some(contact.id),
        kind: None,
    };
    let paged = state
        .store
        .consent_events_page(scope, &filter, &page.paging()?)
        .await?;
    Ok(Json(Page::from_store(paged, ConsentEventView::from)))
}

/// Erases a contact's personal data (GDPR); idempotent.
#[utoipa::path(post, path = "/api/v1/contacts/{id}/erase", tag = "contacts",
    params(("id" = String, Path, description = "the contact's id (con_…)")),
    responses((status = 200, description = "the contact as it is now", body = ContactView)))]
async fn erase(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Json<ContactView>, ApiError> {
    let scope = principal.scope()?;
    let contact = state.store.contact(scope, &contact_id(&id)?).await?;
    principal.require(Permission::ManageContacts)?;
    // Concurrent sends may hold the contact's rows: a lost lock conflict is run again
    // (erasing is idempotent).
    let mut tries = 0;
    let erasure = loop {
        tries += 1;
        match erase_once(&state, &principal, scope, &contact.id).await {
            Err(e) if e.is_lock_conflict() && tries < ERASE_TRIES => continue,
            other => break other?,
        }
    };
    // After the commit: if the media store fails, erasing again removes the rest.
    for message in &erasure.messages {
        state
            .media
            .store
            .remove_message_media(scope.agency_id(), &contact.location_id, message)
            .await
            .map_err(|e| ApiError::internal(format!("erasing media of {message}: {e}")))?;
    }
    Ok(Json(erasure.contact.into()))
}

/// Erases in one transaction with its audit entry.
async fn erase_once(
    state: &AppState,
    principal: &Principal,
    scope: &TenantScope,
    contact: &ContactId,
) -> Result<Erasure, StoreError> {
    let store = &state.store;
    let mut tx = store.begin_for(scope).await?;
    let erasure = store.erase_contact(&mut tx, scope, contact).await?;
    // Counts only: the log must not keep what the erasure removed.
    let detail = json!({"messages": erasure.messages.len(), "again": erasure.again});
    let target = Some(contact.as_str());
    principal
        .audit(
            store,
            &mut tx,
            Some(scope.agency_id()),
            "contact.erased",
            target,
            detail,
        )
        .await?;
    tx.commit().await?;
    Ok(erasure)
}

/// The consent events of the caller's scope, newest first.
#[utoipa::path(get, path = "/api/v1/consent-events", tag = "contacts",
    params(PageQuery, ConsentQuery),
    responses((status = 200, body = Page<ConsentEventView>)))]
async fn consent_events(
    State(state): State<AppState>,
    principal: Principal,
    Query(page): Query<PageQuery>,
    Query(query): Query<ConsentQuery>,
) -> Result<Json<Page<ConsentEventView>>, ApiError> {
    let scope = principal.scope()?;
    let contact_id = scoped_contact(&state, scope, query.contact_id.as_deref()).await?;
    principal.require(Permission::ViewConversations)?;
    let kind = match query.kind.as_deref() {
        None => None,
        Some(kind @ ("opt_out" | "opt_in")) => Some(kind.to_string()),
        Some(_) => {
            return Err(ApiError::bad_request(
                "invalid_kind",
                "kind must be opt_out or opt_in",
            ))
        }
    };
    let filter = ConsentFilter { contact_id, kind };
    let paged = state
        .store
        .consent_events_page(scope, &filter, &page.paging()?)
        .await?;
    Ok(Json(Page::from_store(paged, ConsentEventView::from)))
}
