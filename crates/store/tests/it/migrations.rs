use store::testing::TestStore;

#[tokio::test]
async fn migrations_apply_on_an_empty_database_and_rerun_as_no_ops() {
    let test = TestStore::new().await;
    let db = test.store.db();
    assert!(db.is_migrated().await.unwrap());
    // Running them again changes nothing and fails nothing.
    db.migrate().await.unwrap();
    db.migrate().await.unwrap();
    assert!(db.is_migrated().await.unwrap());
    let applied: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations")
        .fetch_one(db.reader())
        .await
        .unwrap();
    // One row per migration file; both backends have the same migrations.
    let files = |backend: &str| {
        std::fs::read_dir(format!(
            "{}/migrations/{backend}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap()
        .count() as i64
    };
    assert_eq!(files("sqlite"), files("postgres"));
    assert_eq!(applied, files("sqlite"));
}
