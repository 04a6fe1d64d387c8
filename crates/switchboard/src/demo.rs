//! `switchboard demo`: the whole gateway on one machine, with nothing real behind it.
//!
//! The gateway runs as `serve` does (HTTP and workers) on SQLite in its own data folder; the
//! sandbox simulators (GHL and the providers) run in the same process on their own loopback port and
//! stand in for the vendors: the GHL API base and webhook key point at the sandbox, and the
//! seeded channels' `api_base` too (one line per provider). Seeding is idempotent, so the demo can be stopped
//! and started again on the same folder. A short scripted exchange (a contact writes in, a
//! GHL user replies) leaves something to look at. The AI answers contacts with the
//! sandbox's model (scripted answers, else an echo) unless `SWITCHBOARD_OPENAI_API_KEY`
//! names a real one.
//!
//! The demo keeps to its folder: it ignores the settings that would point it at a real
//! installation (`SWITCHBOARD_DATABASE_URL`, the master keys, the data folder, the listen
//! address and public URL, the GHL API and key) and reads no `--config` file. Other
//! `SWITCHBOARD_*` settings (logging, worker tuning) apply as usual.

mod agent;
mod lines;
mod script;
mod seed;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{ensure, Context, Result};
use config::Config;
use sandbox::{Sandbox, SandboxOptions};
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::{oneshot, watch};

use crate::cli::DemoArgs;
use crate::startup;

/// Settings the demo decides itself (by suffix after `SWITCHBOARD_`); inherited values of
/// these, and of their `_FILE` forms, are dropped.
const DEMO_OWNED: &[&str] = &[
    "DATA_DIR",
    "DATABASE_URL",
    "LISTEN",
    "PUBLIC_URL",
    "MASTER_KEY",
    "PREVIOUS_MASTER_KEYS",
    "GHL_API_BASE",
    "GHL_WEBHOOK_PUBLIC_KEY",
    "OBJECT_STORE_URL",
    "MEDIA_ALLOW_INTERNAL_HOSTS",
];

pub(crate) async fn run(config_path: Option<&Path>, args: DemoArgs) -> Result<()> {
    // Bind both ports first: a port in use fails before anything is written, and port 0
    // resolves to the real address every URL is built from.
    let gateway_listener = TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {} (--listen)", args.listen))?;
    let listen = gateway_listener.local_addr()?;
    let sandbox_listener = TcpListener::bind(args.sandbox_listen)
        .await
        .with_context(|| {
            format!(
                "cannot listen on {} (--sandbox-listen)",
                args.sandbox_listen
            )
        })?;
    let sandbox_base = format!("http://{}", sandbox_listener.local_addr()?);
    let sandbox = Sandbox::new(SandboxOptions::default());

    let env = demo_env(
        std::env::vars_os(),
        &args.data_dir,
        listen,
        &sandbox_base,
        &sandbox.ghl_public_key_pem(),
    )?;
    let config =
        startup::start(Config::load(None::<&Path>, env).context("invalid configuration")?)?;
    if config_path.is_some() {
        tracing::warn!("the demo reads no --config file: it keeps to its own data folder");
    }

    let (stop_tx, stop_rx) = watch::channel(false);
    tokio::spawn(async move {
        startup::shutdown_signal().await;
        let _ = stop_tx.send(true);
    });
    // The sandbox outlives the gateway: workers finishing their jobs still talk to it.
    let (sandbox_stop, sandbox_stopped) = oneshot::channel::<()>();
    let sandbox_task = tokio::spawn(sandbox.clone().serve(sandbox_listener, async move {
        let _ = sandbox_stopped.await;
    }));

    tracing::info!(data_dir = %config.data_dir.display(), database = %config.database_url, "demo data folder");
    let store = startup::migrated_store(&config).await?;
    let control = Control::new(&sandbox_base)?;
    let seeded = seed::seed(&store, &control, &config.public_url, &sandbox_base).await?;
    agent::seed_agent(&store, &control, &seeded.scope).await?;
    sandbox.set_gateway_base_url(Some(config.public_url.clone()));

    let config = Arc::new(config);
    let state = server::AppState::new(store.clone(), config.clone())
        .context("the sandbox's GHL webhook key")?;
    let server_task = tokio::spawn(server::run(
        state,
        server::Roles {
            http: Some(gateway_listener),
            workers: true,
        },
        stopped(stop_rx.clone()),
    ));

    let exchange = script::run(&store, &control, &seeded).await;
    if !*stop_rx.borrow() {
        print_banner(&config, &args.data_dir, &sandbox_base, &seeded, &exchange);
    }

    let served = server_task.await;
    let _ = sandbox_stop.send(());
    match tokio::time::timeout(Duration::from_secs(10), sandbox_task).await {
        Ok(Ok(Ok(()))) => tracing::info!("sandbox stopped"),
        Ok(Ok(Err(e))) => tracing::error!(error = %e, "the sandbox's HTTP server failed"),
        Ok(Err(e)) => tracing::error!(error = %e, "the sandbox task failed"),
        Err(_) => tracing::warn!("the sandbox did not stop within 10 s"),
    }
    served
        .context("the gateway task failed")?
        .context("the gateway failed")?;
    Ok(())
}

