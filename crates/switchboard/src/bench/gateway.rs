//! The gateway as the benchmarks run it: `server::run` in this process on a loopback port,
//! over a scratch store, with seeded tenants (each an agency, a GHL location, a SendBlue line
//! with local pacing off). Most benchmarks use one tenant, the 0th; `bench pacing` seeds many.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use domain::Provider;
use serde_json::json;
use store::repo::{Channel, Location, NewChannel, NewLocation};
use store::{Store, TenantScope};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

/// GHL's id for the benchmark location (GHL location ids are 20 characters).
pub(super) const GHL_LOCATION_ID: &str = "BenchLocation0000001";
pub(super) const GHL_COMPANY_ID: &str = "BenchCompany00000001";
pub(super) const CONVERSATION_PROVIDER_ID: &str = "64d0c0de00000000000000b1";
/// The SendBlue line: a number from the 555-01XX range kept for fiction.
pub(super) const LINE: &str = "+12025550100";
pub(super) const API_KEY_ID: &str = "bench_key";
pub(super) const API_SECRET_KEY: &str = "bench_secret";
pub(super) const SIGNING_SECRET: &str = "bench_whsec";

/// The names of the `k`-th benchmark tenant on both sides (GHL and SendBlue). The 0th is
/// the constants above.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct TenantNames {
    pub ghl_location_id: String,
    pub ghl_company_id: String,
    /// The tenant's SendBlue line, from the 555-01XX range upwards.
    pub line: String,
    /// Its own SendBlue account (the sandbox keeps one account per key id).
    pub api_key_id: String,
}

impl TenantNames {
    /// Tenants up to this many have distinct names (the lines run out after that).
    pub const MAX: usize = 9_900;

    pub fn nth(k: usize) -> Self {
        Self {
            ghl_location_id: format!("BenchLocation{:07}", k + 1),
            ghl_company_id: format!("BenchCompany{:08}", k + 1),
            line: format!("+1202555{:04}", 100 + k),
            api_key_id: if k == 0 {
                API_KEY_ID.to_string()
            } else {
                format!("{API_KEY_ID}_{k}")
            },
        }
    }
}

/// The benchmark's tenant, as stored.
#[derive(Debug, Clone)]
pub(super) struct Tenant {
    pub location: Location,
    pub channel: Channel,
}

/// The `c`-th contact's phone number (distinct for `c` below 10,000).
pub(super) fn contact_phone(c: u64) -> String {
    format!("+1415555{:04}", c % 10_000)
}

/// Seeds the 0th tenant: the agency, the location (with GHL tokens when given) and the
/// SendBlue channel, unpaced (`messages_per_second: 0`), sending to `api_base` when given.
pub(super) async fn seed(
    store: &Store,
    api_base: Option<String>,
    tokens: Option<(&str, &str)>,
) -> Result<Tenant> {
    seed_nth(store, 0, api_base, tokens).await
}

