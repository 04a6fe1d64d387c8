//! Which attachments we carry, and how a stored one is named and served.
//!
//! A fixed list rather than a setting: it is what GHL's conversation view and the MMS /
//! iMessage / WhatsApp providers all render (images, audio, video, PDF), and everything
//! outside it (HTML, SVG, executables, archives) is a risk to serve from our domain for no
//! gain. The type is taken from the provider's `Content-Type` header only; the bytes are
//! never sniffed. Each type has one extension, so a stored object's key says its type and
//! the object store needs no metadata (the local folder keeps none).

/// Allowed content types and the extension their stored objects carry.
const ALLOWED: &[(&str, &str)] = &[
    ("image/jpeg", "jpg"),
    ("image/png", "png"),
    ("image/gif", "gif"),
    ("image/webp", "webp"),
    ("image/heic", "heic"),
    ("image/heif", "heif"),
    ("audio/mpeg", "mp3"),
    ("audio/mp4", "m4a"),
    ("audio/aac", "aac"),
    ("audio/ogg", "ogg"),
    ("audio/amr", "amr"),
    ("audio/wav", "wav"),
    ("video/mp4", "mp4"),
    ("video/quicktime", "mov"),
    ("video/3gpp", "3gp"),
    ("application/pdf", "pdf"),
];

/// The media type of a `Content-Type` value, lowercased, parameters dropped
/// (`Image/JPEG; charset=x` → `image/jpeg`).
pub fn essence(content_type: &str) -> String {
    content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase()
}

/// The extension for an allowed content type (already reduced by [`essence`]); `None`
/// when the type is not allowed.
pub fn extension_for(content_type: &str) -> Option<&'static str> {
    ALLOWED
        .iter()
        .find(|(t, _)| *t == content_type)
        .map(|(_, ext)| *ext)
}

/// The content type a stored object is served with, from its key's extension.
pub fn content_type_for_key(key: &str) -> &'static str {
    let ext = key.rsplit_once('.').map(|(_, e)| e).unwrap_or_default();
    ALLOWED
        .iter()
        .find(|(_, e)| *e == ext)
        .map(|(t, _)| *t)
        .unwrap_or("application/octet-stream")
}

/// A safe file-name stem from an attachment reference: the last path segment of a URL
/// without its extension, only ASCII letters, digits, `-` and `_`, at most 40 characters;
/// `file` when nothing is left.
pub fn sanitised_name(reference: &str) -> String {
    let path = url::Url::parse(reference)
        .map(|u| u.path().to_string())
        .unwrap_or_else(|_| reference.to_string());
    let last = path.rsplit('/').next().unwrap_or_default();
    let stem = last.rsplit_once('.').map(|(s, _)| s).unwrap_or(last);
    // Percent escapes (`%20`) are dropped whole rather than leaving their digits behind.
    let mut chars = stem.chars();
    let mut name = String::new();
    while let Some(c) = chars.next() {
        if c == '%' {
            chars.nth(1);
        } else if (c.is_ascii_alphanumeric() || c == '-' || c == '_') && name.len() < 40 {
            name.push(c);
        }
    }
    if name.is_empty() {
        "file".to_string()
    } else {
        name
    }
}

/// A size for people: `12.3 MB` (1 MB = 1,048,576 bytes, as the limit is set).
pub fn human_size(bytes: u64) -> String {
    const MB: f64 = 1024.0 * 1024.0;
    if bytes < 1024 * 1024 {
        return format!("{:.0} KB", (bytes as f64 / 1024.0).ceil());
    }
    let text = format!("{:.1}", bytes as f64 / MB);
    format!("{} MB", text.strip_suffix(".0").unwrap_or(&text))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn types_are_read_from_the_header_and_limited_to_the_list() {
        assert_eq!(essence("Image/JPEG; charset=binary"), "image/jpeg");
        assert_eq!(extension_for("image/jpeg"), Some("jpg"));
        assert_eq!(extension_for("application/pdf"), Some("pdf"));
        assert_eq!(extension_for("image/svg+xml"), None);
        assert_eq!(extension_for("text/html"), None);
        assert_eq!(extension_for(""), None);
        assert_eq!(content_type_for_key("a/b/0-photo.jpg"), "image/jpeg");
        assert_eq!(
            content_type_for_key("a/b/0-x.html"),
            "application/octet-stream"
        );
        assert_eq!(content_type_for_key("noext"), "application/octet-stream");
    }

    #[test]
    fn names_are_sanitised() {
        assert_eq!(
            sanitised_name("https://cdn.example/a/IMG_0042.HEIC?x=1"),
            "IMG_0042"
        );
        assert_eq!(sanitised_name("https://cdn.example/a/../%2e%2e/.."), "file");
        assert_eq!(sanitised_name("https://cdn.example/"), "file");
        assert_eq!(sanitised_name("media-id-123"), "media-id-123");
        assert_eq!(sanitised_name("https://x/we ird&name!.jpg"), "weirdname");
        assert_eq!(
            sanitised_name(&format!("https://x/{}.png", "a".repeat(90))).len(),
            40
        );
    }

    #[test]
    fn sizes_read_like_the_limit() {
        assert_eq!(human_size(5 * 1024 * 1024), "5 MB");
        assert_eq!(human_size(12_900_000), "12.3 MB");
        assert_eq!(human_size(2_000), "2 KB");
    }
}
