#![forbid(unsafe_code)]
//! Faithful simulators of the vendor APIs Switchboard talks to, on one port.
//!
//! The gateway is tested, demonstrated and benchmarked against these simulators instead of the
//! real GoHighLevel, SendBlue, Twilio, WhatsApp Cloud API, UniPile, OpenAI and Stripe. They are built from the vendors' published references (GHL's
//! official OpenAPI files are embedded and enforced), and they lean to the strict side wherever the
//! references leave room: a gateway that passes against the sandbox must work against the real APIs.
//!
//! Each simulator lives under its own prefix (`/ghl`, `/sendblue`, `/twilio`, `/whatsapp`,
//! `/unipile`, `/openai`, `/stripe`, and `/media`, a host for attachments) with the vendor's own paths, so a client
//! whose base URL is `http://HOST/ghl` works unchanged. A control API under `/_control`
//! drives them: seed installs and accounts, make a GHL user or a contact "write", inject faults,
//! read what each simulator received.
//!
//! Adding a simulator: write its module (an `api` router, a `control` router, its error shape) and
//! add one line to `SIMULATORS` (below).

mod clock;
mod control;
mod faults;
mod ghl;
mod ids;
mod media;
mod openai;
mod record;
mod sendblue;
mod shared;
mod stripe;
mod twilio;
mod unipile;
mod webhook;
mod whatsapp;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;

pub use faults::{FaultKind, FaultSpec};
/// The sandbox model's deterministic embedding of a text (what `/openai/v1/embeddings`
/// answers), for offline evaluation without a server.
pub use openai::api::embed as openai_embed;
pub use openai::SANDBOX_KEY as OPENAI_SANDBOX_KEY;
pub use record::RecordedRequest;
pub use stripe::WEBHOOK_SECRET as STRIPE_WEBHOOK_SECRET;

use shared::{Inner, Shared};

/// How a sandbox behaves. `Default` gives the real vendors' documented numbers.
#[derive(Debug, Clone)]
pub struct SandboxOptions {
    /// Where outgoing webhooks go (the gateway), e.g. `http://127.0.0.1:8080`. Also settable with
    /// `PUT /_control/gateway`.
    pub gateway_base_url: Option<String>,
    /// GHL burst limit per location: (max requests, window). GHL documents 100 per 10 s.
    pub ghl_rate_limit: (u32, Duration),
    /// GHL daily limit per location; GHL documents 200,000.
    pub ghl_daily_limit: u32,
    /// After GHL creates an outbound provider message, status updates on it answer 403 for this
    /// long: GHL has not "downstreamed" it yet (observed 5–10 s in production).
    pub ghl_downstream_window: Duration,
    /// Lifetime of issued GHL access tokens, in seconds (GHL: 86399).
    pub ghl_token_expires_in: u64,
    /// When set, `POST /ghl/oauth/token` requires these client credentials.
    pub ghl_client_id: Option<String>,
    /// See `ghl_client_id`.
    pub ghl_client_secret: Option<String>,
    /// Seed of the Ed25519 key that signs GHL webhooks; random when `None`.
    pub ghl_signing_seed: Option<[u8; 32]>,
    /// Enforce the OpenAPI `required` list of `POST /conversations/messages/inbound` literally
    /// (`conversationId` AND `contactId`). Off by default: GHL's live docs say either one is enough.
    pub ghl_require_conversation_id: bool,
    /// Pause before each SendBlue status callback (SENT, then DELIVERED).
    pub sendblue_callback_delay: Duration,
    /// Pause before each Twilio status callback (`sent`, then `delivered` or `undelivered`).
    pub twilio_callback_delay: Duration,
    /// Pause before each WhatsApp status webhook (`sent`, `delivered`, `read`).
    pub whatsapp_callback_delay: Duration,
    /// Timeout of every webhook the sandbox sends.
    pub webhook_timeout: Duration,
    /// How long a `timeout` fault holds a request (released early at shutdown).
    pub fault_timeout_hold: Duration,
    /// Recorded requests kept per simulator (oldest dropped first).
    pub record_limit: usize,
    /// The app's Shared Secret: the custom-page host encrypts user contexts with it.
    pub ghl_shared_secret: String,
}

