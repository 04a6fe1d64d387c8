//! Turning crawled HTML and extracted text into clean plain text.
//!
//! This is a small tag scanner, not an HTML parser: knowledge-base pages only
//! need their readable text, and a full parser would be a heavy dependency.
//! Page chrome (navigation, headers, footers) and non-text content (scripts,
//! styles, SVG, templates) is dropped whole because it repeats on every page
//! and would pollute search results. Block elements become line breaks, and
//! paragraph-like blocks become blank lines, because the chunker prefers to
//! cut at blank lines.

/// Elements whose whole content is dropped.
const SKIPPED: &[&str] = &[
    "script", "style", "noscript", "nav", "footer", "header", "svg", "template",
    // The title is available separately through `page_title`.
    "title",
];

/// Elements that start a new paragraph (blank line).
const PARAGRAPHS: &[&str] = &[
    "p",
    "div",
    "section",
    "article",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "ul",
    "ol",
    "table",
    "blockquote",
    "pre",
];

/// Elements that start a new line.
const LINES: &[&str] = &["br", "li", "tr", "hr"];

/// Extracts readable text from an HTML document or fragment.
pub fn html_to_text(html: &str) -> String {
    // ASCII lowercasing keeps byte offsets identical, so `lower` can be
    // searched and `html` sliced with the same indices.
    let lower = html.to_ascii_lowercase();
    let mut out = String::with_capacity(html.len() / 2);
    let mut pos = 0;
    while let Some(rel) = html[pos..].find('<') {
        let lt = pos + rel;
        push_text(&mut out, &html[pos..lt]);
        pos = skip_markup(html, &lower, lt, &mut out);
    }
    push_text(&mut out, &html[pos..]);
    tidy_lines(&out)
}

/// Handles the markup starting at `lt` (a `<`) and returns where text resumes.
fn skip_markup(html: &str, lower: &str, lt: usize, out: &mut String) -> usize {
    let rest = &lower[lt..];
    if rest.starts_with("<!--") {
        return rest.find("-->").map_or(html.len(), |e| lt + e + 3);
    }
    if rest.starts_with("<!") || rest.starts_with("<?") {
        return tag_end(lower, lt);
    }
    let closing = rest.starts_with("</");
    let name_start = lt + if closing { 2 } else { 1 };
    let name: String = lower[name_start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric())
        .collect();
    if name.is_empty() || !name.as_bytes()[0].is_ascii_alphabetic() {
        // A stray `<` such as "a < b": keep it as text.
        out.push('<');
        return lt + 1;
    }
    let end = tag_end(lower, lt);
    let self_closing = lower[..end].ends_with("/>");
    let name = name.as_str();
    if SKIPPED.contains(&name) {
        if !closing && !self_closing {
            return skip_element(lower, name, end);
        }
    } else if PARAGRAPHS.contains(&name) {
        out.push_str("\n\n");
    } else if LINES.contains(&name) && !closing {
        // Only opening tags: `</li><li>` must give one line break, not two.
        out.push('\n');
    } else if name == "td" || name == "th" {
        out.push(' ');
    }
    end
}

/// Index just past the `>` that closes the tag at `lt`, ignoring `>` inside quotes.
pub(crate) fn tag_end(lower: &str, lt: usize) -> usize {
    let mut quote: Option<char> = None;
    for (i, c) in lower[lt..].char_indices() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(c),
            (None, '>') => return lt + i + 1,
            _ => {}
        }
    }
    lower.len()
}

/// Skips to just past the matching `</name>`, counting nested `<name` opens.
fn skip_element(lower: &str, name: &str, mut pos: usize) -> usize {
    let open = format!("<{name}");
    let close = format!("</{name}");
    let raw_text = name == "script" || name == "style";
    let mut depth = 1usize;
    while pos < lower.len() {
        let next_close = lower[pos..].find(&close).map(|i| pos + i);
        let next_open = if raw_text {
            None
        } else {
            find_tag(lower, &open, pos)
        };
        match (next_open, next_close) {
            (Some(o), Some(c)) if o < c => {
                depth += 1;
                pos = tag_end(lower, o);
            }
            (_, Some(c)) => {
                depth -= 1;
                pos = tag_end(lower, c);
                if depth == 0 {
                    return pos;
                }
            }
            (_, None) => return lower.len(),
        }
    }
    lower.len()
}

/// Finds `<name` followed by a non-name character (so `<nav` does not match `<navbar`).
fn find_tag(lower: &str, open: &str, from: usize) -> Option<usize> {
    let mut pos = from;
    while let Some(i) = lower[pos..].find(open) {
        let at = pos + i;
        let after = lower[at + open.len()..].chars().next();
        if !after.is_some_and(|c| c.is_ascii_alphanumeric() || c == '-') {
            return Some(at);
        }
        pos = at + open.len();
    }
    None
}

/// Appends source text: HTML whitespace (including newlines) is just spacing.
fn push_text(out: &mut String, raw: &str) {
    for c in decode_entities(raw).chars() {
        out.push(if c.is_whitespace() { ' ' } else { c });
    }
}

