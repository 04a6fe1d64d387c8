//! Group commit for GHL's provider webhooks.
//!
//! Each request hands its verified message to one intake task and waits. The task takes
//! every message waiting (up to [`MAX_GROUP`]), stores them all in one transaction
//! ([`store::Store::accept_outbound`]), and answers each request after that commit, so
//! rule 1 holds (nothing acknowledged before it is durable) while a burst costs one commit
//! and a few multi-row statements instead of a transaction per webhook. Under light load a
//! group is one message and nothing waits; under heavy load groups grow by themselves,
//! because requests gather while the previous group commits.
//!
//! If a group's transaction fails, its messages are retried one per transaction, so one bad
//! message fails alone.

use store::queue::NewJob;
use store::repo::{AcceptedOutbound, OutboundOutcome, OutboundRequest};
use store::{Store, StoreError};
use tokio::sync::{mpsc, oneshot};

use super::ghl_provider::{line_pacing_key, DELIVER};

/// The receipt source of GHL's provider webhooks (`webhookId`).
pub const RECEIPT_SOURCE: &str = "ghl:provider";
/// The most messages one transaction takes.
pub const MAX_GROUP: usize = 256;
/// Requests waiting for the intake before new ones wait to be queued.
const QUEUE_DEPTH: usize = 4096;

type Reply = oneshot::Sender<Result<OutboundOutcome, StoreError>>;

/// The handle requests use; cheap to clone. The task stops when every handle is dropped.
#[derive(Debug, Clone)]
pub struct OutboundIntake {
    queue: mpsc::Sender<(OutboundRequest, Reply)>,
}

impl OutboundIntake {
    /// Starts the intake task on the current tokio runtime.
    pub fn start(store: Store) -> Self {
        let (queue, waiting) = mpsc::channel(QUEUE_DEPTH);
        tokio::spawn(run(store, waiting));
        Self { queue }
    }

    /// Stores one message (with its group) and returns what became of it, once committed.
    pub async fn accept(&self, request: OutboundRequest) -> Result<OutboundOutcome, StoreError> {
        let (reply, answer) = oneshot::channel();
        let stopped = || StoreError::Config("the outbound intake has stopped".into());
        self.queue
            .send((request, reply))
            .await
            .map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

/// The `deliver` job of an accepted message: in order within its conversation, paced by
/// its line.
pub fn deliver_job(accepted: &AcceptedOutbound) -> NewJob {
    NewJob::new(
        DELIVER,
        serde_json::json!({"message_id": accepted.message_id}),
    )
    .ordered_by(accepted.conversation.id.as_str())
    .paced_by(line_pacing_key(&accepted.conversation.channel_id))
    .for_agency(&accepted.agency_id)
}

async fn run(store: Store, mut waiting: mpsc::Receiver<(OutboundRequest, Reply)>) {
    let mut group = Vec::with_capacity(MAX_GROUP);
    while waiting.recv_many(&mut group, MAX_GROUP).await > 0 {
        let (requests, replies): (Vec<_>, Vec<_>) = group.drain(..).unzip();
        metrics::histogram!("switchboard_outbound_intake_group_size").record(requests.len() as f64);
        match store
            .accept_outbound(RECEIPT_SOURCE, &requests, &deliver_job)
            .await
        {
            Ok(outcomes) => {
                for (reply, outcome) in replies.into_iter().zip(outcomes) {
                    let _ = reply.send(Ok(outcome));
                }
            }
            Err(e) if requests.len() > 1 => {
                tracing::warn!(error = %e, size = requests.len(), "outbound group failed; storing its messages one by one");
                for (request, reply) in requests.into_iter().zip(replies) {
                    let outcome = store
                        .accept_outbound(
                            RECEIPT_SOURCE,
                            std::slice::from_ref(&request),
                            &deliver_job,
                        )
                        .await
                        .map(|mut outcomes| outcomes.remove(0));
                    let _ = reply.send(outcome);
                }
            }
            Err(e) => {
                if let Some(reply) = replies.into_iter().next() {
                    let _ = reply.send(Err(e));
                }
            }
        }
    }
}
