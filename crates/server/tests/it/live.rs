//! `GET /ws`: real-time events on real sockets, against a real server.

use std::time::Duration;

use futures_util::StreamExt;
use reqwest::header::{AUTHORIZATION, COOKIE, ORIGIN};
use serde_json::{json, Value};
use store::repo::NewUser;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::api::{world, World};
use crate::auth::PASSWORD;
use crate::bridge::{Bridge, LINE};
use crate::TestServer;

type Socket = WebSocketStream<MaybeTlsStream<tokio::net::TcpStream>>;

/// How long a test waits for a frame that should come.
const PATIENCE: Duration = Duration::from_secs(15);

/// How a socket proves who it is.
enum Auth<'a> {
    Cookie(&'a str),
    Bearer(&'a str),
    Nobody,
}

/// Opens `/ws?{query}` on `base`; the HTTP status when the handshake is refused.
async fn open(
    base: &str,
    auth: Auth<'_>,
    origin: Option<&str>,
    query: &str,
) -> Result<Socket, u16> {
    let url = format!("{}/ws?{query}", base.replacen("http", "ws", 1));
    let mut request = url.into_client_request().unwrap();
    let headers = request.headers_mut();
    match auth {
        Auth::Cookie(token) => {
            headers.insert(COOKIE, format!("sb_access={token}").parse().unwrap());
        }
        Auth::Bearer(token) => {
            headers.insert(AUTHORIZATION, format!("Bearer {token}").parse().unwrap());
        }
        Auth::Nobody => {}
    }
    if let Some(origin) = origin {
        headers.insert(ORIGIN, origin.parse().unwrap());
    }
    match tokio_tungstenite::connect_async(request).await {
        Ok((socket, _)) => Ok(socket),
        Err(WsError::Http(response)) => Err(response.status().as_u16()),
        Err(e) => panic!("cannot open the socket: {e}"),
    }
}

/// The next JSON frame, skipping pings; fails the test after [`PATIENCE`].
async fn next_frame(socket: &mut Socket) -> Value {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let message = tokio::time::timeout_at(deadline, socket.next())
            .await
            .expect("a frame should have come")
            .expect("the socket closed")
            .unwrap();
        if let Message::Text(text) = message {
            return serde_json::from_str(&text).unwrap();
        }
    }
}

/// Fails if a frame comes within `quiet`.
async fn no_frame(socket: &mut Socket, quiet: Duration) {
    let deadline = tokio::time::Instant::now() + quiet;
    loop {
        match tokio::time::timeout_at(deadline, socket.next()).await {
            Err(_) => return,
            Ok(Some(Ok(Message::Text(text)))) => panic!("unexpected frame: {text}"),
            Ok(Some(Ok(_))) => {}
            Ok(other) => panic!("the socket ended: {other:?}"),
        }
    }
}

/// Frames until one of `kind` for `message_id`.
async fn frame_for(socket: &mut Socket, kind: &str, check: impl Fn(&Value) -> bool) -> Value {
    loop {
        let frame = next_frame(socket).await;
        if frame["kind"] == kind && check(&frame) {
            return frame;
        }
    }
}

