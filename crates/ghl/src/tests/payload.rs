use crate::payload::{InstallTarget, MarketplaceEvent, OutboundSender, ProviderOutboundMessage};
use crate::{DndStatus, Error};

macro_rules! examples {
    ($($name:literal),+ $(,)?) => {
        &[$(($name, include_str!(concat!("../../tests/fixtures/examples/", $name)))),+]
    };
}

/// Every webhook example in GHL's docs, verbatim.
const WEBHOOK_EXAMPLES: &[(&str, &str)] = examples![
    "AppInstall.agency.json",
    "AppInstall.location-whitelabel.json",
    "AppInstall.location.json",
    "AppUninstall.agency.json",
    "AppUninstall.location.json",
    "AppointmentCreate.json",
    "AppointmentDelete.json",
    "AppointmentUpdate.json",
    "ContactCreate.json",
    "ContactDelete.json",
    "ContactDndUpdate.json",
    "ContactTagUpdate.json",
    "ContactUpdate.json",
    "ConversationUnreadWebhook.json",
    "InboundMessage.call.json",
    "InboundMessage.email.json",
    "InboundMessage.message.json",
    "InboundMessage.voicemail.json",
    "LocationCreate.json",
    "LocationUpdate.json",
    "NoteCreate.json",
    "NoteDelete.json",
    "NoteUpdate.json",
    "OpportunityAssignedToUpdate.json",
    "OpportunityCreate.json",
    "OpportunityDelete.json",
    "OpportunityMonetaryValueUpdate.json",
    "OpportunityStageUpdate.json",
    "OpportunityStatusUpdate.json",
    "OpportunityUpdate.json",
    "OutboundMessage.call.json",
    "OutboundMessage.email.json",
    "OutboundMessage.message.json",
    "OutboundMessage.voicemail-workflow.json",
    "PlanChange.json",
    "TaskComplete.json",
    "TaskCreate.json",
    "TaskDelete.json",
];

const SMS: &str = include_str!("../../tests/fixtures/examples/ProviderOutboundMessage.sms.json");
const EMAIL: &str =
    include_str!("../../tests/fixtures/examples/ProviderOutboundMessage.email.json");

#[test]
fn every_documented_webhook_parses() {
    for (name, body) in WEBHOOK_EXAMPLES {
        let event =
            MarketplaceEvent::parse(body.as_bytes()).unwrap_or_else(|err| panic!("{name}: {err}"));
        let modelled = matches!(
            (name.split('.').next().unwrap(), &event),
            ("AppInstall", MarketplaceEvent::Install(_))
                | ("AppUninstall", MarketplaceEvent::Uninstall(_))
                | ("PlanChange", MarketplaceEvent::PlanChange(_))
                | ("ContactDndUpdate", MarketplaceEvent::ContactDndUpdate(_))
                | (_, MarketplaceEvent::Other { .. })
        );
        assert!(modelled, "{name} parsed as {}", event.kind());
        assert!(!event.kind().is_empty());
    }
}

#[test]
fn unmodelled_events_keep_their_body() {
    let body = include_str!("../../tests/fixtures/examples/InboundMessage.message.json");
    let MarketplaceEvent::Other { kind, raw } = MarketplaceEvent::parse(body.as_bytes()).unwrap()
    else {
        panic!("InboundMessage is not modelled");
    };
    assert_eq!(kind, "InboundMessage");
    assert_eq!(
        raw,
        serde_json::from_str::<serde_json::Value>(body).unwrap()
    );
}

