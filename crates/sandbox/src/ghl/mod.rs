//! GoHighLevel (API v2, `services.leadconnectorhq.com`) simulator, mounted at `/ghl`.
//!
//! Paths, query parameters, bodies, status codes and error shapes follow GHL's official OpenAPI
//! files and the project reference. Where GHL's behaviour is documented only through its issue
//! tracker (the 403 "not downstreamed yet" window, the silent 201 on a missing
//! `conversationProviderId`, the dropped phone in an upsert that matches two contacts), the
//! simulator reproduces it, because those are exactly the cases a gateway gets wrong.

mod agency;
mod calendar_control;
mod calendar_store;
mod calendars;
mod contact_store;
mod contacts;
pub(crate) mod control;
mod conversations;
mod custom_page;
mod gate;
mod lifecycle;
mod oauth;
mod outbound;
mod schema;
mod tasks;

use std::collections::{HashMap, VecDeque};
use std::time::Instant;

use axum::extract::OriginalUri;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde_json::{json, Map, Value};

use crate::shared::{Reject, Shared};
use crate::{ids, Simulator};

pub(crate) const SIMULATOR: Simulator = Simulator {
    name: "ghl",
    api,
    control: control::router,
    error_body,
};

/// A sub-account with the app installed.
#[derive(Debug, Clone)]
pub(crate) struct Location {
    pub id: String,
    pub company_id: String,
    /// The installing user; the default `userId` of outbound messages.
    pub user_id: String,
    /// Set when the provider is a custom ("extra") provider: inbound messages must then carry it.
    pub conversation_provider_id: Option<String>,
    /// The location's "Allow Duplicate Contact" setting.
    pub allow_duplicate_contact: bool,
    /// Lifetime of tokens issued to this location.
    pub expires_in: u64,
    pub rate: RateWindow,
}

/// Accepted requests of one location: a sliding burst window and a daily count.
#[derive(Debug, Clone)]
pub(crate) struct RateWindow {
    pub hits: VecDeque<Instant>,
    pub day_start: Instant,
    pub day_count: u32,
}

