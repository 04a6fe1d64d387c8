//! Media end to end: a contact's attachment fetched from the sandbox's media host, stored,
//! and handed to GHL as our signed link; refusals that still deliver the text; and the same
//! store/fetch/serve round trip on a real S3-compatible server (moto).

use std::time::Duration;

use serde_json::{json, Value};
use server::media::{link, LinkSigner};
use store::TenantScope;

use crate::bridge::{Bridge, LINE};

mod outbound;
mod providers;
mod s3;

const CONTACT: &str = "+19998887777";

/// Puts a file on the sandbox's media host; returns its URL.
pub(super) async fn host(
    bridge: &Bridge,
    name: &str,
    content_type: &str,
    bytes: Vec<u8>,
) -> String {
    let response = bridge
        .client
        .put(format!("{}/_control/media/{name}", bridge.sandbox))
        .header("content-type", content_type)
        .body(bytes)
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success());
    format!("{}/media/{name}", bridge.sandbox)
}

/// The contact writes `content` with one attachment; returns GHL's copy of the message.
async fn inbound_with_media(bridge: &Bridge, content: &str, media_url: &str) -> Value {
    bridge
        .control(
            "/sendblue/inbound",
            json!({"line": LINE, "from": CONTACT, "content": content, "media_url": media_url}),
        )
        .await;
    let mut found = None;
    bridge
        .eventually("GHL to receive the inbound message", async |b| {
            found = b.ghl_messages().await.into_iter().find(|m| {
                m["direction"] == "inbound"
                    && m["body"]
                        .as_str()
                        .is_some_and(|body| body.starts_with(content))
            });
            found.is_some()
        })
        .await;
    found.unwrap()
}

/// How many GET requests the sandbox's media host has answered.
async fn media_requests(bridge: &Bridge) -> usize {
    let requests = bridge.get("/media/requests").await;
    requests
        .as_array()
        .map_or(0, |r| r.iter().filter(|r| r["method"] == "GET").count())
}

/// The inbound message's timeline events of `kind`.
async fn events(bridge: &Bridge, kind: &str) -> Vec<Value> {
    let store = &bridge.test.store;
    let id: String = sqlx::query_scalar("SELECT id FROM messages WHERE direction = 'inbound'")
        .fetch_one(store.db().reader())
        .await
        .unwrap();
    let scope = TenantScope::for_location(&bridge.location);
    store
        .message_timeline(&scope, &id.parse().unwrap())
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.kind == kind)
        .map(|e| e.detail)
        .collect()
}

pub(super) fn image(len: usize) -> Vec<u8> {
    let mut bytes = vec![0xFF, 0xD8, 0xFF, 0xE0];
    bytes.extend((0..len.saturating_sub(4)).map(|i| (i % 251) as u8));
    bytes
}

/// The parts of one of our links: (key, expires, sig).
fn parts(link: &str) -> (String, u64, String) {
    let url = url::Url::parse(link).unwrap();
    let query: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
    (
        url.path().trim_start_matches("/media/").to_string(),
        query["expires"].parse().unwrap(),
        query["sig"].clone(),
    )
}

