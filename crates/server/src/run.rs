//! Running the HTTP server and the worker pool in one process, and stopping them.

use std::future::Future;
use std::io;

use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::{http, jobs, AppState};

/// Which parts a process runs: `serve` runs both, `serve --no-workers` only HTTP,
/// `worker` only the pool.
#[derive(Debug)]
pub struct Roles {
    /// Serve HTTP on this listener.
    pub http: Option<TcpListener>,
    /// Run the worker pool.
    pub workers: bool,
}

/// Runs until `shutdown` completes, then stops gracefully: the HTTP server stops
/// accepting and finishes in-flight requests, the pool finishes or releases its jobs,
/// both within the configured grace period.
pub async fn run(
    state: AppState,
    roles: Roles,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let (stop_tx, stop_rx) = watch::channel(false);
    tokio::spawn(async move {
        shutdown.await;
        let _ = stop_tx.send(true);
    });
    let grace = state.config.shutdown_grace();

    let pool = if roles.workers {
        // The daily retention run exists once whatever the number of processes asking.
        jobs::retention::schedule(&state.store)
            .await
            .map_err(|e| io::Error::other(format!("scheduling the retention job: {e}")))?;
        let context = jobs::JobContext {
            store: state.store.clone(),
            // The HTTP side's executor: one view per process of each API's health, which
            // the channels page shows.
            connectors: state.connectors.clone(),
            config: state.config.clone(),
            media: state.media.clone(),
            mailer: state.mailer.clone(),
        };
        state
            .workers_here
            .store(true, std::sync::atomic::Ordering::Relaxed);
        let pool = store::worker::WorkerPool::new(
            state.store.queue().clone(),
            jobs::handlers(context),
            jobs::worker_options(&state.config),
        );
        Some(tokio::spawn(pool.run(stopped(stop_rx.clone()))))
    } else {
        None
    };

    let server = match roles.http {
        Some(listener) => {
            let address = listener.local_addr()?;
            tracing::info!(%address, public_url = %state.config.public_url, "listening");
            let app = http::app(state.clone(), http::routes());
            // With the peer address, for per-address limits (sign-in).
            let app = app.into_make_service_with_connect_info::<std::net::SocketAddr>();
            let serve = axum::serve(listener, app).with_graceful_shutdown(stopped(stop_rx.clone()));
            Some(tokio::spawn(async move { serve.await }))
        }
        None => None,
    };

    stopped(stop_rx).await;
    tracing::info!(grace_secs = grace.as_secs(), "shutting down");
    if let Some(server) = server {
        // Requests still running after the grace period are cut off.
        match tokio::time::timeout(grace, server).await {
            Ok(Ok(Ok(()))) => {}
            Ok(Ok(Err(e))) => tracing::error!(error = %e, "HTTP server failed"),
            Ok(Err(e)) => tracing::error!(error = %e, "HTTP server task failed"),
            Err(_) => tracing::warn!("in-flight requests did not finish within the grace period"),
        }
    }
    if let Some(pool) = pool {
        match pool.await {
            Ok(Ok(report)) => tracing::info!(?report, "workers stopped"),
            Ok(Err(e)) => tracing::error!(error = %e, "worker pool failed"),
            Err(e) => tracing::error!(error = %e, "worker pool task failed"),
        }
    }
    state.store.db().close().await;
    tracing::info!("stopped");
    Ok(())
}

/// Completes once the stop flag is raised (or its sender is gone).
async fn stopped(mut rx: watch::Receiver<bool>) {
    let _ = rx.wait_for(|stop| *stop).await;
}
