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
    /// Stored attachments and their signed links.
    pub media: crate::media::Media,
    /// Outgoing email (invitations, password resets, notices).
    pub mailer: crate::mail::Mailer,
    /// The HTTP side's calls to GHL (the install callback's code exchange).
    pub(crate) ghl_outbound: Arc<outbound::Outbound>,
    /// The HTTP side's calls to channel providers: credential checks before a channel is
    /// connected or its credentials rotated. Shares `ghl_outbound`'s executor.
    pub(crate) channel_calls: crate::connectors::ChannelSender,
    /// Sign-in: access token keys, the per-address sign-in limiter.
    pub auth: crate::auth::Auth,
    /// The real-time hub behind `/ws`.
    pub live: crate::live::Live,
    /// The executor and connectors this process's workers use ([`crate::run`] hands them
    /// to the pool), so the channels page reads the breakers of the sends made here.
    pub(crate) connectors: crate::connectors::Connectors,
    /// Whether this process runs the worker pool: without it, no send is made here and
    /// its breakers say nothing about the lines (set by [`crate::run`]).
    pub(crate) workers_here: Arc<std::sync::atomic::AtomicBool>,
}

/// Why the server's state could not be built.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("SWITCHBOARD_GHL_WEBHOOK_PUBLIC_KEY: {0}")]
    GhlKey(#[from] ghl::Error),
    #[error(transparent)]
    Media(#[from] crate::media::MediaError),
    #[error(transparent)]
    Mail(#[from] crate::mail::MailError),
    #[error(transparent)]
    Http(#[from] std::io::Error),
}

impl AppState {
    /// Fails when the configured GHL webhook key is not a usable Ed25519 PEM, the media
    /// store cannot be opened, or the mail server URL or sender is unusable. Starts the
    /// outbound intake task, so it must be called inside a tokio runtime.
    pub fn new(store: Store, config: Arc<config::Config>) -> Result<Self, StartError> {
        let ghl_keys = ghl::webhook::WebhookKeys::with_ed25519(&config.ghl_webhook_public_key)?;
        let media = crate::media::Media::from_config(&config, &store)?;
        let mailer = crate::mail::Mailer::from_config(&config)?;
        let connectors = crate::connectors::Connectors::new(&config)?;
        Ok(Self {
            ghl_outbound: connectors.outbound.clone(),
            channel_calls: connectors.channels.clone(),
            connectors,
            workers_here: Arc::default(),
            auth: crate::auth::Auth::new(store.keys(), &config),
            media,
            mailer,
            outbound_intake: crate::webhooks::OutboundIntake::start(store.clone()),
            live: crate::live::Live::new(store.clone()),
            store,
            config,
            ghl_keys: Arc::new(ghl_keys),
            metrics: crate::metrics::recorder(),
            gauges: Arc::default(),
        })
    }

    /// The same state on another media store (tests point one at a local S3 server).
    pub fn with_media(mut self, media: crate::media::Media) -> Self {
        self.media = media;
        self
    }
}