pub(super) async fn refusal(client: &reqwest::Client, url: &str) -> (u16, Value) {
    let response = client.get(url).send().await.unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_inbound_image_arrives_in_ghl_as_a_working_signed_link() {
    let bridge = Bridge::start().await;
    let photo = image(20_000);
    let url = host(&bridge, "IMG_0042.jpg", "image/jpeg", photo.clone()).await;
    let message = inbound_with_media(&bridge, "Look at this", &url).await;
    assert_eq!(message["body"], "Look at this");
    let attachments = message["attachments"].as_array().unwrap();
    assert_eq!(attachments.len(), 1, "{message}");
    let link = attachments[0].as_str().unwrap();
    assert!(
        link.starts_with(&format!("{}/media/", bridge.gateway)),
        "{link}"
    );
    assert!(
        !link.contains(&bridge.sandbox),
        "GHL must get our link, not the provider's"
    );

    let served = bridge.client.get(link).send().await.unwrap();
    assert_eq!(served.status(), 200);
    let headers = served.headers().clone();
    assert_eq!(headers["content-type"], "image/jpeg");
    assert_eq!(headers["content-disposition"], "inline");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    let cache = headers["cache-control"].to_str().unwrap();
    let max_age: u64 = cache
        .strip_prefix("private, max-age=")
        .unwrap()
        .parse()
        .unwrap();
    assert!((7 * 86_400 - 60..=7 * 86_400).contains(&max_age), "{cache}");
    assert_eq!(served.bytes().await.unwrap().to_vec(), photo);

    // Tampering of any part is refused with the stable error body.
    let (key, expires, sig) = parts(link);
    let base = format!("{}/media", bridge.gateway);
    let flipped = format!(
        "{}{}",
        if sig.starts_with('0') { "1" } else { "0" },
        &sig[1..]
    );
    let other_key = key.replace("/0-", "/1-");
    for bad in [
        format!("{base}/{key}?expires={expires}&sig={flipped}"),
        format!("{base}/{other_key}?expires={expires}&sig={sig}"),
        format!("{base}/{key}?expires={}&sig={sig}", expires + 86_400),
        format!("{base}/{key}?expires={expires}"),
        format!("{base}/{key}"),
    ] {
        let (status, body) = refusal(&bridge.client, &bad).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (403, Some("media_link_invalid")),
            "{bad}"
        );
    }
    // An authentic link past its expiry, made the way the server makes links.
    let keys = bridge.test.store.keys().derive(link::KEY_LABEL);
    let signer = LinkSigner::new(&keys[..], &bridge.gateway, Duration::from_secs(60));
    let expired = signer.link_until(&key, link::now_unix() - 1);
    let (status, body) = refusal(&bridge.client, &expired).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (410, Some("media_link_expired"))
    );
    // The same signer's fresh link works: the test really signs like the server.
    assert_eq!(
        bridge
            .client
            .get(signer.link(&key))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );

    let stored = events(&bridge, "media.stored").await;
    assert_eq!(stored.len(), 1, "{stored:?}");
    assert_eq!(stored[0]["size"], photo.len());
    assert_eq!(stored[0]["content_type"], "image/jpeg");
    assert!(stored[0]["key"]
        .as_str()
        .unwrap()
        .ends_with("/0-IMG_0042.jpg"));
    // Fetched once, from the media host.
    let fetches = bridge.get("/media/requests").await;
    assert_eq!(fetches.as_array().unwrap().len(), 1, "{fetches}");
    bridge.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_media_is_refused_and_the_text_still_arrives() {
    let bridge = Bridge::start_with(&[("SWITCHBOARD_MEDIA_MAX_BYTES", "2048")]).await;
    let url = host(&bridge, "huge.jpg", "image/jpeg", image(12_900)).await;
    let message = inbound_with_media(&bridge, "Big one", &url).await;
    assert_eq!(
        message["body"],
        "Big one\n[attachment refused: 13 KB is over the 2 KB limit]"
    );
    assert_eq!(message["attachments"].as_array().map_or(0, Vec::len), 0);
    let refused = events(&bridge, "media.refused").await;
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert_eq!(refused[0]["reason"], "13 KB is over the 2 KB limit");
    assert_eq!(refused[0]["size"], 12_900);
    assert!(events(&bridge, "media.stored").await.is_empty());
    bridge.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disallowed_type_is_refused_and_a_missing_file_noted() {
    let bridge = Bridge::start().await;
    let url = host(
        &bridge,
        "page.html",
        "text/html",
        b"<script>x</script>".to_vec(),
    )
    .await;
    let message = inbound_with_media(&bridge, "See page", &url).await;
    assert_eq!(
        message["body"],
        "See page\n[attachment refused: text/html is not an allowed attachment type]"
    );
    assert_eq!(message["attachments"].as_array().map_or(0, Vec::len), 0);
    let refused = events(&bridge, "media.refused").await;
    assert_eq!(
        refused[0]["reason"],
        "text/html is not an allowed attachment type"
    );
    bridge.stop().await;
}

/// Production refuses media on internal addresses (loopback, private networks, cloud
/// metadata): the sandbox's own media host, on loopback, is refused, and the text goes on.
#[tokio::test]
async fn media_on_an_internal_address_is_refused_and_never_fetched() {
    let bridge = Bridge::start_with(&[(crate::ALLOW_INTERNAL_MEDIA, "false")]).await;
    let url = host(&bridge, "inside.png", "image/png", image(1_000)).await;
    let fetched_before = media_requests(&bridge).await;
    let message = inbound_with_media(&bridge, "Look", &url).await;
    let reason = "its address is internal (loopback, private network or metadata service)";
    assert_eq!(
        message["body"],
        format!("Look\n[attachment refused: {reason}]")
    );
    assert_eq!(events(&bridge, "media.refused").await[0]["reason"], reason);
    assert_eq!(
        media_requests(&bridge).await,
        fetched_before,
        "nothing was fetched"
    );
    bridge.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_media_host_retries_the_job_and_ghl_gets_the_message_once() {
    let bridge = Bridge::start().await;
    let url = host(&bridge, "later.png", "image/png", image(3_000)).await;
    bridge
        .control(
            "/faults",
            json!({"target": "media", "kind": "status", "code": 503, "duration_ms": 1500}),
        )
        .await;
    let message = inbound_with_media(&bridge, "Eventually", &url).await;
    assert_eq!(message["body"], "Eventually");
    assert_eq!(message["attachments"].as_array().unwrap().len(), 1);
    let failed = events(&bridge, "media.failed").await;
    assert!(!failed.is_empty());
    assert_eq!(failed[0]["error"], "the media host answered HTTP 503");
    assert_eq!(events(&bridge, "media.stored").await.len(), 1);
    let copies = bridge
        .ghl_messages()
        .await
        .into_iter()
        .filter(|m| m["body"] == "Eventually")
        .count();
    assert_eq!(copies, 1);
    bridge.stop().await;
}

/// A media host that stays down holds the contact's text back for a few runs only
/// (`MEDIA_ATTEMPTS`), not for the job's whole retry budget.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_media_host_that_stays_down_holds_the_text_back_only_briefly() {
    let bridge = Bridge::start().await;
    let url = host(&bridge, "never.png", "image/png", image(2_000)).await;
    bridge
        .control(
            "/faults",
            json!({"target": "media", "kind": "status", "code": 503, "duration_ms": 600_000}),
        )
        .await;
    bridge
        .control(
            "/sendblue/inbound",
            json!({"line": LINE, "from": CONTACT, "content": "Can you see it?", "media_url": url}),
        )
        .await;
    let mut found = None;
    bridge
        .eventually_within(
            "GHL to receive the text without its attachment",
            Duration::from_secs(45),
            async |b| {
                found = b.ghl_messages().await.into_iter().find(|m| {
                    m["body"]
                        .as_str()
                        .is_some_and(|t| t.starts_with("Can you see it?"))
                });
                found.is_some()
            },
        )
        .await;
    let message = found.unwrap();
    let body = message["body"].as_str().unwrap();
    assert!(body.contains("HTTP 503"), "{body}");
    assert!(message["attachments"].as_array().unwrap().is_empty());
    assert!(body.contains("could not be fetched"), "{body}");
    // Retried, then given up on the last of its runs.
    let failed = events(&bridge, "media.failed").await;
    let attempts = server::media::MEDIA_ATTEMPTS as usize;
    assert_eq!(failed.len(), attempts - 1, "{failed:?}");
    assert_eq!(events(&bridge, "media.refused").await.len(), 1);
    bridge.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twilio_media_is_fetched_with_the_accounts_basic_auth() {
    use crate::bridge::{TWILIO_SID, TWILIO_TOKEN};
    let bridge = Bridge::start_provider(domain::Provider::Twilio, &[]).await;
    let photo = image(9_000);
    host(&bridge, "ME0123", "image/jpeg", photo.clone()).await;
    let media_url = format!(
        "{}/twilio/2010-04-01/Accounts/{TWILIO_SID}/Messages/MM0123/Media/ME0123",
        bridge.sandbox
    );
    // Twilio's media needs the account's credentials: without them, 401.
    let anonymous = bridge.client.get(&media_url).send().await.unwrap();
    assert_eq!(anonymous.status(), 401);
    bridge
        .control(
            "/twilio/inbound",
            json!({"line": LINE, "from": CONTACT, "body": "From Twilio", "mediaUrls": [media_url]}),
        )
        .await;
    let mut found = None;
    bridge
        .eventually("GHL to receive the Twilio message", async |b| {
            found = b
                .ghl_messages()
                .await
                .into_iter()
                .find(|m| m["body"] == "From Twilio");
            found.is_some()
        })
        .await;
    let message = found.unwrap();
    let link = message["attachments"][0].as_str().unwrap().to_string();
    assert!(
        link.starts_with(&format!("{}/media/", bridge.gateway)),
        "{message}"
    );
    let served = bridge.client.get(&link).send().await.unwrap();
    assert_eq!(served.headers()["content-type"], "image/jpeg");
    assert_eq!(served.bytes().await.unwrap().to_vec(), photo);
    // The gateway's fetch carried the account's Basic auth.
    let requests = bridge.get("/twilio/requests").await;
    let fetches: Vec<&Value> = requests
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["method"] == "GET" && r["path"].as_str().unwrap().ends_with("/Media/ME0123"))
        .collect();
    // Ours above without auth, then the gateway's, once.
    assert_eq!(fetches.len(), 2, "{requests}");
    let fetch = fetches[1];
    use base64::Engine as _;
    let basic =
        base64::engine::general_purpose::STANDARD.encode(format!("{TWILIO_SID}:{TWILIO_TOKEN}"));
    assert_eq!(
        fetch["headers"]["authorization"],
        format!("Basic {basic}"),
        "{fetch}"
    );
    bridge.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rerun_fetches_nothing_twice_and_keeps_the_order_of_notes_and_links() {
    let bridge = Bridge::start_provider(
        domain::Provider::Twilio,
        &[("SWITCHBOARD_MEDIA_MAX_BYTES", "2048")],
    )
    .await;
    let big = host(&bridge, "big.jpg", "image/jpeg", image(5_000)).await;
    let later = host(&bridge, "later.png", "image/png", image(1_500)).await;
    bridge
        .control(
            "/faults",
            json!({"target": "media", "path_prefix": "/media/later.png", "kind": "status", "code": 503, "duration_ms": 1500}),
        )
        .await;
    bridge
        .control(
            "/twilio/inbound",
            json!({"line": LINE, "from": CONTACT, "body": "Two files", "mediaUrls": [big, later]}),
        )
        .await;
    let mut found = None;
    bridge
        .eventually("GHL to receive the message", async |b| {
            found = b.ghl_messages().await.into_iter().find(|m| {
                m["body"]
                    .as_str()
                    .is_some_and(|t| t.starts_with("Two files"))
            });
            found.is_some()
        })
        .await;
    let message = found.unwrap();
    assert_eq!(
        message["body"],
        "Two files\n[attachment refused: 5 KB is over the 2 KB limit]"
    );
    let links = message["attachments"].as_array().unwrap();
    assert_eq!(links.len(), 1);
    assert!(
        links[0].as_str().unwrap().contains("/1-later.png?"),
        "{links:?}"
    );
    // The job ran at least twice (the 503), yet the refused file was fetched once and the
    // stored one is stored once.
    assert!(!events(&bridge, "media.failed").await.is_empty());
    assert_eq!(events(&bridge, "media.refused").await.len(), 1);
    assert_eq!(events(&bridge, "media.stored").await.len(), 1);
    let requests = bridge.get("/media/requests").await;
    let gets = |path: &str| {
        requests
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["path"] == path)
            .count()
    };
    assert_eq!(gets("/media/big.jpg"), 1, "{requests}");
    assert!(gets("/media/later.png") >= 2, "{requests}");
    bridge.stop().await;
}
