//! Signing in and out of the dashboard, and renewing a session from a page load.
//!
//! - `GET /login` shows the form with a fresh CSRF token (cookie and field), so even the
//!   sign-in can't be posted from another site (login CSRF).
//! - `POST /login` goes through the same check as the API's sign-in (rate limit per
//!   address, lockout, audit), keeps its session cookies and redirects to `next`.
//! - `GET /api/v1/auth/resume?next=` is where a page without a live access token sends
//!   the browser: the refresh cookie is sent only under `/api/v1/auth`, so the renewal
//!   lives there. It rotates the refresh token (reuse revokes the family, as in the API)
//!   and returns to `next`, or asks for a sign-in.
//! - `POST /api/v1/auth/sign-out` ends this browser's session (the form carries the CSRF
//!   token) and clears the cookies.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::header::SET_COOKIE;
use axum::http::{Extensions, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::page::render;
use super::viewer::{local_path, CsrfForm};
use crate::auth::{cookies, login, tokens};
use crate::AppState;

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    csrf: String,
    next: String,
    email: String,
    error: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct NextQuery {
    next: Option<String>,
}

/// The sign-in form, with the CSRF cookie set to the form's token.
fn login_page(status: StatusCode, next: String, email: String, error: Option<String>) -> Response {
    let csrf = tokens::new_csrf_token();
    let mut response = render(
        status,
        &LoginPage {
            csrf: csrf.clone(),
            next,
            email,
            error,
        },
    );
    cookies::set_csrf(response.headers_mut(), &csrf);
    response
}

/// `GET /login`.
pub async fn show(Query(query): Query<NextQuery>) -> Response {
    login_page(
        StatusCode::OK,
        local_path(query.next.as_deref()),
        String::new(),
        None,
    )
}

#[derive(Debug, Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    next: Option<String>,
}

/// A redirect to `to` that keeps the `Set-Cookie` headers of `from`.
fn redirect_with_cookies(to: &str, from: &Response) -> Response {
    let mut response = Redirect::to(to).into_response();
    for value in from.headers().get_all(SET_COOKIE) {
        response.headers_mut().append(SET_COOKIE, value.clone());
    }
    response
}

/// `POST /login`.
pub async fn submit(
    State(state): State<AppState>,
    extensions: Extensions,
    headers: HeaderMap,
    CsrfForm(form): CsrfForm<LoginForm>,
) -> Response {
    let next = local_path(form.next.as_deref());
    let answer = login::sign_in(&state, &extensions, &headers, &form.email, form.password).await;
    match answer {
        Ok(response) if response.status().is_success() => redirect_with_cookies(&next, &response),
        Ok(response) if response.status() == StatusCode::TOO_MANY_REQUESTS => login_page(
            StatusCode::TOO_MANY_REQUESTS,
            next,
            form.email,
            Some("Too many sign-in attempts from here. Wait a minute and try again.".into()),
        ),
        Ok(response) => response,
        Err(e) if e.status == StatusCode::UNAUTHORIZED => login_page(
            StatusCode::UNAUTHORIZED,
            next,
            form.email,
            Some("The email or password is wrong, or the account can't sign in now.".into()),
        ),
        Err(e) => e.into_response(),
    }
}

/// `GET /api/v1/auth/resume?next=`.
pub async fn resume(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<NextQuery>,
) -> Response {
    let next = local_path(query.next.as_deref());
    let to_login = || {
        let next = url::form_urlencoded::byte_serialize(next.as_bytes()).collect::<String>();
        Redirect::to(&format!("/login?next={next}")).into_response()
    };
    let Some(token) = cookies::get(&headers, cookies::REFRESH) else {
        return to_login();
    };
    match login::rotate_session(&state, &headers, &token).await {
        Ok(response) if response.status().is_success() => redirect_with_cookies(&next, &response),
        Ok(response) => response,
        Err(e) if e.status == StatusCode::UNAUTHORIZED => {
            let mut response = to_login();
            cookies::clear_session(response.headers_mut());
            response
        }
        Err(e) => e.into_response(),
    }
}

#[derive(Debug, Deserialize)]
pub struct NoFields {}

/// `POST /api/v1/auth/sign-out`.
pub async fn sign_out(
    State(state): State<AppState>,
    headers: HeaderMap,
    CsrfForm(NoFields {}): CsrfForm<NoFields>,
) -> Response {
    if let Some(token) = cookies::get(&headers, cookies::REFRESH) {
        if let Err(e) = login::end_session(&state, &headers, &token).await {
            return e.into_response();
        }
    }
    let mut response = Redirect::to("/login").into_response();
    cookies::clear_session(response.headers_mut());
    response
}
