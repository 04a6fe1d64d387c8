//! GHL calls made with an install's own token rather than a location's: exchanging the
//! install callback's code, and the agency-level (Company) token's calls that list the
//! installed locations and mint their tokens.
//!
//! The Company token is refreshed like a location's, single-flight within the process.
//! Across processes it has no lease yet: only provisioning uses it, one job per install
//! at a time in practice, so two processes refreshing it at once is unlikely but possible
//! (the loser's install would need re-authorising). A lease like the locations' is a
//! follow-up.

use config::ExposeSecret;
use ghl::api::{Api, TokenGrant, UserType};
use outbound::{ApiRequest, ApiResponse, Call, Failure};
use store::repo::{Installation, InstallationTokens};
use store::Store;

use super::ghl_session::{store_failure, REFRESH_MARGIN_MS};
use super::Ghl;
use crate::connectors::ghl_session::GHL_RATE;

impl Ghl {
    /// Whether the app's client id and secret are configured (installs need both).
    pub fn can_install(&self) -> bool {
        self.client_id.is_some() && self.client_secret.is_some()
    }

    /// The Marketplace app id, which `installedLocations` wants: GHL's SDK takes it as the
    /// client id's part before the first `-` (an inference from its code, reference §2.1).
    pub fn app_id(&self) -> Option<&str> {
        self.client_id
            .as_deref()
            .and_then(|id| id.split('-').next())
    }

    /// `POST /oauth/token` with the install callback's `code`.
    pub async fn exchange_code(
        &self,
        code: &str,
        redirect_uri: &str,
    ) -> Result<TokenGrant, ghl::Error> {
        let (Some(client_id), Some(secret)) = (&self.client_id, &self.client_secret) else {
            return Err(not_configured());
        };
        let request = ghl::api::exchange_code_request(
            &self.base,
            client_id,
            secret.expose_secret(),
            code,
            Some(redirect_uri),
        );
        let call = Call::new("ghl", "exchange_code", "ghl:install");
        let response = self
            .outbound
            .execute(&call, request)
            .await
            .map_err(ghl::Error::Call)?;
        ghl::api::parse_token(&response)
    }

    /// Calls GHL with an agency-level install's Company token, within the company's own
    /// budget and breaker.
    pub async fn agency_call<T>(
        &self,
        store: &Store,
        installation: &Installation,
        operation: &'static str,
        build: impl Fn(&Api<'_>) -> ApiRequest,
        parse: impl Fn(&ApiResponse) -> Result<T, ghl::Error>,
    ) -> Result<T, ghl::Error> {
        let tokens = self.company_tokens(store, installation).await?;
        let key = format!("ghl:company:{}", installation.ghl_id);
        let call = Call::new("ghl", operation, key.clone()).with_budget(key, GHL_RATE);
        let access = tokens.access_token.expose_secret().to_string();
        let response = self
            .outbound
            .execute(&call, build(&Api::new(&self.base, &access)))
            .await
            .map_err(ghl::Error::Call)?;
        parse(&response)
    }

    /// The install's tokens, refreshed first when about to expire.
    async fn company_tokens(
        &self,
        store: &Store,
        installation: &Installation,
    ) -> Result<InstallationTokens, ghl::Error> {
        let read = || async {
            store
                .installation_tokens(&installation.ghl_id)
                .await
                .map_err(store_failure)
        };
        let stale = |tokens: &InstallationTokens| {
            tokens
                .expires_at_ms
                .is_some_and(|at| at - store.db().now_ms() < REFRESH_MARGIN_MS)
        };
        let tokens = read().await?;
        if !stale(&tokens) {
            return Ok(tokens);
        }
        let lock = {
            let mut map = self
                .refreshing
                .lock()
                .map_err(|_| not_configured_detail("refresh lock poisoned"))?;
            map.entry(format!("company:{}", installation.ghl_id))
                .or_default()
                .clone()
        };
        let _only_one_here = lock.lock().await;
        let tokens = read().await?;
        let (false, Some(refresh)) = (!stale(&tokens), tokens.refresh_token.as_ref()) else {
            return Ok(tokens);
        };
        let (Some(client_id), Some(secret)) = (&self.client_id, &self.client_secret) else {
            return Err(not_configured());
        };
        let request = ghl::api::refresh_token_request(
            &self.base,
            client_id,
            secret.expose_secret(),
            refresh.expose_secret(),
            Some(UserType::Company),
        );
        let call = Call::new(
            "ghl",
            "refresh_token",
            format!("ghl:company:{}", installation.ghl_id),
        );
        let response = self
            .outbound
            .execute(&call, request)
            .await
            .map_err(ghl::Error::Call)?;
        let grant = ghl::api::parse_token(&response)?;
        let expires_at = grant
            .expires_in
            .map(|s| store.db().now_ms() + i64::try_from(s).unwrap_or(86_399).saturating_mul(1000));
        store
            .store_installation_tokens(
                &installation.ghl_id,
                &grant.access_token,
                grant.refresh_token.as_deref(),
                expires_at,
            )
            .await
            .map_err(store_failure)?;
        tracing::info!(install = %installation.ghl_id, "GHL Company token refreshed");
        read().await
    }
}

fn not_configured() -> ghl::Error {
    not_configured_detail(
        "SWITCHBOARD_GHL_CLIENT_ID and SWITCHBOARD_GHL_CLIENT_SECRET are needed for installs",
    )
}

fn not_configured_detail(detail: &str) -> ghl::Error {
    ghl::Error::Call(Failure::Permanent {
        detail: detail.into(),
    })
}
