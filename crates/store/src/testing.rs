//! Databases for tests, on the backend the environment names.
//!
//! `SWITCHBOARD_TEST_DATABASE_URL` unset: each test gets a fresh SQLite file in a
//! temporary folder. Set to `postgres://…`: each test gets a fresh schema in that
//! database, dropped when the test ends. A PostgreSQL that can't be reached fails the test
//! with the reason; it never quietly falls back to SQLite.

use secrets::{KeyRing, MasterKey};

use crate::{Backend, Clock, Db, DbOptions, Store};

/// The variable naming the test database.
pub const TEST_DATABASE_URL: &str = "SWITCHBOARD_TEST_DATABASE_URL";

/// A migrated store on a throwaway database.
#[derive(Debug)]
pub struct TestStore {
    pub store: Store,
    pub clock: Clock,
    cleanup: Cleanup,
}

#[derive(Debug)]
enum Cleanup {
    Sqlite(#[allow(dead_code)] tempfile::TempDir),
    Postgres { url: String, schema: String },
}

impl TestStore {
    /// A fresh migrated store on the system clock.
    pub async fn new() -> Self {
        Self::with_clock(Clock::System).await
    }

    /// Makes the database itself refuse every timeline entry whose detail contains the word
    /// `poison`: a real failure in the middle of a transaction, for tests of what a failed
    /// transaction leaves behind.
    pub async fn poison_timeline(&self) {
        let statements: &[&str] = match self.store.db().backend() {
            Backend::Sqlite => &["CREATE TRIGGER poison BEFORE INSERT ON message_events \
                 WHEN NEW.detail LIKE '%poison%' BEGIN SELECT RAISE(ABORT, 'poisoned'); END"],
            Backend::Postgres => &[
                "CREATE FUNCTION poison() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN \
                 IF NEW.detail LIKE '%poison%' THEN RAISE EXCEPTION 'poisoned'; END IF; \
                 RETURN NEW; END $$",
                "CREATE TRIGGER poison BEFORE INSERT ON message_events \
                 FOR EACH ROW EXECUTE FUNCTION poison()",
            ],
        };
        for statement in statements {
            sqlx::raw_sql(statement)
                .execute(self.store.db().writer())
                .await
                .unwrap_or_else(|e| panic!("cannot poison the timeline: {e}"));
        }
    }

    /// A fresh migrated store whose clock the test controls.
    pub async fn with_clock(clock: Clock) -> Self {
        let (options, cleanup) = test_db_options();
        let db = Db::connect_with_clock(&options, clock.clone())
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "cannot open the test database ({}): {e}",
                    describe(&options)
                )
            });
        db.migrate()
            .await
            .unwrap_or_else(|e| panic!("migrations failed: {e}"));
        let store = Store::new(db, test_keys());
        Self {
            store,
            clock,
            cleanup,
        }
    }

    /// Options for another connection to the same database (a second "process").
    pub fn options(&self) -> DbOptions {
        match &self.cleanup {
            Cleanup::Sqlite(dir) => DbOptions::new(sqlite_url(dir)),
            Cleanup::Postgres { url, schema } => {
                let mut options = DbOptions::new(url.clone());
                options.pg_schema = Some(schema.clone());
                options
            }
        }
    }

    pub fn backend(&self) -> Backend {
        self.store.db().backend()
    }
}

impl Drop for TestStore {
    fn drop(&mut self) {
        if let Cleanup::Postgres { url, schema } = &self.cleanup {
            let (url, schema) = (url.clone(), schema.clone());
            // Drop runs inside the test's runtime; a thread with its own runtime can block.
            let _ = std::thread::spawn(move || {
                let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                else {
                    return;
                };
                runtime.block_on(async {
                    sqlx::any::install_default_drivers();
                    if let Ok(pool) = sqlx::AnyPool::connect(&url).await {
                        let _ =
                            sqlx::raw_sql(&format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"))
                                .execute(&pool)
                                .await;
                        pool.close().await;
                    }
                });
            })
            .join();
        }
    }
}

/// A fixed key ring for tests.
pub fn test_keys() -> KeyRing {
    let key = MasterKey::parse("1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=")
        .unwrap_or_else(|e| panic!("test key: {e}"));
    KeyRing::new(key, Vec::new()).unwrap_or_else(|e| panic!("test key ring: {e}"))
}

fn test_db_options() -> (DbOptions, Cleanup) {
    match std::env::var(TEST_DATABASE_URL) {
        Ok(url) if !url.is_empty() => {
            assert!(
                matches!(Backend::of_url(&url), Ok(Backend::Postgres)),
                "{TEST_DATABASE_URL} must be a postgres:// URL (unset it to test on SQLite)"
            );
            let schema = format!("t_{}", ulid::Ulid::new().to_string().to_ascii_lowercase());
            let mut options = DbOptions::new(url.clone());
            options.pg_schema = Some(schema.clone());
            options.max_connections = 8;
            (options, Cleanup::Postgres { url, schema })
        }
        _ => {
            let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("temp dir: {e}"));
            let options = DbOptions::new(sqlite_url(&dir));
            (options, Cleanup::Sqlite(dir))
        }
    }
}

fn sqlite_url(dir: &tempfile::TempDir) -> String {
    format!("sqlite://{}", dir.path().join("test.db").display())
}

fn describe(options: &DbOptions) -> String {
    match Backend::of_url(&options.url) {
        Ok(Backend::Postgres) => format!("PostgreSQL from {TEST_DATABASE_URL}"),
        _ => "SQLite in a temporary folder".into(),
    }
}
