//! The send box's files: uploaded with the form, stored with the message, handed to the
//! provider as our signed link; refused whole (nothing stored, nothing sent) when a file
//! is the wrong type, too big, one too many, or the form lacks its token.

use std::time::Duration;

use reqwest::StatusCode;

use super::pages::inbound;
use super::{field, Dashboard, Session, EMAIL};

/// A PNG's signature and 1.5 MB after it: bigger than the server's usual body limit.
fn flyer() -> Vec<u8> {
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    png.resize(1536 * 1024, 7);
    png
}

async fn sends_with_media(d: &Dashboard) -> Vec<serde_json::Value> {
    let sent = d.bridge.get("/sendblue/messages").await;
    sent.as_array()
        .unwrap()
        .iter()
        .filter(|m| m["media_url"].as_str().is_some_and(|u| !u.is_empty()))
        .cloned()
        .collect()
}

async fn messages_in(s: &mut Session, conversation: &str) -> usize {
    let page = s.get(&format!("/inbox/{conversation}")).await;
    page.text().await.unwrap().matches("id=\"msg-").count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_goes_out_as_our_signed_link_once_and_bad_ones_change_nothing() {
    let d = Dashboard::start().await;
    let mut s = Session::new(&d);
    s.sign_in(EMAIL).await;
    let conversation = inbound(&d, &mut s, "Do you have a flyer?").await;
    let send = format!("/inbox/{conversation}/send");
    let thread = s.get(&format!("/inbox/{conversation}")).await;
    let key = field(&thread.text().await.unwrap(), "key");
    let csrf = s.csrf();
    let png = flyer();

    let posted = s
        .post_multipart(
            &send,
            &csrf,
            &[
                ("body", "Here is the flyer"),
                ("key", &key),
                ("attachments", ""),
            ],
            &[
                ("files", "Spring Flyer.png", "image/png", &png),
                // A file input left empty sends an empty, nameless part: ignored.
                ("files", "", "application/octet-stream", b""),
            ],
        )
        .await;
    assert_eq!(
        posted.status(),
        StatusCode::SEE_OTHER,
        "{:?}",
        posted.text().await
    );
    d.bridge
        .eventually("SendBlue to receive the file", async |_| {
            !sends_with_media(&d).await.is_empty()
        })
        .await;
    let sent = sends_with_media(&d).await;
    assert_eq!(sent[0]["content"], "Here is the flyer");
    let link = sent[0]["media_url"].as_str().unwrap().to_string();
    assert!(
        link.starts_with(&format!("{}/media/", d.bridge.gateway)) && link.contains("&sig="),
        "{link}"
    );
    assert!(link.contains("SpringFlyer.png"), "{link}");
    let fetched = reqwest::get(&link).await.unwrap();
    assert_eq!(fetched.status(), StatusCode::OK);
    assert_eq!(fetched.headers()["content-type"], "image/png");
    assert_eq!(fetched.bytes().await.unwrap().as_ref(), png.as_slice());

    // The same form again (a double click): the first message, nothing more sent.
    let again = s
        .post_multipart(
            &send,
            &csrf,
            &[("body", "Here is the flyer"), ("key", &key)],
            &[("files", "Spring Flyer.png", "image/png", &png)],
        )
        .await;
    assert_eq!(again.status(), StatusCode::SEE_OTHER);
    let before = messages_in(&mut s, &conversation).await;

    // Refused whole: a type we don't carry, a file over the limit, one file too many,
    // a form without its token.
    let page: &[u8] = b"<html><script>alert(1)</script></html>";
    let too_big = vec![0u8; 5 * 1024 * 1024 + 1];
    let five: Vec<(&str, &str, &str, &[u8])> =
        vec![("files", "a.png", "image/png", b"\x89PNG".as_slice()); 5];
    for (why, token, files, status) in [
        (
            "html",
            csrf.as_str(),
            vec![("files", "page.html", "text/html", page)],
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ),
        (
            "too big",
            csrf.as_str(),
            vec![("files", "big.png", "image/png", too_big.as_slice())],
            StatusCode::PAYLOAD_TOO_LARGE,
        ),
        (
            "five files",
            csrf.as_str(),
            five,
            StatusCode::PAYLOAD_TOO_LARGE,
        ),
        (
            "no token",
            "",
            vec![("files", "a.png", "image/png", b"\x89PNG".as_slice())],
            StatusCode::FORBIDDEN,
        ),
    ] {
        let refused = s
            .post_multipart(&send, token, &[("body", why), ("key", why)], &files)
            .await;
        assert_eq!(refused.status(), status, "{why}");
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        messages_in(&mut s, &conversation).await,
        before,
        "nothing stored"
    );
    assert_eq!(sends_with_media(&d).await.len(), 1, "sent once");
    d.bridge.stop().await;
}
