//! What every page shares: the layout (brand, navigation, who is signed in, the CSRF
//! token for forms), rendering with the security headers, times, and error pages.

use askama::Template;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};

use super::viewer::Viewer;
use crate::auth::Permission;

/// The frame of every signed-in page.
#[derive(Debug, Clone)]
pub struct Layout {
    pub title: String,
    /// Which navigation entry is this page's.
    pub nav: &'static str,
    pub product: String,
    pub logo_url: Option<String>,
    pub primary: String,
    /// Black or white, whichever reads better on `primary`.
    pub on_primary: &'static str,
    pub accent: String,
    pub email: String,
    pub role: &'static str,
    pub csrf: String,
    pub pending_handoffs: i64,
    pub may_replay: bool,
    /// The viewer may manage the AI: the Knowledge entry shows.
    pub may_manage_ai: bool,
    /// The newest event this page shows: its socket resumes after it.
    pub last_event: i64,
}

impl Layout {
    pub async fn new(
        state: &crate::AppState,
        viewer: &Viewer,
        title: &str,
        nav: &'static str,
    ) -> Self {
        let pending_handoffs = state
            .store
            .pending_handoffs(&viewer.scope)
            .await
            .unwrap_or_else(|e| {
                tracing::warn!(error = %e, "counting pending handoffs");
                0
            });
        let last_event = state
            .store
            .latest_event_id(&viewer.scope)
            .await
            .unwrap_or_else(|e| {
                tracing::warn!(error = %e, "reading the newest event id");
                0
            });
        Self {
            last_event,
            title: title.to_string(),
            nav,
            product: viewer.brand.product_name.clone(),
            logo_url: viewer.brand.logo_url.clone(),
            primary: viewer.brand.primary_color.clone(),
            on_primary: readable_on(&viewer.brand.primary_color),
            accent: viewer.brand.accent_color.clone(),
            email: viewer.email.clone(),
            role: viewer.role().as_str(),
            csrf: viewer.csrf.clone(),
            pending_handoffs,
            may_replay: viewer.may(Permission::ReplayDeadJobs),
            may_manage_ai: viewer.may(Permission::ManageAi),
        }
    }
}

/// The text colour with the better contrast on a `#rrggbb` background (WCAG relative
/// luminance): a brand may pick a light main colour, and its header must stay readable.
pub fn readable_on(background: &str) -> &'static str {
    let channel = |i: usize| {
        let c = f64::from(
            u8::from_str_radix(background.get(i..i + 2).unwrap_or("00"), 16).unwrap_or(0),
        ) / 255.0;
        if c <= 0.040_45 {
            c / 12.92
        } else {
            ((c + 0.055) / 1.055).powf(2.4)
        }
    };
    let luminance = 0.2126 * channel(1) + 0.7152 * channel(3) + 0.0722 * channel(5);
    // Contrast with white is 1.05 / (L + 0.05); with black, (L + 0.05) / 0.05.
    if 1.05 / (luminance + 0.05) >= (luminance + 0.05) / 0.05 {
        "#ffffff"
    } else {
        "#000000"
    }
}

/// The page's content security policy: scripts and styles only from our own assets (the
/// brand's colours come in a style attribute, hence `'unsafe-inline'` for styles only),
/// no framing by other sites, forms only to us.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
    img-src 'self' https: data:; connect-src 'self'; frame-ancestors 'self'; \
    form-action 'self'; base-uri 'none'";

/// A rendered template as an HTML answer that no cache keeps.
pub fn render(status: StatusCode, template: &impl Template) -> Response {
    match template.render() {
        Ok(html) => {
            let mut response = (status, Html(html)).into_response();
            let headers = response.headers_mut();
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            headers.insert(
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(CSP),
            );
            headers.insert(
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            );
            headers.insert(
                header::REFERRER_POLICY,
                HeaderValue::from_static("same-origin"),
            );
            response
        }
        Err(e) => crate::http::ApiError::internal(format!("rendering a page: {e}")).into_response(),
    }
}

