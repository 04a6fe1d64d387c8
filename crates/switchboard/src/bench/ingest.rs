//! `switchboard bench ingest`: GHL's signed provider webhooks through the real HTTP face.
//!
//! The gateway runs in this process (HTTP only: no workers, so the `deliver` jobs just
//! accumulate) on a scratch database with one seeded tenant, and trusts an Ed25519 key the
//! benchmark makes up. `--requests` distinct `ProviderOutboundMessage` bodies (distinct GHL
//! message ids, spread over a few hundred contacts) are built and signed first, then posted
//! over loopback by `--concurrency` clients, each with its own keep-alive connection, at most
//! `--rate` per second when a rate is given. Every answer must be 200, and afterwards the
//! database must hold exactly one message and one `deliver` job per request.
//!
//! For comparison, the same rows are then committed straight through the store, on a fresh
//! database, with the same durability and no HTTP, by the store call the server's intake
//! makes (`Store::accept_outbound`): in groups of the intake's largest size from one task
//! (`raw_commit_rate`, the best this machine does with these statements; `fraction_of_raw`
//! is the HTTP rate over it), and one message per transaction from `--concurrency` tasks
//! (`raw_single_commit_rate`, what a transaction per webhook gives).
//! `writer_round_trip_ms` is the time of one statement's trip to the writer connection and
//! back.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};
use base64::Engine;
use domain::{Actor, Direction, MessageStatus};
use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use ed25519_dalek::pkcs8::EncodePublicKey;
use ed25519_dalek::{Signer, SigningKey};
use serde_json::json;
use server::webhooks::{deliver_job, DELIVER, MAX_GROUP, RECEIPT_SOURCE};
use store::repo::{NewMessage, OutboundOutcome, OutboundRequest};
use store::Store;

use super::gateway::{contact_phone, seed, Gateway, Tenant, GHL_LOCATION_ID};
use super::{
    backend_name, cores, drop_scratch, peak_rss_mb, percentile, round, scratch_store,
    sqlite_synchronous,
};
use crate::cli::IngestBenchArgs;

/// Distinct contacts the messages are spread over.
const CONTACTS: u64 = 300;
/// Longest a single request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Longest a whole phase (posting, or committing) may take.
const PHASE_LIMIT: Duration = Duration::from_secs(900);

/// One GHL message, as the benchmark sends it.
#[derive(Debug, Clone)]
struct Item {
    ghl_contact_id: String,
    phone: String,
    ghl_message_id: String,
    text: String,
}

fn items(n: u64) -> Vec<Item> {
    (0..n)
        .map(|i| {
            let c = i % CONTACTS;
            Item {
                ghl_contact_id: format!("benchContact{c:08}"),
                phone: contact_phone(c),
                ghl_message_id: format!("benchMsg{i:012}"),
                text: format!("Bench message {i}"),
            }
        })
        .collect()
}

/// The documented SMS payload, as GHL (and the sandbox) sends it.
fn body(item: &Item) -> String {
    json!({
        "contactId": item.ghl_contact_id, "locationId": GHL_LOCATION_ID,
        "messageId": item.ghl_message_id, "type": "SMS", "phone": item.phone,
        "message": item.text, "attachments": [], "userId": "benchUser00000000001",
    })
    .to_string()
}

/// A signing key of the benchmark's own (random per run; it only ever signs loopback traffic).
fn signing_key() -> SigningKey {
    let mut seed = [0u8; 32];
    seed[..16].copy_from_slice(&ulid::Ulid::new().to_bytes());
    seed[16..].copy_from_slice(&ulid::Ulid::new().to_bytes());
    SigningKey::from_bytes(&seed)
}

