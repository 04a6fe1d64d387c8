//! Usage: messages per day by line and direction, the delivery rate, opt-outs, AI replies
//! and SMS segments, for the viewer's agency or one of its locations, over a range of UTC
//! days (the last 30 by default, at most [`MAX_DAYS`]), as server-drawn SVG charts
//! ([`super::charts`]) and as a CSV file with the same filters.
//!
//! The numbers come from one grouped query over the message records
//! (`Store::usage`), the same records billing meters, so the page, the file and the
//! invoice agree. The location is looked up through the viewer's scope: another agency's
//! location, or another location of a location-scoped user, is the 404 page.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::NaiveDate;
use domain::LocationId;
use serde::Deserialize;
use store::repo::{UsageRange, DAY_MS};
use store::TenantScope;

use super::page::{ok, render, store_error, Layout};
use super::usage_report::{csv, iso_day, Report};
use super::viewer::Viewer;
use crate::auth::Permission;
use crate::AppState;

/// The longest range a page or file covers, in days.
pub const MAX_DAYS: i64 = 366;
/// The default range: the last 30 days, today included.
const DEFAULT_DAYS: i64 = 30;

/// `?from=YYYY-MM-DD&to=YYYY-MM-DD&location=loc_…`, each optional (empty is absent).
#[derive(Debug, Default, Deserialize)]
pub struct UsageQuery {
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    location: String,
}

/// One entry of the location picker.
#[derive(Debug, Clone)]
struct LocationOption {
    id: String,
    name: String,
    selected: bool,
}

#[derive(Template)]
#[template(path = "usage.html")]
struct UsagePage {
    layout: Layout,
    from: String,
    to: String,
    /// The viewer sees the whole agency ("All locations" is a choice).
    agency_wide: bool,
    locations: Vec<LocationOption>,
    errors: Vec<String>,
    /// `from=…&to=…&location=…` for the CSV link.
    query: String,
    report: Option<Report>,
}

/// A day typed in the form, as a day number; `None` if it is not a date.
fn parse_day(text: &str) -> Option<i64> {
    let date = NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d").ok()?;
    Some(date.and_hms_opt(0, 0, 0)?.and_utc().timestamp_millis() / DAY_MS)
}

/// The range the query asks for, or what is wrong with it.
pub fn range(from: &str, to: &str, today: i64) -> Result<UsageRange, Vec<String>> {
    let mut errors = Vec::new();
    let last = if to.trim().is_empty() {
        Some(today)
    } else {
        parse_day(to)
    };
    let first = if from.trim().is_empty() {
        last.map(|l| l - (DEFAULT_DAYS - 1))
    } else {
        parse_day(from)
    };
    if first.is_none() {
        errors.push("From: a date like 2026-11-01.".to_string());
    }
    if last.is_none() {
        errors.push("To: a date like 2026-11-30.".to_string());
    }
    let (Some(first_day), Some(last_day)) = (first, last) else {
        return Err(errors);
    };
    let range = UsageRange {
        first_day,
        last_day,
    };
    if last_day < first_day {
        return Err(vec!["The range ends before it starts.".to_string()]);
    }
    if range.days() > MAX_DAYS {
        return Err(vec![format!(
            "The range is at most {MAX_DAYS} days; this one is {}.",
            range.days()
        )]);
    }
    Ok(range)
}

/// The filters of a request, checked: the range, and the scope to count in (the viewer's,
/// or narrowed to a location looked up through it).
struct Filters {
    range: Result<UsageRange, Vec<String>>,
    scope: TenantScope,
    location: Option<LocationId>,
}

async fn filters(
    state: &AppState,
    viewer: &Viewer,
    query: &UsageQuery,
) -> Result<Filters, Response> {
    viewer.require(Permission::ViewConversations)?;
    let today = state.store.now_ms() / DAY_MS;
    let range = range(&query.from, &query.to, today);
    let (scope, location) = if query.location.trim().is_empty() {
        (viewer.scope.clone(), None)
    } else {
        let id: LocationId = query
            .location
            .trim()
            .parse()
            .map_err(|_| store_error(viewer, store::StoreError::NotFound))?;
        let location = state
            .store
            .location(&viewer.scope, &id)
            .await
            .map_err(|e| store_error(viewer, e))?;
        (viewer.scope.narrowed_to(&location), Some(location.id))
    };
    Ok(Filters {
        range,
        scope,
        location,
    })
}

