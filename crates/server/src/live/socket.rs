//! `GET /ws`: one dashboard's socket.
//!
//! Authenticated like the API (the `sb_access` cookie, or a bearer token or key) and only
//! from our own pages: a browser's `Origin` must be `SWITCHBOARD_PUBLIC_URL`'s (a
//! cross-site page could otherwise open a socket with the user's cookie); a client that
//! sends none is not a browser and has no cookie to borrow. The socket's room is its
//! principal's tenant scope, optionally narrowed by `location_id` or `conversation_id`,
//! each looked up through that scope first (another tenant's id is 404, before the
//! upgrade). `since` (or `Last-Event-ID`) replays what was missed from the table, then
//! live events follow with neither gap nor repeat. Frames are JSON:
//! `{"id","kind","location_id","conversation_id","message_id","data","at"}`, or
//! `{"kind":"reset"}` when events can't be replayed (pruned, or the socket fell behind):
//! the client then reloads what it shows.

use std::time::{Duration, Instant};

use axum::extract::rejection::QueryRejection;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::Response;
use domain::{ConversationId, LocationId};
use serde::Deserialize;
use store::repo::Event;
use store::{Store, TenantScope};
use tokio::sync::broadcast::error::RecvError;

use super::Live;
use crate::auth::{Permission, Principal};
use crate::http::ApiError;
use crate::AppState;

/// How often the server pings; a socket silent for two of these is dropped.
const PING_EVERY: Duration = Duration::from_secs(20);
/// The longest one frame may take to go out before the socket is given up.
const SEND_LIMIT: Duration = Duration::from_secs(10);
/// Events replayed per query.
const REPLAY_PAGE: i64 = 500;
/// The close code for an expired session (4000–4999 are the application's): the client
/// refreshes its token and reconnects with `since`.
const SESSION_EXPIRED: u16 = 4401;

/// The query of `GET /ws`.
#[derive(Debug, Deserialize)]
pub(crate) struct WsQuery {
    location_id: Option<String>,
    conversation_id: Option<String>,
    /// The last event id the client saw.
    since: Option<i64>,
}

/// Which events a socket may see and asked for.
#[derive(Debug, Clone)]
struct Room {
    scope: TenantScope,
    conversation: Option<ConversationId>,
}

impl Room {
    fn admits(&self, event: &Event) -> bool {
        event.agency_id == *self.scope.agency_id()
            && self
                .scope
                .location_id()
                .is_none_or(|l| *l == event.location_id)
            && self
                .conversation
                .as_ref()
                .is_none_or(|c| event.conversation_id.as_ref() == Some(c))
    }
}

/// `GET /ws`: checks who and from where, the room and the resume point, then upgrades.
pub(crate) async fn connect(
    State(state): State<AppState>,
    principal: Principal,
    headers: HeaderMap,
    query: Result<Query<WsQuery>, QueryRejection>,
    upgrade: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    if !same_origin(&headers, &state.config.public_url) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "origin",
            "a socket may be opened only from this server's own pages",
        ));
    }
    principal.require(Permission::ViewConversations)?;
    let Query(query) = query.map_err(|e| ApiError::bad_request("invalid_query", e.body_text()))?;
    let room = room(&state.store, principal.scope()?, &query).await?;
    let since = match query.since {
        Some(since) => Some(since),
        None => last_event_id(&headers)?,
    };
    let upgrade = upgrade.map_err(|e| {
        ApiError::new(
            e.status(),
            "websocket_required",
            format!("GET /ws must be a WebSocket handshake: {}", e.body_text()),
        )
    })?;
    let socket = Socket {
        live: state.live.clone(),
        store: state.store.clone(),
        room,
        since,
        expires_at_ms: principal.expires_at_ms,
    };
    Ok(upgrade.on_upgrade(move |ws| socket.serve(ws)))
}

