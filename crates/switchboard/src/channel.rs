//! `switchboard channel add`: connect a provider line to a location.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{anyhow, bail, Context, Result};
use domain::{LocationId, PhoneNumber, Provider};
use serde_json::json;
use store::repo::{Location, NewChannel};
use store::{Store, StoreError};

use crate::cli::ChannelAddArgs;
use crate::startup;

pub(crate) async fn add(config_path: Option<&Path>, args: ChannelAddArgs) -> Result<()> {
    let provider: Provider = args.provider.parse().map_err(|_| {
        let known: Vec<&str> = Provider::ALL.iter().map(|p| p.as_str()).collect();
        anyhow!(
            "--provider {:?} is not one of {}",
            args.provider,
            known.join(", ")
        )
    })?;
    let channel = channels::for_provider(provider)
        .ok_or_else(|| anyhow!("provider {provider} is not supported by this build yet"))?;
    let line = PhoneNumber::parse(&args.line).map_err(|e| anyhow!("--line: {e}"))?;
    let credentials = parse_credentials(&args.credentials)?;
    channel
        .validate_credentials(&channels::Credentials::from(credentials.clone()))
        .map_err(|e| anyhow!("--credential: {e}"))?;
    let api_base = args
        .api_base
        .as_deref()
        .map(validate_api_base)
        .transpose()?;
    let mut settings = json!({});
    if let Some(rate) = args.messages_per_second {
        if !rate.is_finite() || rate < 0.0 {
            bail!("--messages-per-second must be a number of at least 0");
        }
        settings[server::connectors::PACE_SETTING] = json!(rate);
    }
    if let Some(template) = &args.fallback_template {
        if channel.service_window().is_none() {
            bail!("--fallback-template: {provider} has no customer-service window; only WhatsApp takes a template");
        }
        settings[server::connectors::FALLBACK_TEMPLATE_SETTING] =
            server::connectors::fallback_template_setting(template)
                .map_err(|e| anyhow!("--fallback-template: {e}"))?;
    }

    let config = startup::load(config_path)?;
    let store = startup::open_store(&config).await?;
    let location = find_location(&store, &args.location).await?;
    let mut tx = store.begin().await?;
    let created = store
        .create_channel(
            &mut tx,
            &location,
            &NewChannel {
                provider,
                line: line.to_string(),
                credentials,
                api_base,
                settings,
            },
        )
        .await;
    let created = match created {
        Err(StoreError::Conflict(detail)) => bail!("{detail}"),
        other => other?,
    };
    store
        .audit(
            &mut tx,
            Some(&location.agency_id),
            "operator",
            "channel.add",
            Some(created.id.as_str()),
            json!({"provider": provider, "line": created.line}),
        )
        .await?;
    tx.commit().await?;
    let webhook_url = server::connectors::webhook_url(&config.public_url, provider, &created.id);
    if args.json {
        println!(
            "{}",
            json!({"channel_id": created.id, "location_id": location.id, "provider": provider, "line": created.line, "webhook_url": webhook_url})
        );
    } else {
        println!(
            "channel {} ({provider} {}) on location {}",
            created.id, created.line, location.id
        );
        println!("configure this webhook URL at {provider}: {webhook_url}");
    }
    store.db().close().await;
    Ok(())
}

/// `KEY=VALUE` pairs; a key given twice or an empty key is an error.
fn parse_credentials(pairs: &[String]) -> Result<BTreeMap<String, String>> {
    let mut credentials = BTreeMap::new();
    for pair in pairs {
        let (key, value) = pair
            .split_once('=')
            .ok_or_else(|| anyhow!("--credential {:?} is not KEY=VALUE", redact(pair)))?;
        let key = key.trim();
        if key.is_empty() {
            bail!("--credential has an empty key");
        }
        if credentials
            .insert(key.to_string(), value.to_string())
            .is_some()
        {
            bail!("--credential {key} is given twice");
        }
    }
    Ok(credentials)
}

/// Never echo a credential's value back: it may be a secret typed wrongly.
fn redact(pair: &str) -> String {
    pair.chars().take(3).chain("…".chars()).collect()
}

fn validate_api_base(raw: &str) -> Result<String> {
    let url = url::Url::parse(raw).with_context(|| format!("--api-base {raw:?} is not a URL"))?;
    if !matches!(url.scheme(), "http" | "https")
        || url.query().is_some()
        || url.fragment().is_some()
    {
        bail!("--api-base {raw:?} must be an http(s) URL without query or fragment");
    }
    Ok(raw.trim_end_matches('/').to_string())
}

/// The location by our id or by GHL's.
async fn find_location(store: &Store, given: &str) -> Result<Location> {
    let found = match given.parse::<LocationId>() {
        Ok(id) => store.location_for_operator(&id).await,
        Err(_) => store.location_by_ghl_id(given).await,
    };
    match found {
        Err(StoreError::NotFound) => {
            bail!("no location {given:?} (give our loc_… id or the GHL location id)")
        }
        other => Ok(other?),
    }
}
