use std::time::{Duration, Instant};

use crate::{http_status, run, stderr, switchboard};

#[test]
fn a_bad_setting_stops_the_program_naming_the_setting() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(dir.path(), &["migrate"], &[("SWITCHBOARD_LISTEN", "abc")]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("SWITCHBOARD_LISTEN: \"abc\" is not a socket address"),
        "{err}"
    );
    let out = run(
        dir.path(),
        &["migrate"],
        &[("SWITCHBOARD_WORKER_CONCURRENCY", "lots")],
    );
    assert!(
        stderr(&out).contains(
            "SWITCHBOARD_WORKER_CONCURRENCY: \"lots\" is not a whole number between 1 and 1024"
        ),
        "{}",
        stderr(&out)
    );
    // Nothing was created by a refused start.
    assert!(!dir.path().join("switchboard.db").exists());
}

#[test]
fn a_missing_required_secret_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(
        dir.path(),
        &["migrate"],
        &[(
            "SWITCHBOARD_DATABASE_URL",
            "postgres://postgres@127.0.0.1:5432/test",
        )],
    );
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("SWITCHBOARD_MASTER_KEY is required with a PostgreSQL database"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn an_unknown_variable_is_warned_about_and_ignored() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(
        dir.path(),
        &["migrate"],
        &[("SWITCHBOARD_LISTN", "127.0.0.1:9")],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("unknown setting SWITCHBOARD_LISTN"), "{err}");
    assert!(err.contains("SWITCHBOARD_LISTEN"), "no suggestion: {err}");
}

#[test]
fn migrate_is_repeatable_and_the_local_master_key_is_kept_private() {
    let dir = tempfile::tempdir().unwrap();
    let first = run(dir.path(), &["migrate"], &[]);
    assert!(first.status.success(), "{}", stderr(&first));
    assert!(run(dir.path(), &["migrate"], &[]).status.success());
    assert!(dir.path().join("switchboard.db").exists());

    // The worker and dlq commands open the store, which needs the key ring.
    let out = run(dir.path(), &["dlq", "list"], &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "no dead jobs");
    let key = dir.path().join("master.key");
    assert!(
        stderr(&out).contains("generated a master key"),
        "{}",
        stderr(&out)
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&key).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    let saved = std::fs::read_to_string(&key).unwrap();
    let again = run(dir.path(), &["dlq", "list", "--json"], &[]);
    assert!(again.status.success());
    assert!(!stderr(&again).contains("generated a master key"));
    assert_eq!(std::fs::read_to_string(&key).unwrap(), saved);
    assert_eq!(String::from_utf8_lossy(&again.stdout).trim(), "[]");
    let bad = run(dir.path(), &["dlq", "retry", "msg_1"], &[]);
    assert!(!bad.status.success());
    assert!(
        stderr(&bad).contains("\"msg_1\" is not a job id"),
        "{}",
        stderr(&bad)
    );
}