pub(super) async fn run(args: IngestBenchArgs) -> Result<()> {
    if args.requests == 0 || args.concurrency == 0 {
        bail!("--requests and --concurrency must be at least 1");
    }
    if !args.rate.is_finite() || args.rate < 0.0 {
        bail!("--rate must be a number of requests per second, 0 for no limit");
    }
    let key = signing_key();
    let public_pem = key
        .verifying_key()
        .to_public_key_pem(LineEnding::LF)
        .context("encoding the benchmark's public key")?;
    let items = items(args.requests);
    let signed: Vec<(String, String)> = items
        .iter()
        .map(|item| {
            let body = body(item);
            let signature = base64::engine::general_purpose::STANDARD
                .encode(key.sign(body.as_bytes()).to_bytes());
            (body, signature)
        })
        .collect();

    // Through HTTP.
    let (store, scratch) = scratch_store(&args.database).await?;
    let started = async {
        seed(&store, None, None).await?;
        let (listener, _) = Gateway::bind().await?;
        Gateway::start(
            store.clone(),
            listener,
            &[("SWITCHBOARD_GHL_WEBHOOK_PUBLIC_KEY", public_pem)],
            false,
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
    let posted = tokio::time::timeout(
        PHASE_LIMIT,
        post_all(&gateway.url, Arc::new(signed), args.concurrency, args.rate),
    )
    .await;
    let stored = count_rows(&store).await;
    let stopped = gateway.stop().await;
    drop_scratch(scratch).await;
    let posted = posted.context("posting did not finish within the time limit")??;
    stopped?;
    let (messages, jobs) = stored?;

    // Straight through the store: one message per transaction, then many (not worth
    // measuring when the webhooks failed).
    let (raw, single, round_trip_ms) = if posted.errors == 0 {
        let (raw, round_trip_ms) = commit_raw(&args, &items, MAX_GROUP).await?;
        let (single, _) = commit_raw(&args, &items, 1).await?;
        (Some(raw), Some(single), Some(round_trip_ms))
    } else {
        (None, None, None)
    };

    let mut latencies = posted.latencies_ms;
    latencies.sort_by(f64::total_cmp);
    let requests_per_sec = posted.answered as f64 / posted.seconds;
    let result = json!({
        "bench": "ingest",
        "backend": backend_name(args.database.backend),
        "sqlite_synchronous": sqlite_synchronous(&args.database),
        "requests": args.requests,
        "concurrency": args.concurrency,
        "rate": args.rate,
        "seconds": round(posted.seconds),
        "requests_per_sec": round(requests_per_sec),
        "p50_ms": round(percentile(&latencies, 0.50)),
        "p99_ms": round(percentile(&latencies, 0.99)),
        "max_ms": round(latencies.last().copied().unwrap_or(0.0)),
        "errors": posted.errors,
        "raw_commit_rate": raw.map(round),
        "fraction_of_raw": raw.map(|raw| round(requests_per_sec / raw)),
        "raw_single_commit_rate": single.map(round),
        "writer_round_trip_ms": round_trip_ms.map(round),
        "peak_rss_mb": peak_rss_mb(),
        "cores": cores(),
    });
    println!("{result}");
    if posted.errors > 0 {
        bail!(
            "{} webhooks were not answered 200 (posting stopped at the first; {} of {} were \
             sent); the first: {}",
            posted.errors,
            posted.answered,
            args.requests,
            posted.first_error.unwrap_or_default()
        );
    }
    ensure!(
        messages == args.requests as i64 && jobs == args.requests as i64,
        "the database holds {messages} messages and {jobs} deliver jobs for {} webhooks",
        args.requests
    );
    Ok(())
}

/// What posting the webhooks measured.
struct Posted {
    seconds: f64,
    /// Requests that got an answer (or failed): all of them, unless posting stopped early.
    answered: usize,
    latencies_ms: Vec<f64>,
    errors: u64,
    first_error: Option<String>,
}

/// Posts every signed body once from `concurrency` clients; request `i` is not sent before
/// `i / rate` seconds from the start when a rate is given. The first failure stops the
/// clients (requests already sent finish).
async fn post_all(
    gateway: &str,
    signed: Arc<Vec<(String, String)>>,
    concurrency: usize,
    rate: f64,
) -> Result<Posted> {
    let url = format!("{gateway}/webhooks/ghl/provider");
    let next = Arc::new(AtomicUsize::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let first_error = Arc::new(Mutex::new(None::<String>));
    let started = tokio::time::Instant::now();
    let mut clients = Vec::with_capacity(concurrency);
    for _ in 0..concurrency {
        // One client each: one keep-alive connection per concurrent sender.
        let http = reqwest::Client::builder()
            .no_proxy()
            .pool_max_idle_per_host(1)
            .timeout(REQUEST_TIMEOUT)
            .build()
            .context("cannot build an HTTP client")?;
        let (url, signed, next, errors, first_error) = (
            url.clone(),
            signed.clone(),
            next.clone(),
            errors.clone(),
            first_error.clone(),
        );
        clients.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            loop {
                if errors.load(Ordering::Relaxed) > 0 {
                    break;
                }
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some((body, signature)) = signed.get(i) else {
                    break;
                };
                if rate > 0.0 {
                    tokio::time::sleep_until(started + Duration::from_secs_f64(i as f64 / rate))
                        .await;
                }
                let sent = Instant::now();
                let answer = http
                    .post(&url)
                    .header("content-type", "application/json")
                    .header("x-ghl-signature", signature)
                    .body(body.clone())
                    .send()
                    .await;
                let problem = match answer {
                    Ok(response) => {
                        let status = response.status();
                        let text = response.text().await.unwrap_or_default();
                        (status != reqwest::StatusCode::OK).then(|| format!("{status}: {text}"))
                    }
                    Err(e) => Some(e.to_string()),
                };
                latencies.push(sent.elapsed().as_secs_f64() * 1000.0);
                if let Some(problem) = problem {
                    errors.fetch_add(1, Ordering::Relaxed);
                    if let Ok(mut first) = first_error.lock() {
                        first.get_or_insert(problem);
                    }
                }
            }
            latencies
        }));
    }
    let mut latencies_ms = Vec::with_capacity(signed.len());
    for client in clients {
        latencies_ms.extend(client.await?);
    }
    let seconds = started.elapsed().as_secs_f64();
    let first_error = first_error.lock().ok().and_then(|mut f| f.take());
    Ok(Posted {
        seconds,
        answered: latencies_ms.len(),
        latencies_ms,
        errors: errors.load(Ordering::Relaxed),
        first_error,
    })
}

