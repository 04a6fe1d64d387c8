//! Sending through a channel's provider.

use std::sync::Arc;
use std::time::Duration;

use channels::{Credentials, OutboundMessage, SendAccepted, VerifyFailure};
use domain::{ChannelId, Provider};
use outbound::{BreakerState, Call, Failure, Outbound, Rate};
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

/// How long a credential check may take: the caller (an API request) is waiting.
const VERIFY_TIMEOUT: Duration = Duration::from_secs(10);

/// The URL a provider posts a channel's webhooks to, and its status callbacks: on
/// `SWITCHBOARD_PUBLIC_URL`, never on a request's Host header.
pub fn webhook_url(public_url: &str, provider: Provider, channel: &ChannelId) -> String {
    format!(
        "{}/webhooks/{provider}/{channel}",
        public_url.trim_end_matches('/')
    )
}

/// Why credentials were not confirmed.
#[derive(Debug)]
pub enum Verification {
    /// The provider answered (refused) or could not answer (unavailable).
    Failed(VerifyFailure),
    /// The credentials or API base cannot even make the request (a SID of the wrong
    /// shape, an API base that is not a URL): the caller's input is wrong.
    Invalid(channels::ChannelError),
    /// No channel implementation for this provider in this build.
    Unsupported(Provider),
}

/// The breaker of a line's sends: the provider and the channel (its credentials), so one
/// account's trouble doesn't stop the others' traffic.
fn send_breaker_key(channel: &Channel) -> String {
    format!("{}:{}", channel.provider, channel.id)
}

/// A line's send breaker as people read it (see [`outbound::Breaker`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineBreaker {
    /// Sends go out; `failures` in a row so far, fewer than the threshold.
    Closed { failures: u32 },
    /// Sends wait, without using attempts, for about `retry_in`.
    Open { retry_in: Duration },
    /// The cool-down is over: the next send is the trial (or is under way).
    HalfOpen,
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
        webhook_url(&self.public_url, channel.provider, &channel.id)
    }

    /// The state of a line's send breaker in this process's executor, read without
    /// touching it. A line that has made no send here is closed.
    pub fn breaker(&self, channel: &Channel) -> LineBreaker {
        match self.outbound.breaker_state(&send_breaker_key(channel)) {
            None => LineBreaker::Closed { failures: 0 },
            Some(BreakerState::Closed { failures }) => LineBreaker::Closed { failures },
            Some(BreakerState::Open { until, .. }) => {
                let now = tokio::time::Instant::now();
                if now >= until {
                    LineBreaker::HalfOpen
                } else {
                    LineBreaker::Open {
                        retry_in: until - now,
                    }
                }
            }
            Some(BreakerState::HalfOpen { .. }) => LineBreaker::HalfOpen,
        }
    }

    /// Asks the provider whether `credentials` work, with the provider's one cheap,
    /// read-only call ([`channels::Channel::build_verify`]) through the shared executor:
    /// its timeouts, breaker and metrics, like a send. Nothing is stored here; the caller
    /// stores the credentials only on `Ok`. No answer at all (timeout, connection refused,
    /// open breaker) is [`VerifyFailure::Unavailable`]: it says nothing about the
    /// credentials.
    pub async fn verify(
        &self,
        provider: Provider,
        credentials: &Credentials,
        api_base_override: Option<&str>,
    ) -> Result<(), Verification> {
        let implementation =
            channels::for_provider(provider).ok_or(Verification::Unsupported(provider))?;
        let base = implementation
            .api_base(credentials, api_base_override)
            .map_err(Verification::Invalid)?;
        let request = implementation
            .build_verify(credentials, &base)
            .map_err(Verification::Invalid)?;
        // One breaker per provider for checks: credentials being tried have no channel
        // yet, and a provider that is down is down for every check.
        let call = Call::new(
            provider.as_str(),
            "verify_credentials",
            format!("{provider}:verify"),
        )
        .with_timeout(VERIFY_TIMEOUT);
        let response = self.outbound.execute(&call, request).await.map_err(|f| {
            Verification::Failed(VerifyFailure::Unavailable {
                detail: f.detail().to_string(),
            })
        })?;
        implementation
            .parse_verify(&response)
            .map_err(Verification::Failed)
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
            send_breaker_key(channel),
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
