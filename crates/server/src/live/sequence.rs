//! Putting the event log in order: which events the hub may hand out now.
//!
//! Sockets resume from "the last id I saw", so the hub must hand events out in id order
//! and never hand out an id after a larger one. Ids are taken when a transaction inserts
//! its events, but transactions commit in any order: on PostgreSQL, event 9 can become
//! visible after event 10. A hub that sent 10 and moved on would never send 9, and a
//! socket resuming from 10 would never replay it. So when the ids read have a gap, the hub
//! stops before it and waits until the gap can no longer fill: until every transaction
//! that had started writing when the gap was first seen has ended (the snapshot's
//! `xmin` has passed that read's `xmax`). A gap still open then belongs to a transaction
//! that rolled back, and is skipped. A transaction takes its id before its event ids
//! (`Tx::mark_evented`), so it is always counted among those.
//!
//! On SQLite the one writer commits in id order and a rolled-back id is taken again, so
//! every read is already a prefix of the log: a gap there (pruned rows) is skipped at once.
//!
//! A transaction open longer than [`MAX_GAP_WAIT`] after its events were numbered gives
//! up its place: the hub skips its gap rather than stall every socket. Its events stay in
//! the table, for sockets that resume from before them.

use std::time::{Duration, Instant};

use store::repo::{Event, FanoutRead, Snapshot};

/// The longest a gap holds back the events after it.
pub(crate) const MAX_GAP_WAIT: Duration = Duration::from_secs(10);

/// The first missing id after the horizon, and when it can no longer fill.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Gap {
    id: i64,
    /// The `xmax` of the read that first saw it (PostgreSQL).
    settled_after_xid: Option<u64>,
    seen_at: Instant,
}

/// The hub's position in the log.
#[derive(Debug)]
pub(crate) struct Sequencer {
    horizon: i64,
    gap: Option<Gap>,
}

impl Sequencer {
    /// Starts after event `horizon`.
    pub(crate) fn new(horizon: i64) -> Self {
        Self { horizon, gap: None }
    }

    /// The last id handed out: every event up to it has been handed out or skipped.
    pub(crate) fn horizon(&self) -> i64 {
        self.horizon
    }

    /// Takes a read of the events after [`Sequencer::horizon`] and returns those that may
    /// go out now, in order; the horizon moves past them.
    pub(crate) fn accept(&mut self, read: FanoutRead, now: Instant) -> Vec<Event> {
        let mut out = Vec::with_capacity(read.events.len());
        for event in read.events {
            if event.id <= self.horizon {
                continue;
            }
            if event.id != self.horizon + 1 && !self.gap_settled(read.snapshot, now) {
                break;
            }
            self.gap = None;
            self.horizon = event.id;
            out.push(event);
        }
        out
    }

    /// Whether the gap right after the horizon can be skipped; notes it if it is new.
    fn gap_settled(&mut self, snapshot: Option<Snapshot>, now: Instant) -> bool {
        let Some(snapshot) = snapshot else {
            // SQLite: what is committed is a prefix of the log already.
            return true;
        };
        let first_missing = self.horizon + 1;
        match self.gap {
            Some(gap) if gap.id == first_missing => {
                gap.settled_after_xid.is_some_and(|x| snapshot.xmin >= x)
                    || now.duration_since(gap.seen_at) >= MAX_GAP_WAIT
            }
            _ => {
                self.gap = Some(Gap {
                    id: first_missing,
                    settled_after_xid: Some(snapshot.xmax),
                    seen_at: now,
                });
                false
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(id: i64) -> Event {
        Event {
            id,
            agency_id: domain::AgencyId::new(),
            location_id: domain::LocationId::new(),
            conversation_id: None,
            message_id: None,
            kind: "message.created".into(),
            data: serde_json::json!({}),
            created_at_ms: 0,
        }
    }

    fn read(ids: &[i64], snapshot: Option<(u64, u64)>) -> FanoutRead {
        FanoutRead {
            events: ids.iter().map(|id| event(*id)).collect(),
            snapshot: snapshot.map(|(xmin, xmax)| Snapshot { xmin, xmax }),
        }
    }

    fn ids(events: &[Event]) -> Vec<i64> {
        events.iter().map(|e| e.id).collect()
    }

    #[test]
    fn contiguous_events_go_out_in_order() {
        let mut s = Sequencer::new(4);
        let now = Instant::now();
        assert_eq!(
            ids(&s.accept(read(&[5, 6, 7], Some((10, 12))), now)),
            [5, 6, 7]
        );
        assert_eq!(s.horizon(), 7);
        // Repeated ids (a read racing the previous one) are not handed out twice.
        assert_eq!(ids(&s.accept(read(&[7, 8], Some((10, 12))), now)), [8]);
    }

    #[test]
    fn a_gap_holds_later_events_until_it_fills() {
        let mut s = Sequencer::new(4);
        let now = Instant::now();
        // 5 is taken by a transaction still running; 6 committed first.
        assert!(s.accept(read(&[6], Some((100, 105))), now).is_empty());
        assert_eq!(s.horizon(), 4);
        // Still running (xmin has not passed 105): still held.
        assert!(s.accept(read(&[6], Some((103, 107))), now).is_empty());
        // It committed: both go out, in order.
        assert_eq!(ids(&s.accept(read(&[5, 6], Some((103, 108))), now)), [5, 6]);
    }

    #[test]
    fn a_gap_no_running_transaction_can_fill_is_skipped() {
        let mut s = Sequencer::new(4);
        let now = Instant::now();
        assert!(s.accept(read(&[6, 7], Some((100, 105))), now).is_empty());
        // Every transaction that was writing then has ended: 5 rolled back.
        assert_eq!(ids(&s.accept(read(&[6, 7], Some((105, 109))), now)), [6, 7]);
        // A later gap is judged on its own.
        assert!(s.accept(read(&[9], Some((105, 110))), now).is_empty());
        assert_eq!(s.horizon(), 7);
    }

    #[test]
    fn a_gap_open_too_long_is_skipped() {
        let mut s = Sequencer::new(0);
        let start = Instant::now();
        assert!(s.accept(read(&[2], Some((50, 60))), start).is_empty());
        // A long transaction keeps xmin low.
        let later = start + MAX_GAP_WAIT;
        assert_eq!(ids(&s.accept(read(&[2], Some((50, 70))), later)), [2]);
    }

    #[test]
    fn sqlite_reads_are_prefixes_and_gaps_are_pruned_rows() {
        let mut s = Sequencer::new(0);
        assert_eq!(
            ids(&s.accept(read(&[40, 41], None), Instant::now())),
            [40, 41]
        );
    }
}