impl Default for SandboxOptions {
    fn default() -> Self {
        Self {
            gateway_base_url: None,
            ghl_rate_limit: (100, Duration::from_secs(10)),
            ghl_daily_limit: 200_000,
            ghl_downstream_window: Duration::from_secs(2),
            ghl_token_expires_in: 86_399,
            ghl_client_id: None,
            ghl_client_secret: None,
            ghl_signing_seed: None,
            ghl_require_conversation_id: false,
            sendblue_callback_delay: Duration::from_millis(100),
            twilio_callback_delay: Duration::from_millis(100),
            whatsapp_callback_delay: Duration::from_millis(100),
            webhook_timeout: Duration::from_secs(10),
            fault_timeout_hold: Duration::from_secs(60),
            record_limit: 10_000,
            ghl_shared_secret: "sandbox-shared-secret".into(),
        }
    }
}

/// One simulator: its name (URL prefix and fault target), its API, its control routes, and how
/// its vendor shapes an error body (used by injected faults).
pub(crate) struct Simulator {
    pub name: &'static str,
    pub api: fn(Shared) -> Router,
    pub control: fn(Shared) -> Router,
    pub error_body: fn(u16, &str) -> serde_json::Value,
}

/// The one place simulators are registered.
pub(crate) const SIMULATORS: &[Simulator] = &[
    ghl::SIMULATOR,
    sendblue::SIMULATOR,
    twilio::SIMULATOR,
    unipile::SIMULATOR,
    whatsapp::SIMULATOR,
    media::SIMULATOR,
    openai::SIMULATOR,
    stripe::SIMULATOR,
];

/// The set of simulators and their in-memory state. Cheap to clone: clones share state.
#[derive(Clone, Debug)]
pub struct Sandbox {
    shared: Shared,
}

impl Sandbox {
    /// A sandbox with empty state and a fresh (or seeded) GHL signing key.
    pub fn new(options: SandboxOptions) -> Self {
        Self {
            shared: Shared(Arc::new(Inner::new(options))),
        }
    }

    /// Every simulator and the control API, on one router.
    pub fn router(&self) -> Router {
        let mut router = Router::new().nest("/_control", control::router(self.shared.clone()));
        for sim in SIMULATORS {
            let api = (sim.api)(self.shared.clone());
            let api = record::wrap(
                faults::wrap(api, self.shared.clone(), sim),
                self.shared.clone(),
                sim.name,
            );
            router = router.nest(&format!("/{}", sim.name), api);
        }
        router.fallback(control::not_found)
    }

    /// Serve until `shutdown` completes. Requests held by a `timeout` fault and pending callbacks
    /// are released first, so shutdown is prompt.
    pub async fn serve(
        self,
        listener: tokio::net::TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let shared = self.shared.clone();
        axum::serve(listener, self.router())
            .with_graceful_shutdown(async move {
                shutdown.await;
                shared.begin_shutdown();
            })
            .await
    }

    /// Release held requests and stop pending callbacks, as `serve` does at shutdown.
    pub fn shutdown(&self) {
        self.shared.begin_shutdown();
    }

    /// Set (or clear) where outgoing webhooks go.
    pub fn set_gateway_base_url(&self, url: Option<String>) {
        self.shared.set_gateway(url);
    }

    /// The public half of the key that signs GHL webhooks (`x-ghl-signature`), as SPKI PEM: give it
    /// to the gateway as `SWITCHBOARD_GHL_WEBHOOK_PUBLIC_KEY`.
    pub fn ghl_public_key_pem(&self) -> String {
        self.shared.ghl_public_key_pem()
    }

    /// What a simulator (`"ghl"`, `"sendblue"`, `"twilio"`) received, in order; `"webhooks"` lists what the
    /// sandbox sent out.
    pub fn requests(&self, simulator: &str) -> Vec<RecordedRequest> {
        self.shared.recorder.list(simulator)
    }

    /// Forget recorded requests of one simulator.
    pub fn clear_requests(&self, simulator: &str) {
        self.shared.recorder.clear(simulator);
    }

    /// Activate a fault, as `POST /_control/faults` does; returns its id.
    pub fn add_fault(&self, spec: FaultSpec) -> Result<u64, String> {
        self.shared.faults.add(spec, &shared::fault_targets())
    }

    /// Clear every fault.
    pub fn clear_faults(&self) {
        self.shared.faults.clear();
    }

    /// Messages the GHL simulator holds (inbound and outbound), as `GET /_control/ghl/messages`.
    pub fn ghl_messages(&self) -> Vec<serde_json::Value> {
        ghl::control::messages_json(&self.shared, None)
    }
}