/// Decodes the common named entities and numeric character references.
pub(crate) fn decode_entities(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        rest = &rest[amp..];
        let decoded = rest[1..]
            .find(';')
            .filter(|&semi| semi <= 10)
            .and_then(|semi| decode_entity(&rest[1..=semi]).map(|c| (c, semi + 2)));
        match decoded {
            Some((c, len)) => {
                out.push(c);
                rest = &rest[len..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

fn decode_entity(name: &str) -> Option<char> {
    let code = match name {
        "amp" => return Some('&'),
        "lt" => return Some('<'),
        "gt" => return Some('>'),
        "quot" => return Some('"'),
        "apos" => return Some('\''),
        "nbsp" => return Some('\u{a0}'),
        _ => {
            let num = name.strip_prefix('#')?;
            match num.strip_prefix(['x', 'X']) {
                Some(hex) => u32::from_str_radix(hex, 16).ok()?,
                None => num.parse::<u32>().ok()?,
            }
        }
    };
    // Invalid code points and NUL become the replacement character, as browsers do.
    Some(
        char::from_u32(code)
            .filter(|&c| c != '\0')
            .unwrap_or('\u{fffd}'),
    )
}

/// The document's `<title>`, cleaned, if it has a non-empty one.
pub fn page_title(html: &str) -> Option<String> {
    let lower = html.to_ascii_lowercase();
    let open = find_tag(&lower, "<title", 0)?;
    let start = tag_end(&lower, open);
    let end = lower[start..]
        .find("</title")
        .map_or(html.len(), |e| start + e);
    let title = decode_entities(&html[start..end])
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    (!title.is_empty()).then_some(title)
}

/// Normalises plain or PDF-extracted text.
///
/// Line endings become `\n`; a form feed (PDF page break) becomes a paragraph
/// break; other control characters and zero-width characters are removed;
/// runs of spaces collapse, lines are trimmed, and blank-line runs shrink to one.
pub fn normalise_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\r' => {
                chars.next_if_eq(&'\n');
                out.push('\n');
            }
            '\u{0c}' => out.push_str("\n\n"),
            '\n' => out.push('\n'),
            '\t' => out.push(' '),
            c if c.is_control() || is_zero_width(c) => {}
            c => out.push(c),
        }
    }
    tidy_lines(&out)
}

/// Zero-width and invisible formatting characters that only hide things.
pub(crate) fn is_zero_width(c: char) -> bool {
    matches!(
        c,
        '\u{200b}'..='\u{200f}' | '\u{2060}'..='\u{2064}' | '\u{feff}' | '\u{00ad}'
    )
}

/// Collapses whitespace inside lines, trims lines, keeps at most one blank line
/// between paragraphs and trims the whole text.
fn tidy_lines(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut blank_pending = false;
    for line in text.split('\n') {
        let words: Vec<&str> = line.split_whitespace().collect();
        if words.is_empty() {
            blank_pending = !out.is_empty();
            continue;
        }
        if !out.is_empty() {
            out.push_str(if blank_pending { "\n\n" } else { "\n" });
        }
        blank_pending = false;
        out.push_str(&words.join(" "));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drops_chrome_and_non_text() {
        let html = "<html><head><title>x</title><style>p{color:red}</style>\
            <script>var a = '</p>';</script></head><body>\
            <header>Logo</header><nav><ul><li>Home</li></ul></nav>\
            <!-- secret comment --><noscript>Enable JS</noscript>\
            <svg><text>icon</text></svg><template><p>tpl</p></template>\
            <p>Real content</p><footer>(c) 2024</footer></body></html>";
        let text = html_to_text(html);
        assert_eq!(text, "Real content");
    }

    #[test]
    fn nested_skipped_elements() {
        let html = "<nav>a<nav>b</nav>c</nav><p>kept</p><navbar>also kept</navbar>";
        assert_eq!(html_to_text(html), "kept\n\nalso kept");
    }

    #[test]
    fn blocks_become_breaks_and_whitespace_collapses() {
        let html = "<h1>Opening   hours</h1>\n<p>Mon–Fri\n   9–5<br>Sat 10–2</p>\
            <ul><li>One</li><li>Two</li></ul><div><div><div>Deep</div></div></div>";
        assert_eq!(
            html_to_text(html),
            "Opening hours\n\nMon–Fri 9–5\nSat 10–2\n\nOne\nTwo\n\nDeep"
        );
    }

    #[test]
    fn decodes_entities() {
        let html = "<p>Tom &amp; Jerry &lt;3 &quot;hi&quot; it&#39;s &apos;x&apos;&nbsp;caf&#233; &#x1F600; &bogus; a&b</p>";
        assert_eq!(
            html_to_text(html),
            "Tom & Jerry <3 \"hi\" it's 'x' café 😀 &bogus; a&b"
        );
    }

    #[test]
    fn stray_angle_brackets_and_attributes() {
        let html = "<p title=\"a > b\">1 < 2</p><a href='x>y'>link</a>";
        assert_eq!(html_to_text(html), "1 < 2\n\nlink");
    }

    #[test]
    fn unterminated_markup_does_not_panic() {
        assert_eq!(html_to_text("<p>hello <script>never closed"), "hello");
        assert_eq!(html_to_text("text <!-- open"), "text");
        assert_eq!(html_to_text("a <b"), "a");
        assert_eq!(html_to_text(""), "");
    }

    #[test]
    fn title_extraction() {
        let html = "<head><TITLE> Smile &amp; Co\n Dental </TITLE></head>";
        assert_eq!(page_title(html).as_deref(), Some("Smile & Co Dental"));
        assert_eq!(page_title("<title>  </title>"), None);
        assert_eq!(page_title("<p>no title</p>"), None);
    }

    #[test]
    fn normalises_plain_text() {
        let text = "Line one\r\nLine\ttwo  here\rthree\u{0c}Page two\u{200b}!\u{7}\n\n\n\n  end  ";
        assert_eq!(
            normalise_text(text),
            "Line one\nLine two here\nthree\n\nPage two!\n\nend"
        );
    }
}
