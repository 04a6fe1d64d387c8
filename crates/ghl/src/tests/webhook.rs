use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use ed25519_dalek::pkcs8::EncodePublicKey as _;
use ed25519_dalek::{Signer as _, SigningKey};
use http::{HeaderMap, HeaderValue};

use crate::{
    Error, KeyKind, SignatureScheme, WebhookKeys, GHL_ED25519_PUBLIC_KEY, GHL_LEGACY_RSA_PUBLIC_KEY,
};

const BODY: &[u8] =
    include_bytes!("../../tests/fixtures/examples/ProviderOutboundMessage.sms.json");
/// Signed with the private half of `rsa/public.pem` (`openssl dgst -sha256 -sign`).
const RSA_SIGNED_BODY: &[u8] =
    include_bytes!("../../tests/fixtures/examples/AppInstall.location.json");
const RSA_SIGNATURE: &str = include_str!("../../tests/fixtures/rsa/AppInstall.location.sig.b64");
const RSA_PUBLIC: &str = include_str!("../../tests/fixtures/rsa/public.pem");
const RSA_OTHER_PUBLIC: &str = include_str!("../../tests/fixtures/rsa/other-public.pem");

/// Deterministic test keys: no RNG needed, and failures reproduce.
fn signing_key(seed: u8) -> SigningKey {
    SigningKey::from_bytes(&[seed; 32])
}

fn public_pem(key: &SigningKey) -> String {
    key.verifying_key()
        .to_public_key_pem(LineEnding::LF)
        .unwrap()
}

fn keys(ed25519: &SigningKey) -> WebhookKeys {
    WebhookKeys::new(&public_pem(ed25519), RSA_PUBLIC).unwrap()
}

fn sign(key: &SigningKey, body: &[u8]) -> String {
    STANDARD.encode(key.sign(body).to_bytes())
}

fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        map.insert(*name, HeaderValue::from_str(value).unwrap());
    }
    map
}

#[test]
fn published_keys_parse() {
    WebhookKeys::published().unwrap();
    WebhookKeys::new(GHL_ED25519_PUBLIC_KEY, GHL_LEGACY_RSA_PUBLIC_KEY).unwrap();
    // As an environment variable often carries it: one line, escaped newlines.
    let escaped = GHL_ED25519_PUBLIC_KEY.trim().replace('\n', "\\n");
    WebhookKeys::with_ed25519(&escaped).unwrap();
}

#[test]
fn bad_pem_names_the_key() {
    let err = WebhookKeys::new("not a key", GHL_LEGACY_RSA_PUBLIC_KEY).unwrap_err();
    assert!(matches!(
        err,
        Error::BadKey {
            key: KeyKind::Ed25519,
            ..
        }
    ));
    assert!(err.to_string().contains("Ed25519"));
    // Keys of the wrong kind in each slot.
    let err = WebhookKeys::new(GHL_LEGACY_RSA_PUBLIC_KEY, GHL_LEGACY_RSA_PUBLIC_KEY).unwrap_err();
    assert!(matches!(
        err,
        Error::BadKey {
            key: KeyKind::Ed25519,
            ..
        }
    ));
    let err = WebhookKeys::new(GHL_ED25519_PUBLIC_KEY, GHL_ED25519_PUBLIC_KEY).unwrap_err();
    assert!(matches!(
        err,
        Error::BadKey {
            key: KeyKind::LegacyRsa,
            ..
        }
    ));
    assert!(err.to_string().contains("RSA"));
}

#[test]
fn provider_delivery_accepts_a_good_ed25519_signature() {
    let key = signing_key(1);
    let signed = headers(&[("x-ghl-signature", &sign(&key, BODY))]);
    keys(&key).verify_provider_delivery(&signed, BODY).unwrap();
    // Header names are case-insensitive; unpadded base64 is accepted too.
    let unpadded = sign(&key, BODY).trim_end_matches('=').to_owned();
    let signed = headers(&[("X-GHL-Signature", &unpadded)]);
    keys(&key).verify_provider_delivery(&signed, BODY).unwrap();
}

