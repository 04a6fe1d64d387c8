//! The real-time event log (`events`, migration 0013): what the dashboard's sockets hear.
//!
//! Events are written by the store itself, in the transaction of the change they report
//! ([`Store::record_events`], called where messages are stored and statuses move), so an
//! event exists exactly when its change does. They carry ids, kinds and states, never a
//! message's text or a contact's details. Each process's hub reads them in id order
//! ([`Store::events_for_fanout`]); a socket that reconnects replays what it missed
//! through its tenant scope ([`Store::events_replay`]); housekeeping prunes them after
//! [`EVENT_RETENTION_MS`].

use domain::{AgencyId, ConversationId, EventKind, LocationId, MessageId};
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::error::StoreError;
use crate::multirow::{self, values_rows};
use crate::store::Store;
use crate::tenant::TenantScope;
use crate::tx::Tx;
use crate::Backend;

/// How long events are kept: long enough for a laptop that slept over lunch to resume,
/// short enough that the table stays small. A socket resuming from further back is told
/// to reload.
pub const EVENT_RETENTION_MS: i64 = 24 * 60 * 60 * 1000;

/// An event to record.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    pub agency_id: AgencyId,
    pub location_id: LocationId,
    pub conversation_id: Option<ConversationId>,
    pub message_id: Option<MessageId>,
    pub kind: EventKind,
    /// Small: ids and states only, never bodies or personal data.
    pub data: serde_json::Value,
}

/// A recorded event.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// Increasing in commit order as the hub sees it (see [`FanoutRead`]).
    pub id: i64,
    pub agency_id: AgencyId,
    pub location_id: LocationId,
    pub conversation_id: Option<ConversationId>,
    pub message_id: Option<MessageId>,
    /// Kept as text: a process relays a kind a newer one added.
    pub kind: String,
    pub data: serde_json::Value,
    pub created_at_ms: i64,
}

/// What the hub read: the events after its last id, in id order, and on PostgreSQL the
/// bounds of the snapshot they were read in, to tell a gap that will fill (a transaction
/// still running took the missing id) from one that won't (it rolled back).
#[derive(Debug, Clone, PartialEq)]
pub struct FanoutRead {
    pub events: Vec<Event>,
    pub snapshot: Option<Snapshot>,
}

/// A PostgreSQL snapshot's transaction id bounds (`pg_snapshot_xmin` / `_xmax`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Snapshot {
    /// Every transaction below this had ended when the read was made.
    pub xmin: u64,
    /// Every transaction that had started writing when the read was made is below this.
    pub xmax: u64,
}

const COLUMNS: &str =
    "id, agency_id, location_id, conversation_id, message_id, kind, data, created_at";

impl Event {
    fn from_row(row: &AnyRow) -> Result<Self, StoreError> {
        let data: String = row.try_get("data")?;
        let conversation: Option<String> = row.try_get("conversation_id")?;
        let message: Option<String> = row.try_get("message_id")?;
        Ok(Self {
            id: row.try_get("id")?,
            agency_id: row.try_get::<String, _>("agency_id")?.parse()?,
            location_id: row.try_get::<String, _>("location_id")?.parse()?,
            conversation_id: conversation.map(|c| c.parse()).transpose()?,
            message_id: message.map(|m| m.parse()).transpose()?,
            kind: row.try_get("kind")?,
            data: serde_json::from_str(&data)?,
            created_at_ms: row.try_get("created_at")?,
        })
    }
}

impl Store {
    /// Records events in `tx`, the transaction of the change they report, with multi-row
    /// statements (the outbound intake writes a whole group's at once). Committing `tx`
    /// wakes this process's hub; on PostgreSQL a `NOTIFY` wakes the others'.
    pub async fn record_events(&self, tx: &mut Tx, events: &[NewEvent]) -> Result<(), StoreError> {
        if events.is_empty() {
            return Ok(());
        }
        // Before the insert: on PostgreSQL this also makes sure the transaction has its id
        // before it takes an event id (see `Tx::mark_evented`).
        tx.mark_evented().await?;
        for chunk in multirow::chunks(events, 6) {
            let sql = format!(
                "INSERT INTO events (agency_id, location_id, conversation_id, message_id, kind, \
                 data, created_at) VALUES {}",
                values_rows(chunk.len(), &["", "", "", "", "", "", "$1"], 2)
            );
            let mut query = sqlx::query(&sql).bind(self.now_ms());
            for event in chunk {
                query = query
                    .bind(event.agency_id.as_str())
                    .bind(event.location_id.as_str())
                    .bind(event.conversation_id.as_ref().map(ConversationId::as_str))
                    .bind(event.message_id.as_ref().map(MessageId::as_str))
                    .bind(event.kind.as_str())
                    .bind(event.data.to_string());
            }
            query.execute(&mut **tx).await?;
        }
        Ok(())
    }

