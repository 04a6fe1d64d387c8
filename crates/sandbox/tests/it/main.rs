#![allow(clippy::unwrap_used)] // Tests may panic: that is how they fail.
//! Integration tests: the sandbox on a real listener (127.0.0.1:0), driven over HTTP with reqwest,
//! and a tiny axum "gateway" that captures the webhooks the sandbox sends.

mod faults;
mod ghl;
mod ghl_calendars;
mod ghl_contact_tools;
mod ghl_contacts;
mod ghl_messages;
mod media;
mod openai;
mod sendblue;
mod stripe;
mod twilio;
mod unipile;
mod whatsapp;
mod whatsapp_media;

use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, Uri};
use sandbox::{Sandbox, SandboxOptions};
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot};

/// A running sandbox.
#[derive(Debug)]
pub struct Harness {
    pub base: String,
    pub sandbox: Sandbox,
    pub http: reqwest::Client,
    _stop: oneshot::Sender<()>,
}

pub async fn start(options: SandboxOptions) -> Harness {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let sandbox = Sandbox::new(options);
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(sandbox.clone().serve(listener, async move {
        let _ = stopped.await;
    }));
    let http = reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    Harness {
        base,
        sandbox,
        http,
        _stop: stop,
    }
}

impl Harness {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Runs a request the gateway's own client built (a channel's send, a model call) and
    /// hands back the answer as the gateway's executor would.
    pub async fn run(&self, request: outbound::ApiRequest) -> outbound::ApiResponse {
        let response = self
            .http
            .request(request.method, &request.url)
            .headers(request.headers)
            .body(request.body)
            .send()
            .await
            .unwrap();
        outbound::ApiResponse {
            status: response.status(),
            headers: response.headers().clone(),
            body: response.bytes().await.unwrap(),
        }
    }

    /// POST JSON to a control route; panics unless 2xx.
    pub async fn control(&self, path: &str, body: Value) -> Value {
        let response = self
            .http
            .post(self.url(&format!("/_control{path}")))
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        assert!(status.is_success(), "{path}: {status} {text}");
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }

    pub async fn get_json(&self, path: &str) -> Value {
        self.http
            .get(self.url(path))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// Seed a GHL location; returns the control response (tokens included).
    pub async fn location(&self, extra: Value) -> Value {
        self.control("/ghl/locations", extra).await
    }

    /// A GHL API request with bearer and Version headers.
    pub fn ghl(&self, method: Method, path: &str, token: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, self.url(&format!("/ghl{path}")))
            .bearer_auth(token)
            .header("Version", "2021-04-15")
    }
}

/// One request the fake gateway received.
#[derive(Debug, Clone)]
pub struct Captured {
    pub path: String,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Captured {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

/// A fake gateway: answers 200 to everything and hands each request to the test.
#[derive(Debug)]
pub struct Receiver {
    pub base: String,
    rx: mpsc::UnboundedReceiver<Captured>,
}

pub async fn receiver() -> Receiver {
    async fn capture(
        State(tx): State<mpsc::UnboundedSender<Captured>>,
        _method: Method,
        uri: Uri,
        headers: HeaderMap,
        body: Bytes,
    ) -> &'static str {
        let _ = tx.send(Captured {
            path: uri.path().to_owned(),
            headers,
            body,
        });
        "ok"
    }
    let (tx, rx) = mpsc::unbounded_channel();
    let app = axum::Router::new().fallback(capture).with_state(tx);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    Receiver { base, rx }
}

impl Receiver {
    /// The next captured request (panics after 5 s).
    pub async fn next(&mut self) -> Captured {
        tokio::time::timeout(Duration::from_secs(5), self.rx.recv())
            .await
            .expect("no webhook within 5 s")
            .expect("receiver closed")
    }

    /// Whether anything arrives within `wait`.
    pub async fn quiet_for(&mut self, wait: Duration) -> bool {
        tokio::time::timeout(wait, self.rx.recv()).await.is_err()
    }
}

/// Object keys of a JSON value, sorted.
pub fn keys(v: &Value) -> Vec<String> {
    let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
    k.sort();
    k
}

#[tokio::test]
async fn health_answers_ok() {
    let h = start(SandboxOptions::default()).await;
    assert_eq!(
        h.get_json("/_control/health").await,
        json!({"status": "ok"})
    );
    let r = h.http.get(h.url("/nowhere")).send().await.unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(r.json::<Value>().await.unwrap()["code"], "not_found");
}
