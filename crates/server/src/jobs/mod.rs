//! The job kinds this server runs.
//!
//! - `deliver`: send an outbound message through its channel (flow 1).
//! - `sync_inbound`: post an inbound message to GHL, then act on STOP/START/HELP (flow 2).
//! - `sync_status`: mirror a message's status to GHL.
//! - `fail_in_ghl`: tell GHL a message it sent can't be delivered at all.
//! - `provision`: set up a Marketplace install's locations and their tokens.
//! - `ai_reply`: the AI answers a contact's message (flow 3).
//! - `ai_reactivate`: the AI back on a while after a handoff resolved without it.
//! - `billing_meter`: a day's usage reported to Stripe as meter events.
//! - `handoff_notice`, `handoff_email`: email the agents who may take a new handoff.
//! - `knowledge_ingest`: read a knowledge source (crawl, PDF, text) into passages.
//! - `retention`: daily; removes expired messages' content and purges uninstalled
//!   locations and agencies after their retention period.
//!
//! Every handler is idempotent, because a job whose worker died after its external call
//! runs again: it checks what is already recorded before calling, and records the result
//! right after. Every step lands on the message's timeline.

pub mod ai_reactivate;
pub mod ai_reply;
pub mod billing_meter;
mod deliver;
mod ghl_sync;
pub mod handoff_notice;
pub mod knowledge_ingest;
mod provision;
pub mod purge;
pub mod retention;

use std::future::Future;
use std::sync::Arc;

use outbound::Failure;
use serde::de::DeserializeOwned;
use store::queue::{Job, Outcome};
use store::worker::{Handlers, WorkerOptions};
use store::{Store, StoreError};

use crate::connectors::Connectors;
use crate::webhooks::{DELIVER, FAIL_IN_GHL, SYNC_INBOUND, SYNC_STATUS};

/// What handlers work with.
#[derive(Debug, Clone)]
pub struct JobContext {
    pub store: Store,
    pub connectors: Connectors,
    pub config: Arc<config::Config>,
    pub media: crate::media::Media,
    pub mailer: crate::mail::Mailer,
}

/// The handlers for every job kind this build knows.
pub fn handlers(ctx: JobContext) -> Handlers {
    Handlers::new()
        .on(DELIVER, run(&ctx, deliver::deliver))
        .on(SYNC_INBOUND, run(&ctx, ghl_sync::sync_inbound))
        .on(SYNC_STATUS, run(&ctx, ghl_sync::sync_status))
        .on(FAIL_IN_GHL, run(&ctx, ghl_sync::fail_in_ghl))
        .on(crate::install::PROVISION, run(&ctx, provision::provision))
        .on(retention::RETENTION, run(&ctx, retention::retention))
        .on(ai_reply::AI_REPLY, run(&ctx, ai_reply::ai_reply))
        .on(
            billing_meter::BILLING_METER,
            run(&ctx, billing_meter::billing_meter),
        )
        .on(
            ai_reactivate::AI_REACTIVATE,
            run(&ctx, ai_reactivate::ai_reactivate),
        )
        .on(
            handoff_notice::HANDOFF_NOTICE,
            run(&ctx, handoff_notice::handoff_notice),
        )
        .on(
            handoff_notice::HANDOFF_EMAIL,
            run(&ctx, handoff_notice::handoff_email),
        )
        .on(
            knowledge_ingest::KNOWLEDGE_INGEST,
            run(&ctx, knowledge_ingest::knowledge_ingest),
        )
}

/// Adapts `handler(ctx, job, payload)` to the pool: a payload that doesn't parse is a
/// permanent failure (dead-lettered for an operator), never a panic.
fn run<P, F, Fut>(
    ctx: &JobContext,
    handler: F,
) -> impl Fn(Job) -> std::pin::Pin<Box<dyn Future<Output = Outcome> + Send>> + Send + Sync + 'static
where
    P: DeserializeOwned + Send + 'static,
    F: Fn(JobContext, Job, P) -> Fut + Send + Sync + Copy + 'static,
    Fut: Future<Output = Outcome> + Send + 'static,
{
    let ctx = ctx.clone();
    move |job: Job| {
        let ctx = ctx.clone();
        Box::pin(async move {
            match serde_json::from_value::<P>(job.payload.clone()) {
                Ok(payload) => handler(ctx, job, payload).await,
                Err(e) => Outcome::Permanent {
                    error: format!("job payload is invalid: {e}"),
                },
            }
        })
    }
}

/// What a failed external call means for the job.
pub(crate) fn outcome_of(failure: Failure) -> Outcome {
    match failure {
        Failure::Retry { detail, after } => Outcome::Retry {
            error: detail,
            after,
        },
        Failure::RateLimited { detail, after } | Failure::BreakerOpen { detail, after } => {
            // Waiting for a budget or a breaker is not the job's failure: no attempt used.
            Outcome::RateLimited {
                error: detail,
                after,
            }
        }
        Failure::Permanent { detail } | Failure::OptedOut { detail } => {
            Outcome::Permanent { error: detail }
        }
    }
}

/// A storage error inside a handler: the database is having trouble, try again.
pub(crate) fn storage(e: StoreError) -> Outcome {
    Outcome::Retry {
        error: format!("storage: {e}"),
        after: None,
    }
}

/// Worker pool options from the configuration.
pub fn worker_options(config: &config::Config) -> WorkerOptions {
    WorkerOptions {
        concurrency: config.worker_concurrency,
        lease: config.job_lease(),
        shutdown_grace: config.shutdown_grace(),
        ..WorkerOptions::default()
    }
}
