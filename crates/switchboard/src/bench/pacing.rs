//! `switchboard bench pacing`: many locations' traffic against GHL's real rate limit, with
//! no 429 and the allowed rate used.
//!
//! The sandbox (GHL and SendBlue simulators, GHL enforcing its documented 100 requests per
//! 10 s per location as a sliding window, with `X-RateLimit-*` headers and 429s) and the
//! gateway (HTTP and workers, on a scratch database) run in this process on their own
//! loopback ports. `--locations` tenants are seeded on both sides, each an agency with one
//! GHL location (the app installed) and its own SendBlue line (local pacing off).
//!
//! Contacts write in: the benchmark asks the sandbox for `--messages` inbound messages
//! (`POST /_control/sendblue/inbound`, which posts SendBlue's receive webhook to the
//! gateway), spread over the locations in turn and, within a location, over `--contacts`
//! contacts in turn, at `--rate` per second, open loop up to 64 calls in flight (past that,
//! the load waits for the gateway to answer). The gateway stores each one and
//! enqueues `sync_inbound`, which posts it to GHL (`POST /conversations/messages/inbound`),
//! after finding or creating the contact in GHL the first time (a duplicate search, then an
//! upsert). The default rate is about twice what GHL lets 20 locations have, so the run is
//! bound by GHL's limit and the gateway's budget (100 requests per 10.25 s per location)
//! decides when each call goes.
//!
//! Measured at GHL: the benchmark serves the sandbox's router behind one more layer that
//! notes, for every GHL API request, its arrival `Instant`, its location (each location's
//! access token is chosen by the benchmark and names it) and the status GHL answered.
//!
//! - `ghl_429s`: requests GHL refused for the rate limit. Must be 0.
//! - `used_fraction`: how full GHL's 10 s window was, on average, over the location's busy
//!   period. A location's busy period runs from its first GHL request `t_first` to its last
//!   `t_last`; the window fill at time `t` is the number of accepted requests in
//!   `(t - 10 s, t]` divided by 100, and `used_fraction` is its mean over `t` in
//!   `[t_first + 10 s, t_last]`, the part of the busy period where a whole window fits. It is
//!   1.0 for a client that keeps GHL's window full, can't exceed 1.0 without 429s, and for
//!   a steady flow equals its rate over 10 per second. Our budget's 10.25 s window puts the
//!   ceiling at 10 / 10.25 ≈ 0.976. It is null for a location busy for 10 s or less.
//!   `used_fraction_overall` is the same mean over every location's busy period together.
//! - `lost`, `duplicated`, `misrouted`: from GHL's messages afterwards, each message's text
//!   must be in GHL exactly once, in its own location.
//!
//! The command fails (after printing its results) on any 429 or any message not in GHL
//! exactly once.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use axum::extract::{Request, State};
use axum::http::{header, Method};
use axum::middleware::Next;
use axum::response::Response;
use sandbox::{Sandbox, SandboxOptions};

use super::simulators::Simulators;
use serde_json::{json, Value};

use super::e2e::Control;
use super::gateway::{
    contact_phone, seed_nth, Gateway, TenantNames, API_SECRET_KEY, CONVERSATION_PROVIDER_ID,
    SIGNING_SECRET,
};
use super::{
    backend_name, cores, drop_scratch, peak_rss_mb, percentile, round, scratch_store,
    sqlite_synchronous,
};
use crate::cli::PacingBenchArgs;

/// Every message's text starts with this; its number follows.
const MARKER: &str = "bench pacing #";
/// GHL's documented burst limit per location, which the sandbox enforces.
const GHL_MAX: f64 = 100.0;
const GHL_WINDOW_SECS: f64 = 10.0;
/// Each location's access token is this followed by the location's number.
const TOKEN_PREFIX: &str = "bench-pacing-access-";
/// Give up waiting when messages are missing and GHL has heard nothing for this long.
const STALL: Duration = Duration::from_secs(30);
/// Once every message is in GHL, this much quiet before counting (a late duplicate shows).
const SETTLE: Duration = Duration::from_secs(1);
/// Longest a control call may take.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);
/// Most inbound control calls in flight. Past it, the load waits for the gateway rather than
/// piling up webhooks until the sandbox's 10 s webhook timeout cancels them mid-flight.
const IN_FLIGHT: usize = 64;

