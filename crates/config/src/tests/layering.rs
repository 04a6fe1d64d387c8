//! Layers, files, `_FILE` secrets, warnings.
#![allow(clippy::unwrap_used)]

use super::*;

#[test]
fn defaults() {
    let loaded = load(&[]).unwrap();
    assert!(loaded.warnings.is_empty());
    let c = loaded.config;
    assert_eq!(c.data_dir, PathBuf::from("./data"));
    assert_eq!(
        c.database_url.sqlite_path(),
        Some(Path::new("./data/switchboard.db"))
    );
    assert_eq!(
        c.database_url.connection_string(),
        "sqlite://./data/switchboard.db?mode=rwc"
    );
    assert_eq!(c.database_max_connections, 10);
    assert_eq!(c.sqlite_synchronous, SqliteSynchronous::Full);
    assert_eq!(c.listen.to_string(), "127.0.0.1:8080");
    assert_eq!(c.public_url, "http://127.0.0.1:8080");
    assert!(c.master_key.is_none());
    assert!(c.previous_master_keys.is_empty());
    assert_eq!(c.log, "info");
    assert_eq!(c.log_format, LogFormat::Human);
    assert_eq!(c.max_body_bytes, 1_048_576);
    assert_eq!(c.request_timeout(), Duration::from_secs(30));
    assert_eq!(c.shutdown_grace(), Duration::from_secs(30));
    assert_eq!(c.worker_concurrency, 32);
    assert_eq!(c.job_lease(), Duration::from_secs(300));
    assert_eq!(c.ghl_api_base, "https://services.leadconnectorhq.com");
    assert_eq!(c.ghl_webhook_public_key, GHL_WEBHOOK_PUBLIC_KEY);
    assert!(c.ghl_client_id.is_none() && c.ghl_client_secret.is_none());
    assert!(c.stripe_api_key.is_none() && c.stripe_webhook_secret.is_none());
    assert_eq!(c.stripe_api_base, "https://api.stripe.com");
    assert_eq!(c.openai_api_base, "https://api.openai.com/v1");
    assert!(c.openai_api_key.is_none() && c.smtp_url.is_none());
    assert_eq!(c.object_store_url.to_string(), "file://./data/media");
}

#[test]
fn defaults_follow_data_dir_and_listen() {
    let c = config(&[
        ("SWITCHBOARD_DATA_DIR", "/srv/sb"),
        ("SWITCHBOARD_LISTEN", "0.0.0.0:9000"),
    ]);
    assert_eq!(
        c.database_url.sqlite_path(),
        Some(Path::new("/srv/sb/switchboard.db"))
    );
    assert_eq!(
        c.object_store_url,
        ObjectStoreUrl::File {
            root: PathBuf::from("/srv/sb/media")
        }
    );
    assert_eq!(c.public_url, "http://0.0.0.0:9000");
}

#[test]
fn other_variables_are_ignored() {
    let loaded = load(&[("PATH", "/bin"), ("SWITCHBOARD_CONFIG", "x.toml")]).unwrap();
    assert!(loaded.warnings.is_empty());
}

#[test]
fn file_then_env_precedence() {
    let f = toml_file(
        "listen = \"127.0.0.1:7000\"\nlog = \"debug\"\nworker_concurrency = 8\n\
         job_lease_secs = \"60\"\n",
    );
    let c = with_file(f.path(), &[]).unwrap().config;
    assert_eq!(c.listen.port(), 7000);
    assert_eq!(c.log, "debug");
    assert_eq!(c.worker_concurrency, 8);
    assert_eq!(c.job_lease_secs, 60);

    let env = [
        ("SWITCHBOARD_LISTEN", "127.0.0.1:7001"),
        ("SWITCHBOARD_WORKER_CONCURRENCY", "4"),
    ];
    let c = with_file(f.path(), &env).unwrap().config;
    assert_eq!(c.listen.port(), 7001);
    assert_eq!(c.worker_concurrency, 4);
    assert_eq!(
        c.log, "debug",
        "a setting not in the environment keeps the file's value"
    );
}

#[test]
fn file_value_of_wrong_type_names_key_and_file() {
    let f = toml_file("log = 5\n");
    let e = with_file(f.path(), &[]).unwrap_err().to_string();
    assert_eq!(
        e,
        format!(
            "SWITCHBOARD_LOG (key `log` in {}): expected a string, found integer",
            f.path().display()
        )
    );
    let f = toml_file("worker_concurrency = true\n");
    let e = with_file(f.path(), &[]).unwrap_err().to_string();
    assert!(e.ends_with("expected a whole number, found boolean"), "{e}");
}

#[test]
fn bad_value_from_file_names_key_and_file() {
    let f = toml_file("listen = \"abc\"\n");
    let e = with_file(f.path(), &[]).unwrap_err().to_string();
    assert_eq!(
        e,
        format!(
            "SWITCHBOARD_LISTEN (key `listen` in {}): \"abc\" is not a socket address \
             (expected HOST:PORT, e.g. 127.0.0.1:8080)",
            f.path().display()
        )
    );
}

#[test]
fn unknown_toml_key_is_an_error() {
    let f = toml_file("listn = \"127.0.0.1:1\"\n");
    let e = with_file(f.path(), &[]).unwrap_err().to_string();
    assert_eq!(
        e,
        format!(
            "config file {}: unknown key `listn` (did you mean `listen`?)",
            f.path().display()
        )
    );
    let f = toml_file("[server]\nport = 1\n");
    let e = with_file(f.path(), &[]).unwrap_err().to_string();
    assert!(e.contains("unknown key `server`"), "{e}");
}

