//! Typed values of settings that are more than a number or a string.

use std::fmt;
use std::path::{Path, PathBuf};

use secrecy::{ExposeSecret, SecretString};

/// Where the data lives: one SQLite file, or a PostgreSQL server shared by several processes.
#[derive(Debug, Clone)]
pub enum DatabaseUrl {
    /// A SQLite database file (created if missing).
    Sqlite { path: PathBuf },
    /// A PostgreSQL server; the URL may hold a password, so it is kept secret.
    Postgres(PostgresUrl),
}

impl DatabaseUrl {
    /// The URL to hand to sqlx. For PostgreSQL it contains the password: never log it
    /// (log [`DatabaseUrl`]'s `Display`, which masks the password, instead).
    pub fn connection_string(&self) -> String {
        match self {
            DatabaseUrl::Sqlite { path } if path.as_os_str() == ":memory:" => {
                "sqlite::memory:".to_string()
            }
            DatabaseUrl::Sqlite { path } => {
                // sqlx percent-decodes the path and reads options after `?`.
                let path = path.to_string_lossy();
                let mut encoded = String::with_capacity(path.len());
                for c in path.chars() {
                    match c {
                        '%' => encoded.push_str("%25"),
                        '?' => encoded.push_str("%3F"),
                        '#' => encoded.push_str("%23"),
                        c => encoded.push(c),
                    }
                }
                format!("sqlite://{encoded}?mode=rwc")
            }
            DatabaseUrl::Postgres(url) => url.url.expose_secret().to_string(),
        }
    }

    /// The SQLite file, if the database is SQLite.
    pub fn sqlite_path(&self) -> Option<&Path> {
        match self {
            DatabaseUrl::Sqlite { path } => Some(path),
            DatabaseUrl::Postgres(_) => None,
        }
    }

    pub fn is_postgres(&self) -> bool {
        matches!(self, DatabaseUrl::Postgres(_))
    }
}

/// Safe to log: a PostgreSQL password is masked.
impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DatabaseUrl::Sqlite { path } => write!(f, "sqlite://{}", path.display()),
            DatabaseUrl::Postgres(url) => f.write_str(&url.redacted),
        }
    }
}

/// A PostgreSQL URL. `Debug` and [`PostgresUrl::redacted`] mask the password.
#[derive(Clone)]
pub struct PostgresUrl {
    url: SecretString,
    redacted: String,
}

impl PostgresUrl {
    pub(crate) fn new(url: String, redacted: String) -> Self {
        Self {
            url: SecretString::from(url),
            redacted,
        }
    }

    /// The full URL, password included.
    pub fn expose(&self) -> &str {
        self.url.expose_secret()
    }

    /// The URL with any password replaced by `REDACTED`.
    pub fn redacted(&self) -> &str {
        &self.redacted
    }
}

impl fmt::Debug for PostgresUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("PostgresUrl").field(&self.redacted).finish()
    }
}

/// SQLite's `synchronous` pragma in WAL mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SqliteSynchronous {
    /// fsync the WAL at every commit: a committed row survives a power loss.
    Full,
    /// fsync only at checkpoints: a committed row survives a process crash, but the last
    /// commits may be lost on power loss. Faster.
    Normal,
}

impl SqliteSynchronous {
    /// The pragma's value, e.g. `PRAGMA synchronous = FULL`.
    pub fn as_pragma(self) -> &'static str {
        match self {
            SqliteSynchronous::Full => "FULL",
            SqliteSynchronous::Normal => "NORMAL",
        }
    }
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Readable lines for a terminal.
    Human,
    /// One JSON object per line, for log collectors.
    Json,
}

/// Where media (attachments) are stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ObjectStoreUrl {
    /// A folder on the local disk (`file://PATH`).
    File { root: PathBuf },
    /// An S3 bucket, with an optional key prefix (`s3://BUCKET/PREFIX`, no slashes around
    /// the prefix).
    S3 { bucket: String, prefix: String },
}

impl fmt::Display for ObjectStoreUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ObjectStoreUrl::File { root } => write!(f, "file://{}", root.display()),
            ObjectStoreUrl::S3 { bucket, prefix } if prefix.is_empty() => {
                write!(f, "s3://{bucket}")
            }
            ObjectStoreUrl::S3 { bucket, prefix } => write!(f, "s3://{bucket}/{prefix}"),
        }
    }
}
