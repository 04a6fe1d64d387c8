//! Switchboard's configuration: one typed, validated [`Config`].
//!
//! Values are layered: built-in defaults, then an optional TOML file (`--config`), then
//! `SWITCHBOARD_*` environment variables. A secret may also be read from the file named by
//! `SWITCHBOARD_<NAME>_FILE` (or a `<name>_file` key in the TOML file). Everything is
//! validated once, in [`Config::load`], so the rest of the program never sees a bad value,
//! and an error names the setting to fix. See `docs/CONFIGURATION.md` for the reference.
#![forbid(unsafe_code)]

mod error;
mod parse;
mod source;
mod types;

#[cfg(test)]
mod tests;

use std::ffi::OsString;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use secrecy::{ExposeSecret, SecretString};
pub use secrets::MasterKey;

pub use error::{ConfigError, Origin};
pub use source::{CONFIG_FILE_ENV, ENV_PREFIX};
pub use types::{DatabaseUrl, LogFormat, ObjectStoreUrl, PostgresUrl, SqliteSynchronous};

use source::{Layers, Spec};

/// GHL's published Ed25519 key for webhook signatures (`X-GHL-Signature`).
/// The sites GHL shows custom pages in (its app, and the white-label app host).
pub const GHL_FRAME_ANCESTORS: &str =
    "https://app.gohighlevel.com https://*.gohighlevel.com https://*.leadconnectorhq.com";

pub const GHL_WEBHOOK_PUBLIC_KEY: &str = "-----BEGIN PUBLIC KEY-----
MCowBQYDK2VwAyEAi2HR1srL4o18O8BRa7gVJY7G7bupbN3H9AwJrHCDiOg=
-----END PUBLIC KEY-----
";

