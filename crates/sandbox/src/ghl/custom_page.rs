//! GHL's side of a Marketplace custom page: `GET /_control/ghl/custom-page?src=…` is a page
//! like GHL's app with the custom menu link open — it frames `src` and answers the frame's
//! `REQUEST_USER_DATA` message with the user context encrypted under the app's Shared
//! Secret (`SandboxOptions::ghl_shared_secret`), as GHL does (reference `ghl-api.md` §2.7).
//!
//! Query: `src` (the page to frame), `userId`, `companyId`, `role` (`admin`/`user`), `type`
//! (`agency`/`account`), `userName`, `email`, `locationId` (the active location, if any).

use axum::extract::{Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use crate::shared::Shared;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PageQuery {
    src: String,
    user_id: Option<String>,
    company_id: Option<String>,
    role: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    user_name: Option<String>,
    email: Option<String>,
    location_id: Option<String>,
}

/// Escapes text for an HTML attribute or a JavaScript string in one.
fn escape(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '&' => "&amp;".to_string(),
            '<' => "&lt;".to_string(),
            '>' => "&gt;".to_string(),
            '"' => "&quot;".to_string(),
            '\'' => "&#39;".to_string(),
            other => other.to_string(),
        })
        .collect()
}

pub(crate) async fn host(State(shared): State<Shared>, Query(q): Query<PageQuery>) -> Response {
    if !(q.src.starts_with("http://") || q.src.starts_with("https://")) {
        return (StatusCode::BAD_REQUEST, "src must be an http(s) URL").into_response();
    }
    let context = ghl::user_context::UserContext {
        user_id: q.user_id.unwrap_or_else(|| "sbUser000000000000001".into()),
        company_id: q
            .company_id
            .unwrap_or_else(|| "sbCompany00000000001".into()),
        role: q.role.unwrap_or_else(|| "admin".into()),
        kind: q.kind.unwrap_or_else(|| "account".into()),
        user_name: q.user_name.unwrap_or_else(|| "Sandbox User".into()),
        email: q.email.unwrap_or_else(|| "user@sandbox.example".into()),
        active_location: q.location_id,
    };
    let salt: [u8; 8] = std::array::from_fn(|_| fastrand::u8(..));
    let payload = ghl::user_context::encrypt(&context, &shared.options.ghl_shared_secret, salt);
    // Base64 needs no escaping in a JavaScript string; the URL does in an attribute.
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>GHL (sandbox)</title>\
         </head><body><h1>GHL (sandbox): custom menu link</h1>\
         <iframe id=\"app\" title=\"Custom page\" src=\"{src}\" width=\"1200\" height=\"800\"></iframe>\
         <script>window.addEventListener('message', function (e) {{\
           if (e.data && e.data.message === 'REQUEST_USER_DATA') {{\
             e.source.postMessage({{message: 'REQUEST_USER_DATA_RESPONSE', payload: '{payload}'}}, '*');\
           }}\
         }});</script></body></html>",
        src = escape(&q.src),
    );
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], html).into_response()
}
