//! Real time: the event log fanned out to the dashboard's sockets (`GET /ws`).
//!
//! Events are rows of the `events` table, written by the store in the transaction of the
//! change they report (`store::repo::events`). Each process has one hub: woken when this
//! process commits events, by PostgreSQL `NOTIFY` when another one does, and by a tick
//! every [`TICK`] as a safety net, it reads the events after the last one it handed out,
//! in one query for every socket, puts them in order ([`sequence`]) and broadcasts them
//! to the process's sockets ([`socket`]), each of which keeps only its own room's. No
//! socket reads the database except to replay what it missed when it reconnects.
//!
//! The hub starts with the first socket, so a process that serves none (workers only, or
//! an API nobody watches live) never polls.

mod hub;
mod sequence;
mod socket;

use std::sync::Arc;
use std::time::Duration;

use store::repo::Event;
use store::{Store, StoreError};
use tokio::sync::{broadcast, OnceCell};

pub(crate) use socket::connect;

/// The safety-net poll: events are seen within this even if every wake-up was lost.
pub(crate) const TICK: Duration = Duration::from_secs(1);
/// Events a socket may fall behind the hub by before it is told to reload.
const BACKLOG: usize = 1024;

/// This process's real-time hub, started on first use; cheap to clone. Dropping the last
/// clone stops it.
#[derive(Debug, Clone)]
pub struct Live {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    store: Store,
    hub: OnceCell<hub::Hub>,
}

/// What a new socket gets: the last id the hub handed out (the seam: replay up to it
/// from the table, take live events after it) and its receiver of everything after.
pub(crate) struct Subscription {
    pub horizon: i64,
    pub events: broadcast::Receiver<Arc<Event>>,
}

impl Live {
    pub fn new(store: Store) -> Self {
        Self {
            inner: Arc::new(Inner {
                store,
                hub: OnceCell::new(),
            }),
        }
    }

    /// Subscribes to every event this process's hub hands out from now on (starting the
    /// hub if it isn't running), with the horizon taken in the same step, so nothing falls
    /// between a socket's replay and its live events.
    pub(crate) async fn subscribe(&self) -> Result<Subscription, StoreError> {
        let hub = self
            .inner
            .hub
            .get_or_try_init(|| hub::Hub::start(self.inner.store.clone()))
            .await?;
        Ok(hub.subscribe())
    }
}
