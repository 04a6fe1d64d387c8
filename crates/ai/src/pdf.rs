//! Text from a PDF's bytes, through `lopdf`.
//!
//! Knowledge sources include PDFs (price lists, brochures, aftercare sheets).
//! `lopdf` is a pure-Rust PDF reader; its text extraction decodes simple
//! fonts' encodings and `ToUnicode` maps, which covers the PDFs that office
//! suites and website builders export. Scanned PDFs have no text layer and
//! give [`PdfError::NoText`]: they need OCR, which is out of scope here.
//!
//! Text in a font that cannot be decoded is skipped rather than failing the
//! whole document, because a brochure with one odd font still carries most
//! of its knowledge.

use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};

use lopdf::content::Content;
use lopdf::{Document, Encoding, Object, ObjectId};

use crate::clean::normalise_text;

/// Why no text came out of a PDF.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PdfError {
    /// The bytes are not a readable PDF (not a PDF at all, truncated, or
    /// damaged beyond what the reader repairs).
    #[error("not a readable PDF: {0}")]
    Invalid(String),
    /// The PDF needs a password to open. PDFs that are encrypted with an
    /// empty user password (restrictions only, common in exports) are read.
    #[error("the PDF is password-protected")]
    Encrypted,
    /// The PDF opened but holds no extractable text, typically a scan.
    #[error("the PDF has no extractable text (a scanned document needs OCR)")]
    NoText,
}

/// The PDF's text, pages separated by blank lines, normalised like any
/// other extracted text (see [`normalise_text`]).
///
/// Never panics, whatever the bytes. `lopdf` parses untrusted,
/// attacker-shaped input and has had index and arithmetic panics on
/// malformed files, so the parse runs under `catch_unwind`: a bad upload
/// must become an error for that one source, not take down the worker.
/// (The panic hook still prints the panic; the process carries on.)
/// Input size is the caller's to bound, before the bytes are read.
pub fn pdf_text(bytes: &[u8]) -> Result<String, PdfError> {
    // Readers accept junk before the header, but only within the first KiB.
    let head = &bytes[..bytes.len().min(1024)];
    if !head.windows(5).any(|w| w == b"%PDF-") {
        return Err(PdfError::Invalid("no %PDF- header".to_owned()));
    }
    let text = catch_unwind(AssertUnwindSafe(|| extract(bytes)))
        .map_err(|_| PdfError::Invalid("the PDF reader failed on this file".to_owned()))??;
    let text = normalise_text(&text);
    if text.trim().is_empty() {
        return Err(PdfError::NoText);
    }
    Ok(text)
}

fn extract(bytes: &[u8]) -> Result<String, PdfError> {
    let document = Document::load_mem(bytes).map_err(|e| match e {
        lopdf::Error::InvalidPassword | lopdf::Error::Decryption(_) => PdfError::Encrypted,
        other => PdfError::Invalid(other.to_string()),
    })?;
    // An encrypted file whose user password is not empty loads without
    // error, but undecrypted: only the empty password is tried.
    if document.is_encrypted() && document.encryption_state.is_none() {
        return Err(PdfError::Encrypted);
    }
    let pages = document.get_pages();
    if pages.is_empty() {
        return Err(PdfError::Invalid("the PDF has no pages".to_owned()));
    }
    let mut text = String::new();
    for page_id in pages.into_values() {
        page_text(&document, page_id, &mut text);
        // A form feed: `normalise_text` turns it into a paragraph break.
        text.push('\u{0c}');
    }
    Ok(text)
}

/// Appends one page's text.
///
/// This walks the content stream itself rather than calling lopdf's
/// `extract_text`, for two reasons: that function fails the whole document
/// on one undecodable font, and it ignores line moves (`Td`, `TD`, `Tm`),
/// so the last word of a line and the first of the next are glued together
/// ("aftercareAvoid"), which ruins lexical search. Horizontal moves add
/// nothing: generators also use them inside words, for kerning.
fn page_text(document: &Document, page_id: ObjectId, out: &mut String) {
    let Ok(fonts) = document.get_page_fonts(page_id) else {
        return;
    };
    let encodings: BTreeMap<Vec<u8>, Encoding> = fonts
        .into_iter()
        .filter_map(|(name, font)| Some((name, font.get_font_encoding(document).ok()?)))
        .collect();
    let Some(content) = document
        .get_page_content(page_id)
        .ok()
        .and_then(|data| Content::decode(&data).ok())
    else {
        return;
    };
    let mut encoding = None;
    for op in &content.operations {
        let operands = &op.operands;
        match op.operator.as_str() {
            "Tf" => {
                encoding = operands
                    .first()
                    .and_then(|name| name.as_name().ok())
                    .and_then(|name| encodings.get(name));
            }
            "Tj" => show(out, encoding, operands.first()),
            "'" => {
                separate(out, '\n');
                show(out, encoding, operands.first());
            }
            "\"" => {
                separate(out, '\n');
                show(out, encoding, operands.get(2));
            }
            "TJ" => {
                let Some(Object::Array(parts)) = operands.first() else {
                    continue;
                };
                for part in parts {
                    match part {
                        // A large backwards shift (in thousandths of the font
                        // size) is how many generators draw a word space.
                        Object::Integer(_) | Object::Real(_)
                            if part.as_float().is_ok_and(|n| n < -200.0) =>
                        {
                            separate(out, ' ');
                        }
                        _ => show(out, encoding, Some(part)),
                    }
                }
            }
            "Td" | "TD" if operands.get(1).is_some_and(|y| !is_zero(y)) => separate(out, '\n'),
            "T*" | "Tm" | "ET" => separate(out, '\n'),
            _ => {}
        }
    }
}

/// Appends a shown string in the current font's encoding.
fn show(out: &mut String, encoding: Option<&Encoding>, operand: Option<&Object>) {
    if let (Some(encoding), Some(Object::String(bytes, _))) = (encoding, operand) {
        if let Ok(text) = Document::decode_text(encoding, bytes) {
            out.push_str(&text);
        }
    }
}

/// Appends a separator unless the text already ends with whitespace.
fn separate(out: &mut String, separator: char) {
    if !out.is_empty() && !out.ends_with(char::is_whitespace) {
        out.push(separator);
    }
}

fn is_zero(number: &Object) -> bool {
    number.as_float().is_ok_and(|n| n == 0.0)
}

#[cfg(test)]
#[path = "pdf_tests.rs"]
mod tests;