async fn stopped(mut rx: watch::Receiver<bool>) {
    let _ = rx.wait_for(|stop| *stop).await;
}

/// The process's `SWITCHBOARD_*` variables, less those the demo owns, plus the demo's own.
fn demo_env(
    vars: impl IntoIterator<Item = (std::ffi::OsString, std::ffi::OsString)>,
    data_dir: &Path,
    listen: SocketAddr,
    sandbox_base: &str,
    ghl_public_key: &str,
) -> Result<Vec<(String, String)>> {
    let mut env = Vec::new();
    for (name, value) in vars {
        let name = name.to_string_lossy().into_owned();
        let Some(rest) = name.strip_prefix("SWITCHBOARD_") else {
            continue;
        };
        let setting = rest.strip_suffix("_FILE").unwrap_or(rest);
        if DEMO_OWNED.contains(&setting) {
            continue;
        }
        let value = value
            .into_string()
            .map_err(|_| anyhow::anyhow!("{name} is not valid UTF-8"))?;
        env.push((name, value));
    }
    let data_dir = data_dir.to_str().context("--data-dir is not valid UTF-8")?;
    ensure!(!data_dir.trim().is_empty(), "--data-dir is empty");
    env.extend([
        ("SWITCHBOARD_DATA_DIR".to_string(), data_dir.to_string()),
        ("SWITCHBOARD_LISTEN".to_string(), listen.to_string()),
        (
            "SWITCHBOARD_PUBLIC_URL".to_string(),
            format!("http://{listen}"),
        ),
        (
            "SWITCHBOARD_GHL_API_BASE".to_string(),
            format!("{sandbox_base}/ghl"),
        ),
        (
            "SWITCHBOARD_GHL_WEBHOOK_PUBLIC_KEY".to_string(),
            ghl_public_key.to_string(),
        ),
        // The sandbox's media host is on loopback, which media downloads otherwise refuse.
        (
            "SWITCHBOARD_MEDIA_ALLOW_INTERNAL_HOSTS".to_string(),
            "true".to_string(),
        ),
    ]);
    // The AI answers with the sandbox's model, unless a key for a real one was given.
    let own_model = env
        .iter()
        .any(|(name, _)| name.starts_with("SWITCHBOARD_OPENAI_API_KEY"));
    if !own_model {
        env.retain(|(name, _)| {
            !name.starts_with("SWITCHBOARD_OPENAI_API_BASE")
                && !name.starts_with("SWITCHBOARD_OPENAI_EMBEDDING_MODEL")
        });
        env.extend([
            (
                "SWITCHBOARD_OPENAI_API_BASE".to_string(),
                format!("{sandbox_base}/openai"),
            ),
            (
                "SWITCHBOARD_OPENAI_API_KEY".to_string(),
                sandbox::OPENAI_SANDBOX_KEY.to_string(),
            ),
            // The sandbox's deterministic embeddings: the knowledge base searches by
            // vector too, as it would with a real model.
            (
                "SWITCHBOARD_OPENAI_EMBEDDING_MODEL".to_string(),
                "text-embedding-3-small".to_string(),
            ),
        ]);
    }
    Ok(env)
}

/// A client of the sandbox's control API.
#[derive(Debug)]
pub(crate) struct Control {
    http: reqwest::Client,
    base: String,
}

