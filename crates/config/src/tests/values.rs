//! Parsing and validation of each kind of value; redaction.
#![allow(clippy::unwrap_used)]

use super::*;

#[test]
fn bad_listen() {
    assert_eq!(
        err(&[("SWITCHBOARD_LISTEN", "abc")]),
        "SWITCHBOARD_LISTEN: \"abc\" is not a socket address (expected HOST:PORT, e.g. 127.0.0.1:8080)"
    );
    assert_eq!(
        config(&[("SWITCHBOARD_LISTEN", "localhost:9")]).listen,
        SocketAddr::from((Ipv4Addr::LOCALHOST, 9))
    );
    assert_eq!(
        config(&[("SWITCHBOARD_LISTEN", "[::1]:9")]).public_url,
        "http://[::1]:9"
    );
}

#[test]
fn numbers_out_of_range_or_not_numbers() {
    assert_eq!(
        err(&[("SWITCHBOARD_WORKER_CONCURRENCY", "lots")]),
        "SWITCHBOARD_WORKER_CONCURRENCY: \"lots\" is not a whole number between 1 and 1024"
    );
    assert_eq!(
        err(&[("SWITCHBOARD_WORKER_CONCURRENCY", "0")]),
        "SWITCHBOARD_WORKER_CONCURRENCY: \"0\" is not a whole number between 1 and 1024"
    );
    assert_eq!(
        err(&[("SWITCHBOARD_MAX_BODY_BYTES", "-1")]),
        "SWITCHBOARD_MAX_BODY_BYTES: \"-1\" is not a whole number between 1024 and 67108864"
    );
    assert!(err(&[("SWITCHBOARD_JOB_LEASE_SECS", "4")]).contains("between 5 and 86400"));
    assert!(err(&[("SWITCHBOARD_DATABASE_MAX_CONNECTIONS", "1001")]).contains("1 and 1000"));
    assert!(err(&[("SWITCHBOARD_REQUEST_TIMEOUT_SECS", "601")]).contains("1 and 600"));
    assert!(err(&[("SWITCHBOARD_SHUTDOWN_GRACE_SECS", "3601")]).contains("0 and 3600"));
    let c = config(&[
        ("SWITCHBOARD_SHUTDOWN_GRACE_SECS", "0"),
        ("SWITCHBOARD_MAX_BODY_BYTES", "67108864"),
    ]);
    assert_eq!((c.shutdown_grace_secs, c.max_body_bytes), (0, 64 << 20));
}

#[test]
fn empty_values_are_errors() {
    assert_eq!(
        err(&[("SWITCHBOARD_LISTEN", "")]),
        "SWITCHBOARD_LISTEN: is empty (remove the setting to use the default)"
    );
    assert!(err(&[("SWITCHBOARD_LOG", "  ")]).starts_with("SWITCHBOARD_LOG: is empty"));
    assert!(err(&[("SWITCHBOARD_STRIPE_API_KEY", "")]).contains("is empty"));
}

#[test]
fn database_urls() {
    let e = err(&[("SWITCHBOARD_DATABASE_URL", "mysql://u:secretpw@h/db")]);
    assert_eq!(
        e,
        "SWITCHBOARD_DATABASE_URL: unsupported scheme \"mysql\" \
         (expected sqlite://PATH, sqlite:PATH, postgres://… or postgresql://…)"
    );
    assert!(!e.contains("secretpw"));
    assert!(err(&[("SWITCHBOARD_DATABASE_URL", "data.db")]).contains("is not a database URL"));
    assert!(err(&[("SWITCHBOARD_DATABASE_URL", "sqlite://")]).contains("has no file path"));
    assert!(err(&[("SWITCHBOARD_DATABASE_URL", "sqlite:a.db?mode=ro")]).contains("query"));

    let db = |url: &str| config(&[("SWITCHBOARD_DATABASE_URL", url)]).database_url;
    assert_eq!(
        db("sqlite://x/a.db").sqlite_path(),
        Some(Path::new("x/a.db"))
    );
    assert_eq!(
        db("sqlite:///abs/a.db").sqlite_path(),
        Some(Path::new("/abs/a.db"))
    );
    assert_eq!(db("sqlite:a.db").sqlite_path(), Some(Path::new("a.db")));
    assert_eq!(
        db("sqlite:a#1.db").connection_string(),
        "sqlite://a%231.db?mode=rwc"
    );
    assert_eq!(db("sqlite::memory:").connection_string(), "sqlite::memory:");

    for url in [PG, "postgresql://u@h/db"] {
        let c = config(&[
            ("SWITCHBOARD_DATABASE_URL", url),
            ("SWITCHBOARD_MASTER_KEY", KEY),
        ]);
        assert!(c.database_url.is_postgres());
        assert_eq!(c.database_url.connection_string(), url);
    }
}

