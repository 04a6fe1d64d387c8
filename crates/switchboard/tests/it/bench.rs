//! `switchboard bench ingest`, `bench e2e` and `bench pacing`, small: they run, and print what
//! they promise.

use serde_json::Value;

use crate::{run, stderr};

fn bench(args: &[&str]) -> Value {
    let dir = tempfile::tempdir().unwrap();
    let out = run(dir.path(), args, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)))
}

fn positive(result: &Value, fields: &[&str]) {
    for field in fields {
        assert!(
            result[field].as_f64().is_some_and(|v| v > 0.0),
            "{field}: {result}"
        );
    }
}

#[test]
fn bench_ingest_posts_signed_webhooks_and_compares_with_the_raw_commit_rate() {
    let result = bench(&["bench", "ingest", "--requests", "200", "--concurrency", "8"]);
    assert_eq!(result["bench"], "ingest");
    assert_eq!(result["backend"], "sqlite");
    assert_eq!(result["requests"], 200);
    assert_eq!(result["concurrency"], 8);
    assert_eq!(result["rate"], 0.0);
    assert_eq!(result["errors"], 0);
    positive(
        &result,
        &[
            "seconds",
            "requests_per_sec",
            "p50_ms",
            "p99_ms",
            "raw_commit_rate",
            "fraction_of_raw",
            "raw_single_commit_rate",
            "peak_rss_mb",
            "cores",
        ],
    );
}

#[test]
fn bench_e2e_sends_every_message_through_the_sandbox() {
    let result = bench(&["bench", "e2e", "--messages", "50", "--rate", "100"]);
    assert_eq!(result["bench"], "e2e");
    assert_eq!(result["backend"], "sqlite");
    assert_eq!(result["messages"], 50);
    assert_eq!(result["rate"], 100.0);
    assert_eq!(result["lost"], 0, "{result}");
    assert_eq!(result["errors"], 0, "{result}");
    positive(
        &result,
        &[
            "seconds",
            "p50_ms",
            "p99_ms",
            "max_ms",
            "peak_rss_mb",
            "cores",
        ],
    );
    assert!(result["p50_ms"].as_f64() <= result["p99_ms"].as_f64());
}

#[test]
fn bench_pacing_posts_every_inbound_message_to_ghl_without_a_429() {
    // Too short for GHL's 10 s window to fill: the used fraction is reported as null, and
    // what is checked is that nothing is refused, lost or duplicated.
    let result = bench(&[
        "bench",
        "pacing",
        "--messages",
        "60",
        "--locations",
        "2",
        "--contacts",
        "5",
    ]);
    assert_eq!(result["bench"], "pacing");
    assert_eq!(result["backend"], "sqlite");
    assert_eq!(result["messages"], 60);
    assert_eq!(result["locations"], 2);
    assert_eq!(result["ghl_429s"], 0, "{result}");
    assert_eq!(result["lost"], 0, "{result}");
    assert_eq!(result["duplicated"], 0, "{result}");
    assert_eq!(result["misrouted"], 0, "{result}");
    assert_eq!(result["errors"], 0, "{result}");
    assert_eq!(result["ghl_unattributed"], 0, "{result}");
    // Each message once, and each contact's first message a lookup and an upsert.
    assert!(
        result["ghl_requests"].as_u64() >= Some(60 + 2 * 5 * 2),
        "{result}"
    );
    for field in [
        "used_fraction_min",
        "used_fraction_median",
        "used_fraction_overall",
    ] {
        assert!(result.get(field).is_some(), "{field}: {result}");
    }
    positive(
        &result,
        &["seconds", "busy_seconds_median", "peak_rss_mb", "cores"],
    );
}