/// The sites GHL shows the app in may frame every dashboard page once the GHL page is on
/// (`SWITCHBOARD_GHL_SHARED_SECRET`): the inbox opened from GHL's menu lives in its frame.
/// Other sites never may. A layer around every route, since the policy is the
/// configuration's.
pub async fn frame_policy(
    axum::extract::State(state): axum::extract::State<crate::AppState>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let mut response = next.run(request).await;
    if state.config.ghl_shared_secret.is_none() {
        return response;
    }
    let Some(csp) = response
        .headers()
        .get(header::CONTENT_SECURITY_POLICY)
        .and_then(|v| v.to_str().ok())
    else {
        return response;
    };
    if csp.contains("frame-ancestors 'self';") {
        let widened = csp.replace(
            "frame-ancestors 'self';",
            &format!(
                "frame-ancestors 'self' {};",
                state.config.ghl_frame_ancestors
            ),
        );
        if let Ok(value) = HeaderValue::from_str(&widened) {
            response
                .headers_mut()
                .insert(header::CONTENT_SECURITY_POLICY, value);
        }
    }
    response
}

/// `200` and the page.
pub fn ok(template: &impl Template) -> Response {
    render(StatusCode::OK, template)
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    layout: Layout,
    heading: String,
    detail: String,
}

/// An error page in the viewer's frame (no handoff count: it must not fail again).
pub fn error_page(viewer: &Viewer, status: StatusCode, heading: &str, detail: &str) -> Response {
    let layout = Layout {
        title: heading.to_string(),
        nav: "",
        product: viewer.brand.product_name.clone(),
        logo_url: viewer.brand.logo_url.clone(),
        primary: viewer.brand.primary_color.clone(),
        on_primary: readable_on(&viewer.brand.primary_color),
        accent: viewer.brand.accent_color.clone(),
        email: viewer.email.clone(),
        role: viewer.role().as_str(),
        csrf: viewer.csrf.clone(),
        pending_handoffs: 0,
        may_replay: viewer.may(Permission::ReplayDeadJobs),
        may_manage_ai: viewer.may(Permission::ManageAi),
        last_event: 0,
    };
    render(
        status,
        &ErrorPage {
            layout,
            heading: heading.to_string(),
            detail: detail.to_string(),
        },
    )
}

/// A store failure as a page: missing (or another tenant's) is a 404 page.
pub fn store_error(viewer: &Viewer, e: store::StoreError) -> Response {
    match e {
        store::StoreError::NotFound => error_page(
            viewer,
            StatusCode::NOT_FOUND,
            "Not found",
            "There is nothing here, or it is not yours to see.",
        ),
        store::StoreError::Conflict(detail) => {
            error_page(viewer, StatusCode::CONFLICT, "Not possible now", &detail)
        }
        other => crate::http::ApiError::from(other).into_response(),
    }
}

/// The answer to a form's change: a redirect to `to` once it is done, else the store
/// error's page.
pub fn redirect_or_page<T>(
    viewer: &Viewer,
    done: Result<T, store::StoreError>,
    to: &str,
) -> Response {
    match done {
        Ok(_) => axum::response::Redirect::to(to).into_response(),
        Err(e) => store_error(viewer, e),
    }
}

/// A time for people: `<time datetime>` gets the ISO form; the label is UTC until the
/// page's script shows it in the browser's own zone.
#[derive(Debug, Clone)]
pub struct When {
    pub iso: String,
    pub label: String,
}

impl When {
    pub fn at(ms: i64) -> Self {
        let at = chrono::DateTime::from_timestamp_millis(ms).unwrap_or_default();
        Self {
            iso: at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            label: at.format("%d %b %H:%M UTC").to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::readable_on;

    #[test]
    fn header_text_contrasts_with_the_brand_colour() {
        assert_eq!(readable_on("#1f4fd1"), "#ffffff");
        assert_eq!(readable_on("#000000"), "#ffffff");
        assert_eq!(readable_on("#ffff00"), "#000000");
        assert_eq!(readable_on("#f5f7fa"), "#000000");
    }
}
