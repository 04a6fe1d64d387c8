//! A `serve` process killed (SIGKILL) in the middle of a send, against `switchboard
//! sandbox` in another process. After a restart the message is always delivered.
//!
//! Killed while the provider call is in flight, the provider never finishes the request
//! and the rerun sends the message once. Killed in the window after the provider accepted
//! the send and before our record of it commits, the rerun sends it again: SendBlue takes
//! no idempotency key. That second test pins the duplicate down: exactly one, and a
//! timeline that shows it (two attempts, one acceptance).

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use sqlx::{Connection, SqliteConnection};

use crate::{free_port, http_status, run, stderr, switchboard};

const LINE: &str = "+15122164639";

struct Killable(Child);

impl Drop for Killable {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn(mut command: Command) -> Killable {
    Killable(
        command
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    )
}

fn wait_ready(address: &str, path: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while http_status(address, path) != Some(200) {
        assert!(
            Instant::now() < deadline,
            "{address}{path} never became ready"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

async fn control(client: &reqwest::Client, sandbox: &str, path: &str, body: Value) -> Value {
    let response = client
        .post(format!("http://{sandbox}/_control{path}"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert!(
        response.status().is_success(),
        "{path}: {}",
        response.status()
    );
    response.json().await.unwrap_or(Value::Null)
}

async fn get(client: &reqwest::Client, sandbox: &str, path: &str) -> Value {
    client
        .get(format!("http://{sandbox}/_control{path}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// A sandbox process and a gateway set up against it (not yet serving).
struct Rig {
    dir: tempfile::TempDir,
    sandbox: String,
    gateway: String,
    env: Vec<(String, String)>,
    client: reqwest::Client,
    _sim: Killable,
}

impl Rig {
    async fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let (sandbox, gateway) = (
            format!("127.0.0.1:{}", free_port()),
            format!("127.0.0.1:{}", free_port()),
        );
        let client = reqwest::Client::new();
        let sim = spawn(switchboard(
            dir.path(),
            &[
                "sandbox",
                "--listen",
                &sandbox,
                "--gateway",
                &format!("http://{gateway}"),
            ],
            &[],
        ));
        wait_ready(&sandbox, "/_control/health");
        let seeded = control(
            &client,
            &sandbox,
            "/ghl/locations",
            json!({"locationId": "killLoc", "conversationProviderId": "cp-kill"}),
        )
        .await;
        control(&client, &sandbox, "/sendblue/accounts", json!({"apiKeyId": "kid", "apiSecretKey": "ksecret", "signingSecret": "whsec", "lines": [LINE]})).await;
        let pem = client
            .get(format!("http://{sandbox}/_control/ghl/public-key"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let env: Vec<(String, String)> = [
            ("SWITCHBOARD_LISTEN", gateway.clone()),
            ("SWITCHBOARD_PUBLIC_URL", format!("http://{gateway}")),
            ("SWITCHBOARD_GHL_API_BASE", format!("http://{sandbox}/ghl")),
            ("SWITCHBOARD_GHL_WEBHOOK_PUBLIC_KEY", pem),
            ("SWITCHBOARD_GHL_CLIENT_ID", "cid".into()),
            ("SWITCHBOARD_GHL_CLIENT_SECRET", "csecret".into()),
            ("SWITCHBOARD_JOB_LEASE_SECS", "5".into()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        let rig = Self {
            dir,
            sandbox,
            gateway,
            env,
            client,
            _sim: sim,
        };
        assert!(rig.run(&["migrate"]).status.success());
        let out = rig.run(&[
            "location",
            "add",
            "--ghl-location-id",
            "killLoc",
            "--access-token",
            seeded["accessToken"].as_str().unwrap(),
            "--refresh-token",
            seeded["refreshToken"].as_str().unwrap(),
            "--conversation-provider-id",
            "cp-kill",
        ]);
        assert!(out.status.success(), "{}", stderr(&out));
        let sendblue_base = format!("http://{}/sendblue", rig.sandbox);
        let out = rig.run(&[
            "channel",
            "add",
            "--location",
            "killLoc",
            "--provider",
            "sendblue",
            "--line",
            LINE,
            "--credential",
            "api_key_id=kid",
            "--credential",
            "api_secret_key=ksecret",
            "--credential",
            "signing_secret=whsec",
            "--api-base",
            &sendblue_base,
            "--json",
        ]);
        assert!(out.status.success(), "{}", stderr(&out));
        let channel: Value = serde_json::from_slice(&out.stdout).unwrap();
        rig.control(
            "/sendblue/webhooks",
            json!({"line": LINE, "url": channel["webhook_url"]}),
        )
        .await;
        // SendBlue takes 1.5 s to answer sends: long enough to act mid-call.
        rig.control("/faults", json!({"target": "sendblue", "path_prefix": "/sendblue/api/send-message", "kind": "latency", "ms": 1500})).await;
        rig
    }

    fn env(&self) -> Vec<(&str, &str)> {
        self.env
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect()
    }

    fn run(&self, args: &[&str]) -> std::process::Output {
        run(self.dir.path(), args, &self.env())
    }

    fn serve(&self) -> Killable {
        let serve = spawn(switchboard(self.dir.path(), &["serve"], &self.env()));
        wait_ready(&self.gateway, "/readyz");
        serve
    }

    async fn control(&self, path: &str, body: Value) -> Value {
        control(&self.client, &self.sandbox, path, body).await
    }

    async fn get(&self, path: &str) -> Value {
        get(&self.client, &self.sandbox, path).await
    }

    async fn wait(&self, what: &str, mut done: impl AsyncFnMut(&Self) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while !done(self).await {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// How many times SendBlue accepted a message with this text.
    async fn copies(&self, text: &str) -> usize {
        let sends = self.get("/sendblue/messages").await;
        sends
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["content"] == text)
            .count()
    }

    async fn delivered_in_ghl(&self, ghl_id: &str) -> bool {
        let messages = self.get("/ghl/messages?locationId=killLoc").await;
        messages.as_array().unwrap().iter().any(|m| {
            m["id"] == ghl_id
                && m["statusHistory"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|s| s["status"] == "delivered")
        })
    }

    /// A GHL user sends `text`; returns GHL's message id once the send to SendBlue started.
    async fn send_and_wait_for_the_call(&self, text: &str) -> String {
        let sent = self
            .control(
                "/ghl/outbound",
                json!({"locationId": "killLoc", "phone": "+19998887777", "message": text}),
            )
            .await;
        self.wait("the send to start", async |r| {
            let requests = r.get("/sendblue/requests").await;
            requests
                .as_array()
                .unwrap()
                .iter()
                .any(|q| q["path"].as_str().unwrap_or("").ends_with("/send-message"))
        })
        .await;
        sent["messageId"].as_str().unwrap().to_string()
    }

    fn db_url(&self) -> String {
        format!(
            "sqlite://{}",
            self.dir.path().join("switchboard.db").display()
        )
    }

    /// The kinds of the timeline entries of the message GHL knows as `ghl_id`.
    async fn timeline(&self, ghl_id: &str) -> Vec<String> {
        let mut db = SqliteConnection::connect(&self.db_url()).await.unwrap();
        let id: String = sqlx::query_scalar("SELECT id FROM messages WHERE ghl_message_id = $1")
            .bind(ghl_id)
            .fetch_one(&mut db)
            .await
            .unwrap();
        let out = self.run(&["trace", &id, "--json"]);
        assert!(out.status.success(), "{}", stderr(&out));
        let trace: Value = serde_json::from_slice(&out.stdout).unwrap();
        trace["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["kind"].as_str().unwrap().to_string())
            .collect()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_while_the_provider_call_is_in_flight_the_message_goes_out_once_after_restart() {
    let rig = Rig::new().await;
    let mut serve = rig.serve();
    let ghl_id = rig.send_and_wait_for_the_call("kill me").await;
    serve.0.kill().unwrap();
    serve.0.wait().unwrap();
    rig.client
        .delete(format!("http://{}/_control/faults", rig.sandbox))
        .send()
        .await
        .unwrap();
    let _serve = rig.serve();
    rig.wait("delivery after the restart", async |r| {
        r.delivered_in_ghl(&ghl_id).await
    })
    .await;
    // The provider dropped the request when our connection died: one copy.
    assert_eq!(rig.copies("kill me").await, 1);
    assert_eq!(
        String::from_utf8_lossy(&rig.run(&["dlq", "list", "--json"]).stdout).trim(),
        "[]"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_after_the_provider_accepted_but_before_our_record_the_rerun_sends_one_duplicate() {
    let rig = Rig::new().await;
    let mut serve = rig.serve();
    let ghl_id = rig.send_and_wait_for_the_call("accepted then killed").await;
    // Hold SQLite's write lock so the gateway can't record SendBlue's answer...
    let mut lock = SqliteConnection::connect(&rig.db_url()).await.unwrap();
    sqlx::query("BEGIN EXCLUSIVE")
        .execute(&mut lock)
        .await
        .unwrap();
    // ...let SendBlue accept the message and answer...
    rig.wait("SendBlue to accept", async |r| {
        r.copies("accepted then killed").await == 1
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    // ...and kill the gateway while it waits to record it.
    serve.0.kill().unwrap();
    serve.0.wait().unwrap();
    sqlx::query("ROLLBACK").execute(&mut lock).await.unwrap();
    lock.close().await.unwrap();
    rig.client
        .delete(format!("http://{}/_control/faults", rig.sandbox))
        .send()
        .await
        .unwrap();

    let _serve = rig.serve();
    rig.wait("delivery after the restart", async |r| {
        r.delivered_in_ghl(&ghl_id).await
    })
    .await;
    assert_eq!(
        rig.copies("accepted then killed").await,
        2,
        "the documented duplicate"
    );
    let timeline = rig.timeline(&ghl_id).await;
    let count = |kind: &str| timeline.iter().filter(|k| *k == kind).count();
    assert_eq!(
        (count("send.attempt"), count("send.accepted")),
        (2, 1),
        "{timeline:?}"
    );
}
