//! The media store on a real S3-compatible server: moto's server mode, started per test.

use std::time::Duration;

use super::{image, refusal};

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
            (crate::ALLOW_INTERNAL_MEDIA, "true".into()),
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