/// The validated configuration. Built only by [`Config::load`]; `Debug` never shows a
/// secret or a database password.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Config {
    /// Folder for the SQLite database, `master.key` and local media. Default `./data`: next
    /// to where the process runs, so a first `switchboard serve` needs no setup.
    pub data_dir: PathBuf,
    /// The database. Default: SQLite file `switchboard.db` in `data_dir`, which needs no
    /// server; use PostgreSQL to run several processes.
    pub database_url: DatabaseUrl,
    /// Pool size. Default 10: enough for the workers' short transactions without
    /// exhausting a small PostgreSQL's connection limit.
    pub database_max_connections: u32,
    /// SQLite durability. Default `Full`: a message we answered 200 for must survive a
    /// power loss; `Normal` only survives a process crash.
    pub sqlite_synchronous: SqliteSynchronous,
    /// Address the HTTP server binds. Default `127.0.0.1:8080`: loopback only, so nothing
    /// is exposed until the operator says so.
    pub listen: SocketAddr,
    /// Base of every URL given to a provider (webhooks, callbacks, media links) and of URL
    /// signature checks; never derived from a request's Host header. No trailing slash.
    /// Default `http://{listen}`, right only for local use.
    pub public_url: String,
    /// The current key that seals stored secrets. Required with PostgreSQL (every process
    /// needs the same key); with SQLite, when absent, the binary keeps one in
    /// `data_dir/master.key`.
    pub master_key: Option<MasterKey>,
    /// Older keys, kept only to open secrets sealed before a rotation. Default none.
    pub previous_master_keys: Vec<MasterKey>,
    /// Log filter in `tracing` syntax, e.g. `info,switchboard=debug`. Default `info`.
    pub log: String,
    /// Log line format. Default `Human`; use `Json` for a log collector.
    pub log_format: LogFormat,
    /// Largest request body accepted (413 above it). Default 1 MiB: webhooks are small
    /// JSON documents, and the limit bounds memory per request.
    pub max_body_bytes: usize,
    /// Time limit for handling one HTTP request. Default 30 s.
    pub request_timeout_secs: u64,
    /// On shutdown, how long in-flight requests and jobs may finish before the process
    /// exits. Default 30 s, within a typical orchestrator's kill timeout.
    pub shutdown_grace_secs: u64,
    /// Jobs run at once per process. Default 32: jobs mostly wait on provider APIs.
    pub worker_concurrency: usize,
    /// How long a claimed job stays claimed before another worker may take it over (its
    /// worker is presumed dead). Default 300 s, longer than any external call's timeout.
    pub job_lease_secs: u64,
    /// Consecutive transport failures or 5xx from one API and credential that open its
    /// circuit breaker. Default 5: a blip passes, an outage stops the hammering.
    pub breaker_threshold: u32,
    /// How long an open breaker waits before one trial call; doubles on each failed trial,
    /// up to 20 times this. Default 15 s.
    pub breaker_cooldown_secs: u64,
    /// GHL API base URL, no trailing slash. Default `https://services.leadconnectorhq.com`.
    pub ghl_api_base: String,
    /// PEM public key that verifies GHL webhook signatures. Default: GHL's published key.
    pub ghl_webhook_public_key: String,
    /// GHL Marketplace app client id (OAuth installs). Default none.
    pub ghl_client_id: Option<String>,
    /// GHL Marketplace app client secret. Default none.
    pub ghl_client_secret: Option<SecretString>,
    /// Where `GET /install` sends the browser for GHL's consent screen (the white-label
    /// one is `https://marketplace.leadconnectorhq.com`). Default
    /// `https://marketplace.gohighlevel.com`.
    pub ghl_marketplace_url: String,
    /// The conversation provider id GHL shows in the app's settings, given to every
    /// location an install provisions. Default none (set per location with `location add`).
    pub ghl_conversation_provider_id: Option<String>,
    /// The Marketplace app's Shared Secret: decrypts the user context GHL gives a custom
    /// page (the dashboard opened inside GHL signs its user in with it). Default none:
    /// the GHL page is off.
    pub ghl_shared_secret: Option<SecretString>,
    /// The sites that may frame the GHL page (CSP `frame-ancestors` sources, space
    /// separated). Default GHL's own app domains; add an agency's white-label domain.
    pub ghl_frame_ancestors: String,
    /// Days an uninstalled agency's or location's data is kept before it may be purged.
    /// Default 30.
    pub uninstall_retention_days: u32,
    /// Days a message's content (text, attachments, error texts, timeline quotes, stored
    /// media) is kept; the daily `retention` job removes it from older messages and keeps
    /// the records usage is metered from. `0` keeps everything forever. Default 365.
    pub message_retention_days: u32,
    /// `/api/v1` requests a minute from one client address (a burst of as many).
    /// Default 1200.
    pub api_requests_per_minute_per_address: u32,
    /// `/api/v1` requests a minute with one API key or one user's session, from any
    /// address. Default 600.
    pub api_requests_per_minute_per_credential: u32,
    /// Stripe secret API key (billing). Default none: billing off.
    pub stripe_api_key: Option<SecretString>,
    /// Stripe API base URL. Default `https://api.stripe.com`.
    pub stripe_api_base: String,
    /// Stripe webhook signing secret (`whsec_…`). Default none.
    pub stripe_webhook_secret: Option<SecretString>,
    /// OpenAI-compatible API base URL. Default `https://api.openai.com/v1`; a location may
    /// override it.
    pub openai_api_base: String,
    /// OpenAI API key. Default none; a location may bring its own. The AI answers
    /// contacts only when a key is set (keyless servers such as Ollama take any value).
    pub openai_api_key: Option<SecretString>,
    /// The chat model the AI answers with. Default `gpt-4o-mini`.
    pub openai_model: String,
    /// The embedding model knowledge passages and questions are embedded with, for
    /// vector search beside the lexical one. Default none: lexical search alone.
    pub openai_embedding_model: Option<String>,
    /// AI replies a location may send in 24 hours; beyond it the AI stays silent (and
    /// says why on the message's timeline). Default 500; 0 for no limit.
    pub ai_replies_per_day: u32,
    /// Outgoing mail server, `smtp://` or `smtps://`, possibly with a password. Default none.
    pub smtp_url: Option<SecretString>,
    /// The sender of every email, `Name <address>` or `address`. Default
    /// `Switchboard <no-reply@localhost>`.
    pub mail_from: String,
    /// Where media is stored. Default `file://{data_dir}/media`. For `s3://`, the endpoint,
    /// region and credentials come from the standard `AWS_*` variables (`AWS_ENDPOINT`,
    /// `AWS_REGION`, `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_ALLOW_HTTP`, …).
    pub object_store_url: ObjectStoreUrl,
    /// Largest attachment fetched, stored or sent, in bytes. Default 5 MiB: the MMS-sized
    /// cap SendBlue (SMS) and Twilio document, so what we accept can also go back out.
    pub media_max_bytes: u64,
    /// Let media downloads reach internal addresses (loopback, private networks, cloud
    /// metadata). Default false; the demo and tests turn it on for their loopback sandbox.
    pub media_allow_internal_hosts: bool,
    /// How long a signed media link stays valid, in seconds. Default 7 days: GHL keeps the
    /// link, not the file, so it must outlive GHL's fetch and an agent's first look.
    pub media_link_ttl_secs: u64,
}

/// A loaded configuration and the warnings to log once logging is set up.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Loaded {
    pub config: Config,
    /// E.g. `unknown setting SWITCHBOARD_LISTN ignored (did you mean SWITCHBOARD_LISTEN?)`.
    pub warnings: Vec<String>,
}