#[test]
fn provider_delivery_refuses_tampering_wrong_key_and_bad_headers() {
    let key = signing_key(1);
    let keys = keys(&key);
    let good = sign(&key, BODY);

    let mut tampered = BODY.to_vec();
    tampered[20] ^= 1;
    let err = keys
        .verify_provider_delivery(&headers(&[("x-ghl-signature", &good)]), &tampered)
        .unwrap_err();
    assert!(matches!(err, Error::SignatureInvalid { .. }));

    let other = sign(&signing_key(2), BODY);
    let err = keys
        .verify_provider_delivery(&headers(&[("x-ghl-signature", &other)]), BODY)
        .unwrap_err();
    assert!(matches!(err, Error::SignatureInvalid { .. }));

    for missing in [
        headers(&[]),
        headers(&[("x-ghl-signature", "N/A")]),
        headers(&[("x-ghl-signature", " ")]),
    ] {
        let err = keys.verify_provider_delivery(&missing, BODY).unwrap_err();
        assert!(matches!(err, Error::SignatureMissing { .. }), "{err:?}");
    }

    for malformed in ["not base64!!", "AAAA", &STANDARD.encode([0u8; 65])] {
        let err = keys
            .verify_provider_delivery(&headers(&[("x-ghl-signature", malformed)]), BODY)
            .unwrap_err();
        assert!(
            matches!(err, Error::SignatureMalformed { .. }),
            "{malformed}: {err:?}"
        );
    }
}

#[test]
fn provider_delivery_ignores_the_legacy_header() {
    let keys = keys(&signing_key(1));
    let legacy = headers(&[("x-wh-signature", RSA_SIGNATURE.trim())]);
    let err = keys
        .verify_provider_delivery(&legacy, RSA_SIGNED_BODY)
        .unwrap_err();
    assert!(matches!(err, Error::SignatureMissing { .. }));
}

#[test]
fn marketplace_prefers_ed25519_without_fallback() {
    let key = signing_key(3);
    let keys = keys(&key);
    let body = RSA_SIGNED_BODY;

    let signed = headers(&[("x-ghl-signature", &sign(&key, body))]);
    assert_eq!(
        keys.verify_marketplace(&signed, body).unwrap(),
        SignatureScheme::Ed25519
    );

    // A bad Ed25519 signature fails even with a valid legacy one beside it.
    let both = headers(&[
        ("x-ghl-signature", &sign(&signing_key(4), body)),
        ("x-wh-signature", RSA_SIGNATURE.trim()),
    ]);
    assert!(matches!(
        keys.verify_marketplace(&both, body),
        Err(Error::SignatureInvalid {
            header: "x-ghl-signature"
        })
    ));

    // `N/A` counts as absent, so the legacy header decides.
    let na = headers(&[
        ("x-ghl-signature", "N/A"),
        ("x-wh-signature", RSA_SIGNATURE.trim()),
    ]);
    assert_eq!(
        keys.verify_marketplace(&na, body).unwrap(),
        SignatureScheme::LegacyRsa
    );
}

#[test]
fn marketplace_checks_the_legacy_rsa_signature() {
    let keys = keys(&signing_key(5));
    let signed = headers(&[("x-wh-signature", RSA_SIGNATURE.trim())]);
    assert_eq!(
        keys.verify_marketplace(&signed, RSA_SIGNED_BODY).unwrap(),
        SignatureScheme::LegacyRsa
    );

    let mut tampered = RSA_SIGNED_BODY.to_vec();
    tampered[10] ^= 1;
    assert!(matches!(
        keys.verify_marketplace(&signed, &tampered),
        Err(Error::SignatureInvalid {
            header: "x-wh-signature"
        })
    ));

    let wrong_key = WebhookKeys::new(&public_pem(&signing_key(5)), RSA_OTHER_PUBLIC).unwrap();
    assert!(matches!(
        wrong_key.verify_marketplace(&signed, RSA_SIGNED_BODY),
        Err(Error::SignatureInvalid { .. })
    ));
    // GHL's published key did not sign our fixture either.
    assert!(matches!(
        WebhookKeys::published()
            .unwrap()
            .verify_marketplace(&signed, RSA_SIGNED_BODY),
        Err(Error::SignatureInvalid { .. })
    ));

    let garbage = headers(&[("x-wh-signature", "%%%")]);
    assert!(matches!(
        keys.verify_marketplace(&garbage, RSA_SIGNED_BODY),
        Err(Error::SignatureMalformed { .. })
    ));
    let short = headers(&[("x-wh-signature", "AAAA")]);
    assert!(keys.verify_marketplace(&short, RSA_SIGNED_BODY).is_err());

    assert!(matches!(
        keys.verify_marketplace(&headers(&[]), RSA_SIGNED_BODY),
        Err(Error::SignatureMissing { .. })
    ));
}