    /// Every tenant's events after `after`, oldest first, at most `limit`: for the
    /// real-time hub only, which sorts them into rooms itself. On PostgreSQL the read
    /// carries its snapshot's bounds, taken in the same statement.
    pub async fn events_for_fanout(
        &self,
        after: i64,
        limit: i64,
    ) -> Result<FanoutRead, StoreError> {
        let reader = self.db().reader();
        if self.db().backend() == Backend::Sqlite {
            let rows = sqlx::query(&format!(
                "SELECT {COLUMNS} FROM events WHERE id > $1 ORDER BY id LIMIT $2"
            ))
            .bind(after)
            .bind(limit)
            .fetch_all(reader)
            .await?;
            let events = rows.iter().map(Event::from_row).collect::<Result<_, _>>()?;
            return Ok(FanoutRead {
                events,
                snapshot: None,
            });
        }
        // One statement, one snapshot: the bounds describe exactly the rows read. The
        // LEFT JOIN keeps one row (of NULL events) when there are none.
        let columns = COLUMNS
            .split(", ")
            .map(|c| format!("e.{c}"))
            .collect::<Vec<_>>()
            .join(", ");
        let rows = sqlx::query(&format!(
            "SELECT s.xmin, s.xmax, {columns} FROM \
             (SELECT pg_snapshot_xmin(pg_current_snapshot())::text AS xmin, \
                     pg_snapshot_xmax(pg_current_snapshot())::text AS xmax) s \
             LEFT JOIN (SELECT * FROM events WHERE id > $1 ORDER BY id LIMIT $2) e ON TRUE \
             ORDER BY e.id"
        ))
        .bind(after)
        .bind(limit)
        .fetch_all(reader)
        .await?;
        let mut snapshot = None;
        let mut events = Vec::with_capacity(rows.len());
        for row in &rows {
            if snapshot.is_none() {
                snapshot = Some(Snapshot {
                    xmin: parse_xid(row.try_get("xmin")?)?,
                    xmax: parse_xid(row.try_get("xmax")?)?,
                });
            }
            if row.try_get::<Option<i64>, _>("id")?.is_some() {
                events.push(Event::from_row(row)?);
            }
        }
        Ok(FanoutRead { events, snapshot })
    }

    /// The newest event id recorded before `before_ms` (0 if none): where a starting hub
    /// begins, a little in the past, so events committed around its start are not missed.
    pub async fn event_id_before(&self, before_ms: i64) -> Result<i64, StoreError> {
        // By the time index (the newest old row), not MAX(id) over every old row: the
        // start is approximate by design.
        let id: Option<i64> = sqlx::query_scalar(
            "SELECT id FROM events WHERE created_at < $1 ORDER BY created_at DESC, id DESC LIMIT 1",
        )
        .bind(before_ms)
        .fetch_optional(self.db().reader())
        .await?;
        Ok(id.unwrap_or(0))
    }

    /// The scope's newest event id (0 if none): a page drawn now shows everything up to
    /// it, so its socket resumes after it.
    pub async fn latest_event_id(&self, scope: &crate::TenantScope) -> Result<i64, StoreError> {
        let (agency, _) = scope.binds();
        let id: Option<i64> = sqlx::query_scalar("SELECT MAX(id) FROM events WHERE agency_id = $1")
            .bind(agency)
            .fetch_one(self.db().reader())
            .await?;
        Ok(id.unwrap_or(0))
    }

    /// The oldest event id still kept, if any: a resume from before it has lost events to
    /// pruning.
    pub async fn oldest_event_id(&self) -> Result<Option<i64>, StoreError> {
        Ok(sqlx::query_scalar("SELECT MIN(id) FROM events")
            .fetch_one(self.db().reader())
            .await?)
    }

    /// The scope's events with `after < id <= upto`, oldest first, at most `limit`,
    /// optionally of one conversation: what a reconnecting socket missed. Read behind the
    /// row-level security wall when the scope is walled.
    pub async fn events_replay(
        &self,
        scope: &TenantScope,
        conversation: Option<&ConversationId>,
        after: i64,
        upto: i64,
        limit: i64,
    ) -> Result<Vec<Event>, StoreError> {
        let (agency, location) = scope.binds();
        let mut reader = self.db().tenant_reader(scope).await?;
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM events WHERE {} AND id > $3 AND id <= $4 \
             AND ($5 IS NULL OR conversation_id = $5) ORDER BY id LIMIT $6",
            super::scope_filter(1, 2)
        ))
        .bind(agency)
        .bind(location)
        .bind(after)
        .bind(upto)
        .bind(conversation.map(ConversationId::as_str))
        .bind(limit)
        .fetch_all(&mut *reader)
        .await?;
        // A socket's replay is read while the hub keeps writing: end the transaction at
        // once rather than leave it open until the pool gets round to it.
        reader.finish().await?;
        rows.iter().map(Event::from_row).collect()
    }

    /// Deletes events recorded before `before_ms`; returns how many.
    pub async fn prune_events(&self, before_ms: i64) -> Result<u64, StoreError> {
        prune_events(self.db(), before_ms).await
    }
}

/// Deletes events recorded before `before_ms` (the worker pool's housekeeping calls it).
pub(crate) async fn prune_events(db: &crate::Db, before_ms: i64) -> Result<u64, StoreError> {
    let result = sqlx::query("DELETE FROM events WHERE created_at < $1")
        .bind(before_ms)
        .execute(db.writer())
        .await?;
    Ok(result.rows_affected())
}

fn parse_xid(text: String) -> Result<u64, StoreError> {
    text.parse()
        .map_err(|_| StoreError::Corrupt(format!("not a transaction id: {text:?}")))
}

impl crate::Db {
    /// What the real-time hub waits on: woken after this process commits events, and by
    /// other processes' `NOTIFY` once [`crate::Db::spawn_event_listener`] runs.
    pub fn events_notify(&self) -> &tokio::sync::Notify {
        self.wake().events()
    }
}
