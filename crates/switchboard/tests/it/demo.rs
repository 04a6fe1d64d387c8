//! `switchboard sandbox` and `switchboard demo` as someone trying Switchboard runs them.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::{free_port, http_status, switchboard, Running};

const START: Duration = Duration::from_secs(30);
const STOP: Duration = Duration::from_secs(15);

/// Polls `GET path` until it answers; its status.
fn status_when_up(address: &str, path: &str) -> u16 {
    let deadline = Instant::now() + START;
    loop {
        if let Some(status) = http_status(address, path) {
            return status;
        }
        assert!(Instant::now() < deadline, "{address}{path} never answered");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The first word after `label` on a line of the banner that starts with it.
fn field<'a>(banner: &'a str, label: &str) -> &'a str {
    banner
        .lines()
        .find_map(|l| l.trim_start().strip_prefix(label))
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no {label:?} line in:\n{banner}"))
}

/// The banner's `channel` lines: id, provider and line of each seeded channel.
fn channel_lines(banner: &str) -> Vec<String> {
    banner
        .lines()
        .filter_map(|l| l.trim_start().strip_prefix("channel"))
        .map(|rest| rest.trim().to_string())
        .collect()
}

#[test]
fn sandbox_answers_its_control_api_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let listen = format!("127.0.0.1:{}", free_port());
    let mut sandbox = Running::spawn(switchboard(
        dir.path(),
        &[
            "sandbox",
            "--listen",
            &listen,
            "--gateway",
            "http://127.0.0.1:9/",
        ],
        &[],
    ));
    let banner = sandbox.wait_for_line("Ctrl-C to stop", START);
    assert!(banner.contains(&format!("http://{listen}/ghl")), "{banner}");
    assert!(
        banner.contains(&format!("http://{listen}/_control/ghl/public-key")),
        "{banner}"
    );
    assert!(banner.contains("http://127.0.0.1:9"), "{banner}");
    assert_eq!(status_when_up(&listen, "/_control/health"), 200);
    assert_eq!(http_status(&listen, "/_control/ghl/public-key"), Some(200));
    assert_eq!(http_status(&listen, "/nowhere"), Some(404));
    let (status, logs) = sandbox.terminate(STOP);
    assert!(status.success(), "{logs}");
    assert!(logs.contains("sandbox stopped"), "{logs}");
    // Nothing is written: the simulators live in memory.
    assert!(std::fs::read_dir(dir.path()).unwrap().next().is_none());
}

#[test]
fn sandbox_refuses_a_gateway_that_is_not_a_url() {
    let dir = tempfile::tempdir().unwrap();
    let out = crate::run(dir.path(), &["sandbox", "--gateway", "nope"], &[]);
    assert!(!out.status.success());
    assert!(crate::stderr(&out).contains("--gateway \"nope\" is not a URL"));
}

/// One demo run on `data_dir`: up, ready, its sandbox healthy; stopped by SIGTERM. Returns
/// the banner.
fn demo_run(data_dir: &Path) -> String {
    let listen = format!("127.0.0.1:{}", free_port());
    let unused = tempfile::tempdir().unwrap();
    let mut demo = Running::spawn(switchboard(
        unused.path(),
        &[
            "demo",
            "--data-dir",
            data_dir.to_str().unwrap(),
            "--listen",
            &listen,
        ],
        &[("SWITCHBOARD_SHUTDOWN_GRACE_SECS", "5")],
    ));
    let banner = demo.wait_for_line("Ctrl-C to stop", START);
    assert_eq!(http_status(&listen, "/readyz"), Some(200), "{banner}");
    assert_eq!(field(&banner, "URL"), format!("http://{listen}"));
    let sandbox = banner
        .lines()
        .filter_map(|l| l.trim_start().strip_prefix("URL"))
        .nth(1)
        .map(str::trim)
        .unwrap_or_else(|| panic!("no sandbox URL in:\n{banner}"));
    let sandbox_address = sandbox.strip_prefix("http://").unwrap();
    assert_eq!(
        http_status(sandbox_address, "/_control/health"),
        Some(200),
        "{banner}"
    );
    let (status, logs) = demo.terminate(STOP);
    assert!(status.success(), "{logs}");
    assert!(
        logs.contains("stopped") && logs.contains("sandbox stopped"),
        "{logs}"
    );
    // Only the given data folder was used.
    assert!(std::fs::read_dir(unused.path()).unwrap().next().is_none());
    banner
}

#[test]
fn demo_seeds_serves_and_runs_again_on_the_same_folder() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("demo");
    let first = demo_run(&data);
    assert!(data.join("switchboard.db").exists());
    assert!(data.join("master.key").exists());
    let location = field(&first, "location");
    let channel = field(&first, "channel");
    assert!(location.starts_with("loc_"), "{first}");
    assert!(channel.starts_with("chn_"), "{first}");
    assert!(
        first.contains(&format!("/webhooks/sendblue/{channel}")),
        "{first}"
    );
    let login = field(&first, "login");
    assert_eq!(login, "admin@demo-agency.example", "{first}");
    // One line per provider the sandbox simulates, each with its webhook.
    let channels = channel_lines(&first);
    assert!(
        channels.iter().any(|c| c.contains("(twilio, line")),
        "{first}"
    );
    assert!(first.contains("/webhooks/twilio/chn_"), "{first}");
    assert!(
        channels.iter().any(|c| c.contains("(unipile, line")),
        "{first}"
    );
    // The scripted exchange went through the gateway's webhooks into the store.
    assert!(first.contains("switchboard trace msg_"), "{first}");
    assert!(first.contains("/_control/sendblue/inbound"), "{first}");
    assert!(first.contains("/_control/ghl/outbound"), "{first}");

    // Again on the same folder: the same tenant and channel, nothing duplicated.
    let second = demo_run(&data);
    assert_eq!(field(&second, "location"), location, "{second}");
    assert_eq!(field(&second, "channel"), channel, "{second}");
    assert_eq!(channel_lines(&second), channels, "{second}");
    assert!(second.contains("switchboard trace msg_"), "{second}");
    // The same dashboard user, with a fresh password.
    let password = |banner: &str| {
        let line = banner
            .lines()
            .find(|l| l.trim_start().starts_with("login "))
            .unwrap();
        line.split(" / ")
            .nth(1)
            .unwrap()
            .split(' ')
            .next()
            .unwrap()
            .to_string()
    };
    assert_eq!(field(&second, "login"), "admin@demo-agency.example");
    assert_eq!(password(&first).len(), 24, "{first}");
    assert_ne!(password(&first), password(&second));

    // The messages it stored are there to trace.
    let id = second
        .lines()
        .find_map(|l| l.split("switchboard trace ").nth(1))
        .unwrap()
        .trim();
    let out = crate::run(&data, &["trace", id], &[]);
    assert!(out.status.success(), "{}", crate::stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains(id));
}
