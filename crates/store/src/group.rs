//! Group commit for small writes: [`crate::Db::write`] (and [`crate::Store::write`]).
//!
//! On SQLite every write goes through one connection and every commit is an fsync, so a
//! transaction per webhook or per job step holds the whole process near 2,000 commits/s
//! (`docs/BENCHMARKS.md`). Here writers hand their work to one task, which runs everything
//! waiting (up to [`MAX_GROUP`]) in one transaction, each piece inside its own savepoint,
//! commits once, and only then answers each writer. A piece that fails is rolled back to its
//! savepoint and fails alone; the others commit. Under light load a group is one piece and
//! nothing waits; under load groups grow by themselves while the previous one commits.
//!
//! PostgreSQL runs writers side by side on its pool, and two groups committing at once
//! could take row locks in opposite orders; there a write is simply its own transaction.
//!
//! The task runs on a thread of its own (a one-thread tokio runtime). A grouped write is
//! mostly round trips to SQLite's connection thread, each a few microseconds of work;
//! scheduled among the HTTP handlers of the main runtime, the task waited its turn after
//! every one of them, and the writer spent most of its time waiting (`docs/BENCHMARKS.md`).
//!
//! A piece gets the group's [`Tx`] and must do all its writing through it: calling
//! `begin` or `write` from inside a piece waits for the group it is part of, forever.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use tokio::sync::{mpsc, oneshot};

use sqlx::AnyPool;

use crate::db::{begin_on, Backend};
use crate::error::StoreError;
use crate::tx::{Tx, Wake};

/// A future borrowing the transaction it writes through.
pub type WriteFuture<'t, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 't>>;

/// The most pieces one transaction takes.
pub const MAX_GROUP: usize = 256;
/// Pieces waiting for the writer before new ones wait to be queued.
const QUEUE_DEPTH: usize = 4096;

type Run = Box<dyn for<'t> FnOnce(&'t mut Tx) -> WriteFuture<'t, ()> + Send>;
type Done = Box<dyn FnOnce(Result<(), StoreError>) + Send>;

/// One writer's work and where its answer goes.
struct Piece {
    run: Run,
    done: Done,
}

/// The handle writers use; cheap to clone. Its task stops when every handle is dropped.
#[derive(Clone)]
pub(crate) struct GroupWriter {
    queue: mpsc::Sender<Piece>,
}

impl std::fmt::Debug for GroupWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupWriter").finish_non_exhaustive()
    }
}

impl GroupWriter {
    /// Starts the writer task on a thread of its own; it ends when the last handle goes.
    /// A panic inside a piece ends that group (its transaction rolls back, its writers get
    /// an error) and the task starts again for the next group.
    pub(crate) fn start(pool: AnyPool, wake: Wake) -> Self {
        let (queue, waiting) = mpsc::channel(QUEUE_DEPTH);
        let waiting = Arc::new(tokio::sync::Mutex::new(waiting));
        let supervise = async move {
            loop {
                let writer = Writer {
                    pool: pool.clone(),
                    wake: wake.clone(),
                };
                match tokio::spawn(run(writer, waiting.clone())).await {
                    Ok(()) => break,
                    Err(e) => {
                        tracing::error!(error = %e, "a grouped write panicked; its group rolled back")
                    }
                }
            }
        };
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build();
        let started = runtime.and_then(|runtime| {
            std::thread::Builder::new()
                .name("group-writer".into())
                .spawn(move || runtime.block_on(supervise))
        });
        if let Err(e) = started {
            // Without its thread the handle's sends fail, and every write says so.
            tracing::error!(error = %e, "the group writer could not start");
        }
        Self { queue }
    }

