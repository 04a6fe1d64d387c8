//! Connections to SQLite or PostgreSQL behind one handle.
//!
//! Queries are written once, in SQL both backends accept (`$1` placeholders, `RETURNING`,
//! `ON CONFLICT`), and run through sqlx's `Any` driver. What differs between the backends
//! lives here and nowhere else:
//!
//! - **SQLite** allows one writer at a time. We give it exactly one writer connection, so
//!   writers queue inside the process instead of spinning on `SQLITE_BUSY`, start every
//!   write transaction with `BEGIN IMMEDIATE` (it takes the write lock up front, so a
//!   transaction that reads then writes can't fail half-way when another process commits
//!   in between), and read through a separate pool of read-only connections, which WAL
//!   lets run beside the writer.
//! - **PostgreSQL** gets one pool for everything and `NOTIFY` to wake other processes.

use std::str::FromStr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, Executor};

use crate::clock::Clock;
use crate::error::StoreError;
use crate::group::{GroupWriter, WriteFuture};
use crate::tx::{Tx, Wake};

/// Which database engine a [`Db`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    /// The backend a connection URL names.
    pub fn of_url(url: &str) -> Result<Self, StoreError> {
        if url.starts_with("sqlite:") {
            Ok(Backend::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Backend::Postgres)
        } else {
            Err(StoreError::Config(
                "database URL must start with sqlite: or postgres://".into(),
            ))
        }
    }
}

/// How SQLite makes a commit durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SqliteSync {
    /// fsync the WAL on every commit: a committed row survives power loss.
    #[default]
    Full,
    /// fsync only at checkpoints: survives a process crash, not power loss.
    Normal,
}

/// Everything needed to open a [`Db`].
#[derive(Debug, Clone)]
pub struct DbOptions {
    /// `sqlite://PATH` or `postgres://…`.
    pub url: String,
    /// PostgreSQL pool size; SQLite read pool size.
    pub max_connections: u32,
    pub sqlite_sync: SqliteSync,
    /// PostgreSQL schema to use instead of `public` (created if missing). Lets tests and
    /// several installations share one database without seeing each other.
    pub pg_schema: Option<String>,
    /// How long a SQLite connection waits for another process's write lock.
    pub busy_timeout: Duration,
}

impl DbOptions {
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            max_connections: 10,
            sqlite_sync: SqliteSync::Full,
            pg_schema: None,
            busy_timeout: Duration::from_secs(5),
        }
    }
}

/// A handle on the database: cheap to clone, shared by every part of the process.
#[derive(Debug, Clone)]
pub struct Db {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    backend: Backend,
    writer: AnyPool,
    reader: AnyPool,
    url: String,
    clock: Clock,
    wake: Wake,
    /// SQLite's group committer, started by the first [`Db::write`] on its runtime.
    group: OnceLock<GroupWriter>,
}

impl Db {
    /// Opens the database (creating a SQLite file if missing). Does not migrate.
    pub async fn connect(options: &DbOptions) -> Result<Self, StoreError> {
        Self::connect_with_clock(options, Clock::System).await
    }

    /// Like [`Db::connect`], with the clock every timestamp and lease is read from.
    pub async fn connect_with_clock(options: &DbOptions, clock: Clock) -> Result<Self, StoreError> {
        sqlx::any::install_default_drivers();
        let backend = Backend::of_url(&options.url)?;
        let (writer, reader) = match backend {
            Backend::Sqlite => open_sqlite(options).await?,
            Backend::Postgres => {
                let pool = open_postgres(options).await?;
                (pool.clone(), pool)
            }
        };
        Ok(Self {
            inner: Arc::new(Inner {
                backend,
                writer,
                reader,
                url: options.url.clone(),
                clock,
                wake: Wake::default(),
                group: OnceLock::new(),
            }),
        })
    }

    pub fn backend(&self) -> Backend {
        self.inner.backend
    }

    /// The connection URL, for opening side connections such as a PostgreSQL listener.
    pub(crate) fn url(&self) -> &str {
        &self.inner.url
    }

    pub fn clock(&self) -> &Clock {
        &self.inner.clock
    }

