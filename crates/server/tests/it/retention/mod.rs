//! The daily `retention` job: message retention with stored media, the purge after
//! uninstall, and its schedule. The functions the job runs are called directly on a
//! manual clock; the schedule is checked through `server::run` itself.

mod purge;
mod reinstall;

use std::collections::BTreeMap;
use std::time::Duration;

use bytes::Bytes;
use domain::{Actor, Direction, MessageStatus, Provider};
use serde_json::json;
use server::jobs::retention::{self, Sweep};
use server::media::MediaStore;
use store::repo::{Agency, Channel, Location, Message, NewChannel, NewLocation, NewMessage};
use store::testing::TestStore;
use store::{Clock, Store, TenantScope};

pub(super) const DAY: Duration = Duration::from_secs(86_400);

/// A tenant: an agency with one location and one line.
pub(super) struct Tenant {
    pub agency: Agency,
    pub location: Location,
    pub channel: Channel,
}

/// A throwaway media folder (kept alive by the guard).
pub(super) fn media() -> (MediaStore, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store = MediaStore::open(&config::ObjectStoreUrl::File {
        root: dir.path().join("media"),
    })
    .unwrap();
    (store, dir)
}

pub(super) fn config(env: &[(&str, &str)]) -> config::Config {
    config::Config::load(
        None,
        env.iter().map(|(k, v)| (k.to_string(), v.to_string())),
    )
    .unwrap()
    .config
}

