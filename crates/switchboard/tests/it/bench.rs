//! `switchboard bench ingest` and `bench e2e`, small: they run, and print what they promise.

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
