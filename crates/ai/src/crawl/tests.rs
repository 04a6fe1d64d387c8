#![allow(clippy::unwrap_used)]

use super::*;

fn u(s: &str) -> Url {
    Url::parse(s).unwrap()
}

fn drain(plan: &mut CrawlPlan) -> Vec<(String, u32)> {
    std::iter::from_fn(|| plan.next())
        .map(|(url, depth)| (url.to_string(), depth))
        .collect()
}

#[test]
fn same_site_rules() {
    let start = u("https://www.example.com/");
    assert!(same_site(&start, &u("https://www.example.com/a")));
    assert!(same_site(&start, &u("http://example.com/a")));
    assert!(same_site(&start, &u("HTTPS://WWW.EXAMPLE.COM:443/a")));
    assert!(same_site(
        &u("http://example.com"),
        &u("https://www.example.com/")
    ));
    assert!(same_site(&start, &u("https://example.com./a")));
    assert!(!same_site(&start, &u("https://blog.example.com/")));
    assert!(!same_site(&start, &u("https://example.com.evil.test/")));
    assert!(!same_site(&start, &u("https://notexample.com/")));
    assert!(!same_site(&start, &u("https://example.com:8443/")));
    assert!(!same_site(&start, &u("ftp://example.com/")));
    assert!(!same_site(&start, &u("mailto:hi@example.com")));
    assert!(same_site(
        &u("http://127.0.0.1:8080/"),
        &u("https://127.0.0.1:8080/x")
    ));
    assert!(!same_site(
        &u("http://127.0.0.1:8080/"),
        &u("http://127.0.0.1/x")
    ));
}

#[test]
fn normalise_drops_fragment_and_empty_query() {
    assert_eq!(
        normalise(&u("HTTPS://Example.COM:443/Page?#top")).as_str(),
        "https://example.com/Page"
    );
    assert_eq!(
        normalise(&u("http://example.com:80")).as_str(),
        "http://example.com/"
    );
    // Paths are case-sensitive and queries matter.
    assert_eq!(
        normalise(&u("https://example.com/a?b=1#x")).as_str(),
        "https://example.com/a?b=1"
    );
}

#[test]
fn breadth_first_with_depths() {
    let mut plan = CrawlPlan::new(u("https://example.com/#intro"), 2, 100);
    assert_eq!(plan.start().as_str(), "https://example.com/");
    assert_eq!(plan.next(), Some((u("https://example.com/"), 0)));
    plan.discovered(0, [u("https://example.com/a"), u("https://example.com/b")]);
    assert_eq!(plan.pending(), 2);
    let (a, depth) = plan.next().unwrap();
    assert_eq!((a.as_str(), depth), ("https://example.com/a", 1));
    plan.discovered(1, [u("https://example.com/a/deeper")]);
    // `b` (depth 1) comes before `a/deeper` (depth 2).
    assert_eq!(
        drain(&mut plan),
        [
            ("https://example.com/b".to_owned(), 1),
            ("https://example.com/a/deeper".to_owned(), 2)
        ]
    );
    // Links from a depth-2 page would be depth 3: over the limit.
    plan.discovered(2, [u("https://example.com/too-deep")]);
    assert_eq!(plan.next(), None);
    assert_eq!(plan.pages_handed_out(), 4);
}

#[test]
fn depth_zero_is_the_start_page_only() {
    let mut plan = CrawlPlan::new(u("https://example.com/"), 0, 10);
    let (_, depth) = plan.next().unwrap();
    plan.discovered(depth, [u("https://example.com/a")]);
    assert_eq!(plan.next(), None);
    // Even a huge depth does not overflow.
    let mut plan = CrawlPlan::new(u("https://example.com/"), u32::MAX, 10);
    plan.discovered(u32::MAX, [u("https://example.com/a")]);
    plan.discovered(u32::MAX - 1, [u("https://example.com/b")]);
    assert_eq!(drain(&mut plan).len(), 2);
}

#[test]
fn never_revisits_a_normalised_url() {
    let mut plan = CrawlPlan::new(u("https://example.com/"), 5, 100);
    plan.next();
    plan.discovered(
        0,
        [
            u("https://EXAMPLE.com/"),
            u("https://example.com:443/#top"),
            u("https://example.com/?"),
            u("https://example.com/a"),
            u("https://example.com/a#section"),
            u("https://Example.com:443/a"),
        ],
    );
    assert_eq!(drain(&mut plan), [("https://example.com/a".to_owned(), 1)]);
    // Rediscovered later from a deeper page: still not queued again.
    plan.discovered(1, [u("https://example.com/a"), u("https://example.com/")]);
    assert_eq!(plan.next(), None);
    // A redirect target marked seen is not fetched again.
    assert!(plan.mark_seen(&u("https://example.com/moved#x")));
    assert!(!plan.mark_seen(&u("https://example.com/moved")));
    plan.discovered(1, [u("https://example.com/moved")]);
    assert_eq!(plan.next(), None);
}

