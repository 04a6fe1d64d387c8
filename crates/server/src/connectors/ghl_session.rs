//! GHL calls on behalf of a location: its access token, refreshed single-flight, its
//! budget of 100 requests per 10 s, and its circuit breaker.
//!
//! GHL rotates the refresh token on every use, and a used one is dead: two concurrent
//! refreshes break the install. So a refresh is single-flight twice over: a mutex per
//! location inside the process, and a lease on the location row across processes. Others
//! wait for the new token instead of refreshing themselves, and the new tokens are
//! committed before anyone uses them. (A process that dies between GHL's answer and that
//! commit loses the new refresh token; the location is then marked `needs_reauth`.)

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use config::{ExposeSecret, SecretString};
use ghl::api::Api;
use outbound::{ApiRequest, ApiResponse, Call, Failure, Outbound, Rate};
use store::repo::{Location, LocationTokens};
use store::{Store, StoreError, TenantScope};

use crate::webhooks::ghl_pacing_key;

/// GHL's documented burst limit per location, 100 requests per 10 s, counted over a
/// window a quarter second longer: GHL counts a request when it arrives and we when we
/// send it, so a request that took longer to arrive than the next one could otherwise
/// fall inside GHL's window and earn a 429. The margin costs 2.5% of the budget.
pub const GHL_RATE: Rate = Rate {
    max: 100,
    interval: Duration::from_millis(10_250),
};
/// Refresh this long before the access token expires.
pub(super) const REFRESH_MARGIN_MS: i64 = 5 * 60 * 1000;
/// How long one process may hold a location's refresh lease.
const REFRESH_LEASE_MS: i64 = 30_000;
/// How often a waiting caller looks for the new token, and for how long.
const REFRESH_POLL: Duration = Duration::from_millis(100);
const REFRESH_WAIT_ROUNDS: u32 = 300;

/// GHL as the job handlers call it.
#[derive(Clone)]
pub struct Ghl {
    pub(super) outbound: Arc<Outbound>,
    pub(super) base: String,
    pub(super) client_id: Option<String>,
    pub(super) client_secret: Option<SecretString>,
    pub(super) refreshing: Arc<Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>>,
}

impl std::fmt::Debug for Ghl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ghl")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

pub(super) fn store_failure(e: StoreError) -> ghl::Error {
    ghl::Error::Call(Failure::Retry {
        detail: format!("storage: {e}"),
        after: None,
    })
}

impl Ghl {
    pub fn new(outbound: Arc<Outbound>, config: &config::Config) -> Self {
        Self {
            outbound,
            base: config.ghl_api_base.clone(),
            client_id: config.ghl_client_id.clone(),
            client_secret: config.ghl_client_secret.clone(),
            refreshing: Arc::default(),
        }
    }

