//! Managing an agency's users: changing a role and deactivating an account. The
//! dashboard's settings page calls these; like every check, they ask the role matrix and
//! look users up through the caller's scope (another tenant's user is 404).
//!
//! A holder of `ManageUsers` may touch only users whose role they could grant, never
//! themselves (an admin can't lock themselves out or raise themselves), and hands out
//! only roles they may grant. A role keeps the user's place: agency-wide users hold
//! `agency_admin`, a location's users the location roles.

use axum::http::StatusCode;
use domain::UserId;
use serde_json::json;
use store::repo::User;

use super::roles::Misplaced;
use super::{Caller, Permission, Principal, Role};
use crate::http::ApiError;
use crate::AppState;

/// The scope's user `id` that the principal may manage, or why not.
async fn managed_user(
    state: &AppState,
    principal: &Principal,
    id: &str,
) -> Result<(User, Role), ApiError> {
    principal.require(Permission::ManageUsers)?;
    let scope = principal.scope()?;
    let id: UserId = id.parse().map_err(|_| ApiError::not_found())?;
    let user = state.store.user_of_scope(scope, &id).await?;
    if matches!(&principal.caller, Caller::User { id: me, .. } if *me == user.id) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "not_yourself",
            "you can't change or deactivate your own account; ask another admin",
        ));
    }
    let role: Role = user
        .role
        .parse()
        .map_err(|e: super::roles::UnknownRole| ApiError::internal(e.to_string()))?;
    if !principal.role.may_grant(role) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            format!("the role {} may not manage a {role}", principal.role),
        ));
    }
    Ok((user, role))
}

/// Gives one of the scope's users another role, audited as `user.role_changed`. The
/// change holds from the user's next request (the role is read on every one).
pub(crate) async fn change_role(
    state: &AppState,
    principal: &Principal,
    id: &str,
    role: &str,
) -> Result<User, ApiError> {
    let (user, from) = managed_user(state, principal, id).await?;
    let to: Role = role.parse().map_err(|e: super::roles::UnknownRole| {
        ApiError::bad_request("invalid_role", e.to_string())
    })?;
    if !principal.role.may_grant(to) || to == Role::Operator {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            format!("the role {} may not grant {to}", principal.role),
        ));
    }
    match to.fits_place(user.location_id.is_some()) {
        Err(Misplaced::AgencyRoleAtLocation) => {
            return Err(ApiError::bad_request(
                "invalid_role",
                "a location's user can't be agency_admin",
            ))
        }
        Err(Misplaced::LocationRoleAgencyWide) => {
            return Err(ApiError::bad_request(
                "invalid_role",
                "an agency-wide user can only be agency_admin; invite them to a location instead",
            ))
        }
        Ok(()) => {}
    }
    let scope = principal.scope()?;
    let store = &state.store;
    let mut tx = store.begin_for(scope).await?;
    let changed = store
        .set_user_role(&mut tx, scope, &user.id, to.as_str())
        .await?;
    principal
        .audit(
            store,
            &mut tx,
            Some(scope.agency_id()),
            "user.role_changed",
            Some(user.id.as_str()),
            json!({"from": from.as_str(), "to": to.as_str()}),
        )
        .await?;
    tx.commit().await?;
    Ok(changed)
}

/// Deactivates one of the scope's users: they can't sign in any more, and every session
/// and access token they hold ends now (as their own logout-all would), and links mailed
/// earlier (an invitation, a reset) stop working. Audited as
/// `user.deactivated`.
pub(crate) async fn deactivate(
    state: &AppState,
    principal: &Principal,
    id: &str,
) -> Result<User, ApiError> {
    let (user, _) = managed_user(state, principal, id).await?;
    let scope = principal.scope()?;
    let store = &state.store;
    let mut tx = store.begin_for(scope).await?;
    store.set_user_status(&mut tx, &user.id, "disabled").await?;
    let revoked = store.revoke_user_sessions(&mut tx, &user.id).await?;
    store.spend_account_tokens(&mut tx, &user.id).await?;
    store
        .end_user_access_tokens(&mut tx, &user.id, store.now_ms())
        .await?;
    principal
        .audit(
            store,
            &mut tx,
            Some(scope.agency_id()),
            "user.deactivated",
            Some(user.id.as_str()),
            json!({"refresh_tokens_revoked": revoked}),
        )
        .await?;
    tx.commit().await?;
    Ok(store.user_of_scope(scope, &user.id).await?)
}
