//! `billing_meter`: a day's usage reported to Stripe as Billing meter events (flow 6).
//!
//! Queued by the daily `retention` run for the day before (one job per day, unique), when
//! `SWITCHBOARD_STRIPE_API_KEY` is set. For every agency linked to a Stripe customer it
//! counts the day's messages, SMS segments and AI replies from the message records (the
//! same counts as the usage pages) and sends one meter event per non-zero count, to the
//! meters named [`METERS`] (create meters with these event names in Stripe).
//!
//! Only a day that is over is reported. Sent once per period whatever happens: each event's `identifier` is
//! `{agency}:{day}:{meter}` (and its `Idempotency-Key` the same), and Stripe keeps one
//! event per identifier. So a retry after a failure, or a rerun after the process died
//! mid-send, sends the same identifiers again and Stripe counts each once; no local
//! bookkeeping can fall out of step with it.

use outbound::Call;
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use serde_json::json;
use store::queue::{Job, NewJob, Outcome};
use store::repo::{UsageRange, DAY_MS};
use store::TenantScope;

use super::{outcome_of, storage, JobContext};

pub const BILLING_METER: &str = "billing_meter";

/// The meters' event names in Stripe.
pub const METERS: [&str; 3] = [
    "switchboard_messages",
    "switchboard_sms_segments",
    "switchboard_ai_replies",
];

#[derive(Debug, Serialize, Deserialize)]
pub struct BillingMeter {
    /// The UTC day reported, in days since the Unix epoch.
    pub day: i64,
}

/// The job reporting `day`, and its unique key.
pub fn job(day: i64) -> (NewJob, String) {
    (
        NewJob::new(BILLING_METER, json!(BillingMeter { day })),
        format!("{BILLING_METER}:{day}"),
    )
}

pub(super) async fn billing_meter(ctx: JobContext, _job: Job, p: BillingMeter) -> Outcome {
    let Some(key) = ctx.config.stripe_api_key.as_ref() else {
        tracing::info!(day = p.day, "no Stripe API key: usage is not reported");
        return Outcome::Completed;
    };
    let agencies = match ctx.store.billed_agencies().await {
        Ok(agencies) => agencies,
        Err(e) => return storage(e),
    };
    // A day is reported once it is over: Stripe keeps the first event of an identifier,
    // so a partial count sent early could never be corrected.
    if p.day >= ctx.store.now_ms().div_euclid(DAY_MS) {
        tracing::warn!(day = p.day, "a day is metered only once it is over");
        return Outcome::Completed;
    }
    let base = ctx.config.stripe_api_base.trim_end_matches('/');
    // The period's last second: Stripe files the event into the day it measures, and a
    // rerun sends the very same request (the same Idempotency-Key must carry it).
    let timestamp = (p.day + 1) * (DAY_MS / 1000) - 1;
    for (agency, customer) in agencies {
        let scope = TenantScope::for_agency(&agency);
        let range = UsageRange {
            first_day: p.day,
            last_day: p.day,
        };
        let usage = match ctx.store.usage(&scope, range).await {
            Ok(usage) => usage,
            Err(e) => return storage(e),
        };
        let totals = usage.rows.iter().fold([0i64; 3], |mut t, row| {
            t[0] += row.messages;
            t[1] += row.sms_segments;
            t[2] += row.ai_replies;
            t
        });
        for (meter, value) in METERS.iter().zip(totals) {
            let Ok(value) = u64::try_from(value) else {
                continue;
            };
            if value == 0 {
                continue;
            }
            let identifier = format!("{}:{}:{meter}", agency.id, p.day);
            let request = billing::meter_event_request(
                base,
                key.expose_secret(),
                meter,
                &customer,
                value,
                &identifier,
                timestamp,
            );
            let call = Call::new("stripe", "meter_event", format!("stripe:{base}"));
            let sent = ctx
                .connectors
                .outbound
                .execute(&call, request)
                .await
                .and_then(|response| billing::parse_meter_event(&response));
            if let Err(failure) = sent {
                return outcome_of(failure);
            }
        }
    }
    Outcome::Completed
}
