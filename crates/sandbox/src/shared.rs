//! State shared by every simulator, the control API and background tasks.
//!
//! Everything lives in memory behind `std::sync::Mutex`es that are never held across an `.await`,
//! so handlers stay simple and a poisoned lock (a panic elsewhere) is recovered, not propagated.

use std::fmt;
use std::ops::Deref;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use ed25519_dalek::pkcs8::EncodePublicKey;
use ed25519_dalek::{Signer, SigningKey};
use tokio::sync::watch;

use crate::faults::FaultBook;
use crate::record::Recorder;
use crate::{
    ghl, media, openai, sendblue, stripe, twilio, unipile, whatsapp, SandboxOptions, SIMULATORS,
};

/// A refusal already shaped as the vendor's error response, boxed so `Result`s stay small.
pub(crate) type Reject = Box<axum::response::Response>;

/// Lock a mutex, recovering the data if another thread panicked while holding it.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Names a fault may target: every simulator, plus `webhooks` (what the sandbox sends out).
pub(crate) fn fault_targets() -> Vec<&'static str> {
    let mut names: Vec<&'static str> = SIMULATORS.iter().map(|s| s.name).collect();
    names.push(crate::webhook::RECORD_NAME);
    names
}

/// Cheap handle on the sandbox state.
#[derive(Clone)]
pub(crate) struct Shared(pub Arc<Inner>);

impl Deref for Shared {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl fmt::Debug for Shared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sandbox")
            .field("gateway", &*lock(&self.gateway))
            .finish_non_exhaustive()
    }
}

pub(crate) struct Inner {
    pub options: SandboxOptions,
    pub gateway: Mutex<Option<String>>,
    pub faults: FaultBook,
    pub recorder: Recorder,
    pub ghl: Mutex<ghl::GhlState>,
    pub sendblue: Mutex<sendblue::SendblueState>,
    pub twilio: Mutex<twilio::TwilioState>,
    pub unipile: Mutex<unipile::UnipileState>,
    pub whatsapp: Mutex<whatsapp::WhatsappState>,
    pub media: Mutex<media::MediaState>,
    pub openai: Mutex<openai::OpenaiState>,
    pub stripe: Mutex<stripe::StripeState>,
    ghl_key: SigningKey,
    pub http: reqwest::Client,
    shutdown: watch::Sender<bool>,
}

impl Inner {
    pub fn new(options: SandboxOptions) -> Self {
        let seed = options.ghl_signing_seed.unwrap_or_else(|| {
            let mut seed = [0u8; 32];
            seed.iter_mut().for_each(|b| *b = fastrand::u8(..));
            seed
        });
        // No proxy: the sandbox only ever talks to the gateway, usually on loopback, and an
        // inherited HTTP_PROXY must not capture that traffic.
        let http = reqwest::Client::builder()
            .timeout(options.webhook_timeout)
            .no_proxy()
            .build()
            .unwrap_or_default();
        let gateway = options.gateway_base_url.clone().map(trim_base);
        Self {
            recorder: Recorder::new(options.record_limit),
            gateway: Mutex::new(gateway),
            faults: FaultBook::default(),
            ghl: Mutex::new(ghl::GhlState::default()),
            sendblue: Mutex::new(sendblue::SendblueState::default()),
            twilio: Mutex::new(twilio::TwilioState::default()),
            unipile: Mutex::new(unipile::UnipileState::default()),
            whatsapp: Mutex::new(whatsapp::WhatsappState::default()),
            media: Mutex::new(media::MediaState::default()),
            openai: Mutex::new(openai::OpenaiState::default()),
            stripe: Mutex::new(stripe::StripeState::default()),
            ghl_key: SigningKey::from_bytes(&seed),
            http,
            shutdown: watch::channel(false).0,
            options,
        }
    }

    pub fn gateway(&self) -> Option<String> {
        lock(&self.gateway).clone()
    }

    pub fn set_gateway(&self, url: Option<String>) {
        *lock(&self.gateway) = url.map(trim_base);
    }

    /// Ed25519 signature of `body`, base64 (standard alphabet), as GHL's `x-ghl-signature`.
    pub fn ghl_sign(&self, body: &[u8]) -> String {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode(self.ghl_key.sign(body).to_bytes())
    }

    pub fn ghl_public_key_pem(&self) -> String {
        self.ghl_key
            .verifying_key()
            .to_public_key_pem(LineEnding::LF)
            .unwrap_or_default()
    }

    pub fn begin_shutdown(&self) {
        self.shutdown.send_replace(true);
    }

    /// Completes once shutdown has begun; used to release held requests and stop background work.
    pub async fn shutting_down(&self) {
        let mut rx = self.shutdown.subscribe();
        // An error means the sender is gone, which only happens when the sandbox is dropped.
        let _ = rx.wait_for(|down| *down).await;
    }

    pub fn is_shutting_down(&self) -> bool {
        *self.shutdown.borrow()
    }
}

fn trim_base(url: String) -> String {
    url.trim_end_matches('/').to_owned()
}