#[test]
fn postgres_password_is_never_shown() {
    let url = "postgres://u:hunter2pw@h/db?sslmode=require&password=qwertypw";
    let c = config(&[
        ("SWITCHBOARD_DATABASE_URL", url),
        ("SWITCHBOARD_MASTER_KEY", KEY),
    ]);
    let shown = format!("{:?} {} {:?}", c, c.database_url, c.database_url);
    assert!(
        !shown.contains("hunter2pw") && !shown.contains("qwertypw"),
        "{shown}"
    );
    assert!(shown.contains("postgres://u:REDACTED@h/db?sslmode=require&password=REDACTED"));
    let DatabaseUrl::Postgres(pg) = &c.database_url else {
        panic!("expected PostgreSQL")
    };
    assert_eq!(pg.expose(), url);
}

#[test]
fn postgres_requires_master_key() {
    assert_eq!(
        err(&[("SWITCHBOARD_DATABASE_URL", PG)]),
        "SWITCHBOARD_MASTER_KEY is required with a PostgreSQL database \
         (32 random bytes, standard base64; e.g. `openssl rand -base64 32`)"
    );
}

#[test]
fn master_key_and_previous_keys() {
    let prev = format!("2:{KEY2}, 3:{KEY}");
    let c = config(&[
        ("SWITCHBOARD_MASTER_KEY", KEY),
        ("SWITCHBOARD_PREVIOUS_MASTER_KEYS", &prev),
    ]);
    assert_eq!(c.master_key.unwrap().version(), 1);
    let versions: Vec<u32> = c.previous_master_keys.iter().map(|k| k.version()).collect();
    assert_eq!(versions, [2, 3]);

    let e = err(&[
        ("SWITCHBOARD_MASTER_KEY", KEY),
        ("SWITCHBOARD_PREVIOUS_MASTER_KEYS", &format!("1:{KEY2}")),
    ]);
    assert!(
        e.contains("key version 1 is also the version of SWITCHBOARD_MASTER_KEY"),
        "{e}"
    );
    let e = err(&[(
        "SWITCHBOARD_PREVIOUS_MASTER_KEYS",
        &format!("2:{KEY2},2:{KEY}"),
    )]);
    assert_eq!(
        e,
        "SWITCHBOARD_PREVIOUS_MASTER_KEYS: entry 2: key version 2 appears twice"
    );
    let e = err(&[("SWITCHBOARD_PREVIOUS_MASTER_KEYS", KEY2)]);
    assert!(e.contains("entry 1 has no version"), "{e}");
    assert!(!e.contains(KEY2));
    let e = err(&[("SWITCHBOARD_MASTER_KEY", "not a key")]);
    assert_eq!(e, "SWITCHBOARD_MASTER_KEY: is not valid standard base64");
}

#[test]
fn urls_are_validated_and_trimmed() {
    let c = config(&[
        ("SWITCHBOARD_PUBLIC_URL", "https://sb.example.com/"),
        (
            "SWITCHBOARD_OPENAI_API_BASE",
            "http://127.0.0.1:9/openai/v1/",
        ),
    ]);
    assert_eq!(c.public_url, "https://sb.example.com");
    assert_eq!(c.openai_api_base, "http://127.0.0.1:9/openai/v1");
    assert!(err(&[("SWITCHBOARD_PUBLIC_URL", "https://x.com/?a=1")])
        .contains("must not have a query or fragment"));
    assert_eq!(
        err(&[("SWITCHBOARD_GHL_API_BASE", "ftp://x.com")]),
        "SWITCHBOARD_GHL_API_BASE: \"ftp://x.com\" is not an http or https URL"
    );
    assert!(err(&[("SWITCHBOARD_STRIPE_API_BASE", "api.stripe.com")]).contains("absolute URL"));
}

#[test]
fn enums_are_case_insensitive() {
    let c = config(&[
        ("SWITCHBOARD_SQLITE_SYNCHRONOUS", "NORMAL"),
        ("SWITCHBOARD_LOG_FORMAT", "Json"),
    ]);
    assert_eq!(c.sqlite_synchronous.as_pragma(), "NORMAL");
    assert_eq!(c.log_format, LogFormat::Json);
    assert_eq!(
        err(&[("SWITCHBOARD_SQLITE_SYNCHRONOUS", "off")]),
        "SWITCHBOARD_SQLITE_SYNCHRONOUS: \"off\" is not one of full, normal"
    );
}

#[test]
fn public_key_pem() {
    let one_line = GHL_WEBHOOK_PUBLIC_KEY.trim().replace('\n', "\\n");
    let c = config(&[("SWITCHBOARD_GHL_WEBHOOK_PUBLIC_KEY", &one_line)]);
    assert_eq!(c.ghl_webhook_public_key, GHL_WEBHOOK_PUBLIC_KEY);
    let e = err(&[("SWITCHBOARD_GHL_WEBHOOK_PUBLIC_KEY", "MCowBQYDK2VwAyEA")]);
    assert!(e.contains("is not a PEM public key"), "{e}");
}

