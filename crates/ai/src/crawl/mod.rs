//! The pure parts of a same-site crawler for a location's website.
//!
//! A knowledge source may be a website: the business's own pages about
//! services, prices and policies. Fetching is done elsewhere (it needs the
//! network, timeouts and the outbound client); this module decides *what* to
//! fetch, so those decisions can be tested without a server:
//!
//! - [`links`] finds a page's links, resolved the way a browser would;
//! - [`same_site`] keeps the crawl on the business's site;
//! - [`CrawlPlan`] is the frontier: breadth-first, never the same page twice,
//!   within a depth and a page budget, and within robots.txt once it is known;
//! - [`Robots`] answers whether robots.txt lets us fetch a URL.
//!
//! A fetching loop looks like this (errors and politeness delays left out):
//!
//! ```
//! # use ai::crawl::{links, CrawlPlan, Robots};
//! # let fetch = |_: &url::Url| String::from("<a href='/prices'>Prices</a>");
//! let start = url::Url::parse("https://example.com/").unwrap();
//! let mut plan = CrawlPlan::new(start, 2, 50);
//! plan.set_robots(Robots::allow_all()); // from GET /robots.txt, see `Robots::for_status`
//! while let Some((url, depth)) = plan.next() {
//!     let html = fetch(&url);
//!     plan.discovered(depth, links(&html, &url));
//! }
//! ```

mod links;
mod robots;

use std::collections::{HashSet, VecDeque};

use url::Url;

pub use links::links;
pub use robots::{Robots, RobotsError, ROBOTS_MAX_BYTES};

/// The `User-Agent` header our crawler sends, with a pointer to what it is.
pub const USER_AGENT: &str = "SwitchboardBot/1.0 (+knowledge-base crawler)";

/// The product token robots.txt groups name to address our crawler
/// (`User-agent: SwitchboardBot`), per RFC 9309 section 2.2.1.
pub const ROBOTS_AGENT: &str = "SwitchboardBot";

/// File extensions that are never knowledge: fetching them would spend the
/// page budget on images, media, archives and page assets. PDFs are kept,
/// since they are a knowledge source of their own.
const SKIPPED_EXTENSIONS: &[&str] = &[
    "7z", "avi", "bmp", "css", "dmg", "doc", "docx", "eot", "exe", "gif", "gz", "ico", "jpeg",
    "jpg", "js", "m4a", "mov", "mp3", "mp4", "mpeg", "ogg", "otf", "png", "ppt", "pptx", "rar",
    "svg", "tar", "tif", "tiff", "ttf", "wav", "webm", "webp", "woff", "woff2", "xls", "xlsx",
    "zip",
];

/// Whether `candidate` belongs to the same site as `start`.
///
/// Hosts are compared without a leading `www.`, and the scheme is ignored,
/// because businesses routinely link `http://example.com` and
/// `https://www.example.com` to the same pages. An explicit non-default port
/// is a different site (often a staging server); `url` already drops
/// default ports, so `https://x:443` equals `https://x`.
pub fn same_site(start: &Url, candidate: &Url) -> bool {
    let host = |u: &Url| {
        u.host_str().map(|h| {
            let h = h.trim_end_matches('.');
            h.strip_prefix("www.").unwrap_or(h).to_ascii_lowercase()
        })
    };
    let web = |u: &Url| matches!(u.scheme(), "http" | "https");
    web(start)
        && web(candidate)
        && host(start).is_some()
        && host(start) == host(candidate)
        && start.port() == candidate.port()
}

/// The form of a URL used to recognise a page already seen.
///
/// The `url` crate already lowercases the host and drops a default port; on
/// top of that the fragment is removed (it names a place in the same page)
/// and an empty query (`/page?`) is the same as none.
pub fn normalise(url: &Url) -> Url {
    let mut url = url.clone();
    url.set_fragment(None);
    if url.query() == Some("") {
        url.set_query(None);
    }
    url
}

