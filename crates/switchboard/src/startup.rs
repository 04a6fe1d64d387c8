//! From the command line to a running process: configuration, logs, keys, database.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use config::{Config, LogFormat};
use secrets::{KeyRing, MasterKey};
use store::{Db, DbOptions, SqliteSync, Store};
use tracing_subscriber::EnvFilter;

/// Loads and validates the configuration and starts logging; reports warnings.
pub(crate) fn load(config_path: Option<&Path>) -> Result<Config> {
    start(Config::from_process_env(config_path).context("invalid configuration")?)
}

/// Starts logging as a loaded configuration says, then reports its warnings.
pub(crate) fn start(loaded: config::Loaded) -> Result<Config> {
    init_logging(&loaded.config)?;
    for warning in &loaded.warnings {
        tracing::warn!("{warning}");
    }
    Ok(loaded.config)
}

fn init_logging(config: &Config) -> Result<()> {
    let filter = EnvFilter::try_new(&config.log).with_context(|| {
        format!(
            "SWITCHBOARD_LOG: {:?} is not a valid log filter",
            config.log
        )
    })?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let installed = match config.log_format {
        LogFormat::Human => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
    // Already installed (tests run several commands in one process): keep the first.
    drop(installed);
    Ok(())
}

/// The key ring: `SWITCHBOARD_MASTER_KEY`, or on SQLite the key kept in the data folder
/// (made on first start), plus any previous keys.
pub(crate) fn key_ring(config: &Config) -> Result<KeyRing> {
    let current = match &config.master_key {
        Some(key) => key.clone(),
        None => local_master_key(&config.data_dir)?,
    };
    KeyRing::new(current, config.previous_master_keys.clone())
        .context("SWITCHBOARD_PREVIOUS_MASTER_KEYS clashes with the current key's version")
}

/// Reads `DATA_DIR/master.key`, creating it (mode 0600) with a fresh key if missing.
fn local_master_key(data_dir: &Path) -> Result<MasterKey> {
    let path: PathBuf = data_dir.join("master.key");
    if path.exists() {
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        return MasterKey::parse(&text)
            .with_context(|| format!("{} holds no valid key", path.display()));
    }
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("cannot create {}", data_dir.display()))?;
    let key = MasterKey::generate(1);
    let mut file =
        create_private(&path).with_context(|| format!("cannot create {}", path.display()))?;
    writeln!(file, "{}", key.to_config_string())
        .with_context(|| format!("cannot write {}", path.display()))?;
    file.sync_all()?;
    tracing::warn!(
        path = %path.display(),
        "no SWITCHBOARD_MASTER_KEY set: generated a master key into the data folder; back it up, \
         stored credentials cannot be read without it"
    );
    Ok(key)
}

#[cfg(unix)]
fn create_private(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
}

#[cfg(not(unix))]
fn create_private(path: &Path) -> std::io::Result<std::fs::File> {
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
}

/// Connects to the configured database.
pub(crate) async fn connect(config: &Config) -> Result<Db> {
    let mut options = DbOptions::new(config.database_url.connection_string());
    options.max_connections = config.database_max_connections;
    options.sqlite_sync = match config.sqlite_synchronous {
        config::SqliteSynchronous::Full => SqliteSync::Full,
        config::SqliteSynchronous::Normal => SqliteSync::Normal,
    };
    Db::connect(&options)
        .await
        .with_context(|| format!("cannot open the database {}", config.database_url))
}

/// Connects and checks the schema is current (workers don't migrate: one `migrate` or
/// `serve` does, so a rolling deploy never has two processes migrating at once).
pub(crate) async fn open_store(config: &Config) -> Result<Store> {
    let db = connect(config).await?;
    if !db.is_migrated().await? {
        bail!("the database schema is behind this build; run `switchboard migrate` first");
    }
    let store = Store::new(db, key_ring(config)?);
    store.verify_keys().await?;
    Ok(store)
}

pub(crate) async fn rotate_keys(config_path: Option<&Path>, batch: u32) -> Result<()> {
    let config = load(config_path)?;
    let store = open_store(&config).await?;
    let batch = usize::try_from(batch).unwrap_or(500);
    let rotation = store.rotate_keys(batch).await.context("rotating keys")?;
    println!("{}", serde_json::to_string(&rotation)?);
    tracing::info!(
        version = store.keys().current_version(),
        "every secret is sealed under the current key; older versions are retired and may \
         be removed from SWITCHBOARD_PREVIOUS_MASTER_KEYS"
    );
    store.db().close().await;
    Ok(())
}

/// `keys new`: a fresh key one version above the configured one, for the next rotation.
pub(crate) fn new_key(config_path: Option<&Path>) -> Result<()> {
    let config = load(config_path)?;
    let ring = key_ring(&config)?;
    let next = ring.versions().max().unwrap_or(0).saturating_add(1);
    println!("{}", MasterKey::generate(next).to_config_string());
    eprintln!(
        "Set this as SWITCHBOARD_MASTER_KEY and move the current key to \
         SWITCHBOARD_PREVIOUS_MASTER_KEYS on every process, restart them, then run \
         `switchboard keys rotate`."
    );
    Ok(())
}

pub(crate) async fn migrate(config_path: Option<&Path>) -> Result<()> {
    let config = load(config_path)?;
    let db = connect(&config).await?;
    db.migrate().await.context("migrating the database")?;
    tracing::info!(database = %config.database_url, "migrations applied");
    db.close().await;
    Ok(())
}

/// Connects, applies pending migrations, and opens the store with the key ring (what
/// `serve` and `demo` do at start).
pub(crate) async fn migrated_store(config: &Config) -> Result<Store> {
    let db = connect(config).await?;
    db.migrate().await.context("migrating the database")?;
    let store = Store::new(db, key_ring(config)?);
    store.verify_keys().await?;
    Ok(store)
}

pub(crate) async fn serve(config_path: Option<&Path>, workers: bool) -> Result<()> {
    let config = load(config_path)?;
    let store = migrated_store(&config).await?;
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {} (SWITCHBOARD_LISTEN)", config.listen))?;
    let state =
        server::AppState::new(store, Arc::new(config)).context("cannot start the server")?;
    server::run(
        state,
        server::Roles {
            http: Some(listener),
            workers,
        },
        shutdown_signal(),
    )
    .await?;
    Ok(())
}

pub(crate) async fn worker(config_path: Option<&Path>) -> Result<()> {
    let config = load(config_path)?;
    let store = open_store(&config).await?;
    let state =
        server::AppState::new(store, Arc::new(config)).context("cannot start the server")?;
    server::run(
        state,
        server::Roles {
            http: None,
            workers: true,
        },
        shutdown_signal(),
    )
    .await?;
    Ok(())
}

/// Completes on Ctrl-C or SIGTERM.
pub(crate) async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {}
        () = terminate => {}
    }
}
