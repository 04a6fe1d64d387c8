#![allow(clippy::unwrap_used)]

use super::*;
use crate::crawl::ROBOTS_AGENT;

fn url(path: &str) -> Url {
    Url::parse("https://example.com")
        .unwrap()
        .join(path)
        .unwrap()
}

fn allowed(robots: &Robots, path: &str) -> bool {
    robots.allows(&url(path))
}

/// In the style of a WordPress site with a named group for us.
const WORDPRESS: &str = "\
# robots.txt for example.com
User-agent: *
Disallow: /wp-admin/
Allow: /wp-admin/admin-ajax.php
Disallow: /*?s=
Disallow: /*.php$
Crawl-delay: 1

User-agent: SwitchboardBot
User-agent: OtherBot
Disallow: /private/
Allow: /private/price-list
Crawl-delay: 2.5

User-agent: GPTBot
Disallow: /

Sitemap: https://example.com/sitemap_index.xml
Sitemap: https://example.com/post-sitemap.xml
";

#[test]
fn our_named_group_wins_over_star() {
    let robots = Robots::parse(ROBOTS_AGENT, WORDPRESS.as_bytes()).unwrap();
    // Only our group applies: the `*` group's rules do not add up with it.
    assert!(allowed(&robots, "/wp-admin/settings"));
    assert!(allowed(&robots, "/search?s=teeth"));
    assert!(!allowed(&robots, "/private/notes"));
    assert!(allowed(&robots, "/private/price-list"));
    assert!(allowed(&robots, "/"));
    assert_eq!(robots.crawl_delay(), Some(Duration::from_millis(2500)));
    assert_eq!(
        robots.sitemaps(),
        [
            "https://example.com/sitemap_index.xml",
            "https://example.com/post-sitemap.xml"
        ]
    );
    // Group names are matched case-insensitively.
    let lower = Robots::parse("switchboardbot", WORDPRESS.as_bytes()).unwrap();
    assert!(!allowed(&lower, "/private/notes"));
}

#[test]
fn star_group_applies_when_we_are_not_named() {
    let robots = Robots::parse("UnnamedBot", WORDPRESS.as_bytes()).unwrap();
    assert!(!allowed(&robots, "/wp-admin/settings"));
    // Allow vs Disallow: the longest matching rule wins.
    assert!(allowed(&robots, "/wp-admin/admin-ajax.php"));
    // `*` matches any run of characters; `$` anchors the end.
    assert!(!allowed(&robots, "/blog/?s=whitening"));
    assert!(!allowed(&robots, "/contact.php"));
    assert!(allowed(&robots, "/contact.php?lang=en"));
    assert!(allowed(&robots, "/private/notes"));
    assert_eq!(robots.crawl_delay(), Some(Duration::from_secs(1)));
}

#[test]
fn equal_length_rules_prefer_allow() {
    let txt = "User-agent: *\nDisallow: /page\nAllow: /page\n";
    let robots = Robots::parse(ROBOTS_AGENT, txt.as_bytes()).unwrap();
    assert!(allowed(&robots, "/page"));
    // More specific Disallow beats a shorter Allow.
    let txt = "User-agent: *\nAllow: /\nDisallow: /team/\n";
    let robots = Robots::parse(ROBOTS_AGENT, txt.as_bytes()).unwrap();
    assert!(!allowed(&robots, "/team/dr-lee"));
    assert!(allowed(&robots, "/teams"));
}

#[test]
fn disallow_everything_and_empty_disallow() {
    let txt = "User-agent: *\nDisallow: /\n";
    let robots = Robots::parse(ROBOTS_AGENT, txt.as_bytes()).unwrap();
    assert!(!allowed(&robots, "/"));
    assert!(!allowed(&robots, "/services"));
    // robots.txt itself stays fetchable.
    assert!(allowed(&robots, "/robots.txt"));
    // An empty Disallow means nothing is disallowed.
    let txt = "User-agent: *\nDisallow:\n";
    let robots = Robots::parse(ROBOTS_AGENT, txt.as_bytes()).unwrap();
    assert!(allowed(&robots, "/anything"));
    assert_eq!(robots.crawl_delay(), None);
    assert!(robots.sitemaps().is_empty());
}

#[test]
fn query_strings_and_percent_encoding_are_matched() {
    let txt = "User-agent: *\nDisallow: /book?step=\nDisallow: /caf%C3%A9/\n";
    let robots = Robots::parse(ROBOTS_AGENT, txt.as_bytes()).unwrap();
    assert!(!allowed(&robots, "/book?step=2"));
    assert!(allowed(&robots, "/book"));
    // `url` percent-encodes the path, as the rule is written.
    assert!(!allowed(&robots, "/café/menu"));
}

#[test]
fn junk_and_odd_files_parse() {
    for txt in [
        "",
        "\u{feff}User-agent: *\r\nDisallow: /x\r\n",
        "<html><body>Not found</body></html>",
        "Disallow: /no-group-line",
        "User-agent: *\nCrawl-delay: soon\nDisallow /missing-colon\n",
        "\0\0\0",
    ] {
        let robots = Robots::parse(ROBOTS_AGENT, txt.as_bytes()).unwrap();
        let _ = allowed(&robots, "/x");
    }
    // Rules before any User-agent line apply to everyone.
    let robots = Robots::parse(ROBOTS_AGENT, b"Disallow: /no-group-line").unwrap();
    assert!(!allowed(&robots, "/no-group-line"));
    let bom = Robots::parse(
        ROBOTS_AGENT,
        "\u{feff}User-agent: *\r\nDisallow: /x\r\n".as_bytes(),
    );
    assert!(!allowed(&bom.unwrap(), "/x"));
}

#[test]
fn oversized_files_are_cut_at_a_line() {
    let mut txt = String::from("User-agent: *\nDisallow: /early\n");
    while txt.len() < ROBOTS_MAX_BYTES {
        txt.push_str("# padding padding padding padding\n");
    }
    txt.push_str("Disallow: /late\n");
    let robots = Robots::parse(ROBOTS_AGENT, txt.as_bytes()).unwrap();
    assert!(!allowed(&robots, "/early"));
    assert!(allowed(&robots, "/late"));
}

#[test]
fn status_policy() {
    let body = b"User-agent: *\nDisallow: /private\n";
    let ok = Robots::for_status(ROBOTS_AGENT, 200, body);
    assert!(!allowed(&ok, "/private"));
    assert!(allowed(&ok, "/public"));
    for status in [404, 410, 400] {
        assert!(allowed(
            &Robots::for_status(ROBOTS_AGENT, status, b""),
            "/private"
        ));
    }
    for status in [401, 403, 429, 500, 503, 302, 100] {
        let robots = Robots::for_status(ROBOTS_AGENT, status, body);
        assert!(!allowed(&robots, "/public"), "status {status}");
    }
    assert!(allowed(&Robots::allow_all(), "/x"));
    assert!(!allowed(&Robots::deny_all(), "/x"));
    assert_eq!(Robots::deny_all().crawl_delay(), None);
    assert!(format!("{:?}", Robots::deny_all()).contains("DenyAll"));
}
