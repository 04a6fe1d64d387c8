//! The media host: files put through the control API are served with their type.

use sandbox::{FaultKind, FaultSpec, SandboxOptions};

use crate::start;

#[tokio::test]
async fn hosted_files_are_served_with_their_type_until_removed() {
    let h = start(SandboxOptions::default()).await;
    let png = vec![0x89, b'P', b'N', b'G', 1, 2, 3];
    let put = h
        .http
        .put(h.url("/_control/media/photo.png"))
        .header("content-type", "image/png")
        .body(png.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 200);
    let got = h.http.get(h.url("/media/photo.png")).send().await.unwrap();
    assert_eq!(got.status(), 200);
    assert_eq!(got.headers()["content-type"], "image/png");
    assert_eq!(got.bytes().await.unwrap().to_vec(), png);

    // Without a type, none is answered (the gateway must then refuse it, not guess).
    h.http
        .put(h.url("/_control/media/blob"))
        .body("x")
        .send()
        .await
        .unwrap();
    let got = h.http.get(h.url("/media/blob")).send().await.unwrap();
    assert!(got.headers().get("content-type").is_none());

    assert_eq!(
        h.http
            .get(h.url("/media/missing.png"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    h.sandbox
        .add_fault(FaultSpec {
            target: "media".into(),
            path_prefix: None,
            kind: FaultKind::Status { code: 503 },
            probability: None,
            duration_ms: None,
        })
        .unwrap();
    assert_eq!(
        h.http
            .get(h.url("/media/photo.png"))
            .send()
            .await
            .unwrap()
            .status(),
        503
    );
    h.sandbox.clear_faults();
    let removed = h
        .http
        .delete(h.url("/_control/media/photo.png"))
        .send()
        .await
        .unwrap();
    assert_eq!(removed.status(), 204);
    assert_eq!(
        h.http
            .get(h.url("/media/photo.png"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    assert_eq!(h.sandbox.requests("media").len(), 5);
}
