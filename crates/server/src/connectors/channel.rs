//! Sending through a channel's provider.

use std::sync::Arc;

use channels::{Credentials, OutboundMessage, SendAccepted};
use outbound::{Call, Failure, Outbound};
use store::repo::Channel;
use store::Store;

use crate::webhooks::line_pacing_key;

/// Sends messages on channels, each within its line's pace and behind its breaker.
#[derive(Debug, Clone)]
pub struct ChannelSender {
    outbound: Arc<Outbound>,
    public_url: String,
}

impl ChannelSender {
    pub fn new(outbound: Arc<Outbound>, public_url: String) -> Self {
        Self {
            outbound,
            public_url,
        }
    }

    /// Where the provider reports on a message: the channel's own webhook URL.
    pub fn webhook_url(&self, channel: &Channel) -> String {
        format!(
            "{}/webhooks/{}/{}",
            self.public_url, channel.provider, channel.id
        )
    }

    /// Sends one message; the provider's answer is read by the channel's module.
    pub async fn send(
        &self,
        store: &Store,
        channel: &Channel,
        message: &OutboundMessage,
    ) -> Result<SendAccepted, Failure> {
        let implementation =
            channels::for_provider(channel.provider).ok_or_else(|| Failure::Permanent {
                detail: format!(
                    "provider {} is not supported by this build",
                    channel.provider
                ),
            })?;
        let credentials = store
            .channel_credentials(channel)
            .await
            .map_err(|e| Failure::Retry {
                detail: format!("cannot read the channel's credentials: {e}"),
                after: None,
            })?;
        let credentials = Credentials::from(credentials);
        let base = channel
            .api_base
            .as_deref()
            .unwrap_or(implementation.default_api_base());
        let request = implementation
            .build_send(&credentials, base, message)
            .map_err(Failure::from)?;
        let call = Call::new(
            channel.provider.as_str(),
            "send_message",
            format!("{}:{}", channel.provider, channel.id),
        )
        .with_budget(
            line_pacing_key(&channel.id),
            implementation.pacing().per_line,
        );
        let response = self.outbound.execute(&call, request).await?;
        implementation.parse_send(&response)
    }
}