    /// Builds a request with the location's token, runs it within the location's budget,
    /// and parses the answer. A 401 refreshes the token once and tries again.
    pub async fn call<T>(
        &self,
        store: &Store,
        location: &Location,
        operation: &'static str,
        build: impl Fn(&Api<'_>) -> ApiRequest,
        parse: impl Fn(&ApiResponse) -> Result<T, ghl::Error>,
    ) -> Result<T, ghl::Error> {
        if location.status == store::repo::UNINSTALLED {
            return Err(ghl::Error::Call(Failure::Permanent {
                detail: format!(
                    "location {} is uninstalled: GHL is not called for it",
                    location.id
                ),
            }));
        }
        let mut tokens = self.valid_tokens(store, location).await?;
        let call = Call::new("ghl", operation, format!("ghl:{}", location.id))
            .with_budget(ghl_pacing_key(&location.id), GHL_RATE);
        for attempt in 0..2 {
            let access = tokens.access_token.expose_secret().to_string();
            let request = build(&Api::new(&self.base, &access));
            let response = self
                .outbound
                .execute(&call, request)
                .await
                .map_err(ghl::Error::Call)?;
            match parse(&response) {
                Err(ghl::Error::Unauthorized { .. }) if attempt == 0 => {
                    tracing::info!(location = %location.id, "GHL refused the access token; refreshing");
                    tokens = self.refresh(store, location, Some(&access)).await?;
                }
                other => return other,
            }
        }
        Err(ghl::Error::Unauthorized {
            detail: "refused again after a token refresh".into(),
        })
    }

    /// The location's tokens, refreshed first if they are about to expire.
    async fn valid_tokens(
        &self,
        store: &Store,
        location: &Location,
    ) -> Result<LocationTokens, ghl::Error> {
        let tokens = self.read_tokens(store, location).await?;
        let now = store.db().now_ms();
        match tokens.expires_at_ms {
            Some(at) if at - now < REFRESH_MARGIN_MS => {
                let stale = tokens.access_token.expose_secret().to_string();
                self.refresh(store, location, Some(&stale)).await
            }
            _ => Ok(tokens),
        }
    }

    async fn read_tokens(
        &self,
        store: &Store,
        location: &Location,
    ) -> Result<LocationTokens, ghl::Error> {
        match store.location_tokens(&TenantScope::for_location(location), &location.id).await {
            Err(StoreError::NotFound) => Err(ghl::Error::Call(Failure::Permanent {
                detail: format!("location {} has no GHL tokens; install the app or run `switchboard location add`", location.id),
            })),
            other => other.map_err(store_failure),
        }
    }

    /// Replaces the token that `stale` was, once, however many callers ask at once.
    async fn refresh(
        &self,
        store: &Store,
        location: &Location,
        stale: Option<&str>,
    ) -> Result<LocationTokens, ghl::Error> {
        let lock = {
            let mut map = self
                .refreshing
                .lock()
                .map_err(|_| store_failure(StoreError::Config("lock poisoned".into())))?;
            map.entry(location.id.to_string()).or_default().clone()
        };
        let _only_one_here = lock.lock().await;
        for _ in 0..REFRESH_WAIT_ROUNDS {
            let current = self.read_tokens(store, location).await?;
            let fresh = current
                .expires_at_ms
                .is_none_or(|at| at - store.db().now_ms() >= REFRESH_MARGIN_MS);
            if stale.is_some_and(|s| s != current.access_token.expose_secret()) && fresh {
                return Ok(current); // someone else refreshed meanwhile
            }
            let until = store.db().now_ms() + REFRESH_LEASE_MS;
            if store
                .take_token_refresh_lease(&location.id, until)
                .await
                .map_err(store_failure)?
            {
                return self.refresh_now(store, location, current).await;
            }
            tokio::time::sleep(REFRESH_POLL).await;
        }
        Err(ghl::Error::Call(Failure::Retry {
            detail: "waited too long for another process's token refresh".into(),
            after: None,
        }))
    }

    /// Holding the lease: asks GHL for new tokens and commits them before returning.
    async fn refresh_now(
        &self,
        store: &Store,
        location: &Location,
        current: LocationTokens,
    ) -> Result<LocationTokens, ghl::Error> {
        let (Some(client_id), Some(secret)) = (&self.client_id, &self.client_secret) else {
            let _ = store.release_token_refresh_lease(&location.id).await;
            return Err(ghl::Error::Call(Failure::Permanent {
                detail: "SWITCHBOARD_GHL_CLIENT_ID and SWITCHBOARD_GHL_CLIENT_SECRET are needed to refresh GHL tokens".into(),
            }));
        };
        let request = ghl::api::refresh_token_request(
            &self.base,
            client_id,
            secret.expose_secret(),
            current.refresh_token.expose_secret(),
            Some(ghl::api::UserType::Location),
        );
        let call = Call::new("ghl", "refresh_token", format!("ghl:{}", location.id));
        let grant = match self.outbound.execute(&call, request).await {
            Ok(response) => ghl::api::parse_token(&response),
            Err(failure) => Err(ghl::Error::Call(failure)),
        };
        match grant {
            Ok(grant) => {
                let refresh = grant
                    .refresh_token
                    .clone()
                    .unwrap_or_else(|| current.refresh_token.expose_secret().to_string());
                let expires_at = grant.expires_in.map(|s| {
                    store.db().now_ms() + i64::try_from(s).unwrap_or(86_399).saturating_mul(1000)
                });
                store
                    .store_refreshed_tokens(&location.id, &grant.access_token, &refresh, expires_at)
                    .await
                    .map_err(store_failure)?;
                metrics::counter!("switchboard_ghl_token_refreshes_total", "outcome" => "ok")
                    .increment(1);
                tracing::info!(location = %location.id, "GHL tokens refreshed");
                self.read_tokens(store, location).await
            }
            Err(ghl::Error::InvalidGrant { detail }) => {
                metrics::counter!("switchboard_ghl_token_refreshes_total", "outcome" => "invalid_grant").increment(1);
                tracing::error!(location = %location.id, %detail, "GHL refused the refresh token; the location must be re-authorised");
                let _ = store.mark_location_needs_reauth(&location.id).await;
                Err(ghl::Error::InvalidGrant { detail })
            }
            Err(other) => {
                metrics::counter!("switchboard_ghl_token_refreshes_total", "outcome" => "failed")
                    .increment(1);
                let _ = store.release_token_refresh_lease(&location.id).await;
                Err(other)
            }
        }
    }
}
