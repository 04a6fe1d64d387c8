//! Query filters shared by the list routes: ids looked up through the caller's scope
//! first (another tenant's id is 404, like a missing one), then flags and words checked
//! with a 400 that names the field.

use domain::{ChannelId, ContactId, LocationId};
use store::TenantScope;

use crate::http::ApiError;
use crate::AppState;

/// `?location_id=`, if given, as one of the scope's locations.
pub(super) async fn scoped_location(
    state: &AppState,
    scope: &TenantScope,
    id: Option<&str>,
) -> Result<Option<LocationId>, ApiError> {
    let Some(id) = id else { return Ok(None) };
    let id: LocationId = id.parse().map_err(|_| ApiError::not_found())?;
    Ok(Some(state.store.location(scope, &id).await?.id))
}

/// The caller's scope, or, when a body names a `location_id`, that location of it (so
/// another tenant's location is 404 before anything else in the body is judged).
pub(crate) async fn narrowed_scope(
    state: &AppState,
    scope: &TenantScope,
    location: Option<&str>,
) -> Result<TenantScope, ApiError> {
    let Some(id) = location else {
        return Ok(scope.clone());
    };
    let id: LocationId = id.parse().map_err(|_| ApiError::not_found())?;
    Ok(scope.narrowed_to(&state.store.location(scope, &id).await?))
}

/// `?channel_id=`, if given, as one of the scope's channels.
pub(super) async fn scoped_channel(
    state: &AppState,
    scope: &TenantScope,
    id: Option<&str>,
) -> Result<Option<ChannelId>, ApiError> {
    let Some(id) = id else { return Ok(None) };
    let id: ChannelId = id.parse().map_err(|_| ApiError::not_found())?;
    Ok(Some(state.store.channel(scope, &id).await?.id))
}

/// `?contact_id=`, if given, as one of the scope's contacts.
pub(super) async fn scoped_contact(
    state: &AppState,
    scope: &TenantScope,
    id: Option<&str>,
) -> Result<Option<ContactId>, ApiError> {
    let Some(id) = id else { return Ok(None) };
    let id: ContactId = id.parse().map_err(|_| ApiError::not_found())?;
    Ok(Some(state.store.contact(scope, &id).await?.id))
}

/// A `true`/`false` query flag, or 400 naming it.
pub(super) fn flag(field: &'static str, value: Option<&str>) -> Result<Option<bool>, ApiError> {
    match value {
        None => Ok(None),
        Some("true") => Ok(Some(true)),
        Some("false") => Ok(Some(false)),
        Some(_) => Err(ApiError::bad_request(
            "invalid_filter",
            format!("{field} must be true or false"),
        )),
    }
}

/// A word of a closed set (`direction`, `status`), or 400 naming the field and the words.
pub(super) fn word<T: std::str::FromStr + Copy>(
    field: &'static str,
    value: Option<&str>,
    all: &[T],
    name: fn(T) -> &'static str,
) -> Result<Option<T>, ApiError> {
    let Some(value) = value else { return Ok(None) };
    value.parse().map(Some).map_err(|_| {
        let words: Vec<&str> = all.iter().map(|w| name(*w)).collect();
        ApiError::bad_request(
            "invalid_filter",
            format!("{field} must be one of {}", words.join(", ")),
        )
    })
}