/// The filters as a query string (for the CSV link).
fn query_string(range: UsageRange, location: Option<&LocationId>) -> String {
    let mut q = url::form_urlencoded::Serializer::new(String::new());
    q.append_pair("from", &iso_day(range.first_day));
    q.append_pair("to", &iso_day(range.last_day));
    if let Some(id) = location {
        q.append_pair("location", id.as_str());
    }
    q.finish()
}

/// `GET /usage`.
pub async fn show(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(query): Query<UsageQuery>,
) -> Response {
    let f = match filters(&state, &viewer, &query).await {
        Ok(f) => f,
        Err(page) => return page,
    };
    let locations = match state.store.locations(&viewer.scope).await {
        Ok(all) => all,
        Err(e) => return store_error(&viewer, e),
    };
    let locations = locations
        .into_iter()
        .map(|l| LocationOption {
            selected: f.location.as_ref() == Some(&l.id),
            name: if l.name.trim().is_empty() {
                l.ghl_location_id.clone()
            } else {
                l.name.clone()
            },
            id: l.id.to_string(),
        })
        .collect();
    let mut page = UsagePage {
        layout: Layout::new(&state, &viewer, "Usage", "usage").await,
        from: query.from.trim().to_string(),
        to: query.to.trim().to_string(),
        agency_wide: viewer.scope.location_id().is_none(),
        locations,
        errors: Vec::new(),
        query: String::new(),
        report: None,
    };
    let range = match f.range {
        Ok(range) => range,
        Err(errors) => {
            page.errors = errors;
            return render(StatusCode::UNPROCESSABLE_ENTITY, &page);
        }
    };
    let usage = match state.store.usage(&f.scope, range).await {
        Ok(usage) => usage,
        Err(e) => return store_error(&viewer, e),
    };
    page.from = iso_day(range.first_day);
    page.to = iso_day(range.last_day);
    page.query = query_string(range, f.location.as_ref());
    page.report = Some(Report::new(&usage, range));
    ok(&page)
}

/// `GET /usage.csv`: the same filters, one row per day × line × direction.
pub async fn export(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(query): Query<UsageQuery>,
) -> Response {
    let f = match filters(&state, &viewer, &query).await {
        Ok(f) => f,
        Err(page) => return page,
    };
    let range = match f.range {
        Ok(range) => range,
        Err(errors) => {
            return super::page::error_page(
                &viewer,
                StatusCode::UNPROCESSABLE_ENTITY,
                "Not a range of days",
                &errors.join(" "),
            )
        }
    };
    let usage = match state.store.usage(&f.scope, range).await {
        Ok(usage) => usage,
        Err(e) => return store_error(&viewer, e),
    };
    let name = format!(
        "usage-{}-{}.csv",
        iso_day(range.first_day),
        iso_day(range.last_day)
    );
    let mut response = csv(&usage).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Ok(value) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    response
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn ranges_default_to_the_last_30_days_and_are_checked() {
        let today = parse_day("2026-11-22").unwrap();
        let r = range("", "", today).unwrap();
        assert_eq!((r.last_day, r.days()), (today, 30));
        assert_eq!(iso_day(r.first_day), "2026-10-24");
        let r = range("2026-01-01", "2026-12-31", today).unwrap();
        assert_eq!(r.days(), 365);
        assert_eq!(
            range("2024-01-01", "2024-12-31", today).unwrap().days(),
            366
        );
        assert_eq!(range("2026-11-01", "2026-11-01", today).unwrap().days(), 1);
        assert_eq!(range("2026-11-01", "", today).unwrap().last_day, today);
        assert_eq!(range("", "2026-11-10", today).unwrap().days(), 30);
        assert_eq!(
            range("2025-01-01", "2026-01-02", today).unwrap_err().len(),
            1
        );
        assert_eq!(
            range("2026-11-02", "2026-11-01", today).unwrap_err().len(),
            1
        );
        assert_eq!(
            range("yesterday", "2026-13-01", today).unwrap_err().len(),
            2
        );
        assert_eq!(range("2026-02-30", "", today).unwrap_err().len(), 1);
        assert!(range("", "'; DROP TABLE messages; --", today).is_err());
    }
}