/// One GHL API request: when it arrived and what GHL answered.
#[derive(Debug, Clone, Copy)]
struct Hit {
    at: Instant,
    status: u16,
}

/// What the layer in front of GHL saw.
struct GhlWatch {
    /// Requests by location number.
    hits: Mutex<Vec<Vec<Hit>>>,
    /// Requests whose token names no benchmark location (a refreshed token, say).
    unattributed: AtomicU64,
    /// Inbound messages GHL accepted (`POST /conversations/messages/inbound`, 2xx).
    posted: AtomicU64,
    /// The latest request's arrival.
    last: Mutex<Option<Instant>>,
}

impl GhlWatch {
    fn new(locations: usize) -> Self {
        Self {
            hits: Mutex::new(vec![Vec::new(); locations]),
            unattributed: AtomicU64::new(0),
            posted: AtomicU64::new(0),
            last: Mutex::new(None),
        }
    }

    fn note(&self, location: Option<usize>, hit: Hit, posted: bool) {
        if posted {
            self.posted.fetch_add(1, Ordering::SeqCst);
        }
        if let Ok(mut last) = self.last.lock() {
            *last = Some(last.map_or(hit.at, |l| l.max(hit.at)));
        }
        let noted = location.is_some_and(|k| {
            self.hits
                .lock()
                .ok()
                .and_then(|mut hits| hits.get_mut(k).map(|h| h.push(hit)))
                .is_some()
        });
        if !noted {
            self.unattributed.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn last(&self) -> Option<Instant> {
        self.last.lock().ok().and_then(|l| *l)
    }
}

/// The layer in front of the sandbox: notes every GHL API request (OAuth aside, which has no
/// location budget) with its location and GHL's answer.
async fn watch_ghl(State(watch): State<Arc<GhlWatch>>, request: Request, next: Next) -> Response {
    let path = request.uri().path();
    if !path.starts_with("/ghl/") || path.starts_with("/ghl/oauth") {
        return next.run(request).await;
    }
    let at = Instant::now();
    let inbound = request.method() == Method::POST && path == "/ghl/conversations/messages/inbound";
    let location = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .and_then(|token| token.strip_prefix(TOKEN_PREFIX))
        .and_then(|k| k.parse::<usize>().ok());
    let response = next.run(request).await;
    let status = response.status();
    watch.note(
        location,
        Hit {
            at,
            status: status.as_u16(),
        },
        inbound && status.is_success(),
    );
    response
}

/// Mean fill of GHL's window over a busy period, as an integral: the number of requests
/// in `(t - W, t]` summed over `t` in `[first + W, last]` is the sum over requests of how
/// long each one stays in the window within that span. Returns (integral in
/// request-seconds, span in seconds), or `None` when no whole window fits.
fn window_fill(times: &[f64]) -> Option<(f64, f64)> {
    let (first, last) = (*times.first()?, *times.last()?);
    let (from, to) = (first + GHL_WINDOW_SECS, last);
    if to <= from {
        return None;
    }
    let integral = times
        .iter()
        .map(|&t| ((t + GHL_WINDOW_SECS).min(to) - t.max(from)).max(0.0))
        .sum();
    Some((integral, to - from))
}

/// What one run found, and whether it passed.
struct Outcome {
    result: Value,
    problems: Vec<String>,
}

pub(super) async fn run(args: PacingBenchArgs) -> Result<()> {
    if args.messages == 0 || !(1..=10_000).contains(&args.contacts) {
        bail!("--messages must be at least 1 and --contacts between 1 and 10000");
    }
    if !(1..=TenantNames::MAX).contains(&args.locations) {
        bail!("--locations must be between 1 and {}", TenantNames::MAX);
    }
    if !args.rate.is_finite() || args.rate <= 0.0 {
        bail!("--rate must be a positive number of messages per second");
    }
    let watch = Arc::new(GhlWatch::new(args.locations));

    // The sandbox, with GHL's documented limits, behind the watching layer.
    let simulators = Simulators::start(
        SandboxOptions {
            // Its request log is not used; keep it from growing with the run.
            record_limit: 100,
            ..SandboxOptions::default()
        },
        |router| {
            router.layer(axum::middleware::from_fn_with_state(
                watch.clone(),
                watch_ghl,
            ))
        },
    )
    .await?;
    let outcome = measure(&args, &simulators.sim, &simulators.url, watch).await;
    simulators.stop().await;
    let outcome = outcome?;
    println!("{}", outcome.result);
    if !outcome.problems.is_empty() {
        bail!("pacing failed: {}", outcome.problems.join("; "));
    }
    Ok(())
}

/// Seeds, starts the gateway, has the contacts write in, waits for GHL; the results.
async fn measure(
    args: &PacingBenchArgs,
    sim: &Sandbox,
    sandbox: &str,
    watch: Arc<GhlWatch>,
) -> Result<Outcome> {
    let http = reqwest::Client::builder()
        .no_proxy()
        .timeout(CALL_TIMEOUT)
        .build()
        .context("cannot build an HTTP client")?;
    let control = Control {
        http: http.clone(),
        base: sandbox.to_string(),
    };
    let locations = args.locations;
    let names: Vec<TenantNames> = (0..locations).map(TenantNames::nth).collect();

    // Both sides of every tenant: the app installed with tokens that name the location,
    // and a SendBlue account with the location's line.
    let mut tokens = Vec::with_capacity(locations);
    for (k, name) in names.iter().enumerate() {
        let (access, refresh) = (
            format!("{TOKEN_PREFIX}{k}"),
            format!("bench-pacing-refresh-{k}"),
        );
        control
            .post(
                "/ghl/locations",
                json!({
                    "locationId": name.ghl_location_id, "companyId": name.ghl_company_id,
                    "conversationProviderId": CONVERSATION_PROVIDER_ID,
                    "accessToken": access, "refreshToken": refresh,
                }),
            )
            .await?;
        control
            .post(
                "/sendblue/accounts",
                json!({
                    "apiKeyId": name.api_key_id, "apiSecretKey": API_SECRET_KEY,
                    "signingSecret": SIGNING_SECRET, "lines": [name.line],
                    "email": format!("bench{k}@sandbox.invalid"),
                }),
            )
            .await?;
        tokens.push((access, refresh));
    }
    let (store, scratch) = scratch_store(&args.database).await?;
    let started = async {
        let (listener, gateway_url) = Gateway::bind().await?;
        sim.set_gateway_base_url(Some(gateway_url.clone()));
        for (k, (access, refresh)) in tokens.iter().enumerate() {
            let tenant = seed_nth(
                &store,
                k,
                Some(format!("{sandbox}/sendblue")),
                Some((access, refresh)),
            )
            .await?;
            let url = format!("{gateway_url}/webhooks/sendblue/{}", tenant.channel.id);
            control
                .post(
                    "/sendblue/webhooks",
                    json!({"line": names[k].line, "url": url}),
                )
                .await?;
        }
        Gateway::start(
            store.clone(),
            listener,
            &[
                ("SWITCHBOARD_GHL_API_BASE", format!("{sandbox}/ghl")),
                (
                    "SWITCHBOARD_GHL_WEBHOOK_PUBLIC_KEY",
                    sim.ghl_public_key_pem(),
                ),
            ],
            true,
        )
        .await
    }
    .await;
    let gateway = match started {
        Ok(gateway) => gateway,
        Err(e) => {
            store.db().close().await;
            drop_scratch(scratch).await;
            return Err(e);
        }
    };

    // Contacts write in, open loop: message i from location i % L's contact (i / L) % C.
    let n = args.messages;
    let errors = Arc::new(AtomicU64::new(0));
    let first_error = Arc::new(Mutex::new(None::<String>));
    let url = format!("{sandbox}/_control/sendblue/inbound");
    let in_flight = Arc::new(tokio::sync::Semaphore::new(IN_FLIGHT));
    let started = tokio::time::Instant::now();
    let mut calls = Vec::new();
    for i in 0..n {
        tokio::time::sleep_until(started + Duration::from_secs_f64(i as f64 / args.rate)).await;
        let permit = in_flight
            .clone()
            .acquire_owned()
            .await
            .context("the in-flight limit closed")?;
        let k = (i % locations as u64) as usize;
        let body = json!({
            "line": names[k].line,
            "from": contact_phone(i / locations as u64 % args.contacts),
            "content": format!("{MARKER}{i}"),
        });
        let (http, url, errors, first_error) = (
            http.clone(),
            url.clone(),
            errors.clone(),
            first_error.clone(),
        );
        calls.push(tokio::spawn(async move {
            let _permit = permit;
            let problem = match http.post(&url).json(&body).send().await {
                Ok(response) => {
                    let status = response.status();
                    let answer: Value = response.json().await.unwrap_or(Value::Null);
                    (!status.is_success() || answer["gatewayStatus"] != 200)
                        .then(|| format!("{status}: {answer}"))
                }
                Err(e) => Some(e.to_string()),
            };
            if let Some(problem) = problem {
                errors.fetch_add(1, Ordering::Relaxed);
                if let Ok(mut first) = first_error.lock() {
                    first.get_or_insert(problem);
                }
            }
        }));
    }
    let fired_seconds = started.elapsed().as_secs_f64();
    for call in calls {
        let _ = tokio::time::timeout(CALL_TIMEOUT, call).await;
    }

    // Wait for GHL to have every message, or for GHL to hear nothing for a while.
    let fired_at = Instant::now();
    loop {
        let quiet = watch.last().map_or(fired_at, |l| l.max(fired_at)).elapsed();
        let posted = watch.posted.load(Ordering::SeqCst);
        if (posted >= n && quiet >= SETTLE) || quiet >= STALL {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    sim.shutdown();
    let stopped = gateway.stop().await;
    drop_scratch(scratch).await;
    stopped?;

    // Every message in GHL exactly once, in its own location.
    let mut copies = vec![0_u32; usize::try_from(n).context("--messages is too large")?];
    let mut misrouted = 0_u64;
    for message in sim.ghl_messages() {
        let Some(i) = message["body"]
            .as_str()
            .and_then(|b| b.strip_prefix(MARKER))
            .and_then(|i| i.parse::<u64>().ok())
            .filter(|&i| i < n)
        else {
            continue;
        };
        copies[i as usize] += 1;
        let k = (i % locations as u64) as usize;
        if message["locationId"] != names[k].ghl_location_id.as_str() {
            misrouted += 1;
        }
    }
    let lost = copies.iter().filter(|&&c| c == 0).count();
    let duplicated: u64 = copies.iter().map(|&c| u64::from(c.saturating_sub(1))).sum();

    // GHL's view, per location.
    let hits = watch.hits.lock().map(|h| h.clone()).unwrap_or_default();
    let first_fired = started.into_std();
    let mut requests = 0_usize;
    let mut refused = 0_usize;
    let mut failed = 0_usize;
    let mut fractions = Vec::new();
    let mut busy = Vec::new();
    let mut per_location = Vec::new();
    let (mut integral_sum, mut span_sum) = (0.0, 0.0);
    let mut last_hit = first_fired;
    for location in &hits {
        requests += location.len();
        refused += location.iter().filter(|h| h.status == 429).count();
        failed += location
            .iter()
            .filter(|h| h.status != 429 && !(200..300).contains(&h.status))
            .count();
        let mut times: Vec<f64> = location
            .iter()
            .filter(|h| h.status != 429)
            .map(|h| h.at.duration_since(first_fired).as_secs_f64())
            .collect();
        times.sort_by(f64::total_cmp);
        if let Some(last) = location.iter().map(|h| h.at).max() {
            last_hit = last_hit.max(last);
        }
        if let (Some(first), Some(last)) = (times.first(), times.last()) {
            busy.push(last - first);
        }
        per_location.push(location.len() as f64);
        if let Some((integral, span)) = window_fill(&times) {
            fractions.push(integral / (GHL_MAX * span));
            integral_sum += integral;
            span_sum += span;
        }
    }
    fractions.sort_by(f64::total_cmp);
    busy.sort_by(f64::total_cmp);
    per_location.sort_by(f64::total_cmp);
    let fraction = |f: Option<f64>| f.map(round);
    let errors = errors.load(Ordering::Relaxed);
    if errors > 0 {
        let first = first_error.lock().ok().and_then(|mut f| f.take());
        tracing::warn!(
            errors,
            first = first.unwrap_or_default(),
            "control calls failed"
        );
    }
    let unattributed = watch.unattributed.load(Ordering::Relaxed);
    let result = json!({
        "bench": "pacing",
        "backend": backend_name(args.database.backend),
        "sqlite_synchronous": sqlite_synchronous(&args.database),
        "messages": n,
        "locations": locations,
        "contacts_per_location": args.contacts.min(n.div_ceil(locations as u64)),
        "rate": args.rate,
        "seconds": round(last_hit.duration_since(first_fired).as_secs_f64()),
        "fired_seconds": round(fired_seconds),
        "ghl_requests": requests,
        "ghl_429s": refused,
        "ghl_errors": failed,
        "ghl_unattributed": unattributed,
        "ghl_requests_per_location_median": percentile(&per_location, 0.5),
        "busy_seconds_median": round(percentile(&busy, 0.5)),
        "used_fraction_min": fraction(fractions.first().copied()),
        "used_fraction_median": fraction((!fractions.is_empty()).then(|| percentile(&fractions, 0.5))),
        "used_fraction_overall": fraction((span_sum > 0.0).then(|| integral_sum / (GHL_MAX * span_sum))),
        "locations_measured": fractions.len(),
        "lost": lost,
        "duplicated": duplicated,
        "misrouted": misrouted,
        "errors": errors,
        "peak_rss_mb": peak_rss_mb(),
        "cores": cores(),
    });
    let mut problems = Vec::new();
    if refused > 0 {
        problems.push(format!("GHL answered 429 to {refused} requests"));
    }
    if lost > 0 {
        problems.push(format!("{lost} messages never reached GHL"));
    }
    if duplicated > 0 {
        problems.push(format!("{duplicated} extra copies of messages in GHL"));
    }
    if misrouted > 0 {
        problems.push(format!("{misrouted} messages in another location"));
    }
    Ok(Outcome { result, problems })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_window_throughout_is_a_fraction_of_one() {
        // 10 per second, evenly, for a minute: GHL's window always holds 100.
        let times: Vec<f64> = (0..600).map(|i| f64::from(i) / 10.0).collect();
        let (integral, span) = window_fill(&times).unwrap_or_default();
        assert!((integral / (GHL_MAX * span) - 1.0).abs() < 0.01);
    }

    #[test]
    fn bursts_every_10_25_s_fill_the_window_40_parts_in_41() {
        // 100 at once every 10.25 s (our budget against an idle backlog).
        let times: Vec<f64> = (0..6)
            .flat_map(|b| std::iter::repeat_n(f64::from(b) * 10.25, 100))
            .collect();
        let (integral, span) = window_fill(&times).unwrap_or_default();
        let fill = integral / (GHL_MAX * span);
        assert!((fill - 10.0 / 10.25).abs() < 0.01, "{fill}");
    }

    #[test]
    fn no_fraction_without_a_whole_window() {
        assert!(window_fill(&[0.0, 5.0, 10.0]).is_none());
        assert!(window_fill(&[]).is_none());
    }
}
