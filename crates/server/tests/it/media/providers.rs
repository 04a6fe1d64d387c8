//! Media through the providers that name attachments by id rather than by URL: WhatsApp's
//! media ids (looked up, then downloaded with the bearer) and UniPile's attachments
//! (downloaded with the API key), and UniPile's uploads of GHL's attachments.

use base64::Engine;
use domain::Provider;
use serde_json::{json, Value};

use super::{host, image};
use crate::bridge::{Bridge, GHL_LOCATION, LINE};

const CONTACT: &str = "+19998887777";

/// Waits for GHL's copy of the contact's message `text`.
async fn in_ghl(bridge: &Bridge, text: &str) -> Value {
    let mut found = None;
    bridge
        .eventually("GHL to receive the inbound message", async |b| {
            found = b
                .ghl_messages()
                .await
                .into_iter()
                .find(|m| m["direction"] == "inbound" && m["body"] == text);
            found.is_some()
        })
        .await;
    found.unwrap()
}

/// GETs GHL's one attachment link: it must be ours, and serve `bytes` as `content_type`.
async fn assert_served(bridge: &Bridge, message: &Value, content_type: &str, bytes: &[u8]) {
    let links = message["attachments"].as_array().unwrap();
    assert_eq!(links.len(), 1, "{message}");
    let link = links[0].as_str().unwrap();
    assert!(
        link.starts_with(&format!("{}/media/", bridge.gateway)),
        "{link}"
    );
    let served = bridge.client.get(link).send().await.unwrap();
    assert_eq!(served.status(), 200);
    assert_eq!(served.headers()["content-type"], content_type);
    assert_eq!(served.bytes().await.unwrap().as_ref(), bytes);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_whatsapp_image_arrives_in_ghl_as_our_link() {
    let bridge = Bridge::start_provider(Provider::Whatsapp, &[]).await;
    let photo = image(30_000);
    bridge
        .control(
            "/whatsapp/inbound",
            json!({"line": LINE, "from": CONTACT, "body": "Photo of the leak",
                "media": {"kind": "image", "mimeType": "image/jpeg",
                    "contentBase64": base64::engine::general_purpose::STANDARD.encode(&photo)}}),
        )
        .await;
    let message = in_ghl(&bridge, "Photo of the leak").await;
    assert_served(&bridge, &message, "image/jpeg", &photo).await;
    // The lookup and the download both carried the channel's bearer.
    let requests = bridge.get("/whatsapp/requests").await;
    let gets: Vec<&Value> = requests
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["method"] == "GET")
        .collect();
    assert_eq!(gets.len(), 2, "lookup, then download: {gets:?}");
    for get in gets {
        assert!(
            get["headers"]["authorization"]
                .as_str()
                .is_some_and(|a| a.starts_with("Bearer ")),
            "{get}"
        );
    }
    bridge.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_unipile_attachment_arrives_in_ghl_as_our_link() {
    let bridge = Bridge::start_provider(Provider::Unipile, &[]).await;
    let pdf = b"%PDF-1.7\n a quote for the roof".to_vec();
    bridge
        .control(
            "/unipile/inbound",
            json!({"line": LINE, "from": CONTACT, "body": "Here is the quote",
                "attachments": [{"fileName": "quote.pdf", "mimetype": "application/pdf",
                    "data": base64::engine::general_purpose::STANDARD.encode(&pdf)}]}),
        )
        .await;
    let message = in_ghl(&bridge, "Here is the quote").await;
    assert_served(&bridge, &message, "application/pdf", &pdf).await;
    bridge.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ghl_attachment_is_uploaded_to_unipile_as_a_file() {
    let bridge = Bridge::start_provider(Provider::Unipile, &[]).await;
    let photo = image(12_000);
    let url = host(&bridge, "floorplan.png", "image/png", photo.clone()).await;
    bridge
        .control(
            "/ghl/outbound",
            json!({"locationId": GHL_LOCATION, "phone": CONTACT, "message": "The plan",
                "attachments": [url], "userId": "user-1"}),
        )
        .await;
    let mut sent = None;
    bridge
        .eventually("UniPile to receive the message", async |b| {
            sent = b
                .get("/unipile/messages")
                .await
                .as_array()
                .unwrap()
                .iter()
                .find(|m| m["text"] == "The plan")
                .cloned();
            sent.is_some()
        })
        .await;
    let sent = sent.unwrap();
    let files = sent["attachments"].as_array().unwrap();
    assert_eq!(files.len(), 1, "{sent}");
    assert_eq!(files[0]["mimetype"], "image/png");
    assert_eq!(files[0]["file_size"], photo.len());
    bridge.stop().await;
}
