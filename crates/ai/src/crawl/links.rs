//! Finding a page's links.
//!
//! Like [`crate::clean`], a small tag scanner rather than an HTML parser: a
//! crawler only needs `<a href>` and `<base href>`, and those are simple to
//! find reliably once comments, scripts and styles are stepped over (a link
//! written inside a script's string is not a link).

use std::collections::HashSet;

use url::Url;

use crate::clean::{decode_entities, tag_end};

/// The page's `<a href>` links, absolute, without fragments, http(s) only,
/// each once, in document order.
///
/// Relative links are resolved against the document's first
/// `<base href>`, as browsers do, or else against `page_url`. Links that do
/// not parse (`http://[bad`) or use other schemes (`mailto:`, `tel:`,
/// `javascript:`) are left out.
pub fn links(html: &str, page_url: &Url) -> Vec<Url> {
    let tags = anchor_tags(html);
    let base = tags
        .iter()
        .find(|(name, _)| name == "base")
        .and_then(|(_, href)| page_url.join(href).ok())
        .unwrap_or_else(|| page_url.clone());
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for (name, href) in tags {
        if name != "a" {
            continue;
        }
        let Ok(mut url) = base.join(&href) else {
            continue;
        };
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
            continue;
        }
        url.set_fragment(None);
        if seen.insert(url.clone()) {
            out.push(url);
        }
    }
    out
}