pub(super) async fn tenant(store: &Store, name: &str, line: &str) -> Tenant {
    let mut tx = store.begin().await.unwrap();
    let agency = store
        .upsert_agency(&mut tx, name, Some(&format!("company-{name}")))
        .await
        .unwrap();
    let location = store
        .create_location(
            &mut tx,
            &agency,
            &NewLocation {
                ghl_location_id: format!("ghl-{name}"),
                name: name.into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let channel = store
        .create_channel(
            &mut tx,
            &location,
            &NewChannel {
                provider: Provider::Sendblue,
                line: line.into(),
                credentials: BTreeMap::from([("api_secret_key".to_string(), "sk".to_string())]),
                api_base: None,
                settings: json!({}),
            },
        )
        .await
        .unwrap();
    tx.commit().await.unwrap();
    Tenant {
        agency,
        location,
        channel,
    }
}

/// An inbound message with a photo, stored in `media` as `sync_inbound` would, and a
/// timeline entry quoting its text.
pub(super) async fn photo_message(
    store: &Store,
    media: &MediaStore,
    t: &Tenant,
    phone: &str,
    body: &str,
) -> Message {
    let mut tx = store.begin().await.unwrap();
    let contact = store
        .contact_for_handle(&mut tx, &t.channel, phone)
        .await
        .unwrap();
    let conversation = store
        .conversation_for(&mut tx, &t.channel, &contact)
        .await
        .unwrap();
    let message = store
        .insert_message(
            &mut tx,
            &conversation,
            &t.agency.id,
            &NewMessage {
                direction: Direction::Inbound,
                actor: Actor::Contact,
                body: body.into(),
                attachments: vec![format!("https://provider.example/{body}.jpg")],
                status: MessageStatus::Delivered,
                provider_message_id: Some(format!("pm-{phone}-{body}")),
                ghl_message_id: None,
            },
        )
        .await
        .unwrap()
        .unwrap();
    store
        .append_message_event(
            &mut tx,
            &t.agency.id,
            &message.id,
            "media.stored",
            json!({"index": 0, "size": 3, "url": format!("https://provider.example/{body}.jpg")}),
        )
        .await
        .unwrap();
    tx.commit().await.unwrap();
    media
        .put(&photo_key(t, &message), Bytes::from_static(b"jpg"))
        .await
        .unwrap();
    message
}

pub(super) fn photo_key(t: &Tenant, message: &Message) -> String {
    format!(
        "{}/0-photo.jpg",
        server::media::message_folder(&t.agency.id, &t.location.id, &message.id)
    )
}

pub(super) async fn has_photo(media: &MediaStore, t: &Tenant, message: &Message) -> bool {
    media.get(&photo_key(t, message)).await.unwrap().is_some()
}

#[tokio::test]
async fn old_messages_lose_content_and_media_new_ones_keep_them_and_a_rerun_changes_nothing() {
    let clock = Clock::manual();
    let test = TestStore::with_clock(clock.clone()).await;
    let store = &test.store;
    let (media, _dir) = media();
    let a = tenant(store, "a", "+15550000001").await;
    let scope = TenantScope::for_location(&a.location);
    let old = photo_message(store, &media, &a, "+15551110001", "old").await;
    clock.advance(31 * DAY);
    let new = photo_message(store, &media, &a, "+15551110002", "new").await;
    let config = config(&[("SWITCHBOARD_MESSAGE_RETENTION_DAYS", "30")]);

    let done = retention::sweep(store, &media, &config, retention::BATCH)
        .await
        .unwrap();
    assert_eq!((done.messages_expired, done.media_removed), (1, 1));
    assert!(!has_photo(&media, &a, &old).await, "the old photo is gone");
    assert!(has_photo(&media, &a, &new).await, "the new photo stays");
    let expired = store.message(&scope, &old.id).await.unwrap();
    assert!(expired.body.is_empty() && expired.attachments.is_empty());
    assert_eq!(expired.status, MessageStatus::Delivered);
    let timeline = store.message_timeline(&scope, &old.id).await.unwrap();
    let stored = timeline.iter().find(|e| e.kind == "media.stored").unwrap();
    assert_eq!(
        stored.detail,
        json!({"index": 0, "size": 3, "expired": true})
    );
    let kept = store.message(&scope, &new.id).await.unwrap();
    assert_eq!((kept.body.as_str(), kept.attachments.len()), ("new", 1));

    let again = retention::sweep(store, &media, &config, retention::BATCH)
        .await
        .unwrap();
    assert_eq!(again, Sweep::default());
    assert_eq!(store.message(&scope, &old.id).await.unwrap(), expired);
}

#[tokio::test]
async fn zero_days_keeps_every_message() {
    let clock = Clock::manual();
    let test = TestStore::with_clock(clock.clone()).await;
    let store = &test.store;
    let (media, _dir) = media();
    let a = tenant(store, "a", "+15550000001").await;
    let old = photo_message(store, &media, &a, "+15551110001", "ancient").await;
    clock.advance(3650 * DAY);
    let config = config(&[("SWITCHBOARD_MESSAGE_RETENTION_DAYS", "0")]);
    let done = retention::sweep(store, &media, &config, retention::BATCH)
        .await
        .unwrap();
    assert_eq!(done, Sweep::default());
    assert!(has_photo(&media, &a, &old).await);
    let scope = TenantScope::for_location(&a.location);
    assert_eq!(
        store.message(&scope, &old.id).await.unwrap().body,
        "ancient"
    );
}

#[tokio::test]
async fn an_expiry_interrupted_after_a_batch_resumes_where_it_stopped() {
    let clock = Clock::manual();
    let test = TestStore::with_clock(clock.clone()).await;
    let store = &test.store;
    let (media, _dir) = media();
    let a = tenant(store, "a", "+15550000001").await;
    let first = photo_message(store, &media, &a, "+15551110001", "one").await;
    let second = photo_message(store, &media, &a, "+15551110002", "two").await;
    clock.advance(400 * DAY);
    let cutoff = store.now_ms() - 365 * 86_400_000;
    let mut done = Sweep::default();
    assert_eq!(
        retention::expire_batch(store, &media, cutoff, 1, &mut done)
            .await
            .unwrap(),
        1
    );
    // "Crash" here: the first batch is committed, the second not started.
    assert!(!has_photo(&media, &a, &first).await);
    assert!(has_photo(&media, &a, &second).await);
    let done = retention::sweep(store, &media, &config(&[]), retention::BATCH)
        .await
        .unwrap();
    assert_eq!((done.messages_expired, done.media_removed), (1, 1));
    assert!(!has_photo(&media, &a, &second).await);
    assert!(store.message_purged_at(&second.id).await.unwrap().is_some());
}

/// The ready or done retention jobs, by unique key.
async fn retention_jobs(store: &Store) -> Vec<(String, String)> {
    sqlx::query_as("SELECT unique_key, state FROM jobs WHERE kind = 'retention' ORDER BY id")
        .fetch_all(store.db().reader())
        .await
        .unwrap()
}

#[tokio::test]
async fn scheduling_twice_yields_one_job() {
    let test = TestStore::new().await;
    let store = &test.store;
    assert!(retention::schedule(store).await.unwrap().is_some());
    assert_eq!(retention::schedule(store).await.unwrap(), None);
    assert!(retention::schedule_next(store).await.unwrap().is_some());
    assert_eq!(retention::schedule_next(store).await.unwrap(), None);
    let jobs = retention_jobs(store).await;
    assert_eq!(jobs.len(), 2, "today's and tomorrow's: {jobs:?}");
    assert!(jobs.iter().all(|(_, state)| state == "ready"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_starting_workers_run_one_retention_job_which_schedules_tomorrow() {
    let test = TestStore::new().await;
    let (_, stop_a, a) = crate::start_run(&test, true).await;
    let (_, stop_b, b) = crate::start_run(&test, true).await;
    let today = test.store.now_ms().div_euclid(86_400_000);
    let expected = vec![
        (format!("retention:{today}"), "done".to_string()),
        (format!("retention:{}", today + 1), "ready".to_string()),
    ];
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while retention_jobs(&test.store).await != expected {
        assert!(
            std::time::Instant::now() < deadline,
            "{:?}",
            retention_jobs(&test.store).await
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = stop_a.send(());
    let _ = stop_b.send(());
    a.await.unwrap().unwrap();
    b.await.unwrap().unwrap();
    // Started again (a restart), nothing more is scheduled.
    let (_, stop, handle) = crate::start_run(&test, true).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let _ = stop.send(());
    handle.await.unwrap().unwrap();
    assert_eq!(retention_jobs(&test.store).await, expected);
}
