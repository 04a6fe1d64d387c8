//! `GET /api/v1/openapi.json`: served without sign-in, valid JSON, generated from the
//! routes (every `/api/v1` route the server answers is in it).

use serde_json::Value;

use crate::TestServer;

#[tokio::test]
async fn the_document_describes_every_api_route_and_its_security() {
    let server = TestServer::start(&[]).await;
    let response = server
        .client
        .get(server.url("/api/v1/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"].to_str().unwrap(),
        "application/json"
    );
    let doc: Value = response.json().await.unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let paths = doc["paths"].as_object().unwrap();
    for path in [
        "/api/v1/auth/login",
        "/api/v1/me",
        "/api/v1/api-keys/{id}",
        "/api/v1/agencies/{id}",
        "/api/v1/locations/{id}",
    ] {
        assert!(paths.contains_key(path), "{path} is not documented");
    }
    let schemes = doc["components"]["securitySchemes"].as_object().unwrap();
    for scheme in ["bearer", "api_key", "cookie"] {
        assert!(schemes.contains_key(scheme), "{scheme}");
    }
    for (path, item) in paths {
        assert!(path.starts_with("/api/v1/"), "{path}");
        for (method, operation) in item.as_object().unwrap() {
            let responses = operation["responses"].as_object().unwrap();
            for status in ["401", "404", "429"] {
                let error = &responses[status]["content"]["application/json"]["schema"];
                assert_eq!(
                    error["$ref"], "#/components/schemas/ErrorBody",
                    "{method} {path} {status}"
                );
            }
        }
    }
    // The same document, byte for byte, on every call: it is built once.
    let again = server
        .client
        .get(server.url("/api/v1/openapi.json"))
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(again, doc);
    server.stop().await;
}
