//! Connectors: GHL and the channel providers as the job handlers use them. They join the
//! sans-IO protocol crates (`ghl`, `channels`) to the shared `outbound` executor and to
//! the store (tokens, credentials).

mod channel;
mod ghl_agency;
mod ghl_session;
mod window;

use std::sync::Arc;

pub use channel::{line_rate, webhook_url, ChannelSender, LineBreaker, Verification, PACE_SETTING};
pub use ghl_session::Ghl;
use outbound::{BreakerPolicy, Outbound};
pub use window::{
    decide as decide_window, fallback_template_setting, WindowDecision, FALLBACK_TEMPLATE_SETTING,
};

/// Everything the job handlers call out with. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Connectors {
    pub outbound: Arc<Outbound>,
    pub ghl: Ghl,
    pub channels: ChannelSender,
}

impl Connectors {
    /// Fails only when the HTTP client can't be built (no TLS support).
    pub fn new(config: &config::Config) -> std::io::Result<Self> {
        let policy = BreakerPolicy {
            threshold: config.breaker_threshold,
            cooldown: config.breaker_cooldown(),
            max_cooldown: config.breaker_cooldown() * 20,
        };
        let outbound = Outbound::new(policy)
            .map_err(|e| std::io::Error::other(format!("cannot build the HTTP client: {e}")))?;
        let outbound = Arc::new(outbound);
        outbound.read_budget_headers("ghl", |headers| {
            let limit = ghl::api::RateLimit::from_headers(headers)?;
            Some(outbound::BudgetReading {
                remaining: u32::try_from(limit.remaining?).unwrap_or(u32::MAX),
                reset_in: None,
            })
        });
        Ok(Self {
            ghl: Ghl::new(outbound.clone(), config),
            channels: ChannelSender::new(outbound.clone(), config.public_url.clone()),
            outbound,
        })
    }
}
