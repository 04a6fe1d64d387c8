#![allow(clippy::unwrap_used)]

use lopdf::content::Operation;
use lopdf::{dictionary, EncryptionState, EncryptionVersion, Permissions, Stream};

use super::*;

/// A PDF written by an independent, hand-made writer (see the fixture's
/// text): one page, three lines placed with `Td`.
const AFTERCARE: &[u8] = include_bytes!("pdf_fixtures/aftercare.pdf");

/// A PDF with one page per entry, each page's lines shown with `Tj`, `'`
/// and `TJ`, written by lopdf itself.
fn build(pages: &[&[&str]]) -> Document {
    let mut doc = Document::with_version("1.5");
    let pages_id = doc.new_object_id();
    let font_id = doc.add_object(dictionary! {
        "Type" => "Font",
        "Subtype" => "Type1",
        "BaseFont" => "Helvetica",
        "Encoding" => "WinAnsiEncoding",
    });
    let resources_id = doc.add_object(dictionary! { "Font" => dictionary! { "F1" => font_id } });
    let mut kids = Vec::new();
    for lines in pages {
        let mut operations = vec![
            Operation::new("BT", vec![]),
            Operation::new("Tf", vec!["F1".into(), 12.into()]),
            Operation::new("TL", vec![14.into()]),
            Operation::new("Td", vec![72.into(), 720.into()]),
        ];
        for (i, line) in lines.iter().enumerate() {
            let string = Object::string_literal(*line);
            let operation = match i % 3 {
                0 => Operation::new("Tj", vec![string]),
                1 => Operation::new("'", vec![string]),
                _ => {
                    // A TJ array that draws the word spaces as shifts.
                    let mut parts = vec![Object::Integer(0)];
                    for word in line.split(' ') {
                        parts.push(Object::string_literal(word));
                        parts.push(Object::Integer(-250));
                    }
                    operations.push(Operation::new("T*", vec![]));
                    Operation::new("TJ", vec![Object::Array(parts)])
                }
            };
            operations.push(operation);
        }
        operations.push(Operation::new("ET", vec![]));
        let content = lopdf::content::Content { operations };
        let content_id = doc.add_object(Stream::new(dictionary! {}, content.encode().unwrap()));
        kids.push(
            doc.add_object(dictionary! {
                "Type" => "Page",
                "Parent" => pages_id,
                "Contents" => content_id,
                "Resources" => resources_id,
                "MediaBox" => vec![0.into(), 0.into(), 612.into(), 792.into()],
            })
            .into(),
        );
    }
    let count = i64::try_from(kids.len()).unwrap();
    doc.objects.insert(
        pages_id,
        Object::Dictionary(dictionary! { "Type" => "Pages", "Kids" => kids, "Count" => count }),
    );
    let catalog_id = doc.add_object(dictionary! { "Type" => "Catalog", "Pages" => pages_id });
    doc.trailer.set("Root", catalog_id);
    doc.trailer.set(
        "ID",
        Object::Array(vec![
            Object::string_literal(b"0123456789abcdef".to_vec()),
            Object::string_literal(b"0123456789abcdef".to_vec()),
        ]),
    );
    doc
}

fn bytes(mut doc: Document) -> Vec<u8> {
    let mut out = Vec::new();
    doc.save_to(&mut out).unwrap();
    out
}

fn price_list() -> Vec<u8> {
    bytes(build(&[
        &[
            "Bright Smile Dental - price list",
            "Check-up and X-rays: $85",
            "Hygienist cleaning: $110",
        ],
        &["Crowns from $950", "Payment plans available on request"],
    ]))
}

#[test]
fn hand_written_fixture_gives_its_lines() {
    let text = pdf_text(AFTERCARE).unwrap();
    assert_eq!(
        text,
        "Whitening aftercare\nAvoid coffee, red wine and curry for 48 hours.\n\
         Sensitivity usually fades within two days."
    );
}

#[test]
fn generated_pdf_gives_every_page() {
    let text = pdf_text(&price_list()).unwrap();
    assert_eq!(
        text,
        "Bright Smile Dental - price list\nCheck-up and X-rays: $85\nHygienist cleaning: $110\n\n\
         Crowns from $950\nPayment plans available on request"
    );
    // Compressed content streams read the same.
    let mut doc = build(&[&["Open Monday to Friday, 8am to 6pm"]]);
    doc.compress();
    assert_eq!(
        pdf_text(&bytes(doc)).unwrap(),
        "Open Monday to Friday, 8am to 6pm"
    );
}

#[test]
fn garbage_empty_and_truncated_input_are_errors() {
    assert!(matches!(pdf_text(b""), Err(PdfError::Invalid(_))));
    assert!(matches!(
        pdf_text(b"<html>not a pdf</html>"),
        Err(PdfError::Invalid(_))
    ));
    assert!(pdf_text(b"%PDF-1.7\n garbage \x00\xff\xfe").is_err());
    let valid = price_list();
    // Cut anywhere before the page content: never a panic, never half a success.
    for cut in [9, 40, valid.len() / 3, valid.len() / 2] {
        assert!(pdf_text(&valid[..cut]).is_err(), "cut at {cut}");
    }
    // Every other cut: an error or some text, but no panic.
    for cut in (0..valid.len()).step_by(7) {
        let _ = pdf_text(&valid[..cut]);
    }
}

#[test]
fn mutated_input_never_panics() {
    // A tiny LCG flips bytes in valid PDFs; the point is only "no panic".
    let mut seed: u64 = 7;
    let mut next = move |m: usize| {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        usize::try_from(seed >> 33).unwrap() % m
    };
    for original in [price_list(), AFTERCARE.to_vec()] {
        for _ in 0..150 {
            let mut bytes = original.clone();
            for _ in 0..1 + next(8) {
                let at = next(bytes.len());
                bytes[at] = u8::try_from(next(256)).unwrap();
            }
            let _ = pdf_text(&bytes);
        }
    }
}

#[test]
fn pdf_without_text_is_no_text() {
    let doc = build(&[&[]]);
    assert_eq!(pdf_text(&bytes(doc)), Err(PdfError::NoText));
}

#[test]
fn password_protected_pdf_is_encrypted() {
    let encrypted = |user_password: &str| {
        let mut doc = build(&[&["Members-only prices"]]);
        let version = EncryptionVersion::V2 {
            document: &doc,
            owner_password: "owner-secret",
            user_password,
            key_length: 128,
            permissions: Permissions::all(),
        };
        let state = EncryptionState::try_from(version).unwrap();
        doc.encrypt(&state).unwrap();
        bytes(doc)
    };
    assert_eq!(
        pdf_text(&encrypted("open-sesame")),
        Err(PdfError::Encrypted)
    );
    // An empty user password only restricts editing: the text is readable.
    assert_eq!(pdf_text(&encrypted("")).unwrap(), "Members-only prices");
}
