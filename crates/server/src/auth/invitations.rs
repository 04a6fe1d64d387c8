//! Invitations: an admin invites someone by email into their own tenant; the invitee
//! follows the mailed one-time link and chooses a password.
//!
//! `POST /api/v1/users/invitations` `{email, role, location_id?, name?}` needs
//! `ManageUsers`. The new user belongs to the caller's scope, or to one of the caller's
//! locations named in the body (looked up through the scope: another tenant's is 404), and
//! holds a role the caller may grant (`Role::may_grant`). Until accepted the user is
//! `invited` and can't sign in. The link works once, for 7 days; inviting the same address
//! again is a 409 (the user exists). `POST /api/v1/auth/accept-invitation`
//! `{token, password}` activates the account.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::json;
use store::repo::{NewAuditEntry, NewUser, User, INVITATION};
use store::StoreError;

use super::login::{request_id, user_json};
use super::reset::new_password_hash;
use super::roles::Misplaced;
use super::tokens::random_hex;
use super::{Permission, Principal, Role};
use crate::api::narrowed_scope;
use crate::http::ApiError;
use crate::mail::Mail;
use crate::AppState;

/// How long an invitation link works.
const INVITATION_TTL_MS: i64 = 7 * 24 * 60 * 60 * 1000;
/// The longest name or email we keep.
const MAX_FIELD_CHARS: usize = 200;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub(super) struct InviteBody {
    #[schema(format = Email, max_length = 200)]
    email: String,
    /// A role the inviter may grant.
    #[schema(pattern = "^(agency_admin|location_admin|agent)$")]
    role: String,
    /// The location a location admin or agent works in (`loc_…`).
    location_id: Option<String>,
    #[schema(max_length = 200)]
    name: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub(super) struct AcceptBody {
    token: String,
    password: String,
}

/// `POST /api/v1/users/invitations` → 201 with the invited user and whether the email went.
#[utoipa::path(post, path = "/api/v1/users/invitations", tag = "users",
    request_body = InviteBody,
    responses((status = 201, description = "the invited user, and whether the email went",
        body = serde_json::Value)))]
pub(super) async fn invite(
    State(state): State<AppState>,
    principal: Principal,
    crate::api::Body(body): crate::api::Body<InviteBody>,
) -> Result<Response, ApiError> {
    let ask = Invitation {
        email: &body.email,
        name: body.name.as_deref().unwrap_or(""),
        role: &body.role,
        location_id: body.location_id.as_deref(),
    };
    let Invited { user, email_sent } = invite_user(&state, &principal, &ask).await?;
    let mut answer = user_json(&user);
    answer["status"] = json!("invited");
    answer["email_sent"] = json!(email_sent);
    Ok((StatusCode::CREATED, Json(answer)).into_response())
}

/// What an invitation asks for: the API's body, or the dashboard's form.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Invitation<'a> {
    pub email: &'a str,
    pub name: &'a str,
    /// A role word, checked here.
    pub role: &'a str,
    /// The location (`loc_…`) a location admin or agent works in.
    pub location_id: Option<&'a str>,
}

/// The invited user, and whether the mailer took the email.
#[derive(Debug, Clone)]
pub(crate) struct Invited {
    pub user: User,
    pub email_sent: bool,
}

