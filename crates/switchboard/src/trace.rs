//! `switchboard trace MESSAGE_ID`: a message's story, from webhook to final status.

use std::path::Path;

use anyhow::{Context, Result};
use domain::MessageId;
use serde_json::json;
use store::{StoreError, TenantScope};

use crate::cli::TraceArgs;
use crate::startup;

pub(crate) async fn run(config_path: Option<&Path>, args: TraceArgs) -> Result<()> {
    let id: MessageId = args
        .message_id
        .parse()
        .with_context(|| format!("{:?} is not a message id", args.message_id))?;
    let config = startup::load(config_path)?;
    let store = startup::open_store(&config).await?;
    let agency = match store.agency_of_message(&id).await {
        Err(StoreError::NotFound) => anyhow::bail!("no message {id}"),
        other => other?,
    };
    let scope = TenantScope::for_agency(&agency);
    let message = store.message(&scope, &id).await?;
    let timeline = store.message_timeline(&scope, &id).await?;
    if args.json {
        let events: Vec<_> = timeline
            .iter()
            .map(|e| json!({"at_ms": e.at_ms, "kind": e.kind, "detail": e.detail}))
            .collect();
        println!(
            "{}",
            json!({
                "message_id": message.id, "direction": message.direction, "actor": message.actor,
                "status": message.status, "error": message.error, "provider_message_id": message.provider_message_id,
                "ghl_message_id": message.ghl_message_id, "timeline": events,
            })
        );
    } else {
        println!(
            "{} {} by {}: {} ({} chars){}",
            message.id,
            message.direction,
            message.actor,
            message.status,
            message.body.chars().count(),
            message
                .error
                .as_deref()
                .map(|e| format!(", error: {e}"))
                .unwrap_or_default()
        );
        let start = timeline.first().map(|e| e.at_ms).unwrap_or(0);
        for event in &timeline {
            println!(
                "  +{:>8} ms  {:<16} {}",
                event.at_ms - start,
                event.kind,
                event.detail
            );
        }
    }
    store.db().close().await;
    Ok(())
}
