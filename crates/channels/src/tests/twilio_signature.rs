//! `X-Twilio-Signature` against the official vectors of twilio-python's
//! `test_request_validator.py` (fixture `twilio-signature-test-vectors.txt`), verbatim.

use crate::twilio::signature::{body_sha256, compute_signature, is_valid};
use crate::twilio::Twilio;
use crate::{Channel, ChannelError, Credentials};

use super::webhook;

const VECTORS: &str = include_str!("../../tests/fixtures/twilio-signature-test-vectors.txt");
const JSON_BODY: &str = include_str!("../../tests/fixtures/twilio-json-webhook-test-body.json");

const TOKEN: &str = "12345";
const URL: &str = "https://mycompany.com/myapp.php?foo=1&bar=2";
const URL_443: &str = "https://mycompany.com:443/myapp.php?foo=1&bar=2";
const HTTP_URL: &str = "http://mycompany.com/myapp.php?foo=1&bar=2";
const HTTP_1234: &str = "http://mycompany.com:1234/myapp.php?foo=1&bar=2";
const JSON_URL: &str = "https://mycompany.com/myapp.php?foo=1&bar=2&bodySHA256=0a1ff7634d9ab3b95db5c9a2dfe9416e41502b283a80c7cf19632632f96e6620";

const V1: &str = "RSOYDt4T1cUTdK1PDd93/VVr8B8=";
const V2: &str = "kvajT1Ptam85bY51eRf/AJRuM3w=";
const V3: &str = "0ZXoZLH/DfblKGATFgpif+LLRf4=";
const V4: &str = "Zmvh+3yNM1Phv2jhDCwEM3q5ebU=";
const V5: &str = "IK+Dwps556ElfBT0I3Rgjkr1wJU=";
const V6: &str = "a9nBmqA0ju/hNViExpshrM61xv4=";

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn params() -> Vec<(String, String)> {
    pairs(&[
        ("CallSid", "CA1234567890ABCDE"),
        ("Caller", "+14158675309"),
        ("Digits", "1234"),
        ("From", "+14158675309"),
        ("To", "+18005551212"),
    ])
}

fn form(params: &[(String, String)]) -> String {
    let mut s = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in params {
        s.append_pair(k, v);
    }
    s.finish()
}

#[test]
fn the_fixture_holds_the_vectors_used_here() {
    for expected in [V1, V2, V3, V4, V5, V6, URL, JSON_URL, TOKEN] {
        assert!(VECTORS.contains(expected), "{expected} not in the fixture");
    }
    assert!(VECTORS.contains(&body_sha256(JSON_BODY.as_bytes())));
    assert!(VECTORS.contains(
        "https://mycompany.com/myapp.php?foo=1&bar=2CallSidCA1234567890ABCDECaller+14158675309Digits1234From+14158675309To+18005551212"
    ));
}

#[test]
fn vector_1_form_post() {
    assert_eq!(compute_signature(TOKEN, URL, &params()), V1);
    assert!(is_valid(TOKEN, URL, &params(), b"", V1));
}

#[test]
fn vector_2_port_443_signed_port_less_url_received() {
    assert_eq!(compute_signature(TOKEN, URL_443, &params()), V2);
    assert!(is_valid(TOKEN, URL, &params(), b"", V2));
    // And the reverse: received with the port, signed without.
    assert!(is_valid(TOKEN, URL_443, &params(), b"", V1));
}

#[test]
fn vector_3_http_port_80() {
    assert!(is_valid(TOKEN, HTTP_URL, &params(), b"", V3));
    assert_eq!(
        compute_signature(
            TOKEN,
            "http://mycompany.com:80/myapp.php?foo=1&bar=2",
            &params()
        ),
        V3
    );
}

#[test]
fn vector_4_non_default_port() {
    assert_eq!(compute_signature(TOKEN, HTTP_1234, &params()), V4);
    assert!(is_valid(TOKEN, HTTP_1234, &params(), b"", V4));
    // The port is part of what was signed: the port-less URL's signature is not this one.
    assert!(!is_valid(TOKEN, HTTP_URL, &params(), b"", V4));
}

#[test]
fn vector_5_repeated_names_sort_distinct_values() {
    let sent = pairs(&[
        ("Sid", "CA123"),
        ("SidAccount", "AC123"),
        ("Digits", "5678"),
        ("Digits", "1234"),
        ("Digits", "1234"),
    ]);
    assert_eq!(compute_signature(TOKEN, URL, &sent), V5);
    assert!(is_valid(TOKEN, URL, &sent, b"", V5));
}

