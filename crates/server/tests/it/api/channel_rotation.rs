//! Channel credential rotation, the checks of every provider against the sandbox, and
//! the channel list's pages.

use std::sync::Arc;

use domain::Provider;
use reqwest::Method;
use serde_json::{json, Value};
use server::connectors::{ChannelSender, Verification};
use store::TenantScope;

use super::channels::{sendblue_request, Providers, LINE, PUBLIC_URL, TWILIO_SID};
use super::{get, send, world};
use crate::TestServer;

#[tokio::test]
async fn rotation_replaces_credentials_only_when_the_provider_accepts_them() {
    let server = TestServer::start(&[("SWITCHBOARD_PUBLIC_URL", PUBLIC_URL)]).await;
    let alpha = world(&server, "alpha").await;
    let providers = Providers::start().await;
    // Unpaced, so the test's sends go one after another without waiting out the line's pace.
    let mut request = sendblue_request(&alpha, &providers, "ksecret");
    request["settings"] = json!({"messages_per_second": 0});
    let (status, created) = send(
        &server,
        Method::POST,
        &alpha.admin,
        "/api/v1/channels",
        &request,
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().unwrap().to_string();
    let rotate = format!("/api/v1/channels/{id}/credentials");
    let sender = ChannelSender::new(
        Arc::new(outbound::Outbound::new(outbound::BreakerPolicy::default()).unwrap()),
        PUBLIC_URL.into(),
    );
    let store = &server.test.store;
    let scope = TenantScope::for_location(&alpha.tenant.location);
    let send_one = async |body: &str| {
        let channel = store.channel(&scope, &id.parse().unwrap()).await.unwrap();
        let message = channels::OutboundMessage {
            to: "+15125550111".into(),
            from_line: LINE.into(),
            body: body.into(),
            reference: body.into(),
            ..Default::default()
        };
        sender.send(store, &channel, &message).await.unwrap();
        let sends: Vec<Value> = providers
            .requests("sendblue")
            .await
            .into_iter()
            .filter(|r| r["path"].as_str().unwrap().ends_with("/api/send-message"))
            .collect();
        sends.last().unwrap()["headers"]["sb-api-key-id"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(send_one("before").await, "kid");

    // Refused: 422, and the next send still uses the old credentials.
    let refused = json!({"credentials": {"api_key_id": "kid2", "api_secret_key": "not-it", "signing_secret": "sign"}});
    let (status, body) = send(&server, Method::POST, &alpha.admin, &rotate, &refused).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["code"], "credentials_refused");
    assert_eq!(send_one("after refused").await, "kid");

    // Provider down: 502, old credentials still in use.
    providers
        .control("/faults", json!({"target": "sendblue", "kind": "status", "code": 503, "path_prefix": "/sendblue/api/account"}))
        .await;
    let accepted = json!({"credentials": {"api_key_id": "kid2", "api_secret_key": "ksecret2", "signing_secret": "sign"}});
    let (status, body) = send(&server, Method::POST, &alpha.admin, &rotate, &accepted).await;
    assert_eq!(status, 502, "{body}");
    assert_eq!(send_one("after outage").await, "kid");
    providers
        .client
        .delete(format!("{}/_control/faults", providers.base))
        .send()
        .await
        .unwrap();

    // Accepted: the next send uses the new ones.
    let (status, body) = send(&server, Method::POST, &alpha.admin, &rotate, &accepted).await;
    assert_eq!(status, 200, "{body}");
    assert!(!body.to_string().contains("ksecret2"), "{body}");
    assert_eq!(send_one("after rotation").await, "kid2");

    // The audit log names what happened, and which keys, never a value.
    let entries = store.audit_entries(&scope, 50).await.unwrap();
    let actions: Vec<&str> = entries.iter().map(|e| e.action.as_str()).collect();
    assert!(actions.contains(&"channel.created"), "{actions:?}");
    let rotated: Vec<_> = entries
        .iter()
        .filter(|e| e.action == "channel.credentials_rotated")
        .collect();
    assert_eq!(rotated.len(), 1, "only the accepted rotation is recorded");
    assert_eq!(
        rotated[0].detail,
        json!({"changed": ["api_key_id", "api_secret_key"], "added": [], "removed": []})
    );
    let all = format!("{entries:?}");
    for secret in ["ksecret", "not-it", "sign\""] {
        assert!(!all.contains(secret), "the audit log holds {secret}");
    }
    server.stop().await;
}

#[tokio::test]
async fn the_list_pages_newest_first_and_filters() {
    let server = TestServer::start(&[]).await;
    let alpha = world(&server, "alpha").await;
    let providers = Providers::start().await;
    for line in ["+15125550101", "+15125550102"] {
        let (status, body) = send(
            &server,
            Method::POST,
            &alpha.admin,
            "/api/v1/channels",
            &json!({
                "location_id": alpha.id("locations"), "provider": "twilio", "line": line,
                "credentials": {"account_sid": TWILIO_SID, "auth_token": "twilio-token"},
                "api_base": providers.api_base("twilio"),
            }),
        )
        .await;
        assert_eq!(status, 201, "{body}");
    }
    let mut seen = Vec::new();
    let mut path = "/api/v1/channels?limit=2".to_string();
    loop {
        let (status, page) = get(&server, &alpha.admin, &path).await;
        assert_eq!(status, 200, "{page}");
        for item in page["items"].as_array().unwrap() {
            seen.push(item["line"].as_str().unwrap().to_string());
        }
        match page["next_cursor"].as_str() {
            Some(cursor) => path = format!("/api/v1/channels?limit=2&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(seen.len(), 3, "{seen:?}");
    assert_eq!(&seen[..2], ["+15125550102", "+15125550101"], "newest first");
    let (_, twilio) = get(
        &server,
        &alpha.admin,
        &format!(
            "/api/v1/channels?provider=twilio&location_id={}",
            alpha.id("locations")
        ),
    )
    .await;
    assert_eq!(twilio["items"].as_array().unwrap().len(), 2, "{twilio}");
    server.stop().await;
}

#[tokio::test]
async fn every_providers_check_passes_good_credentials_and_refuses_wrong_ones() {
    let providers = Providers::start().await;
    let sender = ChannelSender::new(
        Arc::new(outbound::Outbound::new(outbound::BreakerPolicy::default()).unwrap()),
        PUBLIC_URL.into(),
    );
    let cases = [
        (
            Provider::Sendblue,
            vec![
                ("api_key_id", "kid"),
                ("api_secret_key", "ksecret"),
                ("signing_secret", "s"),
            ],
            ("api_secret_key", "nope"),
        ),
        (
            Provider::Twilio,
            vec![("account_sid", TWILIO_SID), ("auth_token", "twilio-token")],
            ("auth_token", "nope"),
        ),
        (
            Provider::Whatsapp,
            vec![
                ("phone_number_id", "106540352242922"),
                ("access_token", "EAAG-token"),
                ("app_secret", "a"),
                ("verify_token", "v"),
            ],
            ("access_token", "nope"),
        ),
        (
            Provider::Unipile,
            vec![
                ("dsn", "unipile.invalid:1"),
                ("api_key", "unipile-key"),
                ("account_id", "acc-1"),
                ("webhook_secret", "w"),
            ],
            ("api_key", "nope"),
        ),
    ];
    for (provider, good, (key, wrong)) in cases {
        let credentials: channels::Credentials = good.into_iter().collect();
        let base = providers.api_base(provider.as_str());
        let checked = sender.verify(provider, &credentials, Some(&base)).await;
        assert!(checked.is_ok(), "{provider}: {checked:?}");
        let mut bad = credentials.clone();
        bad.insert(key, wrong);
        let checked = sender.verify(provider, &bad, Some(&base)).await;
        assert!(
            matches!(
                checked,
                Err(Verification::Failed(
                    channels::VerifyFailure::Refused { .. }
                ))
            ),
            "{provider} with a wrong {key}: {checked:?}"
        );
    }
    // An account the credentials cannot reach is refused too.
    let other_number: channels::Credentials = [
        ("phone_number_id", "999999999999"),
        ("access_token", "EAAG-token"),
        ("app_secret", "a"),
        ("verify_token", "v"),
    ]
    .into_iter()
    .collect();
    let checked = sender
        .verify(
            Provider::Whatsapp,
            &other_number,
            Some(&providers.api_base("whatsapp")),
        )
        .await;
    assert!(
        matches!(
            checked,
            Err(Verification::Failed(
                channels::VerifyFailure::Refused { .. }
            ))
        ),
        "{checked:?}"
    );
}