/// Makes a user and signs them in at `base`; answers their access token.
async fn signed_in(base: &str, store: &store::Store, email: &str, new: NewUser) -> String {
    let mut tx = store.begin().await.unwrap();
    store
        .create_user(
            &mut tx,
            &NewUser {
                email: email.into(),
                password_hash: Some(server::auth::hash_password(PASSWORD).unwrap()),
                ..new
            },
        )
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let answer: Value = reqwest::Client::new()
        .post(format!("{base}/api/v1/auth/login"))
        .json(&json!({"email": email, "password": PASSWORD}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    answer["access_token"].as_str().unwrap().to_string()
}

fn agency_admin(agency: &domain::AgencyId) -> NewUser {
    NewUser {
        email: String::new(),
        name: "Admin".into(),
        role: "agency_admin".into(),
        password_hash: None,
        agency_id: Some(agency.clone()),
        location_id: None,
    }
}

/// The bearer token inside a world's `Authorization` value.
fn token(world: &World) -> &str {
    world.admin.trim_start_matches("Bearer ")
}

/// Sends a message into the world's conversation through the API; answers its id.
async fn api_send(server_base: &str, world: &World, body: &str) -> String {
    let response = reqwest::Client::new()
        .post(format!(
            "{server_base}/api/v1/conversations/{}/messages",
            world.id("conversations")
        ))
        .header(AUTHORIZATION, &world.admin)
        .json(&json!({"body": body}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 201);
    let sent: Value = response.json().await.unwrap();
    sent["id"].as_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_contacts_message_and_its_replys_statuses_reach_the_agency_and_no_one_else() {
    let bridge = Bridge::start().await;
    let store = bridge.test.store.clone();
    let base = bridge.gateway.clone();
    let ours = signed_in(
        &base,
        &store,
        "owner@bridge.test",
        agency_admin(&bridge.location.agency_id),
    )
    .await;
    let mut tx = store.begin().await.unwrap();
    let other = store
        .upsert_agency(&mut tx, "Other", Some("co-other"))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let theirs = signed_in(&base, &store, "owner@other.test", agency_admin(&other.id)).await;
    // The dashboard's socket: its cookie, from its own origin.
    let mut socket = open(&base, Auth::Cookie(&ours), Some(&base), "")
        .await
        .unwrap();
    let mut stranger = open(&base, Auth::Bearer(&theirs), None, "").await.unwrap();

    bridge
        .control(
            "/sendblue/inbound",
            json!({"line": LINE, "from": "+19998887777", "content": "Hello there"}),
        )
        .await;
    let created = frame_for(&mut socket, "message.created", |_| true).await;
    assert_eq!(created["location_id"], bridge.location.id.as_str());
    assert_eq!(created["data"]["direction"], "inbound");
    assert!(created["id"].as_i64().unwrap() > 0);
    assert!(created["at"].as_i64().unwrap() > 0);
    assert!(created["conversation_id"].is_string());
    assert!(
        !created.to_string().contains("Hello there"),
        "no bodies in events: {created}"
    );

    // GHL's user answers: stored, sent, delivered, each on the socket.
    bridge
        .control("/ghl/outbound", json!({"locationId": crate::bridge::GHL_LOCATION, "phone": "+19998887777", "message": "Hi from GHL"}))
        .await;
    let reply = frame_for(&mut socket, "message.created", |f| {
        f["data"]["direction"] == "outbound"
    })
    .await;
    let reply_id = reply["message_id"].as_str().unwrap().to_string();
    assert_eq!(reply["data"]["status"], "pending");
    let mine = |f: &Value| f["message_id"] == reply_id.as_str();
    let sent = frame_for(&mut socket, "message.status", mine).await;
    assert_eq!(sent["data"]["status"], "sent");
    let delivered = frame_for(&mut socket, "message.status", mine).await;
    assert_eq!(delivered["data"]["status"], "delivered");
    assert!(delivered["id"].as_i64() > sent["id"].as_i64());

    // Another agency heard none of it.
    no_frame(&mut stranger, Duration::from_millis(1500)).await;
    socket.close(None).await.unwrap();
    bridge.stop().await;
}

#[tokio::test]
async fn a_socket_needs_a_session_our_origin_and_ids_of_its_own_tenant() {
    let server = TestServer::start(&[("SWITCHBOARD_PUBLIC_URL", "https://app.example.com")]).await;
    let a = world(&server, "alpha").await;
    let b = world(&server, "bravo").await;
    let base = server.base.clone();
    assert_eq!(open(&base, Auth::Nobody, None, "").await.err(), Some(401));
    assert_eq!(
        open(&base, Auth::Cookie("forged"), None, "").await.err(),
        Some(401)
    );
    assert_eq!(
        open(&base, Auth::Bearer("forged"), None, "").await.err(),
        Some(401)
    );
    let cross_site = open(
        &base,
        Auth::Cookie(token(&a)),
        Some("https://evil.example.com"),
        "",
    )
    .await;
    assert_eq!(cross_site.err(), Some(403));
    let plain_http = open(
        &base,
        Auth::Cookie(token(&a)),
        Some("http://app.example.com"),
        "",
    )
    .await;
    assert_eq!(plain_http.err(), Some(403));
    // Another tenant's location or conversation is missing, like one that doesn't exist.
    for query in [
        format!("location_id={}", b.id("locations")),
        format!("conversation_id={}", b.id("conversations")),
        "conversation_id=cnv_nonsense".to_string(),
    ] {
        let refused = open(&base, Auth::Bearer(token(&a)), None, &query).await;
        assert_eq!(refused.err(), Some(404), "{query}");
    }
    assert_eq!(
        open(&base, Auth::Bearer(token(&a)), None, "since=soon")
            .await
            .err(),
        Some(400)
    );
    // A plain GET, no handshake, is refused after the checks that don't need one.
    let plain = server
        .client
        .get(server.url("/ws"))
        .header(AUTHORIZATION, &a.admin)
        .send()
        .await
        .unwrap();
    assert!(plain.status().is_client_error(), "{}", plain.status());
    // From our own pages, with our own ids: open, and narrowed to that conversation.
    let query = format!("conversation_id={}", a.id("conversations"));
    let mut socket = open(
        &base,
        Auth::Cookie(token(&a)),
        Some("https://app.example.com"),
        &query,
    )
    .await
    .unwrap();
    let id = api_send(&base, &a, "hello").await;
    let frame = frame_for(&mut socket, "message.created", |_| true).await;
    assert_eq!(frame["message_id"], id.as_str(), "{frame}");
    assert_eq!(frame["conversation_id"], a.id("conversations"));
    // The API's sends are counted on /metrics.
    let metrics = server
        .client
        .get(server.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("switchboard_ws_connections"), "{metrics}");
    assert!(
        metrics.contains("switchboard_live_events_fanned_out_total"),
        "{metrics}"
    );
}

#[tokio::test]
async fn a_reconnect_with_since_replays_exactly_what_was_missed_then_goes_live() {
    let server = TestServer::start(&[]).await;
    let a = world(&server, "alpha").await;
    let b = world(&server, "bravo").await;
    let base = server.base.clone();
    let mut socket = open(&base, Auth::Bearer(token(&a)), None, "")
        .await
        .unwrap();
    let first = api_send(&base, &a, "one").await;
    let seen = frame_for(&mut socket, "message.created", |_| true).await;
    assert_eq!(seen["message_id"], first.as_str());
    let last_seen = seen["id"].as_i64().unwrap();
    socket.close(None).await.unwrap();

    // Missed while away: two of ours, one of another agency's.
    let second = api_send(&base, &a, "two").await;
    api_send(&base, &b, "theirs").await;
    let third = api_send(&base, &a, "three").await;
    // Let the hub hand them out, so the replay and the live stream meet at a seam.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let mut socket = open(
        &base,
        Auth::Bearer(token(&a)),
        None,
        &format!("since={last_seen}"),
    )
    .await
    .unwrap();
    let replayed = [next_frame(&mut socket).await, next_frame(&mut socket).await];
    assert_eq!(replayed[0]["message_id"], second.as_str());
    assert_eq!(replayed[1]["message_id"], third.as_str());
    assert!(replayed[0]["id"].as_i64() < replayed[1]["id"].as_i64());
    // Then live, with nothing repeated.
    let fourth = api_send(&base, &a, "four").await;
    let live = next_frame(&mut socket).await;
    assert_eq!(live["message_id"], fourth.as_str(), "{live}");
    no_frame(&mut socket, Duration::from_millis(500)).await;
    let fourth_id = live["id"].as_i64().unwrap();

    // The same through Last-Event-ID.
    let url = format!("{}/ws", base.replacen("http", "ws", 1));
    let mut request = url.into_client_request().unwrap();
    request
        .headers_mut()
        .insert(AUTHORIZATION, a.admin.parse().unwrap());
    request
        .headers_mut()
        .insert("last-event-id", last_seen.to_string().parse().unwrap());
    let (mut resumed, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    for expected in [&second, &third, &fourth] {
        assert_eq!(
            next_frame(&mut resumed).await["message_id"],
            expected.as_str()
        );
    }

    // Older than what is kept: the client is told to reload, then goes on live.
    server
        .test
        .store
        .prune_events(server.test.store.now_ms() + 1)
        .await
        .unwrap();
    let mut stale = open(
        &base,
        Auth::Bearer(token(&a)),
        None,
        &format!("since={last_seen}"),
    )
    .await
    .unwrap();
    assert_eq!(next_frame(&mut stale).await, json!({"kind": "reset"}));
    let fifth = api_send(&base, &a, "five").await;
    let live = next_frame(&mut stale).await;
    assert_eq!(live["message_id"], fifth.as_str());
    assert!(live["id"].as_i64().unwrap() > fourth_id);
}

/// Two servers on one database, as two processes would be: an event raised through one
/// reaches a socket on the other (PostgreSQL `NOTIFY`; on SQLite the hub's tick).
#[tokio::test]
async fn an_event_raised_in_one_process_reaches_a_socket_on_another() {
    let server = TestServer::start(&[]).await;
    let a = world(&server, "alpha").await;
    let (other_base, stop, handle) = crate::start_run(&server.test, false).await;
    let mut socket = open(&other_base, Auth::Bearer(token(&a)), None, "")
        .await
        .unwrap();
    let id = api_send(&server.base, &a, "across").await;
    let frame = frame_for(&mut socket, "message.created", |_| true).await;
    assert_eq!(frame["message_id"], id.as_str());
    drop(socket);
    let _ = stop.send(());
    handle.await.unwrap().unwrap();
}

/// A socket ends when its access token does: closed with 4401, for the client to refresh
/// and resume.
#[tokio::test]
async fn a_socket_closes_when_its_access_token_expires() {
    use base64::Engine;
    let server = TestServer::start(&[]).await;
    let a = world(&server, "alpha").await;
    // The world's admin, in a token that lives two seconds.
    let payload = token(&a).split('.').nth(1).unwrap();
    let claims: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap();
    let now_ms = server.test.store.now_ms();
    let short = json!({
        "sub": claims["sub"], "iat": now_ms / 1000, "exp": now_ms / 1000 + 2,
        "iat_ms": now_ms, "typ": "access",
    });
    let key = store::testing::test_keys().derive("auth-access-jwt");
    let short = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &short,
        &jsonwebtoken::EncodingKey::from_secret(&key[..]),
    )
    .unwrap();
    let mut socket = open(&server.base, Auth::Bearer(&short), None, "")
        .await
        .unwrap();
    let closed = tokio::time::timeout(PATIENCE, async {
        loop {
            match socket.next().await {
                Some(Ok(Message::Close(frame))) => return frame,
                Some(Ok(_)) => {}
                other => panic!("the socket ended without a close frame: {other:?}"),
            }
        }
    })
    .await
    .expect("the socket should close when the token expires");
    let frame = closed.expect("a close frame with a code");
    assert_eq!(u16::from(frame.code), 4401);
}