#[test]
fn vector_6_json_body_hash() {
    assert_eq!(compute_signature(TOKEN, JSON_URL, &[]), V6);
    assert!(is_valid(TOKEN, JSON_URL, &[], JSON_BODY.as_bytes(), V6));
    // One changed byte of the body breaks the hash, though the signature still matches.
    let tampered = JSON_BODY.replace("value", "valuf");
    assert!(!is_valid(TOKEN, JSON_URL, &[], tampered.as_bytes(), V6));
}

#[test]
fn changed_bytes_and_wrong_tokens_fail() {
    let mut changed = params();
    changed[2].1 = "1235".into();
    assert!(!is_valid(TOKEN, URL, &changed, b"", V1));
    assert!(!is_valid(
        TOKEN,
        &URL.replace("foo=1", "foo=2"),
        &params(),
        b"",
        V1
    ));
    assert!(!is_valid("12346", URL, &params(), b"", V1));
    assert!(!is_valid(
        TOKEN,
        URL,
        &params(),
        b"",
        "RSOYDt4T1cUTdK1PDd93/VVr8B8"
    ));
    assert!(!is_valid(TOKEN, URL, &params(), b"", ""));
    // An extra field Twilio did not sign.
    let mut extra = params();
    extra.push(("Body".into(), "injected".into()));
    assert!(!is_valid(TOKEN, URL, &extra, b"", V1));
}

fn credentials(token: &str) -> Credentials {
    Credentials::new()
        .with("account_sid", "ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")
        .with("auth_token", token)
}

const FORM: &str = "application/x-www-form-urlencoded";

#[test]
fn the_channel_verifies_the_form_body_as_received() {
    let body = form(&params());
    let ok = webhook(
        URL,
        &[("content-type", FORM), ("x-twilio-signature", V1)],
        &body,
    );
    assert_eq!(Twilio.verify_webhook(&credentials(TOKEN), &ok), Ok(()));
    // The port quirk, through the channel.
    let port = webhook(
        URL,
        &[("content-type", FORM), ("x-twilio-signature", V2)],
        &body,
    );
    assert_eq!(Twilio.verify_webhook(&credentials(TOKEN), &port), Ok(()));
    // The JSON variant, through the channel.
    let json = webhook(
        JSON_URL,
        &[
            ("content-type", "application/json"),
            ("x-twilio-signature", V6),
        ],
        JSON_BODY,
    );
    assert_eq!(Twilio.verify_webhook(&credentials(TOKEN), &json), Ok(()));
}

#[test]
fn the_channel_refuses_missing_wrong_and_tampered() {
    let body = form(&params());
    let missing = webhook(URL, &[("content-type", FORM)], &body);
    assert_eq!(
        Twilio.verify_webhook(&credentials(TOKEN), &missing),
        Err(ChannelError::MissingSignature {
            header: "x-twilio-signature"
        })
    );
    let signed = [("content-type", FORM), ("x-twilio-signature", V1)];
    let wrong_token = Twilio.verify_webhook(&credentials("54321"), &webhook(URL, &signed, &body));
    assert!(matches!(
        wrong_token,
        Err(ChannelError::WrongSignature { .. })
    ));
    let tampered = body.replace("1234", "1235");
    let changed = Twilio.verify_webhook(&credentials(TOKEN), &webhook(URL, &signed, &tampered));
    assert!(matches!(changed, Err(ChannelError::WrongSignature { .. })));
    // Another host than the one Twilio called (what a trusted Host header would give).
    let other_host = URL.replace("mycompany.com", "evil.example");
    let moved = Twilio.verify_webhook(&credentials(TOKEN), &webhook(&other_host, &signed, &body));
    assert!(matches!(moved, Err(ChannelError::WrongSignature { .. })));
    // The SharedKey scheme needs a key we do not hold: refused, not checked as SHA-1.
    let sha256 = webhook(
        URL,
        &[
            ("content-type", FORM),
            ("x-twilio-signature", V1),
            (
                "x-twilio-webhooks-signature-settings",
                "key=KS123,algorithm=HMAC_SHA256",
            ),
        ],
        &body,
    );
    assert!(matches!(
        Twilio.verify_webhook(&credentials(TOKEN), &sha256),
        Err(ChannelError::WrongSignature { .. })
    ));
    assert_eq!(
        missing_error_status(),
        http::StatusCode::UNAUTHORIZED,
        "a missing signature is a 401"
    );
}

fn missing_error_status() -> http::StatusCode {
    ChannelError::MissingSignature {
        header: "x-twilio-signature",
    }
    .webhook_status()
}
