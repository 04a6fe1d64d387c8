//! `switchboard dlq list|retry`: the dead-letter queue for operators.

use std::path::Path;

use anyhow::{Context, Result};
use store::queue::JobId;

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
                let n = queue.replay_all(kind.as_deref()).await?;
                println!("replayed {n} dead job(s)");
            } else {
                for id in ids {
                    let job: JobId = id
                        .parse()
                        .with_context(|| format!("{id:?} is not a job id"))?;
                    if queue.replay(job).await? {
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
