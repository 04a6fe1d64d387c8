//! UniPile's messaging endpoints: send into a chat, start a chat, download an attachment,
//! read a connected account.
//!
//! Sends are `multipart/form-data`, parsed for real: a JSON or form-encoded body is refused
//! as UniPile's API refuses it, so a gateway that does not build multipart fails here first.

use axum::extract::{FromRequest, Multipart, Path, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use super::hooks::{spawn_echo, store, NewMessage};
use super::{authenticate, error, phone_of, Account};
use crate::shared::{lock, Reject, Shared};

/// Most characters one WhatsApp message takes.
const MAX_TEXT: usize = 65_536;

/// The fields of a send.
#[derive(Default)]
struct SendForm {
    text: Option<String>,
    account_id: Option<String>,
    attendees_ids: Vec<String>,
    /// `(file name, mimetype, bytes)`.
    files: Vec<(String, String, Vec<u8>)>,
}

fn invalid(detail: &str) -> Response {
    error(StatusCode::BAD_REQUEST, "errors/invalid_parameters", detail)
}

/// Reads every part; unknown fields are ignored (UniPile takes more than we model). A body
/// that is not multipart is a 400 in UniPile's shape.
async fn read_form(request: Request) -> Result<SendForm, Reject> {
    let mut multipart = Multipart::from_request(request, &()).await.map_err(|e| {
        Box::new(invalid(&format!(
            "Expected a multipart/form-data body: {e}"
        )))
    })?;
    let mut form = SendForm::default();
    loop {
        let field = match multipart.next_field().await {
            Ok(Some(field)) => field,
            Ok(None) => break,
            Err(e) => return Err(Box::new(invalid(&format!("Invalid multipart body: {e}")))),
        };
        let name = field.name().unwrap_or_default().to_string();
        let file_name = field.file_name().map(str::to_string);
        let mimetype = field
            .content_type()
            .unwrap_or("application/octet-stream")
            .to_string();
        let bytes = field
            .bytes()
            .await
            .map_err(|e| Box::new(invalid(&format!("Invalid multipart body: {e}"))))?;
        let text = || String::from_utf8_lossy(&bytes).into_owned();
        match name.as_str() {
            "attachments" => {
                let Some(file_name) = file_name else {
                    return Err(Box::new(invalid("attachments must be files.")));
                };
                form.files.push((file_name, mimetype, bytes.to_vec()));
            }
            "text" => form.text = Some(text()),
            "account_id" => form.account_id = Some(text()),
            "attendees_ids" => form.attendees_ids.push(text()),
            _ => {}
        }
    }
    Ok(form)
}

/// The form's text and files, checked: something to send, not too long.
fn content(form: &SendForm) -> Result<&str, Reject> {
    let text = form.text.as_deref().unwrap_or_default();
    if text.trim().is_empty() && form.files.is_empty() {
        return Err(Box::new(invalid("A text or an attachment is required.")));
    }
    if text.chars().count() > MAX_TEXT {
        return Err(Box::new(invalid("The text is too long.")));
    }
    Ok(text)
}

/// `POST /api/v1/chats/{chat_id}/messages` → 201 `{"object":"MessageSent","message_id":…}`.
pub(crate) async fn send_in_chat(
    State(shared): State<Shared>,
    Path(chat_id): Path<String>,
    request: Request,
) -> Response {
    let accounts = match authenticate(&shared, request.headers()) {
        Ok(a) => a,
        Err(response) => return *response,
    };
    let chat = lock(&shared.unipile)
        .chats
        .iter()
        .find(|c| c.id == chat_id && accounts.iter().any(|a| a.id == c.account_id))
        .cloned();
    let Some(chat) = chat else {
        return error(
            StatusCode::NOT_FOUND,
            "errors/resource_not_found",
            &format!("Chat {chat_id} not found."),
        );
    };
    let form = match read_form(request).await {
        Ok(form) => form,
        Err(response) => return *response,
    };
    let text = match content(&form) {
        Ok(text) => text.to_string(),
        Err(response) => return *response,
    };
    let Some(account) = accounts.into_iter().find(|a| a.id == chat.account_id) else {
        return error(
            StatusCode::NOT_FOUND,
            "errors/resource_not_found",
            "Account not found.",
        );
    };
    let (message_id, payload) = store(
        &shared,
        NewMessage {
            account: &account,
            chat: &chat,
            from_account: true,
            text: &text,
            files: form.files,
        },
    );
    spawn_echo(shared, account, payload);
    (
        StatusCode::CREATED,
        Json(json!({"object": "MessageSent", "message_id": message_id})),
    )
        .into_response()
}

/// `POST /api/v1/chats` with `account_id` and one `attendees_ids` → 201
/// `{"object":"ChatStarted","chat_id":…,"message_id":…}`; the chat with that attendee is
/// reused when it exists. Group chats (several attendees) are not simulated: 400.
pub(crate) async fn start_chat(State(shared): State<Shared>, request: Request) -> Response {
    let accounts = match authenticate(&shared, request.headers()) {
        Ok(a) => a,
        Err(response) => return *response,
    };
    let form = match read_form(request).await {
        Ok(form) => form,
        Err(response) => return *response,
    };
    let Some(account_id) = form.account_id.as_deref().map(str::trim) else {
        return invalid("account_id is required.");
    };
    let Some(account): Option<Account> = accounts.into_iter().find(|a| a.id == account_id) else {
        return error(
            StatusCode::NOT_FOUND,
            "errors/resource_not_found",
            &format!("Account {account_id} not found."),
        );
    };
    let attendee = match form.attendees_ids.as_slice() {
        [one] => one.trim().to_string(),
        [] => return invalid("attendees_ids is required."),
        _ => return invalid("Group chats are not supported by this simulator."),
    };
    if phone_of(&attendee).is_none() {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "errors/invalid_recipient",
            &format!("{attendee} is not a WhatsApp user id (<digits>@s.whatsapp.net)."),
        );
    }
    let text = match content(&form) {
        Ok(text) => text.to_string(),
        Err(response) => return *response,
    };
    let chat = lock(&shared.unipile).chat_with(&account, &attendee);
    let (message_id, payload) = store(
        &shared,
        NewMessage {
            account: &account,
            chat: &chat,
            from_account: true,
            text: &text,
            files: form.files,
        },
    );
    spawn_echo(shared, account, payload);
    (
        StatusCode::CREATED,
        Json(json!({"object": "ChatStarted", "chat_id": chat.id, "message_id": message_id})),
    )
        .into_response()
}