impl Config {
    /// Loads defaults, then `file` if given, then the `SWITCHBOARD_*` variables in `env`
    /// (other variables are ignored), and validates the result.
    pub fn load<I, K, V>(file: Option<&Path>, env: I) -> Result<Loaded, ConfigError>
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        let mut layers = Layers::default();
        if let Some(file) = file {
            layers.apply_file(file)?;
        }
        layers.apply_env(env.into_iter().map(|(k, v)| (k.into(), v.into())))?;
        let mut r = Resolver { layers };

        let data_dir = r.or("data_dir", PathBuf::from("./data"), |s| {
            Ok(PathBuf::from(s))
        })?;
        let database_url = r.or_else(
            "database_url",
            || DatabaseUrl::Sqlite {
                path: data_dir.join("switchboard.db"),
            },
            parse::database_url,
        )?;
        let listen = r.or(
            "listen",
            SocketAddr::from((Ipv4Addr::LOCALHOST, 8080)),
            parse::socket_addr,
        )?;
        let master_key = r.opt("master_key", parse::master_key)?;
        let current_version = master_key.as_ref().map(MasterKey::version);
        if master_key.is_none() && database_url.is_postgres() {
            return Err(ConfigError::MasterKeyRequired);
        }
        let config = Config {
            database_max_connections: r.or("database_max_connections", 10, |s| {
                parse::number(s, 1, 1000)
            })?,
            sqlite_synchronous: r.or(
                "sqlite_synchronous",
                SqliteSynchronous::Full,
                parse::sqlite_synchronous,
            )?,
            public_url: r.or_else("public_url", || format!("http://{listen}"), parse::http_url)?,
            previous_master_keys: r.or("previous_master_keys", Vec::new(), |s| {
                parse::previous_master_keys(s, current_version)
            })?,
            log: r.or("log", "info".to_string(), |s| Ok(s.trim().to_string()))?,
            log_format: r.or("log_format", LogFormat::Human, parse::log_format)?,
            max_body_bytes: r.or("max_body_bytes", 1_048_576, |s| {
                parse::number(s, 1024, 64 * 1024 * 1024)
            })?,
            request_timeout_secs: r.or("request_timeout_secs", 30, |s| parse::number(s, 1, 600))?,
            shutdown_grace_secs: r.or("shutdown_grace_secs", 30, |s| parse::number(s, 0, 3600))?,
            worker_concurrency: r.or("worker_concurrency", 32, |s| parse::number(s, 1, 1024))?,
            job_lease_secs: r.or("job_lease_secs", 300, |s| parse::number(s, 5, 86_400))?,
            breaker_threshold: r.or("breaker_threshold", 5, |s| parse::number(s, 1, 100))?,
            breaker_cooldown_secs: r
                .or("breaker_cooldown_secs", 15, |s| parse::number(s, 1, 3600))?,
            ghl_api_base: r.url("ghl_api_base", "https://services.leadconnectorhq.com")?,
            ghl_webhook_public_key: r.or(
                "ghl_webhook_public_key",
                GHL_WEBHOOK_PUBLIC_KEY.to_string(),
                parse::public_key_pem,
            )?,
            ghl_client_id: r.opt("ghl_client_id", |s| Ok(s.trim().to_string()))?,
            ghl_client_secret: r.secret("ghl_client_secret")?,
            ghl_marketplace_url: r
                .url("ghl_marketplace_url", "https://marketplace.gohighlevel.com")?,
            ghl_conversation_provider_id: r
                .opt("ghl_conversation_provider_id", |s| Ok(s.trim().to_string()))?,
            ghl_shared_secret: r.secret("ghl_shared_secret")?,
            ghl_frame_ancestors: r.or(
                "ghl_frame_ancestors",
                GHL_FRAME_ANCESTORS.to_string(),
                parse::frame_ancestors,
            )?,
            uninstall_retention_days: r.or("uninstall_retention_days", 30, |s| {
                parse::number(s, 0, 3650)
            })?,
            message_retention_days: r
                .or("message_retention_days", 365, |s| parse::number(s, 0, 3650))?,
            api_requests_per_minute_per_address: r.or(
                "api_requests_per_minute_per_address",
                1200,
                |s| parse::number(s, 1, 1_000_000),
            )?,
            api_requests_per_minute_per_credential: r.or(
                "api_requests_per_minute_per_credential",
                600,
                |s| parse::number(s, 1, 1_000_000),
            )?,
            stripe_api_key: r.secret("stripe_api_key")?,
            stripe_api_base: r.url("stripe_api_base", "https://api.stripe.com")?,
            stripe_webhook_secret: r.secret("stripe_webhook_secret")?,
            openai_api_base: r.url("openai_api_base", "https://api.openai.com/v1")?,
            openai_api_key: r.secret("openai_api_key")?,
            openai_model: r.or("openai_model", "gpt-4o-mini".to_string(), |s| {
                let model = s.trim();
                if model.is_empty() || model.len() > 200 || model.chars().any(char::is_control) {
                    Err("a model name, such as gpt-4o-mini".to_string())
                } else {
                    Ok(model.to_string())
                }
            })?,
            openai_embedding_model: r.opt("openai_embedding_model", |s| {
                let model = s.trim();
                if model.is_empty() || model.len() > 200 || model.chars().any(char::is_control) {
                    Err("a model name, such as text-embedding-3-small".to_string())
                } else {
                    Ok(model.to_string())
                }
            })?,
            ai_replies_per_day: r.or("ai_replies_per_day", 500, |s| {
                parse::number(s, 0, 1_000_000)
            })?,
            smtp_url: r.opt("smtp_url", |s| {
                parse::smtp_url(s).map(|()| SecretString::from(s.trim()))
            })?,
            mail_from: r.or(
                "mail_from",
                "Switchboard <no-reply@localhost>".to_string(),
                parse::mailbox,
            )?,
            object_store_url: r.or_else(
                "object_store_url",
                || ObjectStoreUrl::File {
                    root: data_dir.join("media"),
                },
                parse::object_store_url,
            )?,
            media_allow_internal_hosts: r.or("media_allow_internal_hosts", false, parse::flag)?,
            media_max_bytes: r.or("media_max_bytes", 5 * 1024 * 1024, |s| {
                parse::number(s, 1024, 1024 * 1024 * 1024)
            })?,
            media_link_ttl_secs: r.or("media_link_ttl_secs", 7 * 86_400, |s| {
                parse::number(s, 60, 365 * 86_400)
            })?,
            data_dir,
            database_url,
            listen,
            master_key,
        };
        Ok(Loaded {
            config,
            warnings: r.layers.warnings,
        })
    }

    /// [`Config::load`] with the process environment. A `SWITCHBOARD_` variable whose value
    /// is not UTF-8 is an error.
    pub fn from_process_env(file: Option<&Path>) -> Result<Loaded, ConfigError> {
        let vars = std::env::vars_os()
            .filter(|(name, _)| name.to_string_lossy().starts_with(ENV_PREFIX))
            .map(|(name, value): (OsString, OsString)| {
                let name = name.to_string_lossy().into_owned();
                match value.into_string() {
                    Ok(value) => Ok((name, value)),
                    Err(_) => Err(ConfigError::NotUnicode { var: name }),
                }
            })
            .collect::<Result<Vec<_>, _>>()?;
        Config::load(file, vars)
    }

    /// [`Config::request_timeout_secs`] as a duration.
    pub fn request_timeout(&self) -> Duration {
        Duration::from_secs(self.request_timeout_secs)
    }

    /// [`Config::shutdown_grace_secs`] as a duration.
    pub fn shutdown_grace(&self) -> Duration {
        Duration::from_secs(self.shutdown_grace_secs)
    }

    /// [`Config::job_lease_secs`] as a duration.
    pub fn job_lease(&self) -> Duration {
        Duration::from_secs(self.job_lease_secs)
    }

    /// [`Config::media_link_ttl_secs`] as a duration.
    pub fn media_link_ttl(&self) -> Duration {
        Duration::from_secs(self.media_link_ttl_secs)
    }

    /// The breaker cool-down as a `Duration`.
    pub fn breaker_cooldown(&self) -> Duration {
        Duration::from_secs(self.breaker_cooldown_secs)
    }
}

