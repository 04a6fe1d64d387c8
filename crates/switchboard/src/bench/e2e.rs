//! `switchboard bench e2e`: a GHL user's message to the simulated SendBlue, through the whole
//! gateway.
//!
//! The sandbox (GHL and SendBlue simulators) and the gateway (HTTP and workers, on a scratch
//! database) run in this process on their own loopback ports, with one tenant seeded on both
//! sides: a GHL location with the app installed, a SendBlue line with local pacing off. The
//! benchmark asks the sandbox for `--messages` GHL outbound messages (`POST
//! /_control/ghl/outbound`, which signs GHL's provider webhook and posts it to the gateway) at
//! `--rate` per second, open loop: message `i` is fired at `i / rate` seconds whether or not
//! earlier ones are done. The gateway stores it and enqueues `deliver`, a worker claims the
//! job and sends it to the simulated SendBlue.
//!
//! Latency is from just before the control call is made to the moment the simulated SendBlue
//! receives the send. The sandbox's own request log stamps arrivals to the millisecond, too
//! coarse for a 2 ms target, so the benchmark serves the sandbox's router behind one more
//! layer that notes the `Instant` each `send-message` request arrives, and finds the message
//! by its text. Both instants come from the same monotonic clock.
//!
//! SendBlue's status callbacks (SENT, then DELIVERED, `--callback-delay-ms` apart) go back to
//! the gateway as they would in production, and the status updates they cause queue up behind
//! the location's GHL budget (100 requests / 10 s): that traffic shares the database with the
//! send path. `--no-callbacks` drops the callbacks to measure the send path alone.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};
use axum::body::Body;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use sandbox::{FaultKind, FaultSpec, Sandbox, SandboxOptions};

use super::simulators::Simulators;
use serde_json::{json, Value};

use super::gateway::{
    contact_phone, seed, Gateway, API_KEY_ID, API_SECRET_KEY, CONVERSATION_PROVIDER_ID,
    GHL_COMPANY_ID, GHL_LOCATION_ID, LINE, SIGNING_SECRET,
};
use super::{
    backend_name, cores, drop_scratch, peak_rss_mb, percentile, round, scratch_store,
    sqlite_synchronous,
};
use crate::cli::E2eBenchArgs;

/// Every message's text starts with this; its number follows.
const MARKER: &str = "bench e2e #";
/// How long to wait, after the last message was fired, for the rest to reach SendBlue.
const DRAIN: Duration = Duration::from_secs(30);
/// Longest a control call may take.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// When each message was fired and when SendBlue received it.
struct Clocks {
    fired: Mutex<Vec<Option<Instant>>>,
    answered: Mutex<Vec<Option<Instant>>>,
    received: Mutex<Vec<Option<Instant>>>,
    received_count: AtomicU64,
}

impl Clocks {
    fn new(n: usize) -> Self {
        Self {
            fired: Mutex::new(vec![None; n]),
            answered: Mutex::new(vec![None; n]),
            received: Mutex::new(vec![None; n]),
            received_count: AtomicU64::new(0),
        }
    }

    fn set(slots: &Mutex<Vec<Option<Instant>>>, i: usize, at: Instant) -> bool {
        let Ok(mut slots) = slots.lock() else {
            return false;
        };
        match slots.get_mut(i) {
            Some(slot @ None) => {
                *slot = Some(at);
                true
            }
            _ => false,
        }
    }

    /// Notes a send's arrival (the first one only: a retried send is not a new arrival).
    fn receive(&self, i: usize, at: Instant) {
        if Self::set(&self.received, i, at) {
            self.received_count.fetch_add(1, Ordering::SeqCst);
        }
    }
}