#[test]
fn install_reads_location_agency_and_whitelabel() {
    let MarketplaceEvent::Install(location) =
        MarketplaceEvent::parse(WEBHOOK_EXAMPLES[2].1.as_bytes()).unwrap()
    else {
        panic!("not an install");
    };
    assert_eq!(location.app_id.as_deref(), Some("ve9EPM428h8vShlRW1KT"));
    assert_eq!(
        location.target(),
        Some(InstallTarget::Location("otg8dTQqGLh3Q6iQI55w".into()))
    );
    assert_eq!(
        location.plan_id.as_deref(),
        Some("66a0419a0dffa47fb5f8b22f")
    );
    let trial = location.trial.as_ref().unwrap();
    assert_eq!(
        (trial.on_trial, trial.trial_duration),
        (Some(true), Some(10))
    );
    assert_eq!(location.is_whitelabel_company, Some(false));
    assert_eq!(location.company_name.as_deref(), Some("Example Company"));

    let MarketplaceEvent::Install(agency) =
        MarketplaceEvent::parse(WEBHOOK_EXAMPLES[0].1.as_bytes()).unwrap()
    else {
        panic!("not an install");
    };
    assert_eq!(
        agency.target(),
        Some(InstallTarget::Agency("otg8dTQqGLh3Q6iQI55w".into()))
    );
    assert_eq!(agency.user_id, None);

    let MarketplaceEvent::Install(whitelabel) =
        MarketplaceEvent::parse(WEBHOOK_EXAMPLES[1].1.as_bytes()).unwrap()
    else {
        panic!("not an install");
    };
    let details = whitelabel.whitelabel_details.unwrap();
    assert_eq!(details.domain.as_deref(), Some("example.com"));
    assert_eq!(
        details.logo_url.as_deref(),
        Some("https://example.com/logo.png")
    );

    let bulk = br#"{"type":"INSTALL","companyId":"c1","locationIds":["l1","l2"]}"#;
    let MarketplaceEvent::Install(bulk) = MarketplaceEvent::parse(bulk).unwrap() else {
        panic!("not an install");
    };
    assert_eq!(
        bulk.target(),
        Some(InstallTarget::Locations(vec!["l1".into(), "l2".into()]))
    );
}

#[test]
fn uninstall_and_plan_change() {
    for (index, expected) in [
        (3, InstallTarget::Agency("otg8dTQqGLh3Q6iQI55w".into())),
        (4, InstallTarget::Location("otg8dTQqGLh3Q6iQI55w".into())),
    ] {
        let MarketplaceEvent::Uninstall(uninstall) =
            MarketplaceEvent::parse(WEBHOOK_EXAMPLES[index].1.as_bytes()).unwrap()
        else {
            panic!("not an uninstall");
        };
        assert_eq!(uninstall.target(), Some(expected));
    }
    let body = include_str!("../../tests/fixtures/examples/PlanChange.json");
    let MarketplaceEvent::PlanChange(change) = MarketplaceEvent::parse(body.as_bytes()).unwrap()
    else {
        panic!("not a plan change");
    };
    assert_eq!(
        change.new_plan_id.as_deref(),
        Some("66a0419a0dffa47fb5f8b22f")
    );
    assert_eq!(
        change.current_plan_id.as_deref(),
        Some("66a0419a0dffa47fb5f8b22f")
    );
}

