use super::*;

const KEY_A: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
const KEY_B: &str = "2:/w8fLz9PX2+Pn6+/z9/v8AECAwQFBgcICQoLDA0ODxA=";

fn ring_a() -> KeyRing {
    KeyRing::new(MasterKey::parse(KEY_A).unwrap(), vec![]).unwrap()
}

#[test]
fn parses_plain_and_versioned_keys() {
    assert_eq!(MasterKey::parse(KEY_A).unwrap().version(), 1);
    assert_eq!(MasterKey::parse(KEY_B).unwrap().version(), 2);
    let key = MasterKey::parse(KEY_B).unwrap();
    assert_eq!(
        MasterKey::parse(&key.to_config_string()).unwrap().version(),
        2
    );
}

#[test]
fn rejects_bad_key_material() {
    assert_eq!(
        MasterKey::parse("c2hvcnQ=").unwrap_err(),
        KeyError::WrongLength(5)
    );
    assert_eq!(
        MasterKey::parse("not base64!").unwrap_err(),
        KeyError::NotBase64
    );
    assert_eq!(
        MasterKey::parse(&format!("0:{KEY_A}")).unwrap_err(),
        KeyError::BadVersion("0".into())
    );
    assert_eq!(
        KeyRing::new(
            MasterKey::parse(KEY_A).unwrap(),
            vec![MasterKey::parse(KEY_A).unwrap()]
        )
        .unwrap_err(),
        KeyError::DuplicateVersion(1)
    );
}

#[test]
fn debug_never_shows_key_bytes() {
    let shown = format!("{:?}", ring_a());
    assert!(shown.contains("redacted"));
    assert!(!shown.contains("AAECAw"));
}

#[test]
fn round_trip() {
    let ring = ring_a();
    let sealed = ring.encrypt_str("sk_live_123", "channel:ch_1:credentials");
    assert!(sealed.starts_with("v1."));
    assert!(!sealed.contains("sk_live_123"));
    let opened = ring
        .decrypt_str(&sealed, "channel:ch_1:credentials")
        .unwrap();
    assert_eq!(opened.as_str(), "sk_live_123");
    // Two encryptions of the same secret differ: nonces are random.
    assert_ne!(
        sealed,
        ring.encrypt_str("sk_live_123", "channel:ch_1:credentials")
    );
}

#[test]
fn tampered_ciphertext_is_rejected() {
    let ring = ring_a();
    let sealed = ring.encrypt_str("secret", "ctx");
    let (prefix, body) = sealed.split_once('.').unwrap();
    let mut blob = URL_SAFE_NO_PAD.decode(body).unwrap();
    for i in [0, NONCE_LEN, blob.len() - 1] {
        let mut bad = blob.clone();
        bad[i] ^= 0x01;
        let forged = format!("{prefix}.{}", URL_SAFE_NO_PAD.encode(&bad));
        assert_eq!(
            ring.decrypt(&forged, "ctx").unwrap_err(),
            SecretError::Rejected(1)
        );
    }
    blob.truncate(5);
    let short = format!("{prefix}.{}", URL_SAFE_NO_PAD.encode(&blob));
    assert_eq!(
        ring.decrypt(&short, "ctx").unwrap_err(),
        SecretError::Malformed
    );
    assert_eq!(
        ring.decrypt("garbage", "ctx").unwrap_err(),
        SecretError::Malformed
    );
}

#[test]
fn ciphertext_is_bound_to_its_context_and_version() {
    let ring = ring_a();
    let sealed = ring.encrypt_str("secret", "channel:ch_1:credentials");
    assert_eq!(
        ring.decrypt(&sealed, "channel:ch_2:credentials")
            .unwrap_err(),
        SecretError::Rejected(1)
    );
    // Relabelling the version is detected even when the ring holds that version.
    let two = KeyRing::new(
        MasterKey::parse(KEY_A).unwrap(),
        vec![MasterKey::parse(&format!("2:{KEY_A}")).unwrap()],
    )
    .unwrap();
    let relabelled = sealed.replacen("v1.", "v2.", 1);
    assert_eq!(
        two.decrypt(&relabelled, "channel:ch_1:credentials")
            .unwrap_err(),
        SecretError::Rejected(2)
    );
}

#[test]
fn wrong_key_is_rejected_never_garbage() {
    let sealed = ring_a().encrypt_str("secret", "ctx");
    let other = KeyRing::new(MasterKey::generate(1), vec![]).unwrap();
    assert_eq!(
        other.decrypt(&sealed, "ctx").unwrap_err(),
        SecretError::Rejected(1)
    );
    let newer = KeyRing::new(MasterKey::parse(KEY_B).unwrap(), vec![]).unwrap();
    assert_eq!(
        newer.decrypt(&sealed, "ctx").unwrap_err(),
        SecretError::UnknownVersion(1)
    );
}

#[test]
fn reencrypts_under_a_new_key_version() {
    let old = ring_a();
    let sealed = old.encrypt_str("refresh-token", "location:loc_1:oauth");
    let rotated = KeyRing::new(
        MasterKey::parse(KEY_B).unwrap(),
        vec![MasterKey::parse(KEY_A).unwrap()],
    )
    .unwrap();
    assert!(rotated.needs_rotation(&sealed));
    // Old ciphertexts still open during the rotation.
    assert_eq!(
        rotated
            .decrypt_str(&sealed, "location:loc_1:oauth")
            .unwrap()
            .as_str(),
        "refresh-token"
    );
    let resealed = rotated.reencrypt(&sealed, "location:loc_1:oauth").unwrap();
    assert_eq!(rotated.version_of(&resealed).unwrap(), 2);
    assert!(!rotated.needs_rotation(&resealed));
    // Once the old key is dropped from the ring, the re-sealed value still opens.
    let only_new = KeyRing::new(MasterKey::parse(KEY_B).unwrap(), vec![]).unwrap();
    assert_eq!(
        only_new
            .decrypt_str(&resealed, "location:loc_1:oauth")
            .unwrap()
            .as_str(),
        "refresh-token"
    );
    assert_eq!(
        only_new
            .decrypt(&sealed, "location:loc_1:oauth")
            .unwrap_err(),
        SecretError::UnknownVersion(1)
    );
}

#[test]
fn derived_keys_depend_on_the_label_and_the_current_key() {
    let a = ring_a();
    assert_eq!(*a.derive("media-links"), *ring_a().derive("media-links"));
    assert_ne!(*a.derive("media-links"), *a.derive("other"));
    let b = KeyRing::new(
        MasterKey::parse(KEY_B).unwrap(),
        vec![MasterKey::parse(KEY_A).unwrap()],
    )
    .unwrap();
    // After a rotation the derived key changes, even with the old key still in the ring.
    assert_ne!(*a.derive("media-links"), *b.derive("media-links"));
    assert_ne!(&a.derive("media-links")[..], &KEY_A.as_bytes()[..32]);
}