/// The layer in front of the sandbox: stamps each SendBlue `send-message` on arrival.
async fn stamp_sends(State(clocks): State<Arc<Clocks>>, request: Request, next: Next) -> Response {
    let at = Instant::now();
    if !request.uri().path().ends_with("/sendblue/api/send-message") {
        return next.run(request).await;
    }
    let (parts, body) = request.into_parts();
    let bytes = axum::body::to_bytes(body, 1 << 20)
        .await
        .unwrap_or_default();
    let index = serde_json::from_slice::<Value>(&bytes).ok().and_then(|v| {
        v["content"]
            .as_str()
            .and_then(|c| c.strip_prefix(MARKER))
            .and_then(|n| n.parse::<usize>().ok())
    });
    if let Some(i) = index {
        clocks.receive(i, at);
    }
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

/// A client of the sandbox's control API.
#[derive(Debug, Clone)]
pub(super) struct Control {
    pub http: reqwest::Client,
    pub base: String,
}

impl Control {
    /// `POST /_control{path}` with a JSON body; the JSON answer, or an error unless 2xx.
    pub async fn post(&self, path: &str, body: Value) -> Result<Value> {
        let response = self
            .http
            .post(format!("{}/_control{path}", self.base))
            .json(&body)
            .send()
            .await
            .with_context(|| format!("sandbox POST /_control{path}"))?;
        let status = response.status();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        ensure!(
            status.is_success(),
            "sandbox POST /_control{path} answered {status}: {body}"
        );
        Ok(body)
    }
}

pub(super) async fn run(args: E2eBenchArgs) -> Result<()> {
    if args.messages == 0 || !(1..=10_000).contains(&args.contacts) {
        bail!("--messages must be at least 1 and --contacts between 1 and 10000");
    }
    if !args.rate.is_finite() || args.rate <= 0.0 {
        bail!("--rate must be a positive number of messages per second");
    }
    let n = usize::try_from(args.messages).context("--messages is too large")?;
    let clocks = Arc::new(Clocks::new(n));

    // The sandbox, behind the stamping layer.
    let simulators = Simulators::start(
        SandboxOptions {
            sendblue_callback_delay: Duration::from_millis(args.callback_delay_ms),
            // Its request log is not used; keep it from growing with the run.
            record_limit: 100,
            ..SandboxOptions::default()
        },
        |router| {
            router.layer(axum::middleware::from_fn_with_state(
                clocks.clone(),
                stamp_sends,
            ))
        },
    )
    .await?;
    let result = measure(&args, &simulators.sim, &simulators.url, clocks).await;
    simulators.stop().await;
    println!("{}", result?);
    Ok(())
}

/// Seeds, starts the gateway, fires the messages and waits for them; the JSON result.
async fn measure(
    args: &E2eBenchArgs,
    sim: &Sandbox,
    sandbox: &str,
    clocks: Arc<Clocks>,
) -> Result<Value> {
    let http = reqwest::Client::builder()
        .no_proxy()
        .timeout(CALL_TIMEOUT)
        .build()
        .context("cannot build an HTTP client")?;
    let control = Control {
        http: http.clone(),
        base: sandbox.to_string(),
    };

    // Both sides of the tenant.
    let install = control
        .post(
            "/ghl/locations",
            json!({
                "locationId": GHL_LOCATION_ID, "companyId": GHL_COMPANY_ID,
                "conversationProviderId": CONVERSATION_PROVIDER_ID,
            }),
        )
        .await?;
    let token = |key: &str| {
        install[key]
            .as_str()
            .map(str::to_owned)
            .with_context(|| format!("the sandbox's install has no {key}: {install}"))
    };
    let (access, refresh) = (token("accessToken")?, token("refreshToken")?);
    control
        .post(
            "/sendblue/accounts",
            json!({
                "apiKeyId": API_KEY_ID, "apiSecretKey": API_SECRET_KEY,
                "signingSecret": SIGNING_SECRET, "lines": [LINE], "email": "bench@sandbox.invalid",
            }),
        )
        .await?;
    let mut contacts = Vec::new();
    let wanted: Vec<u64> = (0..args.contacts.min(args.messages)).collect();
    for chunk in wanted.chunks(16) {
        let mut made = tokio::task::JoinSet::new();
        for &c in chunk {
            let control = control.clone();
            made.spawn(async move {
                let phone = contact_phone(c);
                let created = control
                    .post(
                        "/ghl/contacts",
                        json!({"locationId": GHL_LOCATION_ID, "phone": phone}),
                    )
                    .await?;
                let id = created["contact"]["id"]
                    .as_str()
                    .map(str::to_owned)
                    .with_context(|| {
                        format!("the sandbox made a contact without an id: {created}")
                    })?;
                Ok::<_, anyhow::Error>((c, id, phone))
            });
        }
        while let Some(contact) = made.join_next().await {
            contacts.push(contact??);
        }
    }
    contacts.sort();
    let contacts: Vec<(String, String)> = contacts
        .into_iter()
        .map(|(_, id, phone)| (id, phone))
        .collect();
    let (store, scratch) = scratch_store(&args.database).await?;
    let started = async {
        let tenant = seed(
            &store,
            Some(format!("{sandbox}/sendblue")),
            Some((&access, &refresh)),
        )
        .await?;
        let (listener, gateway_url) = Gateway::bind().await?;
        sim.set_gateway_base_url(Some(gateway_url.clone()));
        let webhook_url = format!("{gateway_url}/webhooks/sendblue/{}", tenant.channel.id);
        control
            .post(
                "/sendblue/webhooks",
                json!({"line": LINE, "url": webhook_url}),
            )
            .await?;
        if args.no_callbacks {
            sim.add_fault(FaultSpec {
                target: "webhooks".into(),
                path_prefix: Some("/webhooks/sendblue".into()),
                kind: FaultKind::Outage,
                probability: None,
                duration_ms: None,
            })
            .map_err(|e| anyhow::anyhow!("the sandbox refused the callback outage: {e}"))?;
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

    // Fire, open loop.
    let n = clocks.fired.lock().map(|f| f.len()).unwrap_or(0);
    let contacts = Arc::new(contacts);
    let errors = Arc::new(AtomicU64::new(0));
    let first_error = Arc::new(Mutex::new(None::<String>));
    let url = format!("{sandbox}/_control/ghl/outbound");
    let started = tokio::time::Instant::now();
    let mut calls = Vec::with_capacity(n);
    for i in 0..n {
        tokio::time::sleep_until(started + Duration::from_secs_f64(i as f64 / args.rate)).await;
        let (http, url, contacts, clocks, errors, first_error) = (
            http.clone(),
            url.clone(),
            contacts.clone(),
            clocks.clone(),
            errors.clone(),
            first_error.clone(),
        );
        calls.push(tokio::spawn(async move {
            let (contact_id, phone) = &contacts[i % contacts.len()];
            let body = json!({
                "locationId": GHL_LOCATION_ID, "contactId": contact_id, "phone": phone,
                "message": format!("{MARKER}{i}"),
            });
            let request = http.post(&url).json(&body);
            Clocks::set(&clocks.fired, i, Instant::now());
            let problem = match request.send().await {
                Ok(response) => {
                    let status = response.status();
                    let answer: Value = response.json().await.unwrap_or(Value::Null);
                    Clocks::set(&clocks.answered, i, Instant::now());
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
    let deadline = Instant::now() + DRAIN;
    while clocks.received_count.load(Ordering::SeqCst) < n as u64 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    for call in calls {
        let left = deadline.saturating_duration_since(Instant::now()) + CALL_TIMEOUT;
        let _ = tokio::time::timeout(left, call).await;
    }
    // Callbacks still pending would only find the gateway gone.
    sim.shutdown();
    let stopped = gateway.stop().await;
    drop_scratch(scratch).await;
    stopped?;

    // Results.
    let lock = |m: &Mutex<Vec<Option<Instant>>>| m.lock().map(|v| v.clone()).unwrap_or_default();
    let (fired, answered, received) = (
        lock(&clocks.fired),
        lock(&clocks.answered),
        lock(&clocks.received),
    );
    let between = |to: &[Option<Instant>]| {
        let mut ms: Vec<f64> = fired
            .iter()
            .zip(to)
            .filter_map(|(from, to)| Some(to.as_ref()?.duration_since(*from.as_ref()?)))
            .map(|d| d.as_secs_f64() * 1000.0)
            .collect();
        ms.sort_by(f64::total_cmp);
        ms
    };
    let end_to_end = between(&received);
    let webhook = between(&answered);
    let first = fired.iter().flatten().min().copied();
    let last = received.iter().flatten().max().copied();
    let seconds = match (first, last) {
        (Some(first), Some(last)) => last.duration_since(first).as_secs_f64(),
        _ => fired_seconds,
    };
    let lost = received.iter().filter(|r| r.is_none()).count();
    let errors = errors.load(Ordering::Relaxed);
    if errors > 0 {
        let first = first_error.lock().ok().and_then(|mut f| f.take());
        tracing::warn!(
            errors,
            first = first.unwrap_or_default(),
            "control calls failed"
        );
    }
    Ok(json!({
        "bench": "e2e",
        "backend": backend_name(args.database.backend),
        "sqlite_synchronous": sqlite_synchronous(&args.database),
        "messages": args.messages,
        "rate": args.rate,
        "contacts": contacts.len(),
        "callbacks": !args.no_callbacks,
        "seconds": round(seconds),
        "fired_seconds": round(fired_seconds),
        "p50_ms": round(percentile(&end_to_end, 0.50)),
        "p99_ms": round(percentile(&end_to_end, 0.99)),
        "max_ms": round(end_to_end.last().copied().unwrap_or(0.0)),
        "webhook_p50_ms": round(percentile(&webhook, 0.50)),
        "webhook_p99_ms": round(percentile(&webhook, 0.99)),
        "lost": lost,
        "errors": errors,
        "peak_rss_mb": peak_rss_mb(),
        "cores": cores(),
    }))
}