/// Whether a URL's path ends in an extension that is never a knowledge page.
fn is_asset(url: &Url) -> bool {
    let last = url.path().rsplit('/').next().unwrap_or_default();
    last.rsplit_once('.')
        .is_some_and(|(_, ext)| SKIPPED_EXTENSIONS.contains(&ext.to_ascii_lowercase().as_str()))
}

/// The crawl frontier of one site: which page to fetch next.
///
/// Breadth-first, so the pages closest to the start (usually the most
/// important: services, prices, contact) are fetched before the budget runs
/// out. The budget counts pages handed out by [`next`](Self::next), whatever
/// the fetch's outcome, so a site full of broken links still ends. Pages that
/// robots.txt disallows are skipped without spending the budget.
#[derive(Debug)]
pub struct CrawlPlan {
    start: Url,
    max_depth: u32,
    max_pages: usize,
    queue: VecDeque<(Url, u32)>,
    seen: HashSet<Url>,
    handed_out: usize,
    robots: Robots,
}

impl CrawlPlan {
    /// A plan that starts at `start` (depth 0), follows links at most
    /// `max_depth` clicks away, and hands out at most `max_pages` pages.
    ///
    /// Robots rules allow everything until [`set_robots`](Self::set_robots)
    /// is called; the fetcher should fetch robots.txt before the first page.
    pub fn new(start: Url, max_depth: u32, max_pages: usize) -> Self {
        let start = normalise(&start);
        let mut plan = Self {
            start: start.clone(),
            max_depth,
            max_pages,
            queue: VecDeque::new(),
            seen: HashSet::new(),
            handed_out: 0,
            robots: Robots::allow_all(),
        };
        if matches!(start.scheme(), "http" | "https") && max_pages > 0 {
            plan.seen.insert(start.clone());
            plan.queue.push_back((start, 0));
        }
        plan
    }

    /// The start page, normalised.
    pub fn start(&self) -> &Url {
        &self.start
    }

    /// Applies the site's robots.txt to every page handed out from now on.
    pub fn set_robots(&mut self, robots: Robots) {
        self.robots = robots;
    }

    /// The robots rules in force.
    pub fn robots(&self) -> &Robots {
        &self.robots
    }

    /// The next page to fetch and its depth, or `None` when the frontier is
    /// empty or the page budget is spent.
    #[allow(clippy::should_implement_trait)] // Not an iterator: `discovered` feeds it between calls.
    pub fn next(&mut self) -> Option<(Url, u32)> {
        while self.handed_out < self.max_pages {
            let (url, depth) = self.queue.pop_front()?;
            if self.robots.allows(&url) {
                self.handed_out += 1;
                return Some((url, depth));
            }
        }
        None
    }

    /// Adds the links found on a page fetched at `from_depth`.
    ///
    /// Only same-site http(s) pages, not seen before, not obvious assets and
    /// allowed by robots.txt, are queued, at `from_depth + 1`, and only if that is within the depth
    /// limit. The queue never holds more pages than the budget has left, so
    /// a huge site costs no memory beyond the budget.
    pub fn discovered(&mut self, from_depth: u32, links: impl IntoIterator<Item = Url>) {
        let Some(depth) = from_depth.checked_add(1).filter(|d| *d <= self.max_depth) else {
            return;
        };
        for link in links {
            if self.handed_out + self.queue.len() >= self.max_pages {
                return;
            }
            let link = normalise(&link);
            if !same_site(&self.start, &link) || is_asset(&link) || !self.robots.allows(&link) {
                continue;
            }
            if self.seen.insert(link.clone()) {
                self.queue.push_back((link, depth));
            }
        }
    }

    /// Records a page reached some other way, typically the target of a
    /// redirect, so it is not fetched again; returns whether it was new.
    pub fn mark_seen(&mut self, url: &Url) -> bool {
        self.seen.insert(normalise(url))
    }

    /// How many pages [`next`](Self::next) has handed out.
    pub fn pages_handed_out(&self) -> usize {
        self.handed_out
    }

    /// How many pages wait in the frontier.
    pub fn pending(&self) -> usize {
        self.queue.len()
    }
}

#[cfg(test)]
mod tests;