#[test]
fn worker_refuses_an_unmigrated_database() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(dir.path(), &["worker"], &[]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("run `switchboard migrate` first"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn serve_answers_and_stops_gracefully_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let listen = format!("127.0.0.1:{port}");
    let mut child = switchboard(
        dir.path(),
        &["serve"],
        &[
            ("SWITCHBOARD_LISTEN", &listen),
            ("SWITCHBOARD_LOG_FORMAT", "json"),
        ],
    )
    .stderr(std::process::Stdio::piped())
    .spawn()
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let ready = loop {
        if let Some(status) = http_status(&listen, "/readyz") {
            break status;
        }
        assert!(Instant::now() < deadline, "serve never answered");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(ready, 200);
    let pid = child.id().to_string();
    assert!(std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "serve did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success());
    let mut logs = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut logs).unwrap();
    // JSON logs, one object a line, with the shutdown story.
    assert!(
        logs.lines().all(|l| l.trim_start().starts_with('{')),
        "{logs}"
    );
    assert!(
        logs.contains("shutting down") && logs.contains("\"stopped\""),
        "{logs}"
    );
}

#[test]
fn bench_queue_prints_one_json_object() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(
        dir.path(),
        &["bench", "queue", "--jobs", "500", "--workers", "8"],
        &[],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let result: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(result["backend"], "sqlite");
    assert_eq!(result["jobs"], 500);
    for field in ["seconds", "jobs_per_sec", "p50_ms", "p99_ms", "peak_rss_mb"] {
        assert!(result[field].as_f64().unwrap() > 0.0, "{field}: {result}");
    }
}

#[test]
fn keys_rotate_reseals_and_a_wrong_key_is_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let old = "1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
    let new = "2:ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8=";
    assert!(run(dir.path(), &["migrate"], &[]).status.success());
    let out = run(
        dir.path(),
        &["dlq", "list"],
        &[("SWITCHBOARD_MASTER_KEY", old)],
    );
    assert!(out.status.success(), "{}", stderr(&out));

    // Started with another key, every command that opens the store refuses.
    let out = run(
        dir.path(),
        &["dlq", "list"],
        &[("SWITCHBOARD_MASTER_KEY", new)],
    );
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("does not open this database's secrets"),
        "{}",
        stderr(&out)
    );

    // `keys new` proposes the next version.
    let out = run(
        dir.path(),
        &["keys", "new"],
        &[("SWITCHBOARD_MASTER_KEY", old)],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let proposed = String::from_utf8(out.stdout).unwrap();
    let parsed = secrets::MasterKey::parse(proposed.trim()).unwrap();
    assert_eq!(parsed.version(), 2);
    assert!(
        !proposed.contains(&old[2..]),
        "a fresh key, not the old one"
    );

    let out = run(
        dir.path(),
        &["keys", "rotate", "--batch", "2"],
        &[
            ("SWITCHBOARD_MASTER_KEY", new),
            ("SWITCHBOARD_PREVIOUS_MASTER_KEYS", old),
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let rotation: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        rotation,
        serde_json::json!({"location_tokens": 0, "channel_credentials": 0, "installation_tokens": 0})
    );
    // Now the new key alone opens the database, and the old one is refused.
    assert!(run(
        dir.path(),
        &["dlq", "list"],
        &[("SWITCHBOARD_MASTER_KEY", new)]
    )
    .status
    .success());
    assert!(!run(
        dir.path(),
        &["dlq", "list"],
        &[("SWITCHBOARD_MASTER_KEY", old)]
    )
    .status
    .success());
}

#[test]
fn location_add_registers_and_updates_a_location() {
    let dir = tempfile::tempdir().unwrap();
    assert!(run(dir.path(), &["migrate"], &[]).status.success());
    let add = |extra: &[&str]| {
        let mut args = vec![
            "location",
            "add",
            "--ghl-location-id",
            "ve9EPM428h8vShlRW1KT",
            "--access-token",
            "at-1",
            "--refresh-token",
            "rt-1",
            "--json",
        ];
        args.extend_from_slice(extra);
        run(dir.path(), &args, &[])
    };
    let first = add(&[]);
    assert!(first.status.success(), "{}", stderr(&first));
    let first: serde_json::Value = serde_json::from_slice(&first.stdout).unwrap();
    assert!(first["location_id"].as_str().unwrap().starts_with("loc_"));
    assert_eq!(first["ghl_location_id"], "ve9EPM428h8vShlRW1KT");
    assert!(first["conversation_provider_id"].is_null());
    // Re-adding updates the same location in the same agency.
    let second = add(&["--conversation-provider-id", "cp-123"]);
    let second: serde_json::Value = serde_json::from_slice(&second.stdout).unwrap();
    assert_eq!(second["location_id"], first["location_id"]);
    assert_eq!(second["agency_id"], first["agency_id"]);
    assert_eq!(second["conversation_provider_id"], "cp-123");
    let bad = run(
        dir.path(),
        &[
            "location",
            "add",
            "--ghl-location-id",
            " ",
            "--access-token",
            "a",
            "--refresh-token",
            "r",
        ],
        &[],
    );
    assert!(!bad.status.success());
    assert!(stderr(&bad).contains("--ghl-location-id is empty"));
}

#[test]
fn trace_explains_unknown_and_malformed_ids() {
    let dir = tempfile::tempdir().unwrap();
    assert!(run(dir.path(), &["migrate"], &[]).status.success());
    let out = run(
        dir.path(),
        &["trace", "msg_01jd0000000000000000000000"],
        &[],
    );
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("no message msg_01jd0000000000000000000000"),
        "{}",
        stderr(&out)
    );
    let out = run(dir.path(), &["trace", "job_1"], &[]);
    assert!(
        stderr(&out).contains("\"job_1\" is not a message id"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn channel_add_takes_a_twilio_line() {
    let dir = tempfile::tempdir().unwrap();
    let env = [("SWITCHBOARD_PUBLIC_URL", "https://sb.example.com")];
    assert!(run(dir.path(), &["migrate"], &env).status.success());
    let loc = run(
        dir.path(),
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
        &env,
    );
    assert!(loc.status.success(), "{}", stderr(&loc));
    let add = |line: &str, sid: &str| {
        let sid = format!("account_sid={sid}");
        run(
            dir.path(),
            &[
                "channel",
                "add",
                "--location",
                "ghl-loc-1",
                "--provider",
                "twilio",
                "--line",
                line,
                "--credential",
                &sid,
                "--credential",
                "auth_token=secret-token",
                "--json",
            ],
            &env,
        )
    };
    let out = add("+15550000001", "ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
    assert!(out.status.success(), "{}", stderr(&out));
    let channel: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let id = channel["channel_id"].as_str().unwrap();
    assert_eq!(channel["provider"], "twilio");
    assert_eq!(
        channel["webhook_url"],
        format!("https://sb.example.com/webhooks/twilio/{id}")
    );
    // A SID that is not one fails here, not at the first send.
    let bad = add("+15550000002", "not-a-sid");
    assert!(!bad.status.success());
    assert!(stderr(&bad).contains("account_sid"), "{}", stderr(&bad));
}

#[test]
fn channel_add_connects_a_line_and_prints_its_webhook_url() {
    let dir = tempfile::tempdir().unwrap();
    let env = [("SWITCHBOARD_PUBLIC_URL", "https://sb.example.com/")];
    assert!(run(dir.path(), &["migrate"], &env).status.success());
    let loc = run(
        dir.path(),
        &[
            "location",
            "add",
            "--ghl-location-id",
            "ghl-loc-1",
            "--access-token",
            "a",
            "--refresh-token",
            "r",
            "--json",
        ],
        &env,
    );
    assert!(loc.status.success(), "{}", stderr(&loc));
    let creds = [
        "--credential",
        "api_key_id=kid",
        "--credential",
        "api_secret_key=ksecret",
        "--credential",
        "signing_secret=whsec",
    ];
    let add = |location: &str, line: &str, extra: &[&str]| {
        let mut args = vec![
            "channel",
            "add",
            "--location",
            location,
            "--provider",
            "sendblue",
            "--line",
            line,
            "--json",
        ];
        args.extend_from_slice(&creds);
        args.extend_from_slice(extra);
        run(dir.path(), &args, &env)
    };
    // By GHL's location id, with a number written loosely.
    let out = add(
        "ghl-loc-1",
        "+1 (555) 000-0001",
        &["--api-base", "http://127.0.0.1:9/sendblue/"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let channel: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let id = channel["channel_id"].as_str().unwrap();
    assert!(id.starts_with("chn_"));
    assert_eq!(channel["line"], "+15550000001");
    assert_eq!(
        channel["webhook_url"],
        format!("https://sb.example.com/webhooks/sendblue/{id}")
    );
    // The same line twice is refused.
    let dup = add(
        channel["location_id"].as_str().unwrap(),
        "+15550000001",
        &[],
    );
    assert!(!dup.status.success());
    assert!(
        stderr(&dup).contains("already connected"),
        "{}",
        stderr(&dup)
    );

    for (args, message) in [
        (
            vec![
                "--location",
                "nope",
                "--provider",
                "sendblue",
                "--line",
                "+15550000002",
            ],
            "no location \"nope\"",
        ),
        (
            vec![
                "--location",
                "ghl-loc-1",
                "--provider",
                "pigeon",
                "--line",
                "+15550000002",
            ],
            "--provider \"pigeon\" is not one of",
        ),
        (
            vec![
                "--location",
                "ghl-loc-1",
                "--provider",
                "sendblue",
                "--line",
                "5550000002",
            ],
            "--line:",
        ),
    ] {
        let mut full = vec!["channel", "add"];
        full.extend(args);
        full.extend_from_slice(&creds);
        let out = run(dir.path(), &full, &env);
        assert!(!out.status.success());
        assert!(
            stderr(&out).contains(message),
            "{message}: {}",
            stderr(&out)
        );
    }
    let missing = run(
        dir.path(),
        &[
            "channel",
            "add",
            "--location",
            "ghl-loc-1",
            "--provider",
            "sendblue",
            "--line",
            "+15550000003",
            "--credential",
            "api_key_id=kid",
        ],
        &env,
    );
    assert!(!missing.status.success());
    assert!(
        stderr(&missing).contains("api_secret_key"),
        "{}",
        stderr(&missing)
    );
    let paced = add(
        "ghl-loc-1",
        "+15550000005",
        &["--messages-per-second", "0.5"],
    );
    assert!(paced.status.success(), "{}", stderr(&paced));
    let bad_pace = add("ghl-loc-1", "+15550000006", &["--messages-per-second=-1"]);
    assert!(
        stderr(&bad_pace).contains("--messages-per-second"),
        "{}",
        stderr(&bad_pace)
    );
    // Only a provider with a customer-service window (WhatsApp) takes a template.
    let no_window = add(
        "ghl-loc-1",
        "+15550000007",
        &["--fallback-template", "hello_world"],
    );
    assert!(!no_window.status.success());
    assert!(
        stderr(&no_window).contains("--fallback-template"),
        "{}",
        stderr(&no_window)
    );
    let bad_base = add("ghl-loc-1", "+15550000004", &["--api-base", "ftp://x"]);
    assert!(
        stderr(&bad_base).contains("--api-base"),
        "{}",
        stderr(&bad_base)
    );
}

#[test]
fn user_add_takes_the_password_from_a_file_or_the_environment_only() {
    let dir = tempfile::tempdir().unwrap();
    assert!(run(dir.path(), &["migrate"], &[]).status.success());
    let location = run(
        dir.path(),
        &[
            "location",
            "add",
            "--ghl-location-id",
            "ghl-loc-1",
            "--access-token",
            "at",
            "--refresh-token",
            "rt",
            "--json",
        ],
        &[],
    );
    let location: serde_json::Value = serde_json::from_slice(&location.stdout).unwrap();
    let password = "a long enough password";

    let agent = run(
        dir.path(),
        &[
            "user",
            "add",
            "--email",
            "Ann@Example.com",
            "--role",
            "agent",
            "--location",
            "ghl-loc-1",
            "--json",
        ],
        &[("SWITCHBOARD_NEW_USER_PASSWORD", password)],
    );
    assert!(agent.status.success(), "{}", stderr(&agent));
    assert!(
        !stderr(&agent).contains("unknown setting"),
        "{}",
        stderr(&agent)
    );
    let agent: serde_json::Value = serde_json::from_slice(&agent.stdout).unwrap();
    assert!(agent["user_id"].as_str().unwrap().starts_with("usr_"));
    assert_eq!(agent["email"], "ann@example.com");
    assert_eq!(agent["location_id"], location["location_id"]);

    let file = dir.path().join("password");
    std::fs::write(&file, format!("{password}\n")).unwrap();
    let agency = location["agency_id"].as_str().unwrap();
    let admin = run(
        dir.path(),
        &[
            "user",
            "add",
            "--email",
            "boss@example.com",
            "--role",
            "agency_admin",
            "--agency",
            agency,
            "--password-file",
            file.to_str().unwrap(),
            "--json",
        ],
        &[],
    );
    assert!(admin.status.success(), "{}", stderr(&admin));

    /// Extra arguments, environment, what stderr must say.
    type Refusal<'a> = (&'a [&'a str], &'a [(&'a str, &'a str)], &'a str);
    let refusals: [Refusal; 4] = [
        (
            &[
                "--email",
                "ANN@example.com",
                "--role",
                "agent",
                "--location",
                "ghl-loc-1",
            ],
            &[("SWITCHBOARD_NEW_USER_PASSWORD", password)],
            "already exists",
        ),
        (
            &[
                "--email",
                "x@example.com",
                "--role",
                "agent",
                "--location",
                "ghl-loc-1",
            ],
            &[],
            "--password-file or SWITCHBOARD_NEW_USER_PASSWORD",
        ),
        (
            &["--email", "y@example.com", "--role", "operator"],
            &[("SWITCHBOARD_NEW_USER_PASSWORD", "short")],
            "at least 12 characters",
        ),
        (
            &["--email", "z@example.com", "--role", "root"],
            &[("SWITCHBOARD_NEW_USER_PASSWORD", password)],
            "is not a role",
        ),
    ];
    for (extra, env, expected) in refusals {
        let mut args = vec!["user", "add"];
        args.extend_from_slice(extra);
        let out = run(dir.path(), &args, env);
        assert!(!out.status.success(), "{args:?} succeeded");
        assert!(
            stderr(&out).contains(expected),
            "{args:?}: {}",
            stderr(&out)
        );
    }
}

#[test]
fn dlq_retry_replays_a_dead_job_and_records_it_in_the_audit_log() {
    let dir = tempfile::tempdir().unwrap();
    assert!(run(dir.path(), &["migrate"], &[]).status.success());
    let url = format!("sqlite://{}", dir.path().join("switchboard.db").display());
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let job = runtime.block_on(async {
        let db = store::Db::connect(&store::DbOptions::new(url.clone()))
            .await
            .unwrap();
        let queue = store::queue::Queue::new(db.clone());
        queue
            .enqueue_now(store::queue::NewJob::new("deliver", serde_json::json!({})))
            .await
            .unwrap();
        let job = queue
            .claim(&["deliver"], 1, std::time::Duration::from_secs(30))
            .await
            .unwrap()
            .remove(0);
        queue
            .finish(
                &job,
                store::queue::Outcome::Permanent {
                    error: "boom".into(),
                },
            )
            .await
            .unwrap();
        db.close().await;
        job.id
    });
    let out = run(dir.path(), &["dlq", "retry", &job.to_string()], &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("replayed"));
    let entries: Vec<(String, String, String)> = runtime.block_on(async {
        let db = store::Db::connect(&store::DbOptions::new(url))
            .await
            .unwrap();
        let rows = sqlx::query_as("SELECT actor, action, target FROM audit_log")
            .fetch_all(db.reader())
            .await
            .unwrap();
        db.close().await;
        rows
    });
    assert_eq!(
        entries,
        vec![(
            "operator:cli".to_string(),
            "dead_job.replayed".to_string(),
            job.to_string()
        )]
    );
}