#[test]
fn smtp_and_object_store() {
    let c = config(&[
        (
            "SWITCHBOARD_SMTP_URL",
            "smtps://user:mailpw@mail.example.com:465",
        ),
        ("SWITCHBOARD_OBJECT_STORE_URL", "s3://media-bucket/sb/"),
    ]);
    assert!(c.smtp_url.is_some());
    assert_eq!(
        c.object_store_url,
        ObjectStoreUrl::S3 {
            bucket: "media-bucket".into(),
            prefix: "sb".into()
        }
    );
    let e = err(&[(
        "SWITCHBOARD_SMTP_URL",
        "http://user:mailpw@mail.example.com",
    )]);
    assert_eq!(
        e,
        "SWITCHBOARD_SMTP_URL: unsupported scheme \"http\" \
         (expected smtp://HOST:PORT or smtps://HOST:PORT)"
    );
    let e = err(&[("SWITCHBOARD_OBJECT_STORE_URL", "gs://b")]);
    assert!(e.contains("file://PATH or s3://BUCKET/PREFIX"), "{e}");
    let c = config(&[("SWITCHBOARD_OBJECT_STORE_URL", "file:///var/media")]);
    assert_eq!(c.object_store_url.to_string(), "file:///var/media");
}

#[test]
fn debug_never_shows_secrets() {
    let values = [
        ("SWITCHBOARD_DATABASE_URL", PG),
        ("SWITCHBOARD_MASTER_KEY", KEY),
        ("SWITCHBOARD_PREVIOUS_MASTER_KEYS", &format!("2:{KEY2}")),
        ("SWITCHBOARD_GHL_CLIENT_SECRET", "ghlsecretvalue"),
        ("SWITCHBOARD_STRIPE_API_KEY", "sk_live_stripekey"),
        ("SWITCHBOARD_STRIPE_WEBHOOK_SECRET", "whsec_stripehook"),
        ("SWITCHBOARD_OPENAI_API_KEY", "sk-openaikey"),
        (
            "SWITCHBOARD_SMTP_URL",
            "smtp://mailer:smtppassword@mail.example.com",
        ),
    ];
    let loaded = load(&values).unwrap();
    let shown = format!("{:?} {:#?}", loaded, loaded.config);
    for needle in [
        "hunter2pw",
        KEY,
        KEY2,
        "ghlsecretvalue",
        "sk_live_stripekey",
        "whsec_stripehook",
        "sk-openaikey",
        "smtppassword",
    ] {
        assert!(!shown.contains(needle), "Debug shows {needle}: {shown}");
    }
}

#[test]
fn media_limits() {
    let c = config(&[]);
    assert_eq!(c.media_max_bytes, 5 * 1024 * 1024);
    assert_eq!(
        c.media_link_ttl(),
        std::time::Duration::from_secs(7 * 86_400)
    );
    let c = config(&[
        ("SWITCHBOARD_MEDIA_MAX_BYTES", "1048576"),
        ("SWITCHBOARD_MEDIA_LINK_TTL_SECS", "3600"),
    ]);
    assert_eq!(
        (c.media_max_bytes, c.media_link_ttl_secs),
        (1_048_576, 3600)
    );
    let e = err(&[("SWITCHBOARD_MEDIA_LINK_TTL_SECS", "5")]);
    assert!(e.starts_with("SWITCHBOARD_MEDIA_LINK_TTL_SECS:"), "{e}");
    let e = err(&[("SWITCHBOARD_MEDIA_MAX_BYTES", "lots")]);
    assert!(e.contains("not a whole number"), "{e}");
}

#[test]
fn retention_days() {
    let c = config(&[]);
    assert_eq!(
        (c.message_retention_days, c.uninstall_retention_days),
        (365, 30)
    );
    // 0 is allowed: keep messages forever.
    let c = config(&[("SWITCHBOARD_MESSAGE_RETENTION_DAYS", "0")]);
    assert_eq!(c.message_retention_days, 0);
    let c = config(&[("SWITCHBOARD_MESSAGE_RETENTION_DAYS", "3650")]);
    assert_eq!(c.message_retention_days, 3650);
    assert_eq!(
        err(&[("SWITCHBOARD_MESSAGE_RETENTION_DAYS", "3651")]),
        "SWITCHBOARD_MESSAGE_RETENTION_DAYS: \"3651\" is not a whole number between 0 and 3650"
    );
    let e = err(&[("SWITCHBOARD_MESSAGE_RETENTION_DAYS", "a year")]);
    assert!(e.contains("not a whole number"), "{e}");
}

#[test]
fn ghl_frame_ancestors() {
    let c = config(&[]);
    assert!(c
        .ghl_frame_ancestors
        .contains("https://app.gohighlevel.com"));
    assert!(
        c.ghl_shared_secret.is_none(),
        "the GHL page is off by default"
    );
    let c = config(&[(
        "SWITCHBOARD_GHL_FRAME_ANCESTORS",
        "  https://app.agency.example   https://*.crm.example:8443 ",
    )]);
    assert_eq!(
        c.ghl_frame_ancestors,
        "https://app.agency.example https://*.crm.example:8443"
    );
    for bad in [
        "",
        "*",
        "http://app.example",
        "https://a.example; script-src *",
        "https://",
    ] {
        let e = err(&[("SWITCHBOARD_GHL_FRAME_ANCESTORS", bad)]);
        assert!(
            e.starts_with("SWITCHBOARD_GHL_FRAME_ANCESTORS"),
            "{bad:?}: {e}"
        );
    }
}
