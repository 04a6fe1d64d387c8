//! The OpenAPI document's frame: title, security schemes, the error body every operation
//! may answer with, and the handler that serves the finished document.

use std::sync::OnceLock;

use axum::http::header;
use axum::response::IntoResponse;
use utoipa::openapi::path::Operation;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, OpenApi, Ref, ResponseBuilder};
use utoipa::{OpenApi as _, ToSchema};

/// The one error body (see [`crate::http::ApiError`]).
#[derive(Debug, serde::Serialize, ToSchema)]
pub struct ErrorBody {
    /// Stable and machine-readable: clients branch on it.
    pub code: String,
    /// For people: what was wrong and how to fix it.
    pub detail: String,
}

#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "Switchboard API",
        description = "Switchboard's REST API: agencies, locations, channels, contacts, \
            conversations, messages, consent, dead jobs and the audit log of the caller's \
            own tenant. Another tenant's id answers 404, like a missing one.",
    ),
    components(schemas(ErrorBody)),
    security(("bearer" = []), ("api_key" = []), ("cookie" = [])),
)]
struct Frame;

/// The statuses any operation may answer with besides its own: bad input, no or wrong
/// credentials, a role without the permission, an id outside the caller's tenant, a body
/// over the limit or not JSON or not fitting the schema, a duplicate, too many requests.
const COMMON_ERRORS: [(&str, &str); 9] = [
    ("400", "malformed or invalid input"),
    ("401", "no valid access token, API key or session cookie"),
    (
        "403",
        "the caller's role lacks the permission, or the CSRF check failed",
    ),
    ("404", "no such resource in the caller's tenant"),
    ("409", "conflicts with an existing resource (a duplicate)"),
    ("413", "the body is over the size limit"),
    ("415", "the body is not sent as application/json"),
    ("422", "the JSON body does not fit the operation's schema"),
    ("429", "too many requests: wait for Retry-After seconds"),
];

/// The document before routes are added: the frame, its security schemes.
pub(super) fn base() -> OpenApi {
    let mut doc = Frame::openapi();
    let components = doc.components.get_or_insert_with(Default::default);
    components.add_security_scheme(
        "bearer",
        SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .bearer_format("JWT")
                .description(Some("an access token from /api/v1/auth/login"))
                .build(),
        ),
    );
    components.add_security_scheme(
        "api_key",
        SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .description(Some("an API key (sb_…) from /api/v1/api-keys"))
                .build(),
        ),
    );
    components.add_security_scheme(
        "cookie",
        SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
            "sb_access",
            "the dashboard's session cookie; changes also need X-CSRF-Token",
        ))),
    );
    doc
}

/// Adds the common error answers to every operation that doesn't describe them itself.
fn with_common_errors(mut doc: OpenApi) -> OpenApi {
    let error = ContentBuilder::new()
        .schema(Some(Ref::from_schema_name("ErrorBody")))
        .build();
    for item in doc.paths.paths.values_mut() {
        let operations: [&mut Option<Operation>; 5] = [
            &mut item.get,
            &mut item.post,
            &mut item.put,
            &mut item.patch,
            &mut item.delete,
        ];
        for operation in operations.into_iter().flatten() {
            for (status, description) in COMMON_ERRORS {
                operation
                    .responses
                    .responses
                    .entry(status.to_string())
                    .or_insert_with(|| {
                        ResponseBuilder::new()
                            .description(description)
                            .content("application/json", error.clone())
                            .into()
                    });
            }
        }
    }
    doc
}

/// The finished document, built once from the routes.
pub fn document() -> &'static OpenApi {
    static DOCUMENT: OnceLock<OpenApi> = OnceLock::new();
    DOCUMENT.get_or_init(|| {
        let (_, doc) = super::described().split_for_parts();
        with_common_errors(doc)
    })
}

/// `GET /api/v1/openapi.json`: public, like any API's description.
pub(super) async fn serve() -> impl IntoResponse {
    static JSON: OnceLock<String> = OnceLock::new();
    let body = JSON.get_or_init(|| document().to_json().unwrap_or_default());
    ([(header::CONTENT_TYPE, "application/json")], body.as_str())
}
