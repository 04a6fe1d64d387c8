//! Prometheus metrics: the process-wide recorder and the `/metrics` page.
//!
//! Counters and histograms are recorded where things happen (`metrics::counter!` in the
//! queue, the HTTP layer). Queue depth is different: it lives in the database, shared by
//! every process, so it is read at scrape time.

use std::collections::HashSet;
use std::sync::{Mutex, OnceLock};

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use store::queue::JobState;

use crate::http::ApiError;
use crate::AppState;

/// Latency buckets in seconds, from a fast webhook (1 ms) to a slow provider (60 s).
const BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];

/// The process's recorder, installed on first use. A process has one global recorder;
/// tests that start several servers share it.
pub fn recorder() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), BUCKETS)
                .unwrap_or_else(|_| PrometheusBuilder::new());
            match builder.install_recorder() {
                Ok(handle) => handle,
                // Another recorder is already installed (an embedding program's): keep a
                // private one so /metrics still answers.
                Err(_) => PrometheusBuilder::new().build_recorder().handle(),
            }
        })
        .clone()
}

/// The `(kind, state)` depth gauges this process has published, so one that drops to
/// zero is reported as 0 instead of keeping its last value.
#[derive(Debug, Default)]
pub struct QueueGauges(Mutex<HashSet<(String, &'static str)>>);

/// `GET /metrics`: Prometheus text.
pub async fn metrics_page(State(state): State<AppState>) -> Result<impl IntoResponse, ApiError> {
    let depths = state.store.queue().depths().await?;
    let mut seen = state
        .gauges
        .0
        .lock()
        .map_err(|_| ApiError::internal("metrics lock poisoned"))?;
    let current: HashSet<(String, &'static str)> = depths
        .iter()
        .map(|(kind, s, _)| (kind.clone(), s.as_str()))
        .collect();
    for (kind, s) in seen.difference(&current) {
        metrics::gauge!("switchboard_queue_depth", "kind" => kind.clone(), "state" => *s).set(0.0);
    }
    for (kind, s, n) in &depths {
        metrics::gauge!("switchboard_queue_depth", "kind" => kind.clone(), "state" => s.as_str())
            .set(*n as f64);
    }
    seen.extend(current);
    drop(seen);
    let dead: i64 = depths
        .iter()
        .filter(|(_, s, _)| *s == JobState::Dead)
        .map(|(_, _, n)| n)
        .sum();
    metrics::gauge!("switchboard_dead_jobs").set(dead as f64);
    Ok((
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(),
    ))
}