#[test]
fn contact_dnd_update_reads_the_sms_setting() {
    let body = include_str!("../../tests/fixtures/examples/ContactDndUpdate.json");
    let MarketplaceEvent::ContactDndUpdate(update) =
        MarketplaceEvent::parse(body.as_bytes()).unwrap()
    else {
        panic!("not a DND update");
    };
    assert_eq!(update.contact_id.as_deref(), Some("nmFmQEsNgz6AVpgLVUJ0"));
    assert_eq!(update.location_id.as_deref(), Some("ve9EPM428h8vShlRW1KT"));
    assert_eq!(update.phone.as_deref(), Some("+919509597501"));
    let settings = update.dnd_settings.as_ref().unwrap();
    assert_eq!(settings.sms.as_ref().unwrap().status, DndStatus::Inactive);
    assert_eq!(
        settings.whatsapp.as_ref().unwrap().status,
        DndStatus::Active
    );
    assert_eq!(settings.sms.as_ref().unwrap().code.as_deref(), Some("101"));
    // The example sets global `dnd: true`, which blocks every channel.
    assert_eq!(update.sms_blocked(), Some(true));

    let read = |body: &str| match MarketplaceEvent::parse(body.as_bytes()).unwrap() {
        MarketplaceEvent::ContactDndUpdate(update) => update.sms_blocked(),
        other => panic!("{other:?}"),
    };
    let stop = r#"{"type":"ContactDndUpdate","id":"c","dnd":false,"dndSettings":{"SMS":{"status":"active"}}}"#;
    assert_eq!(read(stop), Some(true));
    let permanent =
        r#"{"type":"ContactDndUpdate","id":"c","dndSettings":{"SMS":{"status":"permanent"}}}"#;
    assert_eq!(read(permanent), Some(true));
    let start = r#"{"type":"ContactDndUpdate","id":"c","dnd":false,"dndSettings":{"SMS":{"status":"inactive"}}}"#;
    assert_eq!(read(start), Some(false));
    assert_eq!(read(r#"{"type":"ContactDndUpdate","id":"c"}"#), None);
    // An odd nested shape is dropped, not fatal.
    let odd = r#"{"type":"ContactDndUpdate","id":"c","dndSettings":{"SMS":"active"}}"#;
    assert_eq!(read(odd), None);
}

#[test]
fn envelope_fields_flat_or_wrapped() {
    let flat = br#"{"type":"UNINSTALL","locationId":"l1","webhookId":"w1","timestamp":"2025-01-28T14:35:00Z"}"#;
    let event = MarketplaceEvent::parse(flat).unwrap();
    assert_eq!(event.webhook_id(), Some("w1"));
    assert_eq!(event.timestamp(), Some("2025-01-28T14:35:00Z"));
    assert_eq!(event.location_id(), Some("l1"));

    // The integration guide's test sample wraps the entity in `data`.
    let wrapped = br#"{"type":"ContactDndUpdate","timestamp":"2025-01-28T14:35:00Z","webhookId":"abc123xyz","data":{"id":"c1","locationId":"l1","dndSettings":{"SMS":{"status":"active"}}}}"#;
    let event = MarketplaceEvent::parse(wrapped).unwrap();
    assert_eq!(event.webhook_id(), Some("abc123xyz"));
    let MarketplaceEvent::ContactDndUpdate(update) = &event else {
        panic!("{event:?}");
    };
    assert_eq!(update.contact_id.as_deref(), Some("c1"));
    assert_eq!(update.sms_blocked(), Some(true));

    let other =
        br#"{"type":"TaskCreate","webhookId":"w2","data":{"timestamp":"t","locationId":"l2"}}"#;
    let event = MarketplaceEvent::parse(other).unwrap();
    assert_eq!(
        (event.webhook_id(), event.timestamp(), event.location_id()),
        (Some("w2"), Some("t"), Some("l2"))
    );

    let none = MarketplaceEvent::parse(WEBHOOK_EXAMPLES[0].1.as_bytes()).unwrap();
    assert_eq!((none.webhook_id(), none.timestamp()), (None, None));
}

#[test]
fn marketplace_refuses_what_is_not_an_event() {
    for bad in [
        &b"not json"[..],
        b"",
        b"[]",
        b"\"INSTALL\"",
        b"{}",
        br#"{"type":""}"#,
        br#"{"type":7}"#,
    ] {
        assert!(
            matches!(MarketplaceEvent::parse(bad), Err(Error::Payload(_))),
            "{:?}",
            String::from_utf8_lossy(bad)
        );
    }
}

#[test]
fn marketplace_tolerates_odd_shapes_inside_modelled_events() {
    let odd = br#"{"type":"INSTALL","locationId":{"x":1},"companyId":42,"locationIds":"l9","trial":"soon","isWhitelabelCompany":"true"}"#;
    let MarketplaceEvent::Install(install) = MarketplaceEvent::parse(odd).unwrap() else {
        panic!("not an install");
    };
    assert_eq!(install.location_id, None);
    assert_eq!(install.company_id.as_deref(), Some("42"));
    assert_eq!(install.location_ids, vec!["l9".to_owned()]);
    assert_eq!(install.trial, None);
    assert_eq!(install.is_whitelabel_company, Some(true));
}

#[test]
fn provider_sms_message() {
    let message = ProviderOutboundMessage::parse(SMS.as_bytes()).unwrap();
    assert_eq!(message.contact_id, "GKBhT6BfwY9mjzXAU3sq");
    assert_eq!(message.location_id, "GKAWb4yu7A4LSc0skQ6g");
    assert_eq!(message.message_id, "GKJxs4P5L8dWc5CFUITM");
    assert!(message.is_sms());
    assert_eq!(message.phone.as_deref(), Some("+15864603685"));
    assert_eq!(
        message.message.as_deref(),
        Some("The text message to be sent to the contact")
    );
    assert_eq!(message.attachments.len(), 1);
    assert_eq!(message.conversation_id, None);
    assert_eq!(
        message.sender(),
        OutboundSender::User {
            user_id: "GK56r6wdJDrkUPd0xsmx".into()
        }
    );
    assert_eq!(message.sender().actor(), domain::Actor::Agent);
}

#[test]
fn provider_email_message() {
    let message = ProviderOutboundMessage::parse(EMAIL.as_bytes()).unwrap();
    assert!(!message.is_sms());
    assert_eq!(message.kind, "Email");
    assert_eq!(message.email_to, vec!["abc@gmail.com".to_owned()]);
    assert_eq!(
        message.subject.as_deref(),
        Some("Subject from Conversation Page")
    );
    assert_eq!(message.message, None);
    // The schema's reading: `emailTo` as one string.
    let single = EMAIL.replace(r#"["abc@gmail.com"]"#, r#""abc@gmail.com""#);
    let message = ProviderOutboundMessage::parse(single.as_bytes()).unwrap();
    assert_eq!(message.email_to, vec!["abc@gmail.com".to_owned()]);
}

#[test]
fn provider_message_sender_and_optional_fields() {
    let parse = |extra: &str| {
        let body = format!(
            r#"{{"contactId":"c","locationId":"l","messageId":"m","type":"SMS","message":"hi"{extra}}}"#
        );
        ProviderOutboundMessage::parse(body.as_bytes()).unwrap()
    };
    let workflow = parse(r#","userId":"u","source":"workflow""#);
    assert_eq!(workflow.sender(), OutboundSender::Workflow);
    assert_eq!(workflow.sender().actor(), domain::Actor::System);
    assert_eq!(
        parse(r#","source":"bulk_actions""#).sender(),
        OutboundSender::BulkAction
    );
    assert_eq!(
        parse(r#","source":"campaign""#).sender(),
        OutboundSender::Campaign
    );
    assert_eq!(
        parse(r#","source":"app","userId":"u""#).sender(),
        OutboundSender::User {
            user_id: "u".into()
        }
    );
    assert_eq!(parse("").sender(), OutboundSender::Unattributed);
    assert_eq!(
        parse(r#","userId":null"#).sender(),
        OutboundSender::Unattributed
    );

    let full = parse(
        r#","conversationId":"conv","conversationProviderId":"p","webhookId":"w","timestamp":"2025-01-28T14:35:00Z","attachments":null,"replyToAltId":"alt","unknown":{"x":1}"#,
    );
    assert_eq!(full.conversation_id.as_deref(), Some("conv"));
    assert_eq!(full.conversation_provider_id.as_deref(), Some("p"));
    assert_eq!(full.webhook_id.as_deref(), Some("w"));
    assert_eq!(full.timestamp.as_deref(), Some("2025-01-28T14:35:00Z"));
    assert_eq!(full.reply_to_alt_id.as_deref(), Some("alt"));
    assert!(full.attachments.is_empty());
}

#[test]
fn provider_message_refuses_missing_ids_and_garbage() {
    for bad in [
        "",
        "null",
        "{}",
        "[1,2]",
        r#"{"locationId":"l","messageId":"m","type":"SMS"}"#,
        r#"{"contactId":"c","messageId":"m","type":"SMS"}"#,
        r#"{"contactId":"c","locationId":"l","type":"SMS"}"#,
        r#"{"contactId":"c","locationId":"l","messageId":"m"}"#,
        r#"{"contactId":"c","locationId":"l","messageId":" ","type":"SMS"}"#,
        r#"{"contactId":5,"locationId":"l","messageId":"m","type":"SMS"}"#,
    ] {
        assert!(
            matches!(
                ProviderOutboundMessage::parse(bad.as_bytes()),
                Err(Error::Payload(_))
            ),
            "{bad}"
        );
    }
}

#[test]
fn truncated_bodies_never_panic() {
    let all = WEBHOOK_EXAMPLES
        .iter()
        .map(|(_, body)| *body)
        .chain([SMS, EMAIL]);
    for body in all {
        let bytes = body.as_bytes();
        for end in 0..bytes.len() {
            let _ = MarketplaceEvent::parse(&bytes[..end]);
            let _ = ProviderOutboundMessage::parse(&bytes[..end]);
        }
    }
    let stamp = "2025-01-28T14:35:00.123+05:30";
    for end in 0..stamp.len() {
        let _ = crate::parse_rfc3339(&stamp[..end]);
    }
}
