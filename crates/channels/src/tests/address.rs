//! Phone numbers and contact handles.

use crate::{contact_handle, e164, ChannelError};

#[test]
fn e164_keeps_the_digits_and_drops_formatting() {
    for (raw, expected) in [
        ("+19998887777", "+19998887777"),
        (" +1 (999) 888-7777 ", "+19998887777"),
        ("+44 20.7946.0958", "+442079460958"),
        ("+6834002", "+6834002"),
        ("+123456789012345", "+123456789012345"),
    ] {
        assert_eq!(e164("to", raw).unwrap(), expected, "{raw}");
    }
}

#[test]
fn e164_rejects_what_is_not_a_number() {
    for raw in [
        "",
        "+",
        "9998887777",
        "1-999-888-7777",
        "+1999888777a",
        "+0123456789",
        "+123456",
        "+1234567890123456",
        "whatsapp:+19998887777",
        "+1\u{0}9998887777",
    ] {
        let err = e164("to", raw).unwrap_err();
        assert!(
            matches!(err, ChannelError::InvalidAddress { field: "to", .. }),
            "{raw}"
        );
    }
    // A hostile value is cut short in the error.
    let long = format!("+{}", "x".repeat(10_000));
    assert!(e164("to", &long).unwrap_err().to_string().len() < 200);
}

#[test]
fn contact_handles_are_numbers_or_emails() {
    assert_eq!(
        contact_handle("from", "+19998887777").unwrap(),
        "+19998887777"
    );
    assert_eq!(
        contact_handle("from", " Jane.Doe@Example.COM ").unwrap(),
        "jane.doe@example.com"
    );
    for raw in [
        "@example.com",
        "jane@",
        "jane@example",
        "jane@@example.com",
        "ja ne@example.com",
        "jane@.com",
    ] {
        assert!(contact_handle("from", raw).is_err(), "{raw}");
    }
}