/// Takes settings out of the layers and parses them, attaching the setting's name and the
/// value's origin to any problem.
struct Resolver {
    layers: Layers,
}

impl Resolver {
    fn opt<T>(
        &mut self,
        key: &'static str,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Result<Option<T>, ConfigError> {
        let spec = Spec::get(key);
        let Some(value) = self.layers.take(key)? else {
            return Ok(None);
        };
        let invalid = |problem: String| ConfigError::Invalid {
            var: spec.env(),
            origin: value.origin.clone(),
            problem,
        };
        if value.text.trim().is_empty() {
            return Err(invalid(
                "is empty (remove the setting to use the default)".to_string(),
            ));
        }
        parse(&value.text).map(Some).map_err(invalid)
    }

    fn or<T>(
        &mut self,
        key: &'static str,
        default: T,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Result<T, ConfigError> {
        Ok(self.opt(key, parse)?.unwrap_or(default))
    }

    fn or_else<T>(
        &mut self,
        key: &'static str,
        default: impl FnOnce() -> T,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Result<T, ConfigError> {
        Ok(self.opt(key, parse)?.unwrap_or_else(default))
    }

    fn url(&mut self, key: &'static str, default: &str) -> Result<String, ConfigError> {
        self.or_else(key, || default.to_string(), parse::http_url)
    }

    fn secret(&mut self, key: &'static str) -> Result<Option<SecretString>, ConfigError> {
        self.opt(key, |s| Ok(SecretString::from(s)))
    }
}