/// `(tag name, href)` of every `<a>` and `<base>` tag that has an `href`.
fn anchor_tags(html: &str) -> Vec<(String, String)> {
    // ASCII lowercasing keeps byte offsets, so `lower` is searched and
    // `html` sliced with the same indices (attribute values keep their case).
    let lower = html.to_ascii_lowercase();
    let mut tags = Vec::new();
    let mut pos = 0;
    while let Some(rel) = lower[pos..].find('<') {
        let lt = pos + rel;
        let rest = &lower[lt..];
        if rest.starts_with("<!--") {
            pos = rest.find("-->").map_or(lower.len(), |e| lt + e + 3);
            continue;
        }
        let name: String = rest[1..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect();
        let end = tag_end(&lower, lt);
        pos = match name.as_str() {
            "a" | "base" => {
                if let Some(href) = attribute(&html[lt + 1 + name.len()..end], "href") {
                    tags.push((name, href));
                }
                end
            }
            // Raw text: their content is not markup, skip to the closing tag.
            "script" | "style" => {
                let close = format!("</{name}");
                lower[end..]
                    .find(&close)
                    .map_or(lower.len(), |i| tag_end(&lower, end + i))
            }
            _ => lt + 1,
        };
    }
    tags
}

/// The value of attribute `wanted` in a tag's attribute text (after the tag
/// name, up to and including the `>`), entities decoded and trimmed.
fn attribute(attrs: &str, wanted: &str) -> Option<String> {
    let bytes = attrs.as_bytes();
    let mut i = 0;
    let is_space = |b: u8| b.is_ascii_whitespace();
    while i < bytes.len() {
        while i < bytes.len() && (is_space(bytes[i]) || bytes[i] == b'/') {
            i += 1;
        }
        let name_start = i;
        while i < bytes.len() && !is_space(bytes[i]) && !matches!(bytes[i], b'=' | b'>' | b'/') {
            i += 1;
        }
        let name = &attrs[name_start..i];
        while i < bytes.len() && is_space(bytes[i]) {
            i += 1;
        }
        let mut value = None;
        if i < bytes.len() && bytes[i] == b'=' {
            i += 1;
            while i < bytes.len() && is_space(bytes[i]) {
                i += 1;
            }
            let (start, stop) = match bytes.get(i) {
                Some(&q @ (b'"' | b'\'')) => {
                    let start = i + 1;
                    let stop = attrs[start..]
                        .find(q as char)
                        .map_or(attrs.len(), |e| start + e);
                    i = (stop + 1).min(attrs.len());
                    (start, stop)
                }
                _ => {
                    let start = i;
                    while i < bytes.len() && !is_space(bytes[i]) && bytes[i] != b'>' {
                        i += 1;
                    }
                    (start, i)
                }
            };
            value = Some(&attrs[start..stop]);
        }
        if name.is_empty() {
            // A lone `>` or `=`: step over it so the loop always advances.
            i += 1;
            continue;
        }
        if name.eq_ignore_ascii_case(wanted) {
            // The first occurrence wins, as in browsers.
            return value.map(|v| decode_entities(v).trim().to_owned());
        }
    }
    None
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn page() -> Url {
        Url::parse("https://example.com/services/cleaning.html").unwrap()
    }

    fn strings(urls: &[Url]) -> Vec<&str> {
        urls.iter().map(Url::as_str).collect()
    }

    #[test]
    fn resolves_relative_and_absolute_links() {
        let html = r#"<p>See <a href="prices">prices</a>, <A HREF='/contact#form'>contact</A>,
            <a class=x href=../about.html>about</a>, <a href="//cdn.example.org/x">cdn</a>
            and <a href="https://other.test/?q=1&amp;r=2">elsewhere</a>.</p>"#;
        assert_eq!(
            strings(&links(html, &page())),
            [
                "https://example.com/services/prices",
                "https://example.com/contact",
                "https://example.com/about.html",
                "https://cdn.example.org/x",
                "https://other.test/?q=1&r=2",
            ]
        );
    }

    #[test]
    fn base_href_changes_resolution() {
        let html = r#"<head><base href="https://example.com/docs/"></head>
            <a href="faq">faq</a><a href="/root">root</a>"#;
        assert_eq!(
            strings(&links(html, &page())),
            ["https://example.com/docs/faq", "https://example.com/root"]
        );
        // A relative base is itself resolved against the page.
        let html = r#"<base href="/v2/"><a href="hours">hours</a>"#;
        assert_eq!(
            strings(&links(html, &page())),
            ["https://example.com/v2/hours"]
        );
    }

    #[test]
    fn skips_other_schemes_fragments_and_duplicates() {
        let html = r##"<a href="mailto:hi@example.com">mail</a><a href="tel:+15550100">call</a>
            <a href="javascript:void(0)">js</a><a href="data:text/html,hi">data</a>
            <a href="ftp://example.com/f">ftp</a><a>no href</a><a name="x">anchor</a>
            <a href="/a#one">a1</a><a href="/a#two">a2</a><a href="/a">a3</a>
            <a href="#top">top</a><a href="http://[bad">bad</a>"##;
        assert_eq!(
            strings(&links(html, &page())),
            [
                "https://example.com/a",
                "https://example.com/services/cleaning.html"
            ]
        );
    }

    #[test]
    fn ignores_comments_scripts_and_lookalike_tags() {
        let html = r#"<!-- <a href="/commented">x</a> -->
            <script>document.write('<a href="/scripted">x</a>');</script>
            <style>a[href="/styled"] { color: red }</style>
            <abbr href="/abbr">x</abbr><area href="/area"><article href="/art"></article>
            <a data-href="/data" href = " /real ">real</a><a href="/after-script">ok</a>"#;
        assert_eq!(
            strings(&links(html, &page())),
            [
                "https://example.com/real",
                "https://example.com/after-script"
            ]
        );
    }

    #[test]
    fn malformed_markup_does_not_panic() {
        for html in [
            "<a href=",
            "<a href='/unterminated",
            "<a",
            "<",
            "<a href=\"/ok\"",
            "<script>",
            "<!--",
            "<a =x href=/y>",
            "<a href=/é🦷>",
            "<a/href=/slash>",
        ] {
            let _ = links(html, &page());
        }
        assert_eq!(
            strings(&links("<a =x href=/y>", &page())),
            ["https://example.com/y"]
        );
        assert_eq!(
            strings(&links("<a href=/caf%C3%A9>café</a><a href=/café>", &page())),
            ["https://example.com/caf%C3%A9"]
        );
    }
}
