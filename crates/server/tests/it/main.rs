//! The server through its HTTP face: a real server on port 0 over a real database
//! (SQLite, or the PostgreSQL named by `SWITCHBOARD_TEST_DATABASE_URL`).
#![allow(clippy::unwrap_used, missing_debug_implementations)]

mod agent_journey;
mod ai_reply;
mod api;
mod auth;
mod bridge;
mod channel_status;
mod dashboard;
mod ghl_provider;
mod handoffs;
mod http;
mod install;
mod knowledge;
mod live;
mod mail;
mod media;
mod retention;
mod sendblue;
mod stripe;
mod twilio;
mod unipile;
mod whatsapp;
mod whatsapp_window;

use std::sync::Arc;

use axum::Router;
use server::{AppState, Roles};
use store::testing::TestStore;
use tokio::sync::oneshot;

/// Lets media downloads reach the loopback sandbox (see `server::media::guard`).
pub const ALLOW_INTERNAL_MEDIA: &str = "SWITCHBOARD_MEDIA_ALLOW_INTERNAL_HOSTS";

/// A running server and what it runs on.
pub struct TestServer {
    pub base: String,
    pub client: reqwest::Client,
    pub test: TestStore,
    stop: Option<oneshot::Sender<()>>,
    handle: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

impl TestServer {
    /// Starts the production routes.
    pub async fn start(env: &[(&str, &str)]) -> Self {
        Self::start_with(env, server::http::routes(), TestStore::new().await).await
    }

    /// Starts `routes` behind the production layers, on `test`'s database.
    pub async fn start_with(
        env: &[(&str, &str)],
        routes: Router<AppState>,
        test: TestStore,
    ) -> Self {
        let data = tempfile::tempdir().unwrap();
        let mut vars: Vec<(String, String)> = vec![(
            "SWITCHBOARD_DATA_DIR".into(),
            data.path().display().to_string(),
        )];
        // The sandbox's media host is on loopback, which production refuses to download
        // from; a test of that guard sets this to false.
        if !env.iter().any(|(k, _)| *k == ALLOW_INTERNAL_MEDIA) {
            vars.push((ALLOW_INTERNAL_MEDIA.into(), "true".into()));
        }
        vars.extend(env.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        let config = Arc::new(config::Config::load(None, vars).unwrap().config);
        let state = AppState::new(test.store.clone(), config).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (stop, stopped) = oneshot::channel::<()>();
        let app = server::http::app(state.clone(), routes)
            .into_make_service_with_connect_info::<std::net::SocketAddr>();
        let handle = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await
        });
        Self {
            base,
            client: reqwest::Client::new(),
            test,
            stop: Some(stop),
            handle: Some(handle),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Asks for a graceful stop and waits for it.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(handle) = self.handle.take() {
            handle.await.unwrap().unwrap();
        }
    }
}

/// Starts `server::run` itself (HTTP and workers) and returns its address, a stop
/// switch and the task.
pub async fn start_run(
    test: &TestStore,
    workers: bool,
) -> (
    String,
    oneshot::Sender<()>,
    tokio::task::JoinHandle<std::io::Result<()>>,
) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    start_run_on(test, workers, listener, &[]).await
}

/// [`start_run`] on `listener`, with extra `SWITCHBOARD_*` settings.
pub async fn start_run_on(
    test: &TestStore,
    workers: bool,
    listener: tokio::net::TcpListener,
    extra: &[(&str, &str)],
) -> (
    String,
    oneshot::Sender<()>,
    tokio::task::JoinHandle<std::io::Result<()>>,
) {
    let data = tempfile::tempdir().unwrap();
    let mut vars = vec![
        (
            "SWITCHBOARD_DATA_DIR".to_string(),
            data.path().display().to_string(),
        ),
        (
            "SWITCHBOARD_SHUTDOWN_GRACE_SECS".to_string(),
            "5".to_string(),
        ),
    ];
    vars.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let config = Arc::new(config::Config::load(None, vars).unwrap().config);
    let store = store::Store::new(
        store::Db::connect(&test.options()).await.unwrap(),
        store::testing::test_keys(),
    );
    let state = AppState::new(store, config).unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = oneshot::channel::<()>();
    let handle = tokio::spawn(server::run(
        state,
        Roles {
            http: Some(listener),
            workers,
        },
        async {
            let _ = stopped.await;
        },
    ));
    (base, stop, handle)
}
