//! A `multipart/form-data` body (RFC 7578), built in memory: UniPile takes its sends only
//! this way.
//!
//! No crate encodes multipart without doing the I/O as well (reqwest's and hyper's encoders
//! stream into their own clients), and a channel is sans-IO: it hands the shared executor
//! finished bytes. The format needed here is small: text fields and files, each part with
//! `Content-Disposition: form-data; name="…"` (plus `filename="…"` and a `Content-Type` for
//! files), parts separated by `--boundary` lines, every line ending in CRLF.
//!
//! The boundary is derived from the content (a SHA-256 of every part), so the same message
//! gives the same bytes (tests can compare them), and it is checked against the content: a
//! boundary must never occur inside a part, or the receiver would cut the part there.

use sha2::{Digest, Sha256};

/// One part: a text field or a file.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Text {
        name: String,
        value: String,
    },
    File {
        name: String,
        file_name: String,
        content_type: String,
        bytes: bytes::Bytes,
    },
}

/// A form being built; [`Form::finish`] gives the content type and the body.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Form {
    parts: Vec<Part>,
}

impl Form {
    pub fn new() -> Self {
        Self::default()
    }

    /// A text field. A name may repeat (UniPile's `attendees_ids`).
    pub fn text(mut self, name: &str, value: &str) -> Self {
        self.parts.push(Part::Text {
            name: name.to_string(),
            value: value.to_string(),
        });
        self
    }

    /// A file field. A blank content type is sent as `application/octet-stream`.
    pub fn file(
        mut self,
        name: &str,
        file_name: &str,
        content_type: &str,
        bytes: bytes::Bytes,
    ) -> Self {
        let content_type = header_value(content_type);
        self.parts.push(Part::File {
            name: name.to_string(),
            file_name: file_name.to_string(),
            content_type: if content_type.is_empty() {
                "application/octet-stream".to_string()
            } else {
                content_type
            },
            bytes,
        });
        self
    }

    /// `(content type with its boundary, body)`.
    pub fn finish(self) -> (String, Vec<u8>) {
        let boundary = self.boundary();
        let mut body = Vec::new();
        for part in &self.parts {
            body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
            match part {
                Part::Text { name, value } => {
                    body.extend_from_slice(
                        format!(
                            "Content-Disposition: form-data; name=\"{}\"\r\n\r\n",
                            quoted(name)
                        )
                        .as_bytes(),
                    );
                    body.extend_from_slice(value.as_bytes());
                }
                Part::File {
                    name,
                    file_name,
                    content_type,
                    bytes,
                } => {
                    body.extend_from_slice(
                        format!(
                            "Content-Disposition: form-data; name=\"{}\"; filename=\"{}\"\r\n\
                             Content-Type: {content_type}\r\n\r\n",
                            quoted(name),
                            quoted(file_name)
                        )
                        .as_bytes(),
                    );
                    body.extend_from_slice(bytes);
                }
            }
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
        (format!("multipart/form-data; boundary={boundary}"), body)
    }

    /// A boundary that occurs in no part: a hash of the content, re-salted in the
    /// (practically impossible) case that a part contains it.
    fn boundary(&self) -> String {
        (0u32..)
            .map(|salt| {
                let mut hash = Sha256::new();
                hash.update(salt.to_be_bytes());
                for part in &self.parts {
                    match part {
                        Part::Text { name, value } => {
                            hash.update(name.as_bytes());
                            hash.update(value.as_bytes());
                        }
                        Part::File {
                            name,
                            file_name,
                            bytes,
                            ..
                        } => {
                            hash.update(name.as_bytes());
                            hash.update(file_name.as_bytes());
                            hash.update(bytes);
                        }
                    }
                }
                format!("switchboard-{}", hex::encode(&hash.finalize()[..16]))
            })
            .find(|candidate| !self.contains(candidate.as_bytes()))
            .unwrap_or_default()
    }

    fn contains(&self, needle: &[u8]) -> bool {
        let within = |haystack: &[u8]| haystack.windows(needle.len()).any(|w| w == needle);
        self.parts.iter().any(|part| match part {
            Part::Text { value, .. } => within(value.as_bytes()),
            Part::File { bytes, .. } => within(bytes),
        })
    }
}

/// A name or file name inside `"…"` of a `Content-Disposition` header, escaped as the HTML
/// form-submission algorithm does (a quote as `%22`, CR and LF as `%0D` and `%0A`; other
/// control characters dropped), so a hostile file name cannot end the header or add one.
fn quoted(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '"' => out.push_str("%22"),
            '\r' => out.push_str("%0D"),
            '\n' => out.push_str("%0A"),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// A header value with control characters (CR, LF above all) removed.
fn header_value(value: &str) -> String {
    value.trim().chars().filter(|c| !c.is_control()).collect()
}
