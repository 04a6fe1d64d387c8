//! The demo's lines: one channel per provider the sandbox simulates, each registered in our
//! database and in its simulator alike, so every channel kind can be tried end to end.
//!
//! Adding a provider to the demo is one entry in [`LINES`], its credentials in
//! [`new_credentials`] and its simulator account in [`register_in_sandbox`].

use std::collections::BTreeMap;

use anyhow::{Context, Result};
use domain::{AgencyId, ChannelId, Provider};
use serde_json::json;
use store::repo::{Location, NewChannel};
use store::{Store, TenantScope};

use super::Control;

/// The demo's lines: numbers from the 555-01XX range kept for fiction.
pub(crate) const LINES: &[(Provider, &str)] = &[
    (Provider::Sendblue, "+12025550100"),
    (Provider::Twilio, "+12025550101"),
    (Provider::Whatsapp, "+12025550102"),
    (Provider::Unipile, "+12025550103"),
];

/// A seeded line.
#[derive(Debug, Clone)]
pub(crate) struct SeededLine {
    pub provider: Provider,
    pub line: &'static str,
    pub channel_id: ChannelId,
    pub webhook_url: String,
}

/// Our channel for `line` (reused on a re-run, its credentials read back and its API base
/// pointed at this run's sandbox), then the same account in the sandbox, which starts empty
/// every time.
pub(crate) async fn seed_line(
    store: &Store,
    control: &Control,
    location: &Location,
    agency: &AgencyId,
    (provider, line): (Provider, &'static str),
    public_url: &str,
    sandbox_base: &str,
) -> Result<SeededLine> {
    let scope = TenantScope::for_location(location);
    let api_base = format!("{sandbox_base}/{provider}");
    let existing = store
        .channels(&scope)
        .await?
        .into_iter()
        .find(|c| c.provider == provider && c.line == line);
    let (channel, credentials) = match existing {
        Some(channel) => {
            let credentials = store
                .channel_credentials(&channel)
                .await
                .with_context(|| format!("reading the demo {provider} channel's credentials"))?;
            // This run's sandbox may listen on another port than the last run's.
            let channel = if channel.api_base.as_deref() != Some(api_base.as_str()) {
                let mut tx = store.begin().await?;
                let channel = store
                    .set_channel_api_base(&mut tx, &scope, &channel.id, Some(&api_base))
                    .await
                    .context("pointing the demo channel at this run's sandbox")?;
                tx.commit().await?;
                channel
            } else {
                channel
            };
            tracing::info!(channel = %channel.id, %provider, "demo channel reused");
            (channel, credentials)
        }
        None => {
            let credentials = new_credentials(provider);
            let mut tx = store.begin().await?;
            let channel = store
                .create_channel(
                    &mut tx,
                    location,
                    &NewChannel {
                        provider,
                        line: line.to_string(),
                        credentials: credentials.clone(),
                        api_base: Some(api_base.clone()),
                        settings: json!({}),
                    },
                )
                .await?;
            store
                .audit(
                    &mut tx,
                    Some(agency),
                    "demo",
                    "channel.add",
                    Some(channel.id.as_str()),
                    json!({"provider": provider, "line": line}),
                )
                .await?;
            tx.commit().await?;
            tracing::info!(channel = %channel.id, %provider, "demo channel created");
            (channel, credentials)
        }
    };
    let webhook_url = server::connectors::webhook_url(public_url, provider, &channel.id);
    register_in_sandbox(control, provider, line, &credentials, &webhook_url).await?;
    Ok(SeededLine {
        provider,
        line,
        channel_id: channel.id,
        webhook_url,
    })
}

/// Throwaway credentials in each provider's shape: good enough for the sandbox, which is
/// all they open.
fn new_credentials(provider: Provider) -> BTreeMap<String, String> {
    let pairs: Vec<(&str, String)> = match provider {
        Provider::Sendblue => vec![
            ("api_key_id", random("demo_key")),
            ("api_secret_key", random("demo_secret")),
            ("signing_secret", random("demo_whsec")),
        ],
        Provider::Twilio => vec![
            ("account_sid", format!("AC{}", hex32())),
            ("auth_token", hex32()),
        ],
        Provider::Unipile => vec![
            // The sandbox is reached through the channel's `api_base`, which wins over the DSN.
            ("dsn", "api1.unipile.com:13111".to_string()),
            ("api_key", random("demo_unipile")),
            ("account_id", random("demo_account")),
            ("webhook_secret", random("demo_whsec")),
        ],
        Provider::Whatsapp => vec![
            // Meta's phone number ids are numeric.
            (
                "phone_number_id",
                format!("{}", ulid::Ulid::new().0 % 10u128.pow(15)),
            ),
            ("access_token", random("EAAdemo")),
            ("app_secret", random("demo_app_secret")),
            ("verify_token", random("demo_verify")),
        ],
    };
    pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}

/// The provider's account in the sandbox, with the line and where its webhooks go.
async fn register_in_sandbox(
    control: &Control,
    provider: Provider,
    line: &str,
    credentials: &BTreeMap<String, String>,
    webhook_url: &str,
) -> Result<()> {
    let credential = |key: &str| credentials.get(key).cloned().unwrap_or_default();
    match provider {
        Provider::Sendblue => {
            control
                .post(
                    "/sendblue/accounts",
                    json!({
                        "apiKeyId": credential("api_key_id"),
                        "apiSecretKey": credential("api_secret_key"),
                        "signingSecret": credential("signing_secret"),
                        "lines": [line],
                        "email": "demo@sandbox.invalid",
                    }),
                )
                .await?;
        }
        Provider::Twilio => {
            control
                .post(
                    "/twilio/accounts",
                    json!({
                        "accountSid": credential("account_sid"),
                        "authToken": credential("auth_token"),
                        "lines": [line],
                    }),
                )
                .await?;
        }
        Provider::Unipile => {
            control
                .post(
                    "/unipile/accounts",
                    json!({
                        "line": line,
                        "accountId": credential("account_id"),
                        "apiKey": credential("api_key"),
                        "webhookSecret": credential("webhook_secret"),
                    }),
                )
                .await?;
        }
        Provider::Whatsapp => {
            control
                .post(
                    "/whatsapp/accounts",
                    json!({
                        "line": line,
                        "phoneNumberId": credential("phone_number_id"),
                        "accessToken": credential("access_token"),
                        "appSecret": credential("app_secret"),
                    }),
                )
                .await?;
        }
    }
    control
        .post(
            &format!("/{provider}/webhooks"),
            json!({"line": line, "url": webhook_url}),
        )
        .await?;
    Ok(())
}

/// A throwaway credential with a recognisable prefix.
fn random(prefix: &str) -> String {
    format!("{prefix}_{}", ulid::Ulid::new().to_string().to_lowercase())
}

/// 32 random lowercase hex digits (Twilio's SID and token shape).
fn hex32() -> String {
    format!("{:032x}", ulid::Ulid::new().0)
}