#[test]
fn keeps_same_site_pages_only() {
    let mut plan = CrawlPlan::new(u("https://www.example.com/"), 3, 100);
    plan.next();
    plan.discovered(
        0,
        [
            u("http://example.com/http-version"),
            u("https://other.test/"),
            u("https://cdn.example.com/x"),
            u("https://www.example.com:8080/staging"),
            u("https://www.example.com/logo.PNG"),
            u("https://www.example.com/styles/site.css?v=3"),
            u("https://www.example.com/menu.pdf"),
            u("https://www.example.com/v1.2/about"),
        ],
    );
    assert_eq!(
        drain(&mut plan),
        [
            ("http://example.com/http-version".to_owned(), 1),
            ("https://www.example.com/menu.pdf".to_owned(), 1),
            ("https://www.example.com/v1.2/about".to_owned(), 1),
        ]
    );
}

#[test]
fn page_limit_bounds_pages_and_memory() {
    let mut plan = CrawlPlan::new(u("https://example.com/"), 10, 3);
    let (_, depth) = plan.next().unwrap();
    let many: Vec<Url> = (0..1000)
        .map(|i| u(&format!("https://example.com/p{i}")))
        .collect();
    plan.discovered(depth, many);
    // One page handed out, so at most two more are queued.
    assert_eq!(plan.pending(), 2);
    assert_eq!(drain(&mut plan).len(), 2);
    assert_eq!(plan.pages_handed_out(), 3);
    plan.discovered(1, [u("https://example.com/late")]);
    assert_eq!(plan.next(), None);
    // A zero budget hands out nothing.
    let mut none = CrawlPlan::new(u("https://example.com/"), 10, 0);
    assert_eq!(none.next(), None);
}

#[test]
fn robots_rules_skip_pages_without_spending_budget() {
    let txt = "User-agent: SwitchboardBot\nDisallow: /private\n";
    let mut plan = CrawlPlan::new(u("https://example.com/"), 3, 2);
    plan.set_robots(Robots::parse(ROBOTS_AGENT, txt.as_bytes()).unwrap());
    plan.next();
    plan.discovered(
        0,
        [
            u("https://example.com/private/a"),
            u("https://example.com/public"),
        ],
    );
    // Disallowed links do not take the budget's last place.
    assert_eq!(
        drain(&mut plan),
        [("https://example.com/public".to_owned(), 1)]
    );
    assert_eq!(plan.pages_handed_out(), 2);

    // Rules set after pages were queued still apply when they are handed out.
    let mut plan = CrawlPlan::new(u("https://example.com/"), 3, 10);
    plan.next();
    plan.discovered(
        0,
        [
            u("https://example.com/private/a"),
            u("https://example.com/public"),
        ],
    );
    plan.set_robots(Robots::parse(ROBOTS_AGENT, txt.as_bytes()).unwrap());
    assert_eq!(
        drain(&mut plan),
        [("https://example.com/public".to_owned(), 1)]
    );
    assert_eq!(plan.pages_handed_out(), 2);
    // A denied site yields nothing, start page included.
    let mut denied = CrawlPlan::new(u("https://example.com/"), 3, 10);
    denied.set_robots(Robots::deny_all());
    assert_eq!(denied.next(), None);
    assert!(!denied.robots().allows(&u("https://example.com/")));
}

#[test]
fn non_web_start_yields_nothing() {
    let mut plan = CrawlPlan::new(u("ftp://example.com/"), 3, 10);
    assert_eq!(plan.next(), None);
}

#[test]
fn crawls_a_small_site_end_to_end() {
    // A site as a map of page → HTML, crawled through `links`.
    let site = [
        (
            "https://example.com/",
            r#"<a href="/services">S</a><a href="/about">A</a><a href="https://facebook.com/x">f</a>"#,
        ),
        (
            "https://example.com/services",
            r#"<a href="cleaning">C</a><a href="/">home</a><a href="/services#top">self</a>"#,
        ),
        (
            "https://example.com/about",
            r#"<a href="/services">S</a><a href="/team">T</a>"#,
        ),
        (
            "https://example.com/cleaning",
            r#"<a href="/cleaning/aftercare">deep</a>"#,
        ),
        ("https://example.com/team", ""),
    ];
    let fetch = |url: &Url| {
        site.iter()
            .find(|(u, _)| *u == url.as_str())
            .map_or("", |(_, html)| *html)
    };
    let mut plan = CrawlPlan::new(u("https://example.com/"), 2, 50);
    let mut order = Vec::new();
    while let Some((url, depth)) = plan.next() {
        order.push((url.to_string(), depth));
        plan.discovered(depth, links(fetch(&url), &url));
    }
    let order: Vec<(&str, u32)> = order.iter().map(|(u, d)| (u.as_str(), *d)).collect();
    assert_eq!(
        order,
        [
            ("https://example.com/", 0),
            ("https://example.com/services", 1),
            ("https://example.com/about", 1),
            ("https://example.com/cleaning", 2),
            ("https://example.com/team", 2),
        ]
    );
}
