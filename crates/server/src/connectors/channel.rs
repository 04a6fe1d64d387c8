//! Sending through a channel's provider.

use std::sync::Arc;

use channels::{Credentials, OutboundMessage, SendAccepted};
use outbound::{Call, Failure, Outbound, Rate};
use store::repo::Channel;
use store::Store;

use crate::webhooks::line_pacing_key;

/// The channel setting that overrides a line's send rate: messages per second, a
/// positive number (fractions allowed: `0.5` is one every two seconds), or `0` for no local
/// pacing (the provider's own limits still apply, and their 429s still defer jobs).
pub const PACE_SETTING: &str = "messages_per_second";

/// A line's pace: the channel's `messages_per_second` setting, else the provider's default.
/// `None` means unpaced.
pub fn line_rate(settings: &serde_json::Value, default: Rate) -> Option<Rate> {
    match settings
        .get(PACE_SETTING)
        .and_then(serde_json::Value::as_f64)
    {
        Some(per_second) if per_second <= 0.0 => None,
        Some(per_second) if per_second >= 1.0 => Some(Rate {
            max: per_second.round().min(f64::from(u32::MAX)) as u32,
            interval: std::time::Duration::from_secs(1),
        }),
        Some(per_second) => Some(Rate {
            max: 1,
            interval: std::time::Duration::from_secs_f64(1.0 / per_second),
        }),
        None => Some(default),
    }
}

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
        let base = implementation
            .api_base(&credentials, channel.api_base.as_deref())
            .map_err(Failure::from)?;
        let request = implementation
            .build_send(&credentials, &base, message)
            .map_err(Failure::from)?;
        let mut call = Call::new(
            channel.provider.as_str(),
            "send_message",
            format!("{}:{}", channel.provider, channel.id),
        );
        if let Some(rate) = line_rate(&channel.settings, implementation.pacing().per_line) {
            call = call.with_budget(line_pacing_key(&channel.id), rate);
        }
        let response = self.outbound.execute(&call, request).await?;
        implementation.parse_send(&response)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use serde_json::json;

    use super::*;

    #[test]
    fn a_lines_pace_comes_from_its_settings_or_the_provider() {
        let default = Rate {
            max: 1,
            interval: Duration::from_secs(1),
        };
        assert_eq!(line_rate(&json!({}), default), Some(default));
        assert_eq!(line_rate(&json!({"messages_per_second": 0}), default), None);
        assert_eq!(
            line_rate(&json!({"messages_per_second": 3}), default),
            Some(Rate {
                max: 3,
                interval: Duration::from_secs(1)
            })
        );
        assert_eq!(
            line_rate(&json!({"messages_per_second": 0.5}), default),
            Some(Rate {
                max: 1,
                interval: Duration::from_secs(2)
            })
        );
        assert_eq!(
            line_rate(&json!({"messages_per_second": "fast"}), default),
            Some(default)
        );
    }
}
