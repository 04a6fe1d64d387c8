//! Users, sessions and API keys: who is calling, and what they may do.
//!
//! - [`roles`]: the role × permission matrix, the one place that decides.
//! - [`Principal`]: the extractor every handler takes to learn the caller and its tenant
//!   scope (never from a request parameter).
//! - Sign-in (`/api/v1/auth/*`): argon2id passwords, per-IP rate limiting, lockout after
//!   repeated failures, access JWTs of 15 minutes and refresh tokens of 7 days rotated on
//!   every use with reuse detection; cookies and CSRF for the dashboard.
//! - Password reset by email (`/api/v1/auth/password-reset`): a one-time link, see
//!   [`reset`].
//! - Invitations by email (`/api/v1/users/invitations`), see [`invitations`].
//! - API keys (`/api/v1/api-keys`): shown once, stored hashed.
//! - Role changes and deactivation (the dashboard's settings), see [`users`].

pub(crate) mod api_keys;
pub(crate) mod cookies;
pub(crate) mod invitations;
mod limits;
pub(crate) mod login;
mod password;
mod principal;
mod reset;
pub mod roles;
pub(crate) mod tokens;
pub(crate) mod users;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::http::Extensions;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use limits::limit_api;
pub use password::{generate_password, hash_password, PasswordError, MIN_PASSWORD_LEN};
pub use principal::{Caller, Principal, Via};
pub use roles::{allows, Permission, Role};

use crate::AppState;

/// Every API key starts with this, so a bearer value says which kind it is.
pub const API_KEY_PREFIX: &str = "sb_";
/// `sb_` and 12 hex characters: the public part of a key, shown in lists.
const API_KEY_PREFIX_LEN: usize = 15;
/// A key's last use is written at most this often.
const API_KEY_TOUCH_EVERY_MS: i64 = 60_000;
/// Consecutive failed sign-ins that lock an account…
const LOCKOUT_THRESHOLD: i64 = 5;
/// …for this long.
const LOCKOUT_MS: i64 = 15 * 60 * 1000;
/// Sign-in attempts per client address per minute (a burst of as many).
const LOGIN_ATTEMPTS_PER_MINUTE: u32 = 20;

/// The sign-in machinery shared by all requests: the access token keys and the per-IP
/// sign-in limiter. Cheap to clone.
#[derive(Clone)]
pub struct Auth {
    access: tokens::AccessKeys,
    login_limiter: Arc<DefaultKeyedRateLimiter<IpAddr>>,
    api_limits: limits::ApiLimits,
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Auth").finish_non_exhaustive()
    }
}

impl Auth {
    /// Access tokens are signed with a key derived from the master key ring; the API's
    /// request budgets come from the configuration.
    pub fn new(keys: &secrets::KeyRing, config: &config::Config) -> Self {
        let per_minute = NonZeroU32::new(LOGIN_ATTEMPTS_PER_MINUTE).unwrap_or(NonZeroU32::MIN);
        Self {
            access: tokens::AccessKeys::new(&*keys.derive("auth-access-jwt")),
            login_limiter: Arc::new(RateLimiter::keyed(Quota::per_minute(per_minute))),
            api_limits: limits::ApiLimits::new(
                config.api_requests_per_minute_per_address,
                config.api_requests_per_minute_per_credential,
            ),
        }
    }

    /// `None` when `client` may try to sign in now, else how long to wait.
    fn login_wait(&self, client: IpAddr) -> Option<Duration> {
        use governor::clock::{Clock, DefaultClock};
        if self.login_limiter.len() > 100_000 {
            self.login_limiter.retain_recent();
        }
        self.login_limiter
            .check_key(&client)
            .err()
            .map(|not_until| not_until.wait_time_from(DefaultClock::default().now()))
    }
}

/// The client's address as the listener saw it. A proxy in front makes every client one
/// address; trusting `X-Forwarded-For` needs configuration we don't have yet.
fn client_ip(extensions: &Extensions) -> IpAddr {
    extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip())
        .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED))
}

/// `/api/v1/auth/*`, `/api/v1/me`, `/api/v1/users/invitations` and `/api/v1/api-keys`,
/// described for the OpenAPI document.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(login::login))
        .routes(routes!(login::refresh))
        .routes(routes!(login::logout))
        .routes(routes!(login::logout_all))
        .routes(routes!(reset::request))
        .routes(routes!(reset::confirm))
        .routes(routes!(invitations::accept))
        .routes(routes!(invitations::invite))
        .routes(routes!(login::me))
        .routes(routes!(api_keys::create, api_keys::list))
        .routes(routes!(api_keys::revoke))
}