/// Whether the request's `Origin` (if any) is the public URL's.
fn same_origin(headers: &HeaderMap, public_url: &str) -> bool {
    let Some(origin) = headers.get(header::ORIGIN) else {
        return true;
    };
    let ours = url::Url::parse(public_url).map(|u| u.origin().ascii_serialization());
    let theirs = origin
        .to_str()
        .ok()
        .and_then(|o| url::Url::parse(o).ok())
        .map(|u| u.origin().ascii_serialization());
    // An opaque origin ("null") serialises as "null" and never equals ours.
    matches!((ours, theirs), (Ok(a), Some(b)) if a == b && a != "null")
}

/// The `Last-Event-ID` header, the resume point of an EventSource-style client.
fn last_event_id(headers: &HeaderMap) -> Result<Option<i64>, ApiError> {
    headers
        .get("last-event-id")
        .map(|v| {
            v.to_str()
                .ok()
                .and_then(|v| v.trim().parse().ok())
                .ok_or_else(|| {
                    ApiError::bad_request("invalid_header", "Last-Event-ID must be an event id")
                })
        })
        .transpose()
}

/// The socket's room: the caller's scope, narrowed to a location or a conversation looked
/// up through it (another tenant's is 404, like a missing one).
async fn room(store: &Store, scope: &TenantScope, query: &WsQuery) -> Result<Room, ApiError> {
    let mut scope = scope.clone();
    if let Some(id) = &query.location_id {
        let id: LocationId = id.parse().map_err(|_| ApiError::not_found())?;
        let location = store.location(&scope, &id).await?;
        scope = scope.narrowed_to(&location);
    }
    let conversation = match &query.conversation_id {
        Some(id) => {
            let id: ConversationId = id.parse().map_err(|_| ApiError::not_found())?;
            Some(store.conversation(&scope, &id).await?.id)
        }
        None => None,
    };
    Ok(Room {
        scope,
        conversation,
    })
}

/// One open socket and what it needs.
struct Socket {
    live: Live,
    store: Store,
    room: Room,
    since: Option<i64>,
    expires_at_ms: Option<i64>,
}

/// Counts open sockets in `switchboard_ws_connections` while it lives.
struct Open;

impl Open {
    fn new() -> Self {
        metrics::gauge!("switchboard_ws_connections").increment(1.0);
        Open
    }
}

impl Drop for Open {
    fn drop(&mut self) {
        metrics::gauge!("switchboard_ws_connections").decrement(1.0);
    }
}

/// Why a socket stops.
#[derive(Debug)]
struct Gone;

impl Socket {
    async fn serve(self, mut ws: WebSocket) {
        let _open = Open::new();
        if let Err(Gone) = self.run(&mut ws).await {
            return;
        }
        let _ = ws.send(Message::Close(None)).await;
    }