/// Seeds the `k`-th tenant (see [`TenantNames::nth`]) in its own agency, as [`seed`] does
/// the 0th.
pub(super) async fn seed_nth(
    store: &Store,
    k: usize,
    api_base: Option<String>,
    tokens: Option<(&str, &str)>,
) -> Result<Tenant> {
    let names = TenantNames::nth(k);
    let mut tx = store.begin().await?;
    let (agency_name, location_name) = if k == 0 {
        ("Bench agency".to_string(), "Bench location".to_string())
    } else {
        (format!("Bench agency {k}"), format!("Bench location {k}"))
    };
    let agency = store
        .upsert_agency(&mut tx, &agency_name, Some(&names.ghl_company_id))
        .await?;
    let location = store
        .create_location(
            &mut tx,
            &agency,
            &NewLocation {
                ghl_location_id: names.ghl_location_id.clone(),
                name: location_name,
                time_zone: None,
                conversation_provider_id: Some(CONVERSATION_PROVIDER_ID.into()),
            },
        )
        .await
        .context("registering the benchmark location")?;
    if let Some((access, refresh)) = tokens {
        let expires = store.db().now_ms() + 86_000_000;
        store
            .set_location_tokens(
                &mut tx,
                &TenantScope::for_location(&location),
                &location.id,
                access,
                refresh,
                Some(expires),
            )
            .await?;
    }
    let channel = store
        .create_channel(
            &mut tx,
            &location,
            &NewChannel {
                provider: Provider::Sendblue,
                line: names.line,
                credentials: BTreeMap::from([
                    ("api_key_id".to_string(), names.api_key_id),
                    ("api_secret_key".to_string(), API_SECRET_KEY.to_string()),
                    ("signing_secret".to_string(), SIGNING_SECRET.to_string()),
                ]),
                api_base,
                settings: json!({ server::connectors::PACE_SETTING: 0 }),
            },
        )
        .await?;
    tx.commit().await?;
    Ok(Tenant { location, channel })
}

/// A running gateway.
pub(super) struct Gateway {
    pub url: String,
    stop: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
    /// The configuration's data folder (nothing is written there: the store is given).
    _data: tempfile::TempDir,
}

impl Gateway {
    /// Binds a loopback port for a gateway; its URL is known before it starts.
    pub async fn bind() -> Result<(TcpListener, String)> {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .context("binding a loopback port for the gateway")?;
        let url = format!("http://{}", listener.local_addr()?);
        Ok((listener, url))
    }

    /// Starts `server::run` on `listener` over `store`, with the `SWITCHBOARD_*` settings in
    /// `env` (the data folder and public URL are set here). The gateway closes the store's
    /// connections when it stops.
    pub async fn start(
        store: Store,
        listener: TcpListener,
        env: &[(&str, String)],
        workers: bool,
    ) -> Result<Self> {
        let url = format!("http://{}", listener.local_addr()?);
        let data = tempfile::tempdir().context("creating a temporary folder")?;
        let mut settings = vec![
            (
                "SWITCHBOARD_DATA_DIR".to_string(),
                data.path().display().to_string(),
            ),
            ("SWITCHBOARD_PUBLIC_URL".to_string(), url.clone()),
            (
                "SWITCHBOARD_SHUTDOWN_GRACE_SECS".to_string(),
                "5".to_string(),
            ),
        ];
        settings.extend(env.iter().map(|(k, v)| (k.to_string(), v.clone())));
        let config = config::Config::load(None::<&Path>, settings)
            .context("the benchmark gateway's configuration")?
            .config;
        let state = server::AppState::new(store, Arc::new(config))
            .context("the benchmark's GHL webhook key")?;
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(server::run(
            state,
            server::Roles {
                http: Some(listener),
                workers,
            },
            async {
                let _ = stopped.await;
            },
        ));
        Ok(Self {
            url,
            stop,
            task,
            _data: data,
        })
    }

    /// Stops it (within the configured grace) and waits for it.
    pub async fn stop(self) -> Result<()> {
        let _ = self.stop.send(());
        tokio::time::timeout(Duration::from_secs(30), self.task)
            .await
            .context("the gateway did not stop within 30 s")?
            .context("the gateway task failed")?
            .context("the gateway failed")?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_0th_tenant_has_the_names_the_other_benchmarks_use() {
        let names = TenantNames::nth(0);
        assert_eq!(names.ghl_location_id, GHL_LOCATION_ID);
        assert_eq!(names.ghl_company_id, GHL_COMPANY_ID);
        assert_eq!(names.line, LINE);
        assert_eq!(names.api_key_id, API_KEY_ID);
        let last = TenantNames::nth(TenantNames::MAX - 1);
        assert_eq!(last.ghl_location_id.len(), 20);
        assert_eq!(last.ghl_company_id.len(), 20);
        assert_eq!(last.line, "+12025559999");
    }
}
