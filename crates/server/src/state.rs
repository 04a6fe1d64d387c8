//! What every request handler can reach.

use std::sync::Arc;

use metrics_exporter_prometheus::PrometheusHandle;
use store::Store;

/// Shared by all handlers; cheap to clone.
#[derive(Debug, Clone)]
pub struct AppState {
    pub store: Store,
    pub config: Arc<config::Config>,
    pub(crate) metrics: PrometheusHandle,
    pub(crate) gauges: Arc<crate::metrics::QueueGauges>,
}

impl AppState {
    pub fn new(store: Store, config: Arc<config::Config>) -> Self {
        Self {
            store,
            config,
            metrics: crate::metrics::recorder(),
            gauges: Arc::default(),
        }
    }
}