impl Control {
    fn new(base: &str) -> Result<Self> {
        let http = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(15))
            .build()
            .context("cannot build an HTTP client")?;
        Ok(Self {
            http,
            base: base.to_string(),
        })
    }

    /// `POST /_control{path}` with a JSON body; the JSON answer, or an error unless 2xx.
    pub(crate) async fn post(&self, path: &str, body: Value) -> Result<Value> {
        let request = self
            .http
            .post(format!("{}/_control{path}", self.base))
            .json(&body);
        Self::answer("POST", path, request).await
    }

    /// `GET /_control{path}`; the JSON answer, or an error unless 2xx.
    pub(crate) async fn get(&self, path: &str) -> Result<Value> {
        let request = self.http.get(format!("{}/_control{path}", self.base));
        Self::answer("GET", path, request).await
    }

    async fn answer(method: &str, path: &str, request: reqwest::RequestBuilder) -> Result<Value> {
        let response = request
            .send()
            .await
            .with_context(|| format!("sandbox {method} /_control{path}"))?;
        let status = response.status();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        ensure!(
            status.is_success(),
            "sandbox {method} /_control{path} answered {status}: {body}"
        );
        Ok(body)
    }
}

fn print_banner(
    config: &Config,
    data_dir: &Path,
    sandbox: &str,
    seeded: &seed::Seeded,
    exchange: &script::Exchange,
) {
    let gateway = &config.public_url;
    let dir = data_dir.display();
    println!();
    println!(
        "Switchboard demo: the gateway, a simulated GHL and simulated providers, on this machine."
    );
    println!();
    println!("Gateway");
    println!("  URL            {gateway}");
    println!("  dashboard      {gateway}/login (sign in with the login below)");
    println!("  the AI         {gateway}/knowledge (its knowledge base) and {gateway}/settings/agent (strategy, model, calendar)");
    println!("  readiness      {gateway}/readyz");
    println!("  metrics        {gateway}/metrics");
    println!("  data folder    {dir} (SQLite database, master.key)");
    println!(
        "  login          {} / {} (agency admin, a new password each run; the API signs in at POST {gateway}/api/v1/auth/login)",
        seeded.login.0, seeded.login.1
    );
    println!();
    println!(
        "Sandbox (in this process; each vendor's API under its prefix: /ghl, /sendblue, /twilio, /whatsapp, /unipile, /openai)"
    );
    println!("  URL            {sandbox}");
    println!("  health         GET  {sandbox}/_control/health");
    println!("  a contact      POST {sandbox}/_control/sendblue/inbound");
    println!("  a GHL user     POST {sandbox}/_control/ghl/outbound");
    println!("  GHL's view     GET  {sandbox}/_control/ghl/messages");
    println!("  bookings       GET  {sandbox}/_control/ghl/appointments");
    println!("  SendBlue's     GET  {sandbox}/_control/sendblue/messages");
    println!("  received       GET  {sandbox}/_control/{{ghl,sendblue,webhooks}}/requests");
    println!("  faults         POST {sandbox}/_control/faults");
    println!(
        "  the AI's model POST {sandbox}/_control/openai/script (its next answers; else it echoes)"
    );
    println!();
    println!("Seeded");
    println!("  agency         {}", seeded.agency_id);
    println!(
        "  location       {} (GHL location {}, conversation provider {})",
        seeded.location_id,
        seed::GHL_LOCATION_ID,
        seeded.conversation_provider_id.as_deref().unwrap_or("none")
    );
    for line in &seeded.lines {
        println!(
            "  channel        {} ({}, line {})",
            line.channel_id, line.provider, line.line
        );
        println!("    webhook      {}", line.webhook_url);
    }
    println!("  contact        {}", seed::CONTACT);
    println!();
    println!("Scripted exchange");
    for step in [&exchange.inbound, &exchange.outbound] {
        println!("  {}", step.summary());
    }
    let ids: Vec<&str> = [&exchange.inbound, &exchange.outbound]
        .into_iter()
        .filter_map(|s| s.message_id.as_deref())
        .collect();
    match ids.first() {
        Some(id) => {
            println!("  a message's timeline (another terminal, while the demo runs or after):");
            println!("    SWITCHBOARD_DATA_DIR={dir} switchboard trace {id}");
        }
        None => println!(
            "  no message was stored: see the log above; `switchboard trace msg_…` shows one"
        ),
    }
    println!();
    println!("Try next");
    println!("  # the contact writes again (SendBlue posts the webhook to the gateway)");
    println!(
        "  curl -s {sandbox}/_control/sendblue/inbound -H 'content-type: application/json' \\\n    -d '{{\"line\": \"{}\", \"from\": \"{}\", \"content\": \"Can I bring a friend?\"}}'",
        seed::LINE,
        seed::CONTACT
    );
    println!("  # a GHL user replies (GHL posts the signed provider webhook to the gateway)");
    println!(
        "  curl -s {sandbox}/_control/ghl/outbound -H 'content-type: application/json' \\\n    -d '{{\"locationId\": \"{}\", \"phone\": \"{}\", \"message\": \"Of course!\"}}'",
        seed::GHL_LOCATION_ID,
        seed::CONTACT
    );
    if let Some(whatsapp) = seeded
        .lines
        .iter()
        .find(|l| l.provider == domain::Provider::Whatsapp)
    {
        println!("  # a contact writes on another line (twilio and unipile take the same body)");
        println!(
            "  curl -s {sandbox}/_control/whatsapp/inbound -H 'content-type: application/json' \\\n    -d '{{\"line\": \"{}\", \"from\": \"+12025550198\", \"body\": \"Hola!\"}}'",
            whatsapp.line
        );
    }
    println!("  # what reached GHL, and what SendBlue was asked to send");
    println!("  curl -s {sandbox}/_control/ghl/messages");
    println!("  curl -s {sandbox}/_control/sendblue/messages");
    println!();
    println!("Ctrl-C to stop.");
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_overrides_what_it_owns_and_keeps_the_rest() {
        let vars = [
            ("SWITCHBOARD_DATABASE_URL", "postgres://db.invalid/x"),
            ("SWITCHBOARD_MASTER_KEY_FILE", "/nowhere"),
            ("SWITCHBOARD_LOG", "debug"),
            ("PATH", "/bin"),
        ]
        .map(|(k, v)| (k.into(), v.into()));
        let env = demo_env(
            vars,
            Path::new("demo-data"),
            "127.0.0.1:8080".parse().unwrap(),
            "http://127.0.0.1:9",
            "PEM",
        )
        .unwrap();
        let names: Vec<&str> = env.iter().map(|(k, _)| k.as_str()).collect();
        assert!(!names.contains(&"SWITCHBOARD_DATABASE_URL"), "{names:?}");
        assert!(!names.contains(&"SWITCHBOARD_MASTER_KEY_FILE"), "{names:?}");
        assert!(!names.contains(&"PATH"), "{names:?}");
        assert!(env.contains(&("SWITCHBOARD_LOG".into(), "debug".into())));
        assert!(env.contains(&(
            "SWITCHBOARD_GHL_API_BASE".into(),
            "http://127.0.0.1:9/ghl".into()
        )));
        assert!(env.contains(&(
            "SWITCHBOARD_PUBLIC_URL".into(),
            "http://127.0.0.1:8080".into()
        )));
        assert!(env.contains(&(
            "SWITCHBOARD_OPENAI_API_BASE".into(),
            "http://127.0.0.1:9/openai".into()
        )));
    }

    #[test]
    fn a_key_for_a_real_model_keeps_the_ai_on_it() {
        let vars = [
            ("SWITCHBOARD_OPENAI_API_KEY", "sk-real"),
            (
                "SWITCHBOARD_OPENAI_API_BASE",
                "https://openrouter.ai/api/v1",
            ),
        ]
        .map(|(k, v)| (k.into(), v.into()));
        let env = demo_env(
            vars,
            Path::new("demo-data"),
            "127.0.0.1:8080".parse().unwrap(),
            "http://127.0.0.1:9",
            "PEM",
        )
        .unwrap();
        assert!(env.contains(&("SWITCHBOARD_OPENAI_API_KEY".into(), "sk-real".into())));
        assert!(env.contains(&(
            "SWITCHBOARD_OPENAI_API_BASE".into(),
            "https://openrouter.ai/api/v1".into()
        )));
        assert_eq!(
            env.iter()
                .filter(|(k, _)| k.starts_with("SWITCHBOARD_OPENAI"))
                .count(),
            2
        );
    }
}
