//! `switchboard dlq list|retry`: the dead-letter queue for operators.

use std::path::Path;

use anyhow::{Context, Result};
use serde_json::{json, Value};
use store::queue::JobId;
use store::repo::NewAuditEntry;
use store::Store;

use crate::cli::DlqCommand;
use crate::startup;

pub(crate) async fn run(config_path: Option<&Path>, command: DlqCommand) -> Result<()> {
    let config = startup::load(config_path)?;
    let store = startup::open_store(&config).await?;
    let queue = store.queue();
    match command {
        DlqCommand::List { kind, limit, json } => {
            let dead = queue.dead_jobs(kind.as_deref(), limit).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&dead)?);
            } else if dead.is_empty() {
                println!("no dead jobs");
            } else {
                println!("{:<14} {:<16} {:>8}  last error", "id", "kind", "attempts");
                for job in dead {
                    let error = job.last_error.unwrap_or_default().replace('\n', " ");
                    println!(
                        "{:<14} {:<16} {:>8}  {}",
                        job.id, job.kind, job.attempts, error
                    );
                }
            }
        }
        DlqCommand::Retry { ids, all, kind } => {
            if all {
                let n = queue.replay_all(None, kind.as_deref()).await?;
                audit_replay(&store, "all", json!({"kind": kind, "jobs": n})).await?;
                println!("replayed {n} dead job(s)");
            } else {
                for id in ids {
                    let job: JobId = id
                        .parse()
                        .with_context(|| format!("{id:?} is not a job id"))?;
                    if queue.replay(job).await? {
                        audit_replay(&store, &job.to_string(), json!({})).await?;
                        println!("replayed {job}");
                    } else {
                        println!("{job} is not dead (already replayed, running or unknown); nothing done");
                    }
                }
            }
        }
    }
    store.db().close().await;
    Ok(())
}

/// Records a replay in the audit log (DESIGN: replays are security-relevant: they send
/// again). Jobs carry no tenant, so the entry is the operator's, outside any agency's log.
async fn audit_replay(store: &Store, target: &str, detail: Value) -> Result<()> {
    let writer = store.clone();
    let target = target.to_owned();
    store
        .write(move |tx| {
            Box::pin(async move {
                writer
                    .append_audit(
                        tx,
                        &NewAuditEntry {
                            agency_id: None,
                            actor: "operator:cli",
                            action: "dead_job.replayed",
                            target: Some(&target),
                            detail,
                            request_id: None,
                        },
                    )
                    .await
            })
        })
        .await
        .context("recording the replay in the audit log")?;
    Ok(())
}
