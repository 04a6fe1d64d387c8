//! Outbound attachments for providers that take uploads: fetched into files, within limits.

use super::image;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outbound_attachments_are_fetched_into_files_within_the_limits() {
    use server::media::{fetch_outbound_files, Downloader, FetchError};
    let sim = sandbox::Sandbox::new(sandbox::SandboxOptions::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(sim.clone().serve(listener, std::future::pending()));
    let client = reqwest::Client::new();
    for (name, content_type, bytes) in [
        ("a.jpg", "image/jpeg", image(1_000)),
        ("report%20Q1.pdf", "application/pdf", b"%PDF-1.7".to_vec()),
        ("big.png", "image/png", image(5_000)),
        ("x.svg", "image/svg+xml", b"<svg/>".to_vec()),
    ] {
        client
            .put(format!("{base}/_control/media/{name}"))
            .header("content-type", content_type)
            .body(bytes)
            .send()
            .await
            .unwrap();
    }
    let downloader = Downloader::new(2048, true).unwrap();
    let url = |name: &str| format!("{base}/media/{name}");
    let files = fetch_outbound_files(&downloader, &[url("a.jpg"), url("report%20Q1.pdf")])
        .await
        .unwrap();
    let summary: Vec<_> = files
        .iter()
        .map(|f| (f.file_name.as_str(), f.content_type.as_str(), f.bytes.len()))
        .collect();
    assert_eq!(
        summary,
        [
            ("a.jpg", "image/jpeg", 1_000),
            ("reportQ1.pdf", "application/pdf", 8)
        ]
    );
    assert_eq!(files[0].bytes.to_vec(), image(1_000));
    let refused = fetch_outbound_files(&downloader, &[url("a.jpg"), url("big.png")]).await;
    assert_eq!(
        refused.unwrap_err(),
        FetchError::Refused {
            reason: "5 KB is over the 2 KB limit".into(),
            size: Some(5_000)
        }
    );
    let refused = fetch_outbound_files(&downloader, &[url("x.svg")]).await;
    assert!(
        matches!(refused, Err(FetchError::Refused { reason, .. }) if reason.contains("image/svg+xml"))
    );
    let missing = fetch_outbound_files(&downloader, &[url("nope.png")]).await;
    assert!(
        matches!(missing, Err(FetchError::Refused { reason, .. }) if reason.contains("HTTP 404"))
    );
    sim.add_fault(sandbox::FaultSpec {
        target: "media".into(),
        path_prefix: None,
        kind: sandbox::FaultKind::Status { code: 502 },
        probability: None,
        duration_ms: None,
    })
    .unwrap();
    let transient = fetch_outbound_files(&downloader, &[url("a.jpg")]).await;
    assert!(matches!(transient, Err(FetchError::Transient(_))));
    sim.shutdown();
}