impl Default for RateWindow {
    fn default() -> Self {
        Self {
            hits: VecDeque::new(),
            day_start: Instant::now(),
            day_count: 0,
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct AccessGrant {
    pub location_id: String,
    pub expires_at: Instant,
}

#[derive(Debug, Clone)]
pub(crate) struct AuthCode {
    pub location_id: String,
    /// Set for an agency-level approval: the code then grants a Company token.
    pub company_id: Option<String>,
    pub redirect_uri: Option<String>,
    pub expires_at: Instant,
}

/// One conversation per contact, as GHL keeps it.
#[derive(Debug, Clone)]
pub(crate) struct Conversation {
    pub id: String,
    pub location_id: String,
    pub contact_id: String,
    pub date_added: String,
}

/// A message in a conversation, inbound (posted by the gateway) or outbound (typed by a GHL user).
#[derive(Debug, Clone)]
pub(crate) struct Message {
    pub id: String,
    pub location_id: String,
    pub conversation_id: String,
    pub contact_id: String,
    /// `inbound` or `outbound`, as given (the inbound API defaults to `outbound`, per its spec).
    pub direction: String,
    pub kind: String,
    pub body: Option<String>,
    pub attachments: Vec<String>,
    pub alt_id: Option<String>,
    pub conversation_provider_id: Option<String>,
    pub user_id: Option<String>,
    /// Created through the provider flow (`/_control/ghl/outbound`): the only messages whose
    /// status the provider may update.
    pub provider_outbound: bool,
    pub created: Instant,
    pub date_added: String,
    pub status: String,
    /// Every status set through the API, in order, with its time.
    pub status_history: Vec<(String, String)>,
    pub error: Option<Value>,
}

/// Everything the GHL simulator knows.
#[derive(Debug, Default)]
pub(crate) struct GhlState {
    pub locations: HashMap<String, Location>,
    pub access_tokens: HashMap<String, AccessGrant>,
    /// Live refresh tokens → location. A used token is removed: GHL rotates them on every use.
    pub refresh_tokens: HashMap<String, String>,
    pub auth_codes: HashMap<String, AuthCode>,
    /// Agency-level installs, by company id.
    pub companies: HashMap<String, agency::Company>,
    /// Live Company access tokens (they can't call location APIs).
    pub company_tokens: HashMap<String, agency::CompanyGrant>,
    /// Live Company refresh tokens → company; rotated like location ones.
    pub company_refresh_tokens: HashMap<String, String>,
    /// Contacts as GHL returns them (`GetContectByIdSchema` shape), by id.
    pub contacts: HashMap<String, Map<String, Value>>,
    /// Contact ids in creation order, for stable listings.
    pub contact_order: Vec<String>,
    pub conversations: HashMap<String, Conversation>,
    pub messages: HashMap<String, Message>,
    pub message_order: Vec<String>,
    pub calendars: HashMap<String, calendar_store::Calendar>,
    /// Calendar ids in creation order.
    pub calendar_order: Vec<String>,
    pub appointments: HashMap<String, calendar_store::Appointment>,
    /// Appointment ids in booking order.
    pub appointment_order: Vec<String>,
    /// Contact tasks (`TaskSchema` shape plus `locationId`), in creation order.
    pub tasks: Vec<Map<String, Value>>,
}

impl GhlState {
    /// Create or reconfigure a location.
    pub fn ensure_location(&mut self, id: &str, default_expires_in: u64) -> &mut Location {
        self.locations
            .entry(id.to_owned())
            .or_insert_with(|| Location {
                id: id.to_owned(),
                company_id: ids::ghl_id(),
                user_id: ids::ghl_id(),
                conversation_provider_id: None,
                allow_duplicate_contact: false,
                expires_in: default_expires_in,
                rate: RateWindow::default(),
            })
    }

    /// The contact's conversation, created on first use ("one conversationId per contact").
    pub fn conversation_for(&mut self, location_id: &str, contact_id: &str) -> String {
        if let Some(c) = self
            .conversations
            .values()
            .find(|c| c.location_id == location_id && c.contact_id == contact_id)
        {
            return c.id.clone();
        }
        let id = ids::ghl_id();
        self.conversations.insert(
            id.clone(),
            Conversation {
                id: id.clone(),
                location_id: location_id.to_owned(),
                contact_id: contact_id.to_owned(),
                date_added: crate::clock::now_iso(),
            },
        );
        id
    }

    /// Give a location without calendars its default one: "Default calendar", 30-minute slots,
    /// Monday to Friday 09:00–17:00 in `America/New_York`.
    pub fn default_calendar(&mut self, location_id: &str) {
        if self
            .calendars
            .values()
            .any(|c| c.location_id == location_id)
        {
            return;
        }
        let calendar = calendar_store::Calendar::business_hours(location_id);
        self.add_calendar(calendar);
    }

    /// Add (or replace) a calendar, keeping its place in the listing.
    pub fn add_calendar(&mut self, calendar: calendar_store::Calendar) {
        if !self.calendar_order.contains(&calendar.id) {
            self.calendar_order.push(calendar.id.clone());
        }
        self.calendars.insert(calendar.id.clone(), calendar);
    }

    /// A contact of `location_id`, or `None` (another location's contact is just as missing).
    pub fn contact_in(&self, location_id: &str, contact_id: &str) -> Option<&Map<String, Value>> {
        self.contacts
            .get(contact_id)
            .filter(|c| c.get("locationId").and_then(Value::as_str) == Some(location_id))
    }
}

/// GHL's error body: `statusCode`, `message` (a string, or a list for validation errors), the
/// reason phrase as `error`, and the `traceId` every GHL response carries.
pub(crate) fn error(status: StatusCode, message: impl Into<Value>) -> Response {
    let body = json!({
        "statusCode": status.as_u16(),
        "message": message.into(),
        "error": status.canonical_reason().unwrap_or("Error"),
        "traceId": ids::uuid_v4(),
    });
    (status, Json(body)).into_response()
}

/// A validation failure: GHL answers class-validator messages as a list.
pub(crate) fn invalid(status: StatusCode, messages: Vec<String>) -> Response {
    error(status, Value::from(messages))
}

fn error_body(status: u16, message: &str) -> Value {
    json!({"statusCode": status, "message": message, "traceId": ids::uuid_v4()})
}

/// Parse a JSON body as GHL would: malformed JSON is a 400.
pub(crate) fn parse_body(body: &[u8]) -> Result<Value, Reject> {
    serde_json::from_slice(body).map_err(|e| {
        Box::new(error(
            StatusCode::BAD_REQUEST,
            format!("Invalid JSON body: {e}"),
        ))
    })
}

fn api(shared: Shared) -> Router {
    let authenticated = Router::new()
        .route("/contacts/", post(contacts::create))
        .route("/contacts/upsert", post(contacts::upsert))
        .route("/contacts/search/duplicate", get(contacts::duplicate))
        .route(
            "/contacts/{contact_id}",
            get(contacts::get_one).put(contacts::update),
        )
        .route(
            "/contacts/{contact_id}/tags",
            post(contacts::add_tags).delete(contacts::remove_tags),
        )
        .route(
            "/contacts/{contact_id}/tasks",
            get(tasks::list).post(tasks::create),
        )
        .route("/calendars/", get(calendars::list))
        .route(
            "/calendars/{calendar_id}/free-slots",
            get(calendars::free_slots),
        )
        .route(
            "/calendars/events/appointments",
            post(calendars::create_appointment),
        )
        .route(
            "/calendars/events/appointments/{event_id}",
            get(calendars::get_appointment),
        )
        .route("/conversations/", post(conversations::create))
        .route("/conversations/search", get(conversations::search))
        .route(
            "/conversations/messages/inbound",
            post(conversations::inbound),
        )
        .route(
            "/conversations/messages/{message_id}",
            get(conversations::get_message),
        )
        .route(
            "/conversations/messages/{message_id}/status",
            put(conversations::update_status),
        )
        .route_layer(axum::middleware::from_fn_with_state(
            shared.clone(),
            gate::gate,
        ));
    Router::new()
        .route("/oauth/token", post(oauth::token))
        .route("/oauth/chooselocation", get(oauth::choose_location))
        .route("/v2/oauth/chooselocation", get(oauth::choose_location))
        .route("/oauth/locationToken", post(agency::location_token))
        .route(
            "/oauth/installedLocations",
            get(agency::installed_locations),
        )
        .merge(authenticated)
        .fallback(not_found)
        .method_not_allowed_fallback(not_found)
        .with_state(shared)
}

/// NestJS's default 404: `Cannot GET /path`.
async fn not_found(method: axum::http::Method, uri: OriginalUri) -> Response {
    let path = uri.0.path();
    let path = path.strip_prefix("/ghl").unwrap_or(path);
    error(StatusCode::NOT_FOUND, format!("Cannot {method} {path}"))
}
