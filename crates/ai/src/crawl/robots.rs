//! robots.txt, through the `texting_robots` crate.
//!
//! Parsing and matching robots.txt has many real-world edge cases (groups,
//! `*` and `$` wildcards, longest-match precedence, Allow winning ties,
//! percent-encoding, junk lines). `texting_robots` follows RFC 9309 and
//! Google's reading of it, carries Google's and Moz's test suites, and was
//! run over millions of real robots.txt files without a panic, so we wrap it
//! instead of writing our own. This wrapper adds what the crate leaves to its
//! caller: what to do when robots.txt cannot be fetched.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use url::Url;

/// How much of a robots.txt is read. RFC 9309 asks crawlers to parse at
/// least 500 KiB, and Google stops there; anything longer is cut at the last
/// line break before the limit so no rule is read half-way.
pub const ROBOTS_MAX_BYTES: usize = 500 * 1024;

/// Why a robots.txt could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RobotsError {
    /// The parser refused the file (rare: it skips junk lines).
    #[error("robots.txt could not be parsed: {0}")]
    Invalid(String),
}

/// The robots.txt rules for our crawler on one site.
#[derive(Clone)]
pub struct Robots(Rules);

#[derive(Clone)]
enum Rules {
    AllowAll,
    DenyAll,
    // Shared: the crate's `Robot` is not `Clone`, and plans copy rules around.
    Parsed(Arc<texting_robots::Robot>),
}

impl fmt::Debug for Robots {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Rules::AllowAll => f.write_str("Robots::AllowAll"),
            Rules::DenyAll => f.write_str("Robots::DenyAll"),
            Rules::Parsed(robot) => f
                .debug_struct("Robots")
                .field("delay", &robot.delay)
                .field("sitemaps", &robot.sitemaps)
                .finish_non_exhaustive(),
        }
    }
}

impl Robots {
    /// Rules parsed from a robots.txt body, for the group that names
    /// `user_agent` (compared case-insensitively), else the `*` group.
    ///
    /// The caller decides what an error means; [`for_status`](Self::for_status)
    /// treats it as "deny all", because we cannot tell what the site wants.
    pub fn parse(user_agent: &str, body: &[u8]) -> Result<Self, RobotsError> {
        let body = if body.len() > ROBOTS_MAX_BYTES {
            let cut = body[..ROBOTS_MAX_BYTES]
                .iter()
                .rposition(|&b| b == b'\n')
                .unwrap_or(ROBOTS_MAX_BYTES);
            &body[..cut]
        } else {
            body
        };
        texting_robots::Robot::new(user_agent, body)
            .map(|robot| Self(Rules::Parsed(Arc::new(robot))))
            .map_err(|e| RobotsError::Invalid(format!("{e:#}")))
    }

    /// No restrictions: robots.txt does not exist (404, 410 and other 4xx).
    pub fn allow_all() -> Self {
        Self(Rules::AllowAll)
    }

    /// Nothing may be fetched.
    pub fn deny_all() -> Self {
        Self(Rules::DenyAll)
    }

    /// The rules that follow from fetching robots.txt with HTTP `status` and
    /// `body` (after following up to five redirects, as RFC 9309 asks).
    ///
    /// - 2xx: the body's rules; an unparseable body denies all.
    /// - 401 and 403: deny all. This is a deliberate choice, stricter than
    ///   RFC 9309 section 2.3.1.3 and Google, which treat every 4xx as "no
    ///   robots.txt". A site that refuses to show us its robots.txt is likely
    ///   refusing crawlers in general, and a knowledge-base crawl is never
    ///   urgent, so we stay out; the location can paste its text instead.
    /// - 429 and 5xx: deny all, as RFC 9309 section 2.3.1.4 requires while
    ///   the server is failing (Google treats 429 like a 5xx). Retry later.
    /// - Other 4xx (404, 410, ...): allow all.
    /// - Anything else (1xx, an unfollowed 3xx): deny all, to be safe.
    pub fn for_status(user_agent: &str, status: u16, body: &[u8]) -> Self {
        match status {
            200..=299 => Self::parse(user_agent, body).unwrap_or_else(|_| Self::deny_all()),
            401 | 403 | 429 => Self::deny_all(),
            400..=499 => Self::allow_all(),
            _ => Self::deny_all(),
        }
    }

    /// Whether our crawler may fetch `url`. Only its path and query are
    /// looked at: robots.txt applies to the host it was fetched from, which
    /// the caller keeps track of. `/robots.txt` itself is always allowed.
    pub fn allows(&self, url: &Url) -> bool {
        match &self.0 {
            Rules::AllowAll => true,
            Rules::DenyAll => false,
            Rules::Parsed(robot) => robot.allowed(&url[url::Position::BeforePath..]),
        }
    }

    /// The `Crawl-delay` for our group, if the file gives a usable one.
    /// Not part of RFC 9309 (Google ignores it) but widely written; honouring
    /// it costs a knowledge-base crawl nothing that matters.
    pub fn crawl_delay(&self) -> Option<Duration> {
        match &self.0 {
            Rules::Parsed(robot) => robot
                .delay
                .and_then(|secs| Duration::try_from_secs_f32(secs).ok()),
            _ => None,
        }
    }

    /// The `Sitemap:` URLs listed in the file (they apply to every agent).
    pub fn sitemaps(&self) -> &[String] {
        match &self.0 {
            Rules::Parsed(robot) => &robot.sitemaps,
            _ => &[],
        }
    }
}

#[cfg(test)]
#[path = "robots_tests.rs"]
mod tests;
