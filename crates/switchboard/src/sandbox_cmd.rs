//! `switchboard sandbox`: the simulators alone, on their own port, for rehearsing against a
//! gateway that runs elsewhere (or for pointing an official SDK at them).

use std::path::Path;

use anyhow::{bail, Context, Result};
use sandbox::{Sandbox, SandboxOptions};

use crate::cli::SandboxArgs;
use crate::startup;

pub(crate) async fn run(config_path: Option<&Path>, args: SandboxArgs) -> Result<()> {
    // Only for logging: the simulators keep everything in memory.
    let _config = startup::load(config_path)?;
    let gateway = args.gateway.as_deref().map(gateway_url).transpose()?;
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {} (--listen)", args.listen))?;
    let base = format!("http://{}", listener.local_addr()?);
    let sandbox = Sandbox::new(SandboxOptions {
        gateway_base_url: gateway.clone(),
        ..SandboxOptions::default()
    });
    print_banner(&base, gateway.as_deref());
    tracing::info!(%base, gateway = gateway.as_deref().unwrap_or("none"), "sandbox listening");
    sandbox
        .serve(listener, startup::shutdown_signal())
        .await
        .context("the sandbox's HTTP server failed")?;
    tracing::info!("sandbox stopped");
    Ok(())
}

/// An http(s) base URL without a trailing slash.
fn gateway_url(raw: &str) -> Result<String> {
    let url = url::Url::parse(raw).with_context(|| format!("--gateway {raw:?} is not a URL"))?;
    if !matches!(url.scheme(), "http" | "https") {
        bail!("--gateway {raw:?} must be an http(s) URL");
    }
    Ok(raw.trim_end_matches('/').to_string())
}

fn print_banner(base: &str, gateway: Option<&str>) {
    println!("Switchboard sandbox on {base}");
    println!("  GHL API          {base}/ghl");
    println!("  SendBlue API     {base}/sendblue");
    println!("  Twilio API       {base}/twilio  (e.g. {base}/twilio/2010-04-01/Accounts/{{AccountSid}}/Messages.json)");
    println!("  WhatsApp API     {base}/whatsapp  (Graph API, e.g. {base}/whatsapp/v21.0/{{phone_number_id}}/messages)");
    println!("  UniPile API      {base}/unipile  (e.g. {base}/unipile/api/v1/chats)");
    println!("  media host       {base}/media  (PUT /_control/media/{{name}} to add a file)");
    println!("  control API      {base}/_control (GET /_control/health)");
    println!(
        "  GHL public key   GET {base}/_control/ghl/public-key  \
         (the gateway's SWITCHBOARD_GHL_WEBHOOK_PUBLIC_KEY; a new key at every start)"
    );
    match gateway {
        Some(url) => println!("  webhooks go to   {url}"),
        None => println!(
            "  webhooks go to   nowhere yet: PUT {base}/_control/gateway {{\"url\": \"http://…\"}}"
        ),
    }
    println!("Ctrl-C to stop.");
}
