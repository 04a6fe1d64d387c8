//! The storage layer's one error type.

/// What can go wrong in storage.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("{0}")]
    Config(String),
    /// The row does not exist, or belongs to another tenant: callers can't tell which.
    #[error("not found")]
    NotFound,
    #[error("conflict: {0}")]
    Conflict(String),
    #[error(transparent)]
    Secret(#[from] secrets::SecretError),
    /// A stored value this code can't read (an unknown status word, bad JSON).
    #[error("stored data is invalid: {0}")]
    Corrupt(String),
}

impl StoreError {
    /// True for a unique-constraint violation: the row already exists.
    pub fn is_unique_violation(&self) -> bool {
        matches!(self, StoreError::Database(sqlx::Error::Database(e)) if e.is_unique_violation())
    }

    /// True when the transaction lost a lock conflict (PostgreSQL's deadlock or
    /// serialization failure, SQLite's busy or locked) and may simply be run again.
    pub fn is_lock_conflict(&self) -> bool {
        let StoreError::Database(sqlx::Error::Database(e)) = self else {
            return false;
        };
        matches!(
            e.code().as_deref(),
            Some("40P01" | "40001" | "5" | "6" | "517" | "262")
        )
    }
}

impl From<domain::UnknownValue> for StoreError {
    fn from(e: domain::UnknownValue) -> Self {
        StoreError::Corrupt(e.to_string())
    }
}

impl From<domain::InvalidId> for StoreError {
    fn from(e: domain::InvalidId) -> Self {
        StoreError::Corrupt(e.to_string())
    }
}

impl From<serde_json::Error> for StoreError {
    fn from(e: serde_json::Error) -> Self {
        StoreError::Corrupt(e.to_string())
    }
}
