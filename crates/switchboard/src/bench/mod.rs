//! `switchboard bench`: measurements of this machine, printed as one JSON object.
//!
//! - `bench queue`: jobs through the real queue and worker pool ([`queue`]).
//! - `bench ingest`: signed GHL provider webhooks through the real HTTP face, and the same rows
//!   committed straight through the store for comparison ([`ingest`]).
//! - `bench e2e`: a GHL user's message through the sandbox, the gateway and its workers to the
//!   simulated SendBlue ([`e2e`]).
//! - `bench pacing`: contacts writing in to many locations, faster than GHL allows, against
//!   the sandbox's real GHL rate limit: no 429, and the share of the allowed rate used
//!   ([`pacing`]).
//!
//! Every benchmark runs on a scratch database (a temporary SQLite file, or a throwaway schema
//! in PostgreSQL, dropped at the end) and talks over loopback only.

mod e2e;
mod gateway;
mod ingest;
mod pacing;
mod queue;
mod simulators;

use anyhow::{bail, Context, Result};
use secrets::{KeyRing, MasterKey};
use store::{Db, DbOptions, SqliteSync, Store};

use crate::cli::{BenchBackend, BenchCommand, BenchDatabaseArgs};

pub(crate) async fn run(command: BenchCommand) -> Result<()> {
    // Results go to stdout; problems (a failing commit the pool keeps retrying) to stderr.
    let filter = std::env::var("SWITCHBOARD_LOG").unwrap_or_else(|_| "warn".into());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
        .with_writer(std::io::stderr)
        .try_init();
    match command {
        BenchCommand::Queue(args) => queue::run(args).await,
        BenchCommand::Ingest(args) => ingest::run(args).await,
        BenchCommand::E2e(args) => e2e::run(args).await,
        BenchCommand::Pacing(args) => pacing::run(args).await,
    }
}

/// Connections in the PostgreSQL pool of a benchmark's database.
const PG_POOL: u32 = 16;

/// Where a benchmark's database lives, and how to remove it.
enum Scratch {
    /// Removed when dropped.
    Sqlite(#[allow(dead_code)] tempfile::TempDir),
    Postgres {
        url: String,
        schema: String,
    },
}

/// A fresh, migrated database, as a [`Store`] with a throwaway key ring, and how to remove it.
async fn scratch_store(args: &BenchDatabaseArgs) -> Result<(Store, Scratch)> {
    let (options, scratch) = scratch_database(args)?;
    let db = Db::connect(&options)
        .await
        .context("opening the benchmark database")?;
    db.migrate().await?;
    let keys = KeyRing::new(MasterKey::generate(1), Vec::new())?;
    Ok((Store::new(db, keys), scratch))
}

fn scratch_database(args: &BenchDatabaseArgs) -> Result<(DbOptions, Scratch)> {
    match args.backend {
        BenchBackend::Sqlite => {
            let dir = tempfile::tempdir().context("creating a temporary folder")?;
            let mut options = DbOptions::new(format!(
                "sqlite://{}",
                dir.path().join("bench.db").display()
            ));
            options.sqlite_sync = match args.sqlite_sync.as_str() {
                "full" => SqliteSync::Full,
                "normal" => SqliteSync::Normal,
                other => bail!("--sqlite-sync must be full or normal, not {other:?}"),
            };
            Ok((options, Scratch::Sqlite(dir)))
        }
        BenchBackend::Postgres => {
            let url = args
                .database_url
                .clone()
                .or_else(|| std::env::var("SWITCHBOARD_DATABASE_URL").ok())
                .filter(|u| u.starts_with("postgres"))
                .context("bench --backend postgres needs --database-url postgres://… (or SWITCHBOARD_DATABASE_URL)")?;
            let schema = format!(
                "bench_{}",
                ulid::Ulid::new().to_string().to_ascii_lowercase()
            );
            let mut options = DbOptions::new(url.clone());
            options.pg_schema = Some(schema.clone());
            options.max_connections = PG_POOL;
            Ok((options, Scratch::Postgres { url, schema }))
        }
    }
}

async fn drop_scratch(scratch: Scratch) {
    if let Scratch::Postgres { url, schema } = scratch {
        if let Ok(pool) = sqlx::AnyPool::connect(&url).await {
            let _ = sqlx::raw_sql(&format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"))
                .execute(&pool)
                .await;
            pool.close().await;
        }
    }
}

fn backend_name(backend: BenchBackend) -> &'static str {
    match backend {
        BenchBackend::Sqlite => "sqlite",
        BenchBackend::Postgres => "postgres",
    }
}

/// `--sqlite-sync` as reported: only meaningful on SQLite.
fn sqlite_synchronous(args: &BenchDatabaseArgs) -> Option<&str> {
    (args.backend == BenchBackend::Sqlite).then_some(args.sqlite_sync.as_str())
}

fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((sorted.len() as f64 - 1.0) * q).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

fn round(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

fn cores() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}

/// The process's peak resident set in MB (Linux `VmHWM`), or null elsewhere.
fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kb: f64 = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    Some(round(kb / 1024.0))
}
