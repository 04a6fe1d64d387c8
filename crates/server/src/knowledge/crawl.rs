//! The knowledge crawler's fetching loop: a website read same-site, within the source's
//! depth and page limits, as its robots.txt allows.
//!
//! The decisions (which links, which pages, what robots.txt says) are `ai::crawl`'s; this
//! loop only fetches, through the media downloader, so pages get the same size limit,
//! time limit and guard against internal addresses as attachments do. The crawl is
//! polite: one page at a time, at the site's `Crawl-delay` (capped at [`MAX_DELAY`]).

use std::time::Duration;

use ai::crawl::{CrawlPlan, Robots, ROBOTS_AGENT, USER_AGENT};
use url::Url;

use super::{IngestError, Page};
use crate::media::fetch::{Downloader, FetchError};

/// The longest pause between two pages, whatever robots.txt asks.
pub const MAX_DELAY: Duration = Duration::from_secs(5);

/// Reads the site at `start`; `progress(pages)` after each page. Pages that fail are
/// listed in the second vector with why, and the crawl goes on.
pub async fn crawl(
    downloader: &Downloader,
    start: &str,
    max_depth: u32,
    max_pages: usize,
    mut progress: impl FnMut(usize),
) -> Result<(Vec<Page>, Vec<String>), IngestError> {
    let start = Url::parse(start)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some())
        .ok_or_else(|| IngestError::Refused("the address is not an http(s) URL".into()))?;
    let robots = robots(downloader, &start).await?;
    if !robots.allows(&start) {
        return Err(IngestError::Refused(
            "the site's robots.txt does not allow this page to be read".into(),
        ));
    }
    let delay = robots.crawl_delay().map(|d| d.min(MAX_DELAY));
    let mut plan = CrawlPlan::new(start, max_depth, max_pages);
    plan.set_robots(robots);
    let (mut pages, mut problems) = (Vec::new(), Vec::new());
    let mut first = true;
    while let Some((url, depth)) = plan.next() {
        if let (Some(delay), false) = (delay, first) {
            tokio::time::sleep(delay).await;
        }
        first = false;
        match fetch(downloader, &url).await {
            Ok(Fetched {
                page,
                final_url,
                links,
            }) => {
                if let Some(final_url) = final_url {
                    plan.mark_seen(&final_url);
                }
                plan.discovered(depth, links);
                if page.text.trim().is_empty() {
                    problems.push(format!("{url}: no readable text"));
                } else {
                    pages.push(page);
                }
            }
            Err(why) => problems.push(format!("{url}: {why}")),
        }
        progress(pages.len());
    }
    Ok((pages, problems))
}

/// The site's robots.txt, read as RFC 9309 says (`ai::crawl::Robots::for_status`).
async fn robots(downloader: &Downloader, start: &Url) -> Result<Robots, IngestError> {
    let mut at = start.clone();
    at.set_path("/robots.txt");
    at.set_query(None);
    at.set_fragment(None);
    match downloader.page(at.as_str(), USER_AGENT).await {
        Ok((response, _)) => Ok(Robots::for_status(
            ROBOTS_AGENT,
            response.status.as_u16(),
            &response.body,
        )),
        Err(FetchError::Transient(why)) => Err(IngestError::Transient(format!(
            "robots.txt could not be read: {why}"
        ))),
        Err(FetchError::Refused { reason, .. }) => Err(IngestError::Refused(format!(
            "the site can't be read: {reason}"
        ))),
    }
}

struct Fetched {
    page: Page,
    final_url: Option<Url>,
    links: Vec<Url>,
}

/// One page: HTML (its text, title and links), a PDF or plain text.
async fn fetch(downloader: &Downloader, url: &Url) -> Result<Fetched, String> {
    let (response, final_url) =
        downloader
            .page(url.as_str(), USER_AGENT)
            .await
            .map_err(|e| match e {
                FetchError::Transient(why) => why,
                FetchError::Refused { reason, .. } => reason,
            })?;
    if !response.status.is_success() {
        return Err(format!("HTTP {}", response.status.as_u16()));
    }
    let final_url = Url::parse(&final_url).ok();
    let base = final_url.clone().unwrap_or_else(|| url.clone());
    let content_type = response
        .headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let (title, text, links) = match content_type.as_str() {
        "text/html" | "application/xhtml+xml" => {
            let html = String::from_utf8_lossy(&response.body);
            (
                ai::page_title(&html),
                ai::html_to_text(&html),
                ai::crawl::links(&html, &base),
            )
        }
        "application/pdf" => (
            None,
            ai::normalise_text(&ai::pdf_text(&response.body).map_err(|e| e.to_string())?),
            Vec::new(),
        ),
        "text/plain" | "text/markdown" => (
            None,
            ai::normalise_text(&String::from_utf8_lossy(&response.body)),
            Vec::new(),
        ),
        other => return Err(format!("{other:?} is not a page we read")),
    };
    Ok(Fetched {
        page: Page {
            url: Some(base.to_string()),
            title: title.unwrap_or_else(|| base.path().to_string()),
            text,
        },
        final_url,
        links,
    })
}