#[test]
fn bad_toml_and_missing_file() {
    let f = toml_file("listen = \n");
    let e = with_file(f.path(), &[]).unwrap_err().to_string();
    assert!(
        e.starts_with(&format!("config file {}: ", f.path().display())),
        "{e}"
    );
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.toml");
    let e = with_file(&missing, &[]).unwrap_err();
    assert!(matches!(e, ConfigError::ReadFile { .. }), "{e}");
    assert!(e.to_string().starts_with("cannot read config file "), "{e}");
}

#[test]
fn secrets_from_files() {
    let stripe = secret_file("sk_test_abc\n");
    let key = secret_file(&format!("3:{KEY}\r\n"));
    let c = config(&[
        ("SWITCHBOARD_STRIPE_API_KEY_FILE", s(stripe.path())),
        ("SWITCHBOARD_MASTER_KEY_FILE", s(key.path())),
    ]);
    assert_eq!(c.stripe_api_key.unwrap().expose_secret(), "sk_test_abc");
    assert_eq!(c.master_key.unwrap().version(), 3);

    let f = toml_file(&format!("openai_api_key_file = {:?}\n", s(stripe.path())));
    let c = with_file(f.path(), &[]).unwrap().config;
    assert_eq!(c.openai_api_key.unwrap().expose_secret(), "sk_test_abc");
}

#[test]
fn env_file_overrides_file_value_and_unused_file_is_not_read() {
    let f = toml_file("stripe_api_key_file = \"/nonexistent/secret\"\n");
    let c = with_file(f.path(), &[("SWITCHBOARD_STRIPE_API_KEY", "sk_env")])
        .unwrap()
        .config;
    assert_eq!(c.stripe_api_key.unwrap().expose_secret(), "sk_env");
}

#[test]
fn public_key_from_file() {
    let pem = secret_file(GHL_WEBHOOK_PUBLIC_KEY);
    let c = config(&[("SWITCHBOARD_GHL_WEBHOOK_PUBLIC_KEY_FILE", s(pem.path()))]);
    assert_eq!(c.ghl_webhook_public_key, GHL_WEBHOOK_PUBLIC_KEY);
}

#[test]
fn secret_and_its_file_both_set_is_an_error() {
    let file = secret_file("x");
    let e = err(&[
        ("SWITCHBOARD_STRIPE_API_KEY", "sk_live"),
        ("SWITCHBOARD_STRIPE_API_KEY_FILE", s(file.path())),
    ]);
    assert_eq!(
        e,
        "SWITCHBOARD_STRIPE_API_KEY and SWITCHBOARD_STRIPE_API_KEY_FILE are both set; set only one"
    );
    let f = toml_file("smtp_url = \"smtp://h\"\nsmtp_url_file = \"/x\"\n");
    let e = with_file(f.path(), &[]).unwrap_err().to_string();
    assert!(
        e.contains("`smtp_url` in") && e.contains("`smtp_url_file` in"),
        "{e}"
    );
    assert!(e.ends_with("are both set; set only one"), "{e}");
}

#[test]
fn missing_secret_file_names_the_variable() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("key");
    let e = err(&[("SWITCHBOARD_MASTER_KEY_FILE", s(&missing))]);
    assert!(
        e.starts_with(&format!(
            "SWITCHBOARD_MASTER_KEY_FILE: cannot read {}: ",
            missing.display()
        )),
        "{e}"
    );
}

#[test]
fn bad_value_in_secret_file_names_the_file() {
    let key = secret_file("AAAAAAAAAAAAAAAAAAAAAA==\n");
    let e = err(&[("SWITCHBOARD_MASTER_KEY_FILE", s(key.path()))]);
    assert_eq!(
        e,
        format!(
            "SWITCHBOARD_MASTER_KEY (read from {} named by SWITCHBOARD_MASTER_KEY_FILE): \
             must be 32 bytes of standard base64, got 16 bytes",
            key.path().display()
        )
    );
}

#[test]
fn unknown_variables_are_warnings() {
    let loaded = load(&[
        ("SWITCHBOARD_LISTN", "127.0.0.1:1"),
        ("SWITCHBOARD_FROBNICATE", "1"),
        ("SWITCHBOARD_LISTEN_FILE", "/x"),
        ("SWITCHBOARD_listen", "127.0.0.1:1"),
    ])
    .unwrap();
    assert_eq!(
        loaded.warnings,
        [
            "unknown setting SWITCHBOARD_FROBNICATE ignored",
            "unknown setting SWITCHBOARD_LISTEN_FILE ignored \
             (SWITCHBOARD_LISTEN cannot be read from a file)",
            "unknown setting SWITCHBOARD_LISTN ignored (did you mean SWITCHBOARD_LISTEN?)",
            "unknown setting SWITCHBOARD_listen ignored (did you mean SWITCHBOARD_LISTEN?)",
        ]
    );
    assert_eq!(loaded.config.listen.port(), 8080);
}

#[test]
fn docs_list_every_setting() {
    let doc = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/CONFIGURATION.md"
    ));
    for spec in source::SETTINGS {
        assert!(
            doc.contains(&format!("`{}`", spec.env())),
            "{} undocumented",
            spec.env()
        );
        assert!(
            doc.contains(&format!("`{}`", spec.key)),
            "{} undocumented",
            spec.key
        );
    }
}
