//! A paused channel sends nothing: GHL's new messages find no active line, and a message
//! already queued on the line fails with the reason instead of going out.

use domain::{Actor, Direction, MessageStatus};
use serde_json::json;
use store::queue::NewJob;
use store::repo::{ChannelChange, NewMessage};
use store::TenantScope;

use crate::bridge::{Bridge, GHL_LOCATION};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_channel_sends_nothing_and_fails_what_was_queued() {
    let bridge = Bridge::start().await;
    let store = &bridge.test.store;
    let scope = TenantScope::for_location(&bridge.location);
    let mut tx = store.begin().await.unwrap();
    let channel = store
        .update_channel(
            &mut tx,
            &scope,
            &bridge.channel.id,
            &ChannelChange {
                status: Some("paused".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    // A message queued on the line as if it had arrived just before the pause.
    let contact = store
        .contact_for_handle(&mut tx, &channel, "+19998887001")
        .await
        .unwrap();
    let conversation = store
        .conversation_for(&mut tx, &channel, &contact)
        .await
        .unwrap();
    let message = store
        .insert_message(
            &mut tx,
            &conversation,
            &bridge.location.agency_id,
            &NewMessage {
                direction: Direction::Outbound,
                actor: Actor::Agent,
                body: "queued before the pause".into(),
                attachments: vec![],
                status: MessageStatus::Pending,
                provider_message_id: None,
                ghl_message_id: None,
            },
        )
        .await
        .unwrap()
        .unwrap();
    store
        .queue()
        .enqueue(
            &mut tx,
            NewJob::new(server::webhooks::DELIVER, json!({"message_id": message.id})),
        )
        .await
        .unwrap();
    tx.commit().await.unwrap();

    let failed = bridge
        .control(
            "/ghl/outbound",
            json!({"locationId": GHL_LOCATION,
        "phone": "+19998887002", "message": "after the pause"}),
        )
        .await;
    assert!(failed["messageId"].is_string(), "{failed}");
    bridge
        .eventually("the queued message to fail", async |b| {
            let m = b.test.store.message(&scope, &message.id).await.unwrap();
            m.status == MessageStatus::Failed
        })
        .await;
    let failed = store.message(&scope, &message.id).await.unwrap();
    let reason = failed.error.unwrap_or_default();
    assert!(reason.contains("paused"), "{reason}");
    let sent = bridge.get("/sendblue/messages").await;
    assert_eq!(sent.as_array().map(Vec::len), Some(0), "{sent}");
    bridge.stop().await;
}
