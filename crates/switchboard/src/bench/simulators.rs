//! The sandbox as the end-to-end benchmarks run it: in this process on a loopback port,
//! behind one more layer of the benchmark's own that watches what the simulators receive.

use std::time::Duration;

use anyhow::{Context, Result};
use axum::Router;
use sandbox::{Sandbox, SandboxOptions};
use tokio::sync::oneshot;

/// A running sandbox and how to stop it.
pub(super) struct Simulators {
    pub sim: Sandbox,
    /// Its base URL.
    pub url: String,
    stop: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Simulators {
    /// Serves `options`' simulators with `watch` around their router.
    pub async fn start(
        options: SandboxOptions,
        watch: impl FnOnce(Router) -> Router,
    ) -> Result<Self> {
        let sim = Sandbox::new(options);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .context("binding a loopback port for the sandbox")?;
        let url = format!("http://{}", listener.local_addr()?);
        let router = watch(sim.router());
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn({
            let sim = sim.clone();
            async move {
                axum::serve(listener, router)
                    .with_graceful_shutdown(async move {
                        let _ = stopped.await;
                        sim.shutdown();
                    })
                    .await
            }
        });
        Ok(Self {
            sim,
            url,
            stop,
            task,
        })
    }

    /// Stops the sandbox; problems are logged, not returned (the measurement is done).
    pub async fn stop(self) {
        let _ = self.stop.send(());
        match tokio::time::timeout(Duration::from_secs(10), self.task).await {
            Ok(Ok(Ok(()))) => {}
            Ok(Ok(Err(e))) => tracing::warn!(error = %e, "the sandbox failed"),
            Ok(Err(e)) => tracing::warn!(error = %e, "the sandbox task failed"),
            Err(_) => tracing::warn!("the sandbox did not stop within 10 s"),
        }
    }
}
