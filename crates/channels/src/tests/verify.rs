//! Credential checks: the request each provider's verification makes, and how the
//! answers read.

use http::Method;

use super::{credentials, response};
use crate::{Channel, Credentials, SendBlue, Twilio, UniPile, VerifyFailure, WhatsApp};

#[test]
fn sendblue_lists_the_accounts_webhooks_with_both_api_headers() {
    let request = SendBlue
        .build_verify(&credentials(), "https://api.sendblue.co/")
        .unwrap();
    assert_eq!(request.method, Method::GET);
    assert_eq!(request.url, "https://api.sendblue.co/api/account/webhooks");
    assert_eq!(request.headers["sb-api-key-id"], "key-id-123");
    assert_eq!(request.headers["sb-api-secret-key"], "secret-key-456");
    assert!(request.body.is_empty());
}

#[test]
fn twilio_reads_its_own_account_with_basic_auth() {
    let sid = "AC0123456789abcdef0123456789abcdef";
    let creds = Credentials::new()
        .with("account_sid", sid)
        .with("auth_token", "tok");
    let request = Twilio
        .build_verify(&creds, "https://api.twilio.com")
        .unwrap();
    assert_eq!(request.method, Method::GET);
    assert_eq!(
        request.url,
        format!("https://api.twilio.com/2010-04-01/Accounts/{sid}.json")
    );
    use base64::Engine as _;
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("{sid}:tok"));
    assert_eq!(
        request.headers["authorization"],
        format!("Basic {basic}").as_str()
    );
    let bad_sid = Credentials::new()
        .with("account_sid", "not-a-sid")
        .with("auth_token", "tok");
    assert!(Twilio
        .build_verify(&bad_sid, "https://api.twilio.com")
        .is_err());
}

#[test]
fn whatsapp_reads_the_phone_number_node_at_the_send_version() {
    let creds = Credentials::new()
        .with("phone_number_id", "106540352242922")
        .with("access_token", "EAAG-token")
        .with("app_secret", "s")
        .with("verify_token", "v");
    let request = WhatsApp
        .build_verify(&creds, crate::whatsapp::DEFAULT_API_BASE)
        .unwrap();
    assert_eq!(
        request.url,
        "https://graph.facebook.com/v21.0/106540352242922"
    );
    assert_eq!(request.headers["authorization"], "Bearer EAAG-token");
}

#[test]
fn unipile_reads_the_account_with_the_api_key() {
    let creds = Credentials::new()
        .with("dsn", "api1.unipile.com:13111")
        .with("api_key", "unipile-key")
        .with("account_id", "acc/1")
        .with("webhook_secret", "w");
    let base = UniPile.api_base(&creds, None).unwrap();
    let request = UniPile.build_verify(&creds, &base).unwrap();
    assert_eq!(
        request.url,
        "https://api1.unipile.com:13111/api/v1/accounts/acc%2F1"
    );
    assert_eq!(request.headers["x-api-key"], "unipile-key");
}

#[test]
fn answers_read_as_accepted_refused_or_unavailable() {
    for channel in [
        &SendBlue as &dyn Channel,
        &Twilio as &dyn Channel,
        &WhatsApp as &dyn Channel,
        &UniPile as &dyn Channel,
    ] {
        assert_eq!(channel.parse_verify(&response(200, &[], "{}")), Ok(()));
        for refused in [400, 401, 403, 404] {
            let answer = channel.parse_verify(&response(refused, &[], "{\"error\":\"no\"}"));
            assert!(
                matches!(answer, Err(VerifyFailure::Refused { .. })),
                "{refused}: {answer:?}"
            );
        }
        for unavailable in [408, 429, 500, 502, 503] {
            let answer = channel.parse_verify(&response(unavailable, &[], ""));
            assert!(
                matches!(answer, Err(VerifyFailure::Unavailable { .. })),
                "{unavailable}: {answer:?}"
            );
        }
    }
}
