//! What every request handler can reach.

use std::sync::Arc;

use metrics_exporter_prometheus::PrometheusHandle;
use store::Store;

/// Shared by all handlers; cheap to clone.
#[derive(Debug, Clone)]
pub struct AppState {
    pub store: Store,
    pub config: Arc<config::Config>,
    /// GHL's webhook signing keys (the configured Ed25519 key and the legacy RSA key).
    pub ghl_keys: Arc<ghl::webhook::WebhookKeys>,
    /// Group commit for GHL's provider webhooks.
    pub(crate) outbound_intake: crate::webhooks::OutboundIntake,
    pub(crate) metrics: PrometheusHandle,
    pub(crate) gauges: Arc<crate::metrics::QueueGauges>,
}

impl AppState {
    /// Fails when the configured GHL webhook key is not a usable Ed25519 PEM. Starts the
    /// outbound intake task, so it must be called inside a tokio runtime.
    pub fn new(store: Store, config: Arc<config::Config>) -> Result<Self, ghl::Error> {
        let ghl_keys = ghl::webhook::WebhookKeys::with_ed25519(&config.ghl_webhook_public_key)?;
        Ok(Self {
            outbound_intake: crate::webhooks::OutboundIntake::start(store.clone()),
            store,
            config,
            ghl_keys: Arc::new(ghl_keys),
            metrics: crate::metrics::recorder(),
            gauges: Arc::default(),
        })
    }
}
