//! WhatsApp media: a contact's attachment is announced by id, looked up and downloaded with
//! the bearer, through the gateway's own channel requests (`channels::WhatsApp`).

use axum::http::HeaderMap;
use base64::Engine as _;
use channels::{Channel, WebhookEvent};
use serde_json::{json, Value};

use crate::whatsapp::{as_gateway_sees, contact_writes, credentials, setup, TOKEN};

#[tokio::test]
async fn inbound_media_is_looked_up_and_downloaded_with_the_bearer() {
    let (h, mut gw) = setup().await;
    let bytes = b"\x89PNG fake image bytes";
    let answer = contact_writes(
        &h,
        json!({"body": "look", "media": {"kind": "image", "mimeType": "image/png",
            "contentBase64": base64::engine::general_purpose::STANDARD.encode(bytes)}}),
    )
    .await;
    let media_id = answer["mediaId"].as_str().unwrap().to_string();
    let hook = gw.next().await;
    let image = &hook.json()["entry"][0]["changes"][0]["value"]["messages"][0]["image"];
    assert_eq!(image["id"], media_id.as_str());
    assert_eq!(image["caption"], "look");
    assert_eq!(image["mime_type"], "image/png");
    let sha256 = image["sha256"].as_str().unwrap().to_string();
    let reference = match &as_gateway_sees(&hook)[..] {
        [WebhookEvent::Inbound(m)] => {
            assert_eq!(m.body, "look");
            m.media_urls[0].clone()
        }
        other => panic!("{other:?}"),
    };
    assert_eq!(reference, format!("whatsapp-media:{media_id}"));
    // Through the channel's own requests, as the gateway would fetch it.
    let base = h.url("/whatsapp/v21.0");
    let lookup = channels::WhatsApp
        .media_request(&credentials(), &base, &reference)
        .unwrap();
    let r = h
        .http
        .get(&lookup.url)
        .headers(lookup.headers.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let answer: Value = r.json().await.unwrap();
    assert_eq!(answer["id"], media_id.as_str());
    assert_eq!(answer["mime_type"], "image/png");
    assert_eq!(answer["file_size"], bytes.len());
    assert_eq!(answer["messaging_product"], "whatsapp");
    assert_eq!(answer["sha256"], sha256.as_str());
    assert_eq!(sha256.len(), 64);
    let response = outbound::ApiResponse {
        status: axum::http::StatusCode::OK,
        headers: HeaderMap::new(),
        body: answer.to_string().into(),
    };
    let location = channels::WhatsApp.media_location(&response).unwrap();
    let download = channels::WhatsApp
        .media_request(&credentials(), &base, &location)
        .unwrap();
    let r = h
        .http
        .get(&download.url)
        .headers(download.headers)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "image/png");
    assert_eq!(&r.bytes().await.unwrap()[..], bytes);
    // Another app's token cannot read this number's media.
    h.control(
        "/whatsapp/accounts",
        json!({"line": "+15550000003", "phoneNumberId": "300000000000003", "accessToken": "other-app-token"}),
    )
    .await;
    let r = h
        .http
        .get(&lookup.url)
        .bearer_auth("other-app-token")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let r = h
        .http
        .get(&location)
        .bearer_auth("other-app-token")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    // Without the bearer, neither answers.
    assert_eq!(h.http.get(&location).send().await.unwrap().status(), 401);
    assert_eq!(h.http.get(&lookup.url).send().await.unwrap().status(), 401);
    let r = h
        .http
        .get(h.url("/whatsapp/v21.0/123456"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
}
