//! `channel add` for the providers with their own settings: WhatsApp's fallback template
//! and UniPile's DSN-derived API base.

use crate::{run, stderr};

fn location(dir: &std::path::Path, env: &[(&str, &str)]) {
    assert!(run(dir, &["migrate"], env).status.success());
    let loc = run(
        dir,
        &[
            "location",
            "add",
            "--ghl-location-id",
            "ghl-loc-1",
            "--access-token",
            "a",
            "--refresh-token",
            "r",
        ],
        env,
    );
    assert!(loc.status.success(), "{}", stderr(&loc));
}

#[test]
fn whatsapp_takes_a_fallback_template_and_refuses_a_bad_one() {
    let dir = tempfile::tempdir().unwrap();
    let env = [("SWITCHBOARD_PUBLIC_URL", "https://sb.example.com")];
    location(dir.path(), &env);
    let add = |line: &str, extra: &[&str]| {
        let mut args = vec![
            "channel",
            "add",
            "--location",
            "ghl-loc-1",
            "--provider",
            "whatsapp",
            "--line",
            line,
            "--credential",
            "phone_number_id=106540352242922",
            "--credential",
            "access_token=EAAG-token",
            "--credential",
            "app_secret=app-secret",
            "--credential",
            "verify_token=verify-me",
            "--json",
        ];
        args.extend_from_slice(extra);
        run(dir.path(), &args, &env)
    };
    let out = add("+15550000001", &["--fallback-template", "follow_up:pt_BR"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let channel: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let id = channel["channel_id"].as_str().unwrap();
    assert_eq!(
        channel["webhook_url"],
        format!("https://sb.example.com/webhooks/whatsapp/{id}")
    );
    let bad = add("+15550000002", &["--fallback-template", "Follow Up"]);
    assert!(!bad.status.success());
    assert!(
        stderr(&bad).contains("--fallback-template"),
        "{}",
        stderr(&bad)
    );
    let missing = run(
        dir.path(),
        &[
            "channel",
            "add",
            "--location",
            "ghl-loc-1",
            "--provider",
            "whatsapp",
            "--line",
            "+15550000003",
            "--credential",
            "phone_number_id=1",
        ],
        &env,
    );
    assert!(!missing.status.success());
    assert!(
        stderr(&missing).contains("access_token"),
        "{}",
        stderr(&missing)
    );
}

#[test]
fn unipile_needs_its_dsn_and_webhook_secret() {
    let dir = tempfile::tempdir().unwrap();
    let env = [("SWITCHBOARD_PUBLIC_URL", "https://sb.example.com")];
    location(dir.path(), &env);
    let add = |creds: &[&str]| {
        let mut args = vec![
            "channel",
            "add",
            "--location",
            "ghl-loc-1",
            "--provider",
            "unipile",
            "--line",
            "+15550000001",
            "--json",
        ];
        for c in creds {
            args.extend_from_slice(&["--credential", c]);
        }
        run(dir.path(), &args, &env)
    };
    let without_secret = add(&["dsn=api1.unipile.com:13111", "api_key=k", "account_id=a"]);
    assert!(!without_secret.status.success());
    assert!(
        stderr(&without_secret).contains("webhook_secret"),
        "{}",
        stderr(&without_secret)
    );
    let out = add(&[
        "dsn=api1.unipile.com:13111",
        "api_key=k",
        "account_id=a",
        "webhook_secret=s",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let channel: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(channel["provider"], "unipile");
}