/// `GET /api/v1/messages/{message_id}/attachments/{attachment_id}` → the file's bytes.
pub(crate) async fn attachment(
    State(shared): State<Shared>,
    Path((message_id, attachment_id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let accounts = match authenticate(&shared, &headers) {
        Ok(a) => a,
        Err(response) => return *response,
    };
    let found = lock(&shared.unipile)
        .attachments
        .iter()
        .find(|a| {
            a.message_id == message_id
                && a.id == attachment_id
                && accounts.iter().any(|acc| acc.id == a.account_id)
        })
        .cloned();
    match found {
        Some(a) => (
            StatusCode::OK,
            [
                (header::CONTENT_TYPE, a.mimetype),
                (
                    header::CONTENT_DISPOSITION,
                    format!("attachment; filename=\"{}\"", a.file_name.replace('"', "")),
                ),
            ],
            a.bytes,
        )
            .into_response(),
        None => error(
            StatusCode::NOT_FOUND,
            "errors/resource_not_found",
            &format!("Attachment {attachment_id} of message {message_id} not found."),
        ),
    }
}

/// `GET /api/v1/accounts/{account_id}` → the connected WhatsApp account, to its own API
/// key only (401 for a wrong key, 404 for an account the key does not own).
pub(crate) async fn account(
    State(shared): State<Shared>,
    Path(account_id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let accounts = match authenticate(&shared, &headers) {
        Ok(a) => a,
        Err(response) => return *response,
    };
    let Some(account) = accounts.into_iter().find(|a| a.id == account_id) else {
        return error(
            StatusCode::NOT_FOUND,
            "errors/resource_not_found",
            &format!("Account {account_id} not found."),
        );
    };
    Json(json!({
        "object": "Account",
        "type": "WHATSAPP",
        "id": account.id,
        "name": account.line,
        "created_at": crate::clock::now_iso(),
        "connection_params": {"im": {"phone_number": account.line}},
        "sources": [{"id": format!("{}_MESSAGING", account.id), "status": "OK"}],
    }))
    .into_response()
}
