//! Media end to end: a contact's attachment fetched from the sandbox's media host, stored,
//! and handed to GHL as our signed link; refusals that still deliver the text; and the same
//! store/fetch/serve round trip on a real S3-compatible server (moto).

use std::time::Duration;

use serde_json::{json, Value};
use server::media::{link, LinkSigner};
use store::TenantScope;

use crate::bridge::{Bridge, LINE};

const CONTACT: &str = "+19998887777";

/// Puts a file on the sandbox's media host; returns its URL.
async fn host(bridge: &Bridge, name: &str, content_type: &str, bytes: Vec<u8>) -> String {
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

fn image(len: usize) -> Vec<u8> {
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

async fn refusal(client: &reqwest::Client, url: &str) -> (u16, Value) {
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

/// A moto S3 server on a free port, killed on drop. Fails loudly when moto is missing:
/// the S3 path must be tested, not skipped (`pip install 'moto[server]'`).
struct Moto {
    child: std::process::Child,
    endpoint: String,
}

impl Moto {
    async fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let args = ["-H", "127.0.0.1", "-p", &port.to_string()];
        let spawn = |program: &str, prefix: &[&str]| {
            std::process::Command::new(program)
                .args(prefix)
                .args(args)
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
        };
        let child = spawn("moto_server", &[])
            .or_else(|_| spawn("python3", &["-m", "moto.server"]))
            .expect("moto is required for the S3 test: pip install 'moto[server]'");
        let moto = Moto {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
        };
        let client = reqwest::Client::new();
        for _ in 0..200 {
            if client.get(&moto.endpoint).send().await.is_ok() {
                return moto;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("moto_server did not start on port {port} (is moto[server] installed?)");
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_stores_fetched_media_and_serves_it_through_signed_links() {
    let moto = Moto::start().await;
    let client = reqwest::Client::new();
    let created = client
        .put(format!("{}/switchboard-media", moto.endpoint))
        .send()
        .await
        .unwrap();
    assert!(created.status().is_success(), "{}", created.status());

    // The sandbox's media host, for something real to fetch.
    let sim = sandbox::Sandbox::new(sandbox::SandboxOptions::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let sandbox = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(sim.clone().serve(listener, std::future::pending()));
    let photo = image(40_000);
    client
        .put(format!("{sandbox}/_control/media/cat.png"))
        .header("content-type", "image/png")
        .body(photo.clone())
        .send()
        .await
        .unwrap();

    // The gateway's HTTP face with its media on S3.
    let test = store::testing::TestStore::new().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let gateway = format!("http://{}", listener.local_addr().unwrap());
    let data = tempfile::tempdir().unwrap();
    let config = config::Config::load(
        None,
        [
            ("SWITCHBOARD_DATA_DIR", data.path().display().to_string()),
            ("SWITCHBOARD_PUBLIC_URL", gateway.clone()),
            (
                "SWITCHBOARD_OBJECT_STORE_URL",
                "s3://switchboard-media/sb".into(),
            ),
        ],
    )
    .unwrap()
    .config;
    let aws = [
        ("AWS_ENDPOINT", moto.endpoint.as_str()),
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_REGION", "us-east-1"),
        ("AWS_ALLOW_HTTP", "true"),
    ]
    .map(|(k, v)| (k.to_string(), v.to_string()));
    let store =
        server::media::MediaStore::open_with(&config.object_store_url, aws.clone()).unwrap();
    let media = server::media::Media::with_store(store, &config, &test.store).unwrap();

    // Fetch, store, find again (what a rerun of the job relies on).
    let fetched = media
        .downloader
        .link(&format!("{sandbox}/media/cat.png"))
        .await
        .unwrap();
    assert_eq!(
        (fetched.content_type.as_str(), fetched.extension),
        ("image/png", "png")
    );
    let key = format!("ag_1/lo_1/msg_1/0-cat.{}", fetched.extension);
    assert_eq!(
        media.store.find("ag_1/lo_1/msg_1", "0-").await.unwrap(),
        None
    );
    media.store.put(&key, fetched.bytes).await.unwrap();
    assert_eq!(
        media
            .store
            .find("ag_1/lo_1/msg_1", "0-")
            .await
            .unwrap()
            .as_deref(),
        Some(key.as_str())
    );
    // It is really in the bucket, under the URL's prefix.
    let whole_bucket = server::media::MediaStore::open_with(
        &config::ObjectStoreUrl::S3 {
            bucket: "switchboard-media".into(),
            prefix: String::new(),
        },
        aws.clone(),
    )
    .unwrap();
    let (raw, content_type) = whole_bucket
        .get(&format!("sb/{key}"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((raw.to_vec(), content_type), (photo.clone(), "image/png"));
    assert!(whole_bucket.get(&key).await.unwrap().is_none());

    // Served through a signed link by the real HTTP face.
    let state = server::AppState::new(test.store.clone(), std::sync::Arc::new(config))
        .unwrap()
        .with_media(media.clone());
    let app = server::http::app(state, server::http::routes());
    tokio::spawn(async move { axum::serve(listener, app).await });
    let link = media.links.link(&key);
    assert!(
        link.starts_with(&format!("{gateway}/media/ag_1/")),
        "{link}"
    );
    let served = client.get(&link).send().await.unwrap();
    assert_eq!(served.status(), 200);
    assert_eq!(served.headers()["content-type"], "image/png");
    assert_eq!(served.bytes().await.unwrap().to_vec(), photo);
    let (status, _) = refusal(&client, &link.replace("0-cat", "1-cat")).await;
    assert_eq!(status, 403);
    // A well-signed link to an object that is not there is a plain 404.
    let (status, body) = refusal(&client, &media.links.link("ag_1/lo_1/msg_1/9-gone.png")).await;
    assert_eq!((status, body["code"].as_str()), (404, Some("not_found")));
    sim.shutdown();
}