    /// Runs `f` in a transaction shared with other writers; returns its value once that
    /// transaction has committed.
    pub(crate) async fn write<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: for<'t> FnOnce(&'t mut Tx) -> WriteFuture<'t, T> + Send + 'static,
    {
        let slot = Arc::new(Mutex::new(None));
        let filled = slot.clone();
        let (reply, answer) = oneshot::channel();
        let piece = Piece {
            run: Box::new(move |tx| {
                Box::pin(async move {
                    let value = f(tx).await?;
                    *filled.lock().map_err(|_| poisoned())? = Some(value);
                    Ok(())
                })
            }),
            done: Box::new(move |result| {
                let value = result.and_then(|()| {
                    slot.lock()
                        .map_err(|_| poisoned())?
                        .take()
                        .ok_or_else(poisoned)
                });
                let _ = reply.send(value);
            }),
        };
        let stopped = || StoreError::Config("the group writer has stopped".into());
        self.queue.send(piece).await.map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

fn poisoned() -> StoreError {
    StoreError::Config("a grouped write lost its result".into())
}

/// What the task needs to begin transactions: SQLite's one writer connection. Not the
/// whole `Db`, which holds this writer's handle: the task ends when the last handle goes.
struct Writer {
    pool: AnyPool,
    wake: Wake,
}

async fn run(writer: Writer, waiting: Arc<tokio::sync::Mutex<mpsc::Receiver<Piece>>>) {
    let mut group = Vec::with_capacity(MAX_GROUP);
    loop {
        if waiting.lock().await.recv_many(&mut group, MAX_GROUP).await == 0 {
            return;
        }
        metrics::histogram!("switchboard_group_commit_size").record(group.len() as f64);
        commit(&writer, &mut group).await;
    }
}

/// Runs one group in one transaction and answers every piece after the commit.
///
/// Each piece runs inside the savepoint `piece`: released and set again between pieces in
/// one round trip, rolled back to on failure (which keeps it set, for the next piece).
/// Round trips to SQLite's connection thread are what a grouped write costs most, so a
/// group of one takes no savepoint: if it fails, the transaction rolls back.
async fn commit(writer: &Writer, group: &mut Vec<Piece>) {
    let mut tx = match begin_on(&writer.pool, Backend::Sqlite, &writer.wake).await {
        Ok(tx) => tx,
        Err(e) => return fail_all(group, &e),
    };
    let alone = group.len() == 1;
    let mut results = Vec::with_capacity(group.len());
    let mut dones = Vec::with_capacity(group.len());
    let mut pieces = group.drain(..).peekable();
    if !alone {
        if let Err(e) = statements(&mut tx, "SAVEPOINT piece").await {
            drop(tx);
            return fail_dones(pieces.map(|p| p.done), &e);
        }
    }
    while let Some(piece) = pieces.next() {
        dones.push(piece.done);
        let result = (piece.run)(&mut tx).await;
        let more = pieces.peek().is_some();
        let between = match (&result, more) {
            _ if alone => Ok(()),
            (Ok(()), true) => statements(&mut tx, "RELEASE SAVEPOINT piece; SAVEPOINT piece").await,
            (Ok(()), false) => Ok(()),
            (Err(_), _) => statements(&mut tx, "ROLLBACK TO SAVEPOINT piece").await,
        };
        if let Err(broken) = between {
            // The transaction can't be trusted any more: nothing in it commits.
            drop(tx);
            let e = StoreError::Config(format!(
                "a grouped write could not be kept apart from the next: {broken}"
            ));
            return fail_dones(dones.into_iter().chain(pieces.map(|p| p.done)), &e);
        }
        if alone && result.is_err() {
            // Dropping the transaction rolls it back.
            drop(tx);
            if let Some(done) = dones.pop() {
                done(result);
            }
            return;
        }
        results.push(result);
    }
    // COMMIT also ends any savepoint still set.
    if let Err(e) = tx.commit().await {
        return fail_dones(dones, &e);
    }
    for (done, result) in dones.into_iter().zip(results) {
        done(result);
    }
}

/// Runs one or more statements (no parameters) in one round trip: SQLite's driver steps
/// through every statement of a query's text.
async fn statements(tx: &mut Tx, sql: &'static str) -> Result<(), StoreError> {
    sqlx::query(sql).execute(&mut **tx).await?;
    Ok(())
}

fn fail_all(group: &mut Vec<Piece>, e: &StoreError) {
    fail_dones(group.drain(..).map(|p| p.done), e);
}

fn fail_dones(dones: impl IntoIterator<Item = Done>, e: &StoreError) {
    for done in dones {
        done(Err(StoreError::Config(format!(
            "the grouped transaction failed: {e}"
        ))));
    }
}

#[cfg(all(test, feature = "testing"))]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::testing::TestStore;

    /// A piece that records receipt `key`, then fails if `fail`; its result goes to `out`.
    fn piece(
        store: &crate::Store,
        key: &str,
        fail: bool,
        out: std::sync::mpsc::Sender<(String, bool)>,
    ) -> Piece {
        let (store, key) = (store.clone(), key.to_owned());
        let reported = key.clone();
        Piece {
            run: Box::new(move |tx| {
                Box::pin(async move {
                    store.record_webhook_receipt(tx, "t", &key, None).await?;
                    if fail {
                        return Err(StoreError::Conflict(key));
                    }
                    Ok(())
                })
            }),
            done: Box::new(move |result| {
                let _ = out.send((reported, result.is_ok()));
            }),
        }
    }

    #[tokio::test]
    async fn failures_between_successes_undo_only_themselves_in_one_group() {
        let test = TestStore::new().await;
        if test.backend() != Backend::Sqlite {
            return;
        }
        let store = test.store.clone();
        let (out, results) = std::sync::mpsc::channel();
        let plan = [
            ("a", false),
            ("b", true),
            ("c", false),
            ("d", false),
            ("e", true),
            ("f", true),
            ("g", false),
        ];
        let mut group: Vec<Piece> = plan
            .iter()
            .map(|(key, fail)| piece(&store, key, *fail, out.clone()))
            .collect();
        let writer = Writer {
            pool: store.db().writer().clone(),
            wake: store.db().wake().clone(),
        };
        commit(&writer, &mut group).await;
        let answered: Vec<(String, bool)> = results.try_iter().collect();
        let expected: Vec<(String, bool)> = plan
            .iter()
            .map(|(k, fail)| ((*k).to_owned(), !fail))
            .collect();
        assert_eq!(answered, expected);
        let mut kept: Vec<String> =
            sqlx::query_scalar("SELECT external_id FROM webhook_receipts WHERE source = 't'")
                .fetch_all(store.db().reader())
                .await
                .unwrap();
        kept.sort();
        assert_eq!(kept, ["a", "c", "d", "g"]);
    }

    #[tokio::test]
    async fn a_group_of_one_that_fails_leaves_nothing() {
        let test = TestStore::new().await;
        if test.backend() != Backend::Sqlite {
            return;
        }
        let store = test.store.clone();
        let (out, results) = std::sync::mpsc::channel();
        let mut group = vec![piece(&store, "x", true, out)];
        let writer = Writer {
            pool: store.db().writer().clone(),
            wake: store.db().wake().clone(),
        };
        commit(&writer, &mut group).await;
        assert_eq!(
            results.try_iter().collect::<Vec<_>>(),
            [("x".to_owned(), false)]
        );
        let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM webhook_receipts")
            .fetch_one(store.db().reader())
            .await
            .unwrap();
        assert_eq!(count, 0);
    }
}
