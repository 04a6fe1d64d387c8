//! Storage for Switchboard: connections to SQLite or PostgreSQL, migrations, the tenant
//! scope, repositories for the core domain, and the durable job queue with its worker
//! pool.
#![forbid(unsafe_code)]

pub mod clock;
pub mod db;
pub mod error;
pub mod group;
mod multirow;
pub mod page;
pub mod queue;
pub mod tx;
pub mod worker;

pub use clock::Clock;
pub use db::{Backend, Db, DbOptions, SqliteSync};
pub use error::StoreError;
pub use group::WriteFuture;
pub use page::{PageAfter, Paged, Paging};
pub use tx::Tx;
pub mod repo;
mod store;
pub mod tenant;

pub use store::Store;
pub use tenant::{TenantReader, TenantScope};

#[cfg(feature = "testing")]
pub mod testing;
