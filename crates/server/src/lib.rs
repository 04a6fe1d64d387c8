//! Switchboard's server: the HTTP face (health, metrics, and — as they land — webhooks,
//! the API and the dashboard), the job handlers, and [`run`], which starts the HTTP
//! server and the worker pool in one process and stops them gracefully.
#![forbid(unsafe_code)]

pub mod agent;
pub mod api;
pub mod auth;
pub mod connectors;
pub mod dashboard;
pub mod http;
pub mod install;
pub mod jobs;
pub mod knowledge;
pub mod live;
pub mod mail;
pub mod media;
pub mod metrics;
mod run;
mod state;
pub mod webhooks;

pub use run::{run, Roles};
pub use state::{AppState, StartError};
