//! The hub: one reader of the event log per process, one broadcast to its sockets.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use store::repo::Event;
use store::{Store, StoreError};
use tokio::sync::broadcast;
use tokio::task::JoinHandle;

use super::sequence::Sequencer;
use super::{Subscription, BACKLOG, TICK};

/// Events read per query; a longer backlog is read in several.
const BATCH: i64 = 500;
/// How far back a starting hub begins, so events committed around its start (numbered
/// before it looked, committed after) are still put in order, not jumped over.
const START_LOOKBACK_MS: i64 = 5_000;
/// How soon the hub looks again while a gap holds events back (a transaction about to
/// commit), instead of waiting for the tick.
const GAP_RECHECK: Duration = Duration::from_millis(20);

/// The running hub; stops its tasks when dropped (with the last [`super::Live`]).
#[derive(Debug)]
pub(super) struct Hub {
    shared: Arc<Shared>,
    tasks: Vec<JoinHandle<()>>,
}

/// What the hub's task and new sockets share.
#[derive(Debug)]
struct Shared {
    /// The last id handed out. Held while broadcasting, so a subscriber's horizon and its
    /// receiver's first event always meet.
    horizon: Mutex<i64>,
    sender: broadcast::Sender<Arc<Event>>,
}

impl Hub {
    /// Starts reading after the events recorded a little before now, and listening for
    /// other processes' events on PostgreSQL.
    pub(super) async fn start(store: Store) -> Result<Self, StoreError> {
        let start = store
            .event_id_before(store.now_ms() - START_LOOKBACK_MS)
            .await?;
        let (sender, _) = broadcast::channel(BACKLOG);
        let shared = Arc::new(Shared {
            horizon: Mutex::new(start),
            sender,
        });
        let mut tasks = Vec::with_capacity(2);
        if let Some(listener) = store.db().spawn_event_listener() {
            tasks.push(listener);
        }
        // Catch up before the first socket subscribes: it is owed what happens from now
        // on, not the last few seconds (those went out to nobody).
        let mut sequencer = Sequencer::new(start);
        drain(&store, &shared, &mut sequencer).await;
        tasks.push(tokio::spawn(run(store, shared.clone(), sequencer)));
        Ok(Self { shared, tasks })
    }

    pub(super) fn subscribe(&self) -> Subscription {
        let horizon = self
            .shared
            .horizon
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        Subscription {
            horizon: *horizon,
            events: self.shared.sender.subscribe(),
        }
    }
}

impl Drop for Hub {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

impl Shared {
    /// Broadcasts `events` (in order) and moves the horizon past them, in one step.
    fn publish(&self, events: Vec<Event>, horizon: i64) {
        let mut at = self.horizon.lock().unwrap_or_else(|p| p.into_inner());
        let count = events.len();
        for event in events {
            // No receiver is not an error: nobody is watching right now.
            let _ = self.sender.send(Arc::new(event));
        }
        *at = horizon;
        metrics::counter!("switchboard_live_events_fanned_out_total").increment(count as u64);
    }
}

/// Reads and broadcasts until aborted: after every wake-up, and at least every tick.
async fn run(store: Store, shared: Arc<Shared>, mut sequencer: Sequencer) {
    let db = store.db().clone();
    loop {
        let held = drain(&store, &shared, &mut sequencer).await;
        let wait = if held { GAP_RECHECK } else { TICK };
        tokio::select! {
            () = db.events_notify().notified() => {}
            () = tokio::time::sleep(wait) => {}
        }
    }
}

/// Hands out every event that may go now; answers whether some wait behind a gap.
async fn drain(store: &Store, shared: &Shared, sequencer: &mut Sequencer) -> bool {
    loop {
        let read = match store.events_for_fanout(sequencer.horizon(), BATCH).await {
            Ok(read) => read,
            Err(e) => {
                tracing::warn!(error = %e, "the real-time hub cannot read events");
                return false;
            }
        };
        let full = read.events.len() as i64 >= BATCH;
        let last_read = read.events.last().map(|e| e.id);
        let out = sequencer.accept(read, Instant::now());
        if !out.is_empty() {
            shared.publish(out, sequencer.horizon());
        }
        // Events read but not handed out wait behind a gap.
        let held = last_read.is_some_and(|id| id > sequencer.horizon());
        if held || !full {
            return held;
        }
    }
}
