//! Flow 4 from the contact's side: asking for a person opens one handoff, quiets the AI
//! and emails the agents who may take it (a real SMTP server), once.

use std::time::Duration;

use serde_json::json;

use crate::bridge::{Bridge, LINE};
use crate::dashboard::add_user;
use crate::mail::{decoded, SmtpServer};

const OWNER: &str = "owner@agency.example";
const STRANGER: &str = "admin@elsewhere.example";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn asking_for_a_person_opens_one_handoff_quiets_the_ai_and_mails_the_agents_once() {
    let smtp = SmtpServer::start();
    let url = format!("smtp://127.0.0.1:{}", smtp.port);
    let bridge = Bridge::start_with(&[("SWITCHBOARD_SMTP_URL", url.as_str())]).await;
    add_user(&bridge, OWNER, "agency_admin", true).await;
    add_user(&bridge, STRANGER, "agency_admin", false).await;
    let scope = bridge.agency_scope().await;
    let store = &bridge.test.store;

    // An ordinary message opens nothing.
    bridge
        .control(
            "/sendblue/inbound",
            json!({"line": LINE, "from": "+19998887010", "content": "I study the humanities"}),
        )
        .await;
    bridge
        .control(
            "/sendblue/inbound",
            json!({"line": LINE, "from": "+19998887011", "content": "Can I talk to a person please?"}),
        )
        .await;
    bridge
        .eventually("the handoff to open", async |_| {
            store.pending_handoffs(&scope).await.unwrap() == 1
        })
        .await;
    let page = store
        .handoffs_page(&scope, "pending", &store::Paging::first(10))
        .await
        .unwrap();
    let handoff = &page.items[0];
    assert_eq!(handoff.requested_by, "contact");
    assert!(
        handoff.reason.contains("talk to a person"),
        "{}",
        handoff.reason
    );
    assert_eq!(handoff.contact_handle.as_deref(), Some("+19998887011"));
    let conversation = store
        .conversation(&scope, &handoff.conversation_id)
        .await
        .unwrap();
    assert!(
        !conversation.ai_enabled,
        "the AI is quiet while a person is needed"
    );

    let mut mails = Vec::new();
    for _ in 0..200 {
        mails = smtp.received();
        if !mails.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(mails.len(), 1, "{mails:?}");
    let mail = decoded(&mails[0]);
    assert!(mail.contains(&format!("To: {OWNER}")), "{mail}");
    assert!(mail.contains("needs a person"), "{mail}");
    assert!(
        mail.contains(&format!("/inbox/{}", handoff.conversation_id)),
        "{mail}"
    );

    // Asking again while it is open: the same handoff, nobody told twice.
    bridge
        .control(
            "/sendblue/inbound",
            json!({"line": LINE, "from": "+19998887011", "content": "hello?? a HUMAN"}),
        )
        .await;
    bridge
        .eventually("the second message to reach GHL", async |b| {
            b.get("/ghl/requests")
                .await
                .as_array()
                .unwrap()
                .iter()
                .any(|r| r["body"].to_string().contains("a HUMAN"))
        })
        .await;
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(store.pending_handoffs(&scope).await.unwrap(), 1);
    assert_eq!(smtp.received().len(), 1, "one email for one handoff");
    bridge.stop().await;
}
