//! `Store::write`: grouped writes commit together on SQLite, yet each fails alone.

use std::sync::Arc;

use store::testing::TestStore;
use store::{Store, StoreError};

const SOURCE: &str = "group-test";

async fn receipts(store: &Store) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM webhook_receipts WHERE source = $1")
        .bind(SOURCE)
        .fetch_one(store.db().reader())
        .await
        .unwrap()
}

/// Records receipt `key`, then fails with `fail` if given: the receipt must vanish.
async fn write(store: &Store, key: String, fail: Option<StoreError>) -> Result<String, StoreError> {
    let writer = store.clone();
    store
        .write(move |tx| {
            Box::pin(async move {
                writer
                    .record_webhook_receipt(tx, SOURCE, &key, None)
                    .await?;
                match fail {
                    Some(e) => Err(e),
                    None => Ok(key),
                }
            })
        })
        .await
}

#[tokio::test]
async fn concurrent_writes_return_their_values_and_a_failure_undoes_only_its_own() {
    let test = TestStore::new().await;
    let store = Arc::new(test.store.clone());
    let writes = (0..60).map(|i| {
        let store = store.clone();
        tokio::spawn(async move {
            let fail = (i % 4 == 0).then(|| StoreError::Conflict(format!("piece {i}")));
            (i, write(&store, format!("k{i}"), fail).await)
        })
    });
    for write in writes.collect::<Vec<_>>() {
        let (i, result) = write.await.unwrap();
        match result {
            Ok(key) => assert_eq!(key, format!("k{i}")),
            Err(StoreError::Conflict(detail)) => {
                assert_eq!(i % 4, 0);
                assert_eq!(detail, format!("piece {i}"));
            }
            Err(e) => panic!("write {i}: {e}"),
        }
    }
    assert_eq!(receipts(&store).await, 45);
    // The failed pieces left nothing: their keys are still free.
    let mut tx = store.begin().await.unwrap();
    assert!(store
        .record_webhook_receipt(&mut tx, SOURCE, "k0", None)
        .await
        .unwrap());
    assert!(!store
        .record_webhook_receipt(&mut tx, SOURCE, "k1", None)
        .await
        .unwrap());
    tx.rollback().await.unwrap();
}

#[tokio::test]
async fn a_database_error_in_one_write_reaches_its_caller_unchanged() {
    let test = TestStore::new().await;
    let store = test.store.clone();
    write(&store, "first".into(), None).await.unwrap();
    let writer = store.clone();
    let duplicate = store.write(move |tx| {
        Box::pin(async move {
            writer.record_webhook_receipt(tx, SOURCE, "second", None).await?;
            // A second row with the first row's id: a real constraint violation.
            sqlx::query(
                "INSERT INTO webhook_receipts (id, source, external_id, received_at) \
                 SELECT id, source, 'third', received_at FROM webhook_receipts WHERE external_id = 'first'",
            )
            .execute(&mut **tx)
            .await?;
            Ok(())
        })
    });
    let beside = write(&store, "beside".into(), None);
    let (duplicate, beside) = tokio::join!(duplicate, beside);
    let e = duplicate.unwrap_err();
    assert!(e.is_unique_violation(), "{e}");
    beside.unwrap();
    // "second" was written before the failure, in the same piece: undone with it.
    assert_eq!(receipts(&store).await, 2);
}

#[tokio::test]
async fn a_panicking_write_fails_and_later_writes_still_commit() {
    let test = TestStore::new().await;
    if test.backend() == store::Backend::Postgres {
        // There a write runs in its caller's task: a panic is the caller's, like any other.
        return;
    }
    let store = test.store.clone();
    let writer = store.clone();
    let panicked = store
        .write(move |tx| {
            Box::pin(async move {
                writer
                    .record_webhook_receipt(tx, SOURCE, "lost", None)
                    .await?;
                if SOURCE.len() > 1 {
                    panic!("a bug in a handler");
                }
                Ok(())
            })
        })
        .await;
    assert!(panicked.is_err());
    write(&store, "after".into(), None).await.unwrap();
    assert_eq!(receipts(&store).await, 1);
}
