//! Usage from the message records: counts per UTC day, channel and direction, segments,
//! delivery-rate inputs, AI replies and opt-outs; another tenant's records never count; the
//! range's first day starts at 00:00 UTC (included) and its last day ends before the next
//! 00:00 UTC (excluded).

use std::collections::BTreeMap;
use std::time::Duration;

use domain::{Actor, Direction, MessageStatus, Provider};
use serde_json::json;
use store::repo::{
    Channel, ConsentChange, Message, NewChannel, NewLocation, NewMessage, UsageRange, DAY_MS,
};
use store::testing::TestStore;
use store::{Clock, Store, TenantScope};

use crate::repo::{conversation, tenant, Tenant};

/// A message on `channel` from or to `phone`, moved on to `status`.
async fn message(
    store: &Store,
    channel: &Channel,
    phone: &str,
    direction: Direction,
    actor: Actor,
    body: &str,
    status: MessageStatus,
) -> Message {
    let conv = conversation(store, channel, phone).await;
    let mut tx = store.begin().await.unwrap();
    let message = store
        .insert_message(
            &mut tx,
            &conv,
            &channel.agency_id,
            &NewMessage {
                direction,
                actor,
                body: body.into(),
                attachments: vec![],
                status: if direction == Direction::Inbound {
                    status
                } else {
                    MessageStatus::Pending
                },
                provider_message_id: (direction == Direction::Inbound)
                    .then(|| format!("in-{}", domain::MessageId::new())),
                ghl_message_id: None,
            },
        )
        .await
        .unwrap()
        .unwrap();
    if direction == Direction::Outbound && status != MessageStatus::Pending {
        store
            .advance_message_status(&mut tx, &message, &channel.agency_id, status, None)
            .await
            .unwrap();
    }
    tx.commit().await.unwrap();
    message
}

fn out(actor: Actor, status: MessageStatus) -> (Direction, Actor, MessageStatus) {
    (Direction::Outbound, actor, status)
}

async fn opt_out(store: &Store, t: &Tenant, phone: &str) {
    let conv = conversation(store, &t.channel, phone).await;
    let mut tx = store.begin().await.unwrap();
    store
        .record_consent(
            &mut tx,
            &TenantScope::for_location(&t.location),
            &conv.contact_id,
            ConsentChange::OptOut,
            "keyword:STOP",
            "",
        )
        .await
        .unwrap();
    tx.commit().await.unwrap();
}

/// A second location of `t`'s agency with a Twilio line.
async fn second_location(store: &Store, t: &Tenant) -> (store::repo::Location, Channel) {
    let mut tx = store.begin().await.unwrap();
    let location = store
        .create_location(
            &mut tx,
            &t.agency,
            &NewLocation {
                ghl_location_id: "ghl-a2".into(),
                name: "Second".into(),
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
                provider: Provider::Twilio,
                line: "+15550000009".into(),
                credentials: BTreeMap::from([("auth_token".to_string(), "t".to_string())]),
                api_base: None,
                settings: json!({}),
            },
        )
        .await
        .unwrap();
    tx.commit().await.unwrap();
    (location, channel)
}