    /// Milliseconds since the Unix epoch, from this database's clock.
    pub fn now_ms(&self) -> i64 {
        self.inner.clock.now_ms()
    }

    /// The pool every write goes through (one connection on SQLite).
    pub fn writer(&self) -> &AnyPool {
        &self.inner.writer
    }

    /// The pool for reads that need no transaction.
    pub fn reader(&self) -> &AnyPool {
        &self.inner.reader
    }

    pub(crate) fn wake(&self) -> &Wake {
        &self.inner.wake
    }

    /// Begins a write transaction of its own (`BEGIN IMMEDIATE` on SQLite); safe to
    /// cancel (see [`begin_on`]).
    pub async fn begin(&self) -> Result<Tx, StoreError> {
        begin_on(&self.inner.writer, self.inner.backend, &self.inner.wake).await
    }

    /// Runs `f` in a write transaction and returns its value once committed. On SQLite the
    /// transaction is shared with whatever else is being written at that moment (group
    /// commit, see [`crate::group`]): `f` must write only through the `Tx` it is given, and
    /// if it fails, only its own writes are undone. On PostgreSQL it is a transaction of
    /// its own.
    pub async fn write<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: for<'t> FnOnce(&'t mut Tx) -> WriteFuture<'t, T> + Send + 'static,
    {
        match self.inner.backend {
            Backend::Sqlite => {
                let group = self.inner.group.get_or_init(|| {
                    GroupWriter::start(self.inner.writer.clone(), self.inner.wake.clone())
                });
                group.write(f).await
            }
            Backend::Postgres => {
                let mut tx = self.begin().await?;
                let value = f(&mut tx).await?;
                tx.commit().await?;
                Ok(value)
            }
        }
    }

    /// Applies pending migrations for this backend. Safe to run again: applied ones are
    /// skipped, and a migration edited after being applied is refused.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        match self.inner.backend {
            Backend::Sqlite => {
                sqlx::migrate!("migrations/sqlite")
                    .run(self.writer())
                    .await?
            }
            Backend::Postgres => {
                sqlx::migrate!("migrations/postgres")
                    .run(self.writer())
                    .await?
            }
        }
        Ok(())
    }

    /// True when every migration this binary knows is applied: what `/readyz` asks.
    pub async fn is_migrated(&self) -> Result<bool, StoreError> {
        let expected = match self.inner.backend {
            Backend::Sqlite => sqlx::migrate!("migrations/sqlite").iter().count(),
            Backend::Postgres => sqlx::migrate!("migrations/postgres").iter().count(),
        };
        let applied: Result<i64, sqlx::Error> =
            sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations WHERE success = TRUE")
                .fetch_one(self.reader())
                .await;
        match applied {
            Ok(n) => Ok(n as usize >= expected),
            // No migrations table yet: reachable but not migrated.
            Err(sqlx::Error::Database(_)) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// A round trip to the database.
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(self.reader()).await?;
        Ok(())
    }

    /// Closes every connection, waiting for checked-out ones to come back.
    pub async fn close(&self) {
        self.inner.writer.close().await;
        self.inner.reader.close().await;
    }
}

