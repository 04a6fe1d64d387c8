//! Who is looking at a dashboard page, and the checks every page and form goes through.
//!
//! [`Viewer`] is the signed-in user of the `sb_access` cookie with their tenant scope,
//! brand and CSRF token; a request without a valid session is sent to
//! `/api/v1/auth/resume` (which renews it from the refresh cookie, or asks for a sign-in)
//! and comes back where it was. [`CsrfForm`] is a form post that carries the session's
//! CSRF token in its `csrf` field (double submit: a cross-site page can't read the cookie
//! to copy it); without it the post is refused before anything is parsed or changed.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use serde::de::DeserializeOwned;
use store::repo::Brand;
use store::TenantScope;

use crate::auth::cookies;
use crate::auth::{Caller, Permission, Principal, Role};
use crate::AppState;

/// The biggest form a dashboard page posts (a message with its text is well under).
const MAX_FORM_BYTES: usize = 64 * 1024;

/// The signed-in user of a dashboard request.
#[derive(Debug, Clone)]
pub struct Viewer {
    pub principal: Principal,
    pub scope: TenantScope,
    pub user_id: domain::UserId,
    pub email: String,
    pub brand: Brand,
    /// The session's CSRF token, for the page's forms.
    pub csrf: String,
}

impl Viewer {
    pub fn role(&self) -> Role {
        self.principal.role
    }

    pub fn may(&self, permission: Permission) -> bool {
        crate::auth::allows(self.principal.role, permission)
    }

    /// Refuses (403 page) unless the role holds `permission`.
    pub fn require(&self, permission: Permission) -> Result<(), Response> {
        if self.may(permission) {
            Ok(())
        } else {
            Err(super::page::error_page(
                self,
                StatusCode::FORBIDDEN,
                "Not allowed",
                &format!(
                    "Your role ({}) may not {}.",
                    self.role(),
                    permission.as_str().replace('_', " ")
                ),
            ))
        }
    }
}

/// The location `id` (from a form's path) when the viewer may act on it with
/// `permission`. Looked up first, so another tenant's location is a 404 whatever the
/// viewer's role, exactly like a missing one; then the role is checked (403).
pub async fn location_to_change(
    state: &AppState,
    viewer: &Viewer,
    id: &str,
    permission: Permission,
) -> Result<store::repo::Location, Response> {
    let found = match id.parse() {
        Ok(id) => state.store.location(&viewer.scope, &id).await,
        Err(_) => Err(store::StoreError::NotFound),
    };
    let location = found.map_err(|e| super::page::store_error(viewer, e))?;
    viewer.require(permission)?;
    Ok(location)
}

/// Where a request without a session goes: renewal, then back to `path`.
pub fn resume_redirect(path: &str) -> Response {
    let next = url::form_urlencoded::byte_serialize(path.as_bytes()).collect::<String>();
    Redirect::to(&format!("/api/v1/auth/resume?next={next}")).into_response()
}

/// `next` if it is a path on this site, else the inbox: a sign-in must never send the
/// browser elsewhere (an open redirect).
pub fn local_path(next: Option<&str>) -> String {
    match next {
        Some(p) if p.starts_with('/') && !p.starts_with("//") && !p.contains('\\') => p.to_string(),
        _ => "/inbox".to_string(),
    }
}

impl FromRequestParts<AppState> for Viewer {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let back = if parts.method == axum::http::Method::GET {
            parts
                .uri
                .path_and_query()
                .map_or("/inbox".to_string(), |p| p.as_str().to_string())
        } else {
            "/inbox".to_string()
        };
        let principal = match Principal::from_session_cookie(state, &parts.headers).await {
            Ok(principal) => principal,
            Err(e) if e.status == StatusCode::UNAUTHORIZED => return Err(resume_redirect(&back)),
            Err(e) => return Err(e.into_response()),
        };
        let Caller::User { id, email } = principal.caller.clone() else {
            return Err(resume_redirect(&back));
        };
        let Ok(scope) = principal.scope().cloned() else {
            return Err((
                StatusCode::FORBIDDEN,
                "Operators have no tenant: use the CLI and the API.",
            )
                .into_response());
        };
        let brand = state
            .store
            .brand(scope.agency_id())
            .await
            .map_err(|e| crate::http::ApiError::from(e).into_response())?;
        let csrf = cookies::get(&parts.headers, cookies::CSRF).unwrap_or_default();
        Ok(Self {
            principal,
            scope,
            user_id: id,
            email,
            brand,
            csrf,
        })
    }
}

/// A form post whose `csrf` field matches the session's CSRF cookie, its other fields
/// read into `T`.
#[derive(Debug)]
pub struct CsrfForm<T>(pub T);

impl<T: DeserializeOwned + Send> FromRequest<AppState> for CsrfForm<T> {
    type Rejection = Response;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, Response> {
        let (parts, body) = request.into_parts();
        let is_form = parts
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
        if !is_form {
            return Err((
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "a dashboard form is application/x-www-form-urlencoded",
            )
                .into_response());
        }
        let bytes = Bytes::from_request(Request::from_parts(parts.clone(), body), state)
            .await
            .map_err(IntoResponse::into_response)?;
        if bytes.len() > MAX_FORM_BYTES {
            return Err((StatusCode::PAYLOAD_TOO_LARGE, "the form is too large").into_response());
        }
        let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(&bytes)
            .map_err(|_| (StatusCode::BAD_REQUEST, "the form is malformed").into_response())?;
        let presented = pairs
            .iter()
            .find(|(k, _)| k == "csrf")
            .map_or("", |(_, v)| v.as_str());
        if !cookies::csrf_field_matches(&parts.headers, presented) {
            return Err((
                StatusCode::FORBIDDEN,
                "this form has expired or did not come from this site; reload the page and try again",
            )
                .into_response());
        }
        let fields = pairs.into_iter().filter(|(k, _)| k != "csrf");
        let encoded = serde_urlencoded::to_string(fields.collect::<Vec<_>>())
            .map_err(|_| (StatusCode::BAD_REQUEST, "the form is malformed").into_response())?;
        serde_urlencoded::from_str(&encoded)
            .map(CsrfForm)
            .map_err(|e| {
                (StatusCode::UNPROCESSABLE_ENTITY, format!("the form: {e}")).into_response()
            })
    }
}
