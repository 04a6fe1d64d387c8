//! PostgreSQL's row-level security (migration 0011), the second wall between tenants: a
//! walled reader sees one agency's rows even with no filter in the query, and a
//! transaction working for one agency can't write another's. Needs PostgreSQL: SQLite has
//! no row-level security, and there the scope filter on every query is the only wall.

use store::repo::NewLocation;
use store::testing::TestStore;
use store::{Backend, Db, DbOptions, Paging, Store, TenantScope};

/// `url` with its user replaced by `user` (no password: the test server trusts local
/// connections, as CI's does).
fn as_user(url: &str, user: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap();
    let host = rest.split_once('@').map_or(rest, |(_, host)| host);
    format!("{scheme}://{user}@{host}")
}

async fn seed(test: &TestStore, name: &str) -> (store::repo::Agency, store::repo::Location) {
    let store = &test.store;
    let mut tx = store.begin().await.unwrap();
    let agency = store
        .upsert_agency(&mut tx, name, Some(name))
        .await
        .unwrap();
    let location = store
        .create_location(
            &mut tx,
            &agency,
            &NewLocation {
                ghl_location_id: format!("ghl-{name}"),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    tx.commit().await.unwrap();
    (agency, location)
}

#[tokio::test]
async fn postgres_hides_other_agencies_rows_behind_a_walled_reader() {
    let test = TestStore::new().await;
    if test.backend() != Backend::Postgres {
        return; // no row-level security on SQLite (see the module's doc)
    }
    let (alpha, alpha_location) = seed(&test, "alpha").await;
    let (bravo, bravo_location) = seed(&test, "bravo").await;

    // An ordinary role (superusers bypass row-level security), seeing the test's schema.
    let options = test.options();
    let schema = options.pg_schema.clone().unwrap();
    let role = format!("{schema}_app");
    let admin = test.store.db().writer();
    for statement in [
        format!("CREATE ROLE \"{role}\" LOGIN NOSUPERUSER"),
        format!("ALTER ROLE \"{role}\" SET search_path TO \"{schema}\""),
        format!("GRANT USAGE ON SCHEMA \"{schema}\" TO \"{role}\""),
        format!("GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA \"{schema}\" TO \"{role}\""),
        format!("GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA \"{schema}\" TO \"{role}\""),
    ] {
        sqlx::raw_sql(&statement).execute(admin).await.unwrap();
    }
    let db = Db::connect(&DbOptions::new(as_user(&options.url, &role)))
        .await
        .unwrap();
    let app = Store::new(db.clone(), store::testing::test_keys());

    let ids = |rows: Vec<(String,)>| {
        let mut ids: Vec<String> = rows.into_iter().map(|(id,)| id).collect();
        ids.sort();
        ids
    };
    let walled = TenantScope::for_agency(&alpha).walled();
    // No filter at all in these queries: the policies alone hold bravo's rows back.
    let mut reader = db.tenant_reader(&walled).await.unwrap();
    let locations = ids(sqlx::query_as("SELECT id FROM locations")
        .fetch_all(&mut *reader)
        .await
        .unwrap());
    assert_eq!(locations, [alpha_location.id.to_string()]);
    let agencies = ids(sqlx::query_as("SELECT id FROM agencies")
        .fetch_all(&mut *reader)
        .await
        .unwrap());
    assert_eq!(agencies, [alpha.id.to_string()]);
    drop(reader);
    // Without the wall (workers, webhooks): every row, as before.
    let unwalled = TenantScope::for_agency(&alpha);
    let mut reader = db.tenant_reader(&unwalled).await.unwrap();
    let all = ids(sqlx::query_as("SELECT id FROM locations")
        .fetch_all(&mut *reader)
        .await
        .unwrap());
    assert_eq!(all.len(), 2);
    drop(reader);

    // The store's own scoped reads work behind the wall, and still say NotFound.
    let page = app
        .locations_page(&walled, &Paging::first(10))
        .await
        .unwrap();
    assert_eq!(page.items.len(), 1);
    assert!(app.location(&walled, &bravo_location.id).await.is_err());

    // A transaction working for alpha (`begin_for` a walled scope) can't write a row of
    // bravo's.
    let mut tx = app.begin_for(&walled).await.unwrap();
    let refused = sqlx::query(
        "INSERT INTO locations (id, agency_id, ghl_location_id, created_at, updated_at) \
         VALUES ('loc_01jzzzzzzzzzzzzzzzzzzzzzzz', $1, 'ghl-intruder', 0, 0)",
    )
    .bind(bravo.id.as_str())
    .execute(&mut *tx)
    .await;
    assert!(
        refused.is_err(),
        "a walled transaction wrote another agency's row"
    );
    drop(tx);

    db.close().await;
    for statement in [
        format!("DROP OWNED BY \"{role}\""),
        format!("DROP ROLE \"{role}\""),
    ] {
        sqlx::raw_sql(&statement).execute(admin).await.unwrap();
    }
}