/// Messages and `deliver` jobs in the database.
async fn count_rows(store: &Store) -> Result<(i64, i64)> {
    let messages: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM messages")
        .fetch_one(store.db().reader())
        .await?;
    let jobs: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM jobs WHERE kind = $1")
        .bind(DELIVER)
        .fetch_one(store.db().reader())
        .await?;
    Ok((messages, jobs))
}

/// Commits every item's rows on a fresh database, `per_tx` messages per transaction, from
/// `--concurrency` tasks (fewer when batching, see below); messages per
/// second from the first `BEGIN` to the last commit. Also the median time of one statement's
/// round trip to the writer connection (`SELECT 1`, one at a time, before the commits).
async fn commit_raw(args: &IngestBenchArgs, items: &[Item], per_tx: usize) -> Result<(f64, f64)> {
    let (store, scratch) = scratch_store(&args.database).await?;
    let prepared = async {
        let tenant = seed(&store, None, None).await?;
        Ok::<_, anyhow::Error>((Arc::new(tenant), writer_round_trip_ms(&store).await?))
    }
    .await;
    let (tenant, round_trip_ms) = match prepared {
        Ok(prepared) => prepared,
        Err(e) => {
            store.db().close().await;
            drop_scratch(scratch).await;
            return Err(e);
        }
    };
    let items = Arc::new(items.to_vec());
    // Groups: one committer, like the server's intake. One per transaction: as many
    // committers as clients.
    let tasks = if per_tx == 1 { args.concurrency } else { 1 };
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut committers = Vec::with_capacity(tasks);
    for _ in 0..tasks {
        let (store, tenant, items, next) =
            (store.clone(), tenant.clone(), items.clone(), next.clone());
        committers.push(tokio::spawn(async move {
            loop {
                let from = next.fetch_add(per_tx, Ordering::Relaxed);
                if from >= items.len() {
                    return Ok::<(), anyhow::Error>(());
                }
                let to = (from + per_tx).min(items.len());
                // Contacts in one order in every batch: two batches creating the same
                // contacts in different orders would deadlock on PostgreSQL.
                let mut batch = items[from..to].to_vec();
                batch.sort_by(|a, b| a.ghl_contact_id.cmp(&b.ghl_contact_id));
                commit(&store, &tenant, &batch).await?;
            }
        }));
    }
    let all = async {
        for committer in committers {
            committer.await??;
        }
        Ok::<(), anyhow::Error>(())
    };
    let finished = tokio::time::timeout(PHASE_LIMIT, all).await;
    let seconds = started.elapsed().as_secs_f64();
    let counted = count_rows(&store).await;
    store.db().close().await;
    drop_scratch(scratch).await;
    finished.context("committing did not finish within the time limit")??;
    let (messages, jobs) = counted?;
    ensure!(
        messages == items.len() as i64 && jobs == items.len() as i64,
        "the raw commit left {messages} messages and {jobs} jobs for {} items",
        items.len()
    );
    Ok((items.len() as f64 / seconds, round_trip_ms))
}

/// The median of 1,000 sequential `SELECT 1` on the writer connection, in ms.
async fn writer_round_trip_ms(store: &Store) -> Result<f64> {
    let mut ms = Vec::with_capacity(1000);
    for _ in 0..1000 {
        let started = Instant::now();
        sqlx::query("SELECT 1").execute(store.db().writer()).await?;
        ms.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    ms.sort_by(f64::total_cmp);
    Ok(percentile(&ms, 0.5))
}

/// One transaction with the rows the provider webhook handler writes for these items,
/// through the same store call its intake makes.
async fn commit(store: &Store, tenant: &Tenant, items: &[Item]) -> Result<()> {
    let requests: Vec<OutboundRequest> = items
        .iter()
        .map(|item| OutboundRequest {
            ghl_location_id: tenant.location.ghl_location_id.clone(),
            webhook_id: None,
            ghl_contact_id: item.ghl_contact_id.clone(),
            phone: item.phone.clone(),
            message: NewMessage {
                direction: Direction::Outbound,
                actor: Actor::Agent,
                body: item.text.clone(),
                attachments: Vec::new(),
                status: MessageStatus::Pending,
                provider_message_id: None,
                ghl_message_id: Some(item.ghl_message_id.clone()),
            },
            received: json!({
                "source": "ghl", "ghl_message_id": item.ghl_message_id,
                "sender": "User { user_id: \"benchUser00000000001\" }",
            }),
        })
        .collect();
    let outcomes = store
        .accept_outbound(RECEIPT_SOURCE, &requests, &deliver_job)
        .await?;
    ensure!(
        outcomes
            .iter()
            .all(|o| matches!(o, OutboundOutcome::Accepted(_))),
        "a benchmark message was stored twice"
    );
    Ok(())
}