    async fn run(&self, ws: &mut WebSocket) -> Result<(), Gone> {
        let subscription = match self.live.subscribe().await {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, "a socket could not join the real-time hub");
                return Ok(());
            }
        };
        let mut events = subscription.events;
        let floor = self.catch_up(ws, subscription.horizon).await?;
        let mut ping =
            tokio::time::interval_at(tokio::time::Instant::now() + PING_EVERY, PING_EVERY);
        let mut last_heard = Instant::now();
        let expiry = self.expiry();
        tokio::pin!(expiry);
        loop {
            tokio::select! {
                event = events.recv() => match event {
                    Ok(event) if event.id > floor && self.room.admits(&event) => {
                        send(ws, Message::Text(frame(&event).into())).await?;
                    }
                    Ok(_) => {}
                    Err(RecvError::Lagged(missed)) => {
                        tracing::info!(missed, "a slow socket fell behind; told to reload");
                        send(ws, reset()).await?;
                    }
                    Err(RecvError::Closed) => return Ok(()),
                },
                incoming = ws.recv() => match incoming {
                    Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return Err(Gone),
                    Some(Ok(_)) => last_heard = Instant::now(),
                },
                _ = ping.tick() => {
                    if last_heard.elapsed() > 2 * PING_EVERY {
                        return Err(Gone);
                    }
                    send(ws, Message::Ping(Default::default())).await?;
                }
                () = &mut expiry => {
                    let close = CloseFrame { code: SESSION_EXPIRED, reason: "session expired".into() };
                    let _ = send(ws, Message::Close(Some(close))).await;
                    return Err(Gone);
                }
            }
        }
    }

    /// Replays the room's events after `since` up to `horizon` (or says `reset` when they
    /// were pruned); returns the id after which live events are new to this socket.
    async fn catch_up(&self, ws: &mut WebSocket, horizon: i64) -> Result<i64, Gone> {
        let Some(since) = self.since else {
            return Ok(horizon);
        };
        if since >= horizon {
            // Ahead of this process's hub (it came from another one): live events it
            // already has are skipped.
            return Ok(since);
        }
        let oldest = match self.store.oldest_event_id().await {
            Ok(oldest) => oldest,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the event log's start");
                send(ws, reset()).await?;
                return Ok(horizon);
            }
        };
        if oldest.is_none_or(|oldest| since + 1 < oldest) {
            send(ws, reset()).await?;
            return Ok(horizon);
        }
        let mut after = since;
        loop {
            let page = self
                .store
                .events_replay(
                    &self.room.scope,
                    self.room.conversation.as_ref(),
                    after,
                    horizon,
                    REPLAY_PAGE,
                )
                .await;
            let page = match page {
                Ok(page) => page,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot replay events to a socket");
                    send(ws, reset()).await?;
                    return Ok(horizon);
                }
            };
            for event in &page {
                send(ws, Message::Text(frame(event).into())).await?;
            }
            match page.last() {
                Some(last) if page.len() as i64 == REPLAY_PAGE => after = last.id,
                _ => return Ok(horizon),
            }
        }
    }

    /// Completes when the session's access token expires (never for an API key).
    async fn expiry(&self) {
        match self.expires_at_ms {
            Some(at) => {
                let left = at.saturating_sub(self.store.now_ms()).max(0);
                tokio::time::sleep(Duration::from_millis(u64::try_from(left).unwrap_or(0))).await;
            }
            None => std::future::pending().await,
        }
    }
}

/// Sends one frame within [`SEND_LIMIT`]; a socket that can't take it is gone.
async fn send(ws: &mut WebSocket, message: Message) -> Result<(), Gone> {
    match tokio::time::timeout(SEND_LIMIT, ws.send(message)).await {
        Ok(Ok(())) => {
            metrics::counter!("switchboard_ws_frames_sent_total").increment(1);
            Ok(())
        }
        _ => Err(Gone),
    }
}

/// An event as the dashboard reads it.
fn frame(event: &Event) -> String {
    serde_json::json!({
        "id": event.id,
        "kind": event.kind,
        "location_id": event.location_id,
        "conversation_id": event.conversation_id,
        "message_id": event.message_id,
        "data": event.data,
        "at": event.created_at_ms,
    })
    .to_string()
}

/// "Reload what you show": events were lost to this socket.
fn reset() -> Message {
    metrics::counter!("switchboard_ws_resets_total").increment(1);
    Message::Text(r#"{"kind":"reset"}"#.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_origin(origin: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::ORIGIN,
            origin.parse().unwrap_or_else(|_| unreachable!()),
        );
        headers
    }

    #[test]
    fn only_our_own_origin_or_none_may_open_a_socket() {
        let ours = "https://app.example.com";
        assert!(same_origin(&HeaderMap::new(), ours));
        assert!(same_origin(&with_origin("https://app.example.com"), ours));
        assert!(same_origin(
            &with_origin("https://APP.example.com:443"),
            ours
        ));
        assert!(!same_origin(&with_origin("https://evil.example.com"), ours));
        assert!(!same_origin(&with_origin("http://app.example.com"), ours));
        assert!(!same_origin(
            &with_origin("https://app.example.com:8443"),
            ours
        ));
        assert!(!same_origin(&with_origin("null"), ours));
        assert!(!same_origin(&with_origin("not a url"), ours));
    }
}
