//! The job kinds this server runs and how its worker pool is configured.
//!
//! No job kinds exist yet: the bridge (GHL ⇄ providers) adds `deliver` and
//! `sync_inbound` here. Until then a worker pool still does the queue's housekeeping:
//! reclaiming expired leases and purging finished jobs past their retention.

use store::worker::{Handlers, WorkerOptions};
use store::Store;

/// The handlers for every job kind this build knows.
pub fn handlers(_store: &Store) -> Handlers {
    Handlers::new()
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
