//! The demo's scripted exchange: the contact writes in through the SendBlue sandbox, then a
//! GHL user replies through the GHL sandbox. Each step goes through the gateway's real
//! webhooks; what the workers then do with them (sync to GHL, deliver through SendBlue) is
//! theirs. Nothing here fails the demo: a step that goes wrong is logged and reported.

use std::time::{Duration, Instant};

use domain::MessageId;
use serde_json::{json, Value};
use store::{Store, StoreError, TenantScope};

use super::seed::{self, Seeded, CONTACT, LINE};
use super::Control;

const INBOUND_TEXT: &str = "Hi! Do you have an opening this week?";
const OUTBOUND_TEXT: &str = "Hello! Thursday at 10:00 is free. Shall I book it for you?";

/// How long to let the workers carry a step through before going on: the inbound message to
/// GHL before the reply (so the reply follows it in GHL's conversation), the reply out of
/// `pending` before the banner. Without workers for those jobs, the demo just goes on.
const SETTLE: Duration = Duration::from_millis(1500);

/// What the script did.
#[derive(Debug)]
pub(crate) struct Exchange {
    pub inbound: Step,
    pub outbound: Step,
}

/// One scripted message.
#[derive(Debug)]
pub(crate) struct Step {
    who: &'static str,
    text: &'static str,
    /// Our message id and its status when last read, once the gateway stored it.
    pub message_id: Option<String>,
    status: Option<String>,
    /// What went wrong, if anything.
    problem: Option<String>,
}

impl Step {
    fn new(who: &'static str, text: &'static str) -> Self {
        Self {
            who,
            text,
            message_id: None,
            status: None,
            problem: None,
        }
    }

    /// One line for the banner.
    pub(crate) fn summary(&self) -> String {
        let outcome = match (&self.message_id, &self.problem) {
            (Some(id), _) => format!(
                "{id} ({})",
                self.status.as_deref().unwrap_or("status unknown")
            ),
            (None, Some(problem)) => format!("not stored: {problem}"),
            (None, None) => "not stored".to_string(),
        };
        format!("{:<32} {:?}\n    → {outcome}", self.who, self.text)
    }
}

pub(crate) async fn run(store: &Store, control: &Control, seeded: &Seeded) -> Exchange {
    let mut inbound = Step::new("the contact writes in:", INBOUND_TEXT);
    match control
        .post(
            "/sendblue/inbound",
            json!({"line": LINE, "from": CONTACT, "content": INBOUND_TEXT}),
        )
        .await
    {
        Ok(reply) => {
            let handle = reply["messageHandle"].as_str().unwrap_or_default();
            tracing::info!(
                handle,
                gateway_status = %reply["gatewayStatus"],
                "demo: the contact wrote in through the SendBlue sandbox"
            );
            check_gateway(&mut inbound, &reply);
            let found = store
                .message_id_by_provider_id(&seeded.scope, &seeded.channel_id, handle)
                .await;
            let found = lookup(store, &seeded.scope, found).await;
            record(&mut inbound, found);
        }
        Err(e) => fail(&mut inbound, e),
    }
    if inbound.message_id.is_some() {
        wait_for_ghl_inbound(control).await;
    }

    let mut outbound = Step::new("a GHL user replies:", OUTBOUND_TEXT);
    match control
        .post(
            "/ghl/outbound",
            json!({"locationId": seed::GHL_LOCATION_ID, "phone": CONTACT, "message": OUTBOUND_TEXT}),
        )
        .await
    {
        Ok(reply) => {
            let ghl_id = reply["messageId"].as_str().unwrap_or_default();
            tracing::info!(
                ghl_message_id = ghl_id,
                gateway_status = %reply["gatewayStatus"],
                "demo: a GHL user replied through the GHL sandbox"
            );
            check_gateway(&mut outbound, &reply);
            let found = store.message_id_by_ghl_id(&seeded.scope, ghl_id).await;
            let found = lookup(store, &seeded.scope, found).await;
            record(&mut outbound, found);
            wait_while_pending(store, &seeded.scope, &mut outbound).await;
        }
        Err(e) => fail(&mut outbound, e),
    }
    Exchange { inbound, outbound }
}

/// Notes a gateway answer other than 2xx (the sandbox reports it as `gatewayStatus`).
fn check_gateway(step: &mut Step, reply: &Value) {
    match reply["gatewayStatus"].as_u64() {
        Some(status) if (200..300).contains(&status) => {}
        Some(status) => step.problem = Some(format!("the gateway answered {status}")),
        None => {
            step.problem = Some(format!(
                "the webhook did not reach the gateway: {}",
                reply["delivery"]
            ))
        }
    }
}

fn record(step: &mut Step, found: anyhow::Result<Option<(String, String)>>) {
    match found {
        Ok(Some((id, status))) => {
            step.message_id = Some(id);
            step.status = Some(status);
        }
        Ok(None) => {}
        Err(e) => fail(step, e),
    }
}

fn fail(step: &mut Step, e: anyhow::Error) {
    tracing::warn!(error = %format!("{e:#}"), step = step.who, "demo: a scripted step failed; carrying on");
    step.problem = Some(format!("{e:#}"));
}

/// Our message id and status, once a finder by one of its external ids found it
/// (read-only; the gateway committed the row before it answered the webhook).
async fn lookup(
    store: &Store,
    scope: &TenantScope,
    found: Result<Option<MessageId>, StoreError>,
) -> anyhow::Result<Option<(String, String)>> {
    let Some(id) = found? else {
        return Ok(None);
    };
    let message = store.message(scope, &id).await?;
    Ok(Some((id.to_string(), message.status.as_str().to_string())))
}

/// Waits (briefly) until the GHL sandbox holds the contact's inbound message.
async fn wait_for_ghl_inbound(control: &Control) {
    let path = format!("/ghl/messages?locationId={}", seed::GHL_LOCATION_ID);
    let deadline = Instant::now() + SETTLE;
    while Instant::now() < deadline {
        if let Ok(Value::Array(messages)) = control.get(&path).await {
            let synced = messages
                .iter()
                .any(|m| m["direction"] == "inbound" && m["body"] == INBOUND_TEXT);
            if synced {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tracing::info!("demo: the inbound message has not reached GHL yet; replying anyway");
}

/// Waits (briefly) for a message to leave `pending`, re-reading its status.
async fn wait_while_pending(store: &Store, scope: &TenantScope, step: &mut Step) {
    let Some(id) = step
        .message_id
        .as_deref()
        .and_then(|id| id.parse::<MessageId>().ok())
    else {
        return;
    };
    let deadline = Instant::now() + SETTLE;
    while step.status.as_deref() == Some("pending") && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
        if let Ok(message) = store.message(scope, &id).await {
            step.status = Some(message.status.as_str().to_string());
        }
    }
}