#[tokio::test]
async fn usage_counts_each_day_channel_and_direction_of_the_scope_only() {
    let clock = Clock::manual();
    let test = TestStore::with_clock(clock.clone()).await;
    let store = &test.store;
    // Start at exactly 00:00:00.000 UTC of a day.
    let now = clock.now_ms();
    let d1 = now / DAY_MS + 1;
    clock.advance(Duration::from_millis(
        u64::try_from(d1 * DAY_MS - now).unwrap(),
    ));
    let a = tenant(store, "a", "+15550000001").await;
    let b = tenant(store, "b", "+15550000002").await;
    let (second, second_line) = second_location(store, &a).await;

    // Day 1, 00:00:00.000: four outbound messages (one of them the AI's, one long) and
    // one inbound.
    let long = "x".repeat(200); // two GSM-7 segments
    let mut outbound = Vec::new();
    for (i, (direction, actor, status)) in [
        out(Actor::Agent, MessageStatus::Delivered),
        out(Actor::Ai, MessageStatus::Read),
        out(Actor::Agent, MessageStatus::Failed),
        out(Actor::Ai, MessageStatus::Pending),
        out(Actor::Agent, MessageStatus::Sent),
    ]
    .into_iter()
    .enumerate()
    {
        let body = if i == 0 { long.as_str() } else { "hello" };
        let phone = format!("+1555111000{i}");
        outbound.push(message(store, &a.channel, &phone, direction, actor, body, status).await);
    }
    let first_in = message(
        store,
        &a.channel,
        "+15551110000",
        Direction::Inbound,
        Actor::Contact,
        "hi",
        MessageStatus::Delivered,
    )
    .await;
    opt_out(store, &a, "+15551110000").await;
    // The last millisecond of day 1: still day 1.
    clock.advance(Duration::from_millis(u64::try_from(DAY_MS - 1).unwrap()));
    let last_in = message(
        store,
        &a.channel,
        "+15551110001",
        Direction::Inbound,
        Actor::Contact,
        "hey",
        MessageStatus::Delivered,
    )
    .await;
    // Another agency, the same day: never counted for a.
    message(
        store,
        &b.channel,
        "+15551110000",
        Direction::Outbound,
        Actor::Ai,
        "theirs",
        MessageStatus::Delivered,
    )
    .await;
    opt_out(store, &b, "+15551110000").await;
    // Day 2, 00:00:00.000: one message on the second location's line, one opt-out.
    clock.advance(Duration::from_millis(1));
    let d2 = d1 + 1;
    message(
        store,
        &second_line,
        "+15551110009",
        Direction::Outbound,
        Actor::Ai,
        "second",
        MessageStatus::Delivered,
    )
    .await;
    opt_out(store, &a, "+15551110001").await;

    let agency = TenantScope::for_agency(&a.agency).walled();
    let day1 = store
        .usage(
            &agency,
            UsageRange {
                first_day: d1,
                last_day: d1,
            },
        )
        .await
        .unwrap();
    assert_eq!(day1.rows.len(), 2, "{:?}", day1.rows);
    let (inbound, outbound_row) = (&day1.rows[0], &day1.rows[1]);
    assert_eq!((inbound.day, inbound.direction.as_str()), (d1, "inbound"));
    assert_eq!(inbound.channel_id, a.channel.id);
    assert_eq!(
        (inbound.provider.as_str(), inbound.line.as_str()),
        ("sendblue", "+15550000001")
    );
    assert_eq!(inbound.messages, 2);
    assert_eq!(
        inbound.sms_segments,
        i64::from(first_in.sms_segments + last_in.sms_segments)
    );
    assert_eq!(
        (
            inbound.left,
            inbound.delivered,
            inbound.failed,
            inbound.ai_replies
        ),
        (0, 0, 0, 0),
        "delivery and AI replies are outbound words"
    );
    assert_eq!(outbound_row.direction, "outbound");
    assert_eq!(outbound_row.messages, 5);
    assert_eq!(
        outbound_row.sms_segments,
        outbound
            .iter()
            .map(|m| i64::from(m.sms_segments))
            .sum::<i64>()
    );
    assert!(outbound[0].sms_segments == 2 && outbound_row.sms_segments == 6);
    assert_eq!(
        outbound_row.left, 4,
        "sent, delivered, read, failed; not pending"
    );
    assert_eq!(outbound_row.delivered, 2, "delivered or read");
    assert_eq!(outbound_row.failed, 1);
    assert_eq!(outbound_row.ai_replies, 2, "pending AI replies count too");
    assert_eq!(day1.opt_outs.len(), 1);
    assert_eq!((day1.opt_outs[0].day, day1.opt_outs[0].opt_outs), (d1, 1));

    // Day 2 alone: the last millisecond of day 1 is out, 00:00 of day 2 is in.
    let day2 = store
        .usage(
            &agency,
            UsageRange {
                first_day: d2,
                last_day: d2,
            },
        )
        .await
        .unwrap();
    assert_eq!(day2.rows.len(), 1);
    assert_eq!(day2.rows[0].channel_id, second_line.id);
    assert_eq!((day2.rows[0].day, day2.rows[0].messages), (d2, 1));
    assert_eq!(day2.opt_outs.len(), 1);
    // The day before: 00:00 of day 1 is not in it.
    let before = UsageRange {
        first_day: d1 - 1,
        last_day: d1 - 1,
    };
    assert_eq!(store.usage(&agency, before).await.unwrap().rows, vec![]);

    // Both days; a location's scope sees its own line only.
    let both = UsageRange {
        first_day: d1,
        last_day: d2,
    };
    let all = store.usage(&agency, both).await.unwrap();
    assert_eq!(all.rows.iter().map(|r| r.messages).sum::<i64>(), 8);
    assert_eq!(all.opt_outs.iter().map(|o| o.opt_outs).sum::<i64>(), 2);
    let only_second = TenantScope::for_agency(&a.agency)
        .walled()
        .narrowed_to(&second);
    let narrowed = store.usage(&only_second, both).await.unwrap();
    assert_eq!(narrowed.rows.len(), 1);
    assert_eq!(narrowed.rows[0].channel_id, second_line.id);
    assert!(
        narrowed.opt_outs.is_empty(),
        "a's opt-outs were at the first location"
    );
    let first_only = store
        .usage(&TenantScope::for_location(&a.location), both)
        .await
        .unwrap();
    assert_eq!(first_only.rows.len(), 2);
    assert!(first_only.rows.iter().all(|r| r.channel_id == a.channel.id));

    // The other agency sees its own message and opt-out, nothing of a's.
    let theirs = store
        .usage(&TenantScope::for_agency(&b.agency).walled(), both)
        .await
        .unwrap();
    assert_eq!(theirs.rows.len(), 1);
    assert_eq!(
        (
            theirs.rows[0].messages,
            theirs.rows[0].ai_replies,
            theirs.rows[0].delivered
        ),
        (1, 1, 1)
    );
    assert_eq!(theirs.opt_outs.len(), 1);
}

#[tokio::test]
async fn an_empty_or_reversed_range_has_no_usage() {
    let test = TestStore::new().await;
    let store = &test.store;
    let a = tenant(store, "a", "+15550000001").await;
    message(
        store,
        &a.channel,
        "+15551110000",
        Direction::Outbound,
        Actor::Agent,
        "hello",
        MessageStatus::Sent,
    )
    .await;
    let today = store.now_ms() / DAY_MS;
    let scope = TenantScope::for_agency(&a.agency);
    let reversed = UsageRange {
        first_day: today,
        last_day: today - 1,
    };
    assert_eq!(reversed.days(), 0);
    assert_eq!(
        store.usage(&scope, reversed).await.unwrap(),
        Default::default()
    );
    let later = UsageRange {
        first_day: today + 1,
        last_day: today + 30,
    };
    assert_eq!(later.days(), 30);
    assert_eq!(
        store.usage(&scope, later).await.unwrap(),
        Default::default()
    );
}