async fn open_sqlite(options: &DbOptions) -> Result<(AnyPool, AnyPool), StoreError> {
    let path = options
        .url
        .trim_start_matches("sqlite://")
        .trim_start_matches("sqlite:");
    let path = path.split('?').next().unwrap_or(path).to_string();
    if let Some(parent) = std::path::Path::new(&path).parent() {
        if !parent.as_os_str().is_empty() {
            std::fs::create_dir_all(parent).map_err(|e| {
                StoreError::Config(format!("cannot create folder {}: {e}", parent.display()))
            })?;
        }
    }
    let sync = match options.sqlite_sync {
        SqliteSync::Full => "FULL",
        SqliteSync::Normal => "NORMAL",
    };
    let busy_ms = options.busy_timeout.as_millis();
    let pragmas = format!(
        "PRAGMA busy_timeout = {busy_ms}; PRAGMA journal_mode = WAL; \
         PRAGMA synchronous = {sync}; PRAGMA foreign_keys = ON;"
    );
    let write_url = format!("sqlite://{path}?mode=rwc");
    let writer = AnyPoolOptions::new()
        .max_connections(1)
        .min_connections(1)
        .idle_timeout(None)
        .max_lifetime(None)
        .acquire_timeout(Duration::from_secs(30))
        .after_connect({
            let pragmas = pragmas.clone();
            move |conn, _| {
                let pragmas = pragmas.clone();
                Box::pin(async move {
                    conn.execute(sqlx::raw_sql(&pragmas)).await?;
                    Ok(())
                })
            }
        })
        .connect_with(AnyConnectOptions::from_str(&write_url)?)
        .await?;
    // Read-write open mode with `query_only`: a read-only open of a WAL database can fail
    // when its shared-memory file is missing, and `query_only` already forbids writes.
    let read_url = format!("sqlite://{path}?mode=rw");
    let reader = AnyPoolOptions::new()
        .max_connections(options.max_connections.max(1))
        .idle_timeout(None)
        .max_lifetime(None)
        .acquire_timeout(Duration::from_secs(30))
        .after_connect(move |conn, _| {
            Box::pin(async move {
                conn.execute(sqlx::raw_sql(&format!(
                    "PRAGMA busy_timeout = {busy_ms}; PRAGMA query_only = ON;"
                )))
                .await?;
                Ok(())
            })
        })
        .connect_lazy_with(AnyConnectOptions::from_str(&read_url)?);
    Ok((writer, reader))
}

async fn open_postgres(options: &DbOptions) -> Result<AnyPool, StoreError> {
    let connect = AnyConnectOptions::from_str(&options.url)?;
    let schema = options.pg_schema.clone();
    if let Some(schema) = &schema {
        validate_schema_name(schema)?;
        let bootstrap = AnyPoolOptions::new()
            .max_connections(1)
            .connect_with(connect.clone())
            .await?;
        bootstrap
            .execute(sqlx::raw_sql(&format!(
                "CREATE SCHEMA IF NOT EXISTS \"{schema}\""
            )))
            .await?;
        bootstrap.close().await;
    }
    let pool = AnyPoolOptions::new()
        .max_connections(options.max_connections.max(2))
        .acquire_timeout(Duration::from_secs(30))
        .after_connect(move |conn, _| {
            let schema = schema.clone();
            Box::pin(async move {
                if let Some(schema) = schema {
                    conn.execute(sqlx::raw_sql(&format!("SET search_path TO \"{schema}\"")))
                        .await?;
                }
                Ok(())
            })
        })
        .connect_with(connect)
        .await?;
    Ok(pool)
}

/// Schema names are spliced into SQL, so only plain identifiers are allowed.
fn validate_schema_name(schema: &str) -> Result<(), StoreError> {
    let ok = !schema.is_empty()
        && schema.len() <= 63
        && schema
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if ok {
        Ok(())
    } else {
        Err(StoreError::Config(format!(
            "schema name {schema:?} must be lower-case letters, digits and _"
        )))
    }
}

/// Begins a write transaction on `pool` (`BEGIN IMMEDIATE` on SQLite).
///
/// Safe to cancel. sqlx's `begin` is not: dropped after the database began the
/// transaction but before the `Transaction` exists, it leaves the connection inside a
/// transaction that nothing will end (on SQLite, the only writer: every later write
/// fails). So the begin runs in a task of its own, which always finishes; if nobody is
/// waiting any more, its transaction is dropped there and rolls back.
pub(crate) async fn begin_on(
    pool: &AnyPool,
    backend: Backend,
    wake: &Wake,
) -> Result<Tx, StoreError> {
    let pool = pool.clone();
    let tx = tokio::spawn(async move {
        match backend {
            Backend::Sqlite => pool.begin_with("BEGIN IMMEDIATE").await,
            Backend::Postgres => pool.begin().await,
        }
    })
    .await
    .map_err(|e| StoreError::Config(format!("the task beginning a transaction failed: {e}")))??;
    Ok(Tx::new(tx, backend, wake.clone()))
}