/// Invites someone into the principal's scope: every check, the user, the one-time link,
/// the audit entry and the email. The API and the dashboard both come here, so the two
/// can't judge an invitation differently.
pub(crate) async fn invite_user(
    state: &AppState,
    principal: &Principal,
    ask: &Invitation<'_>,
) -> Result<Invited, ApiError> {
    principal.require(Permission::ManageUsers)?;
    let scope = narrowed_scope(state, principal.scope()?, ask.location_id).await?;
    let email = ask.email.trim();
    let name = ask.name.trim();
    if email.chars().count() > MAX_FIELD_CHARS || name.chars().count() > MAX_FIELD_CHARS {
        return Err(ApiError::bad_request(
            "too_long",
            format!("email and name are at most {MAX_FIELD_CHARS} characters"),
        ));
    }
    if email.parse::<lettre::Address>().is_err() {
        return Err(ApiError::bad_request(
            "invalid_email",
            "email is not an email address",
        ));
    }
    let role = ask
        .role
        .parse::<Role>()
        .map_err(|e| ApiError::bad_request("invalid_role", e.to_string()))?;
    if !principal.role.may_grant(role) || role == Role::Operator {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            format!("the role {} may not invite a {role}", principal.role),
        ));
    }
    match role.fits_place(scope.location_id().is_some()) {
        Err(Misplaced::AgencyRoleAtLocation) => {
            return Err(ApiError::bad_request(
                "invalid_role",
                "a location's user can't be agency_admin",
            ))
        }
        Err(Misplaced::LocationRoleAgencyWide) => {
            return Err(ApiError::bad_request(
                "location_required",
                "this role works in one location: give location_id",
            ))
        }
        Ok(()) => {}
    }
    let store = &state.store;
    let token = random_hex(32);
    let mut tx = store.begin_for(&scope).await?;
    let user = store
        .create_user(
            &mut tx,
            &NewUser {
                email: email.to_owned(),
                name: name.to_owned(),
                role: role.as_str().to_owned(),
                password_hash: None,
                agency_id: Some(scope.agency_id().clone()),
                location_id: scope.location_id().cloned(),
            },
        )
        .await
        .map_err(|e| match e {
            StoreError::Conflict(_) => ApiError::new(
                StatusCode::CONFLICT,
                "user_exists",
                "a user with this email already exists",
            ),
            other => other.into(),
        })?;
    store.set_user_status(&mut tx, &user.id, "invited").await?;
    store
        .issue_account_token(
            &mut tx,
            &user.id,
            INVITATION,
            &token,
            store.now_ms() + INVITATION_TTL_MS,
        )
        .await?;
    principal
        .audit(
            store,
            &mut tx,
            Some(scope.agency_id()),
            "user.invited",
            Some(user.id.as_str()),
            json!({"role": role.as_str(), "location_id": scope.location_id()}),
        )
        .await?;
    tx.commit().await?;
    let link = format!(
        "{}/accept-invitation?token={token}",
        state.config.public_url.trim_end_matches('/')
    );
    // The agency's brand names the product; without one (a read failing), ours.
    let brand = store.brand(scope.agency_id()).await.ok();
    let product = brand
        .as_ref()
        .map_or("Switchboard", |b| b.product_name.as_str())
        .to_owned();
    let mail = Mail {
        to: user.email.clone(),
        subject: format!("You are invited to {product}"),
        text: format!(
            "You have been invited to {product} as {role}.\n\n\
             To accept and choose your password, open this link within 7 days:\n{link}\n"
        ),
        brand,
    };
    let email_sent = match state.mailer.send(&mail).await {
        Ok(()) => true,
        Err(e) => {
            tracing::warn!(user = %user.id, error = %e, "invitation email not sent");
            false
        }
    };
    Ok(Invited { user, email_sent })
}

/// `POST /api/v1/auth/accept-invitation` `{token, password}` → the account is active.
#[utoipa::path(post, path = "/api/v1/auth/accept-invitation", tag = "auth", security(()),
    request_body = AcceptBody,
    responses((status = 200, description = "the account is active", body = serde_json::Value)))]
pub(super) async fn accept(
    State(state): State<AppState>,
    headers: axum::http::HeaderMap,
    crate::api::Body(body): crate::api::Body<AcceptBody>,
) -> Result<Response, ApiError> {
    let hash = new_password_hash(body.password).await?;
    let store = &state.store;
    let mut tx = store.begin().await?;
    let (user, agency) = match store
        .take_account_token(&mut tx, INVITATION, &body.token)
        .await
    {
        Ok(taken) => taken,
        Err(StoreError::NotFound) => {
            return Err(ApiError::bad_request(
                "invalid_token",
                "this invitation is unknown, used or expired; ask for a new one",
            ))
        }
        Err(e) => return Err(e.into()),
    };
    store.set_user_password(&mut tx, &user, &hash).await?;
    store.set_user_status(&mut tx, &user, "active").await?;
    store
        .append_audit(
            &mut tx,
            &NewAuditEntry {
                agency_id: agency.as_ref(),
                actor: &format!("user:{user}"),
                action: "user.joined",
                target: Some(user.as_str()),
                detail: json!({}),
                request_id: request_id(&headers).as_deref(),
            },
        )
        .await?;
    tx.commit().await?;
    Ok(Json(json!({"status": "active", "user_id": user})).into_response())
}
