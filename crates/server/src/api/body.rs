//! [`Body`]: a JSON request body that must be a JSON object.
//!
//! axum's `Json<T>` lets serde read a struct from an array too (`[null, null]` fills the
//! fields in order), so a body of the wrong shape could pass as an empty change. Every
//! API body is an object; anything else is refused with 422, like any body that doesn't
//! fit its schema.

use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use axum::Json;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::http::ApiError;

/// A JSON object body, read into `T`.
#[derive(Debug)]
pub struct Body<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Body<T> {
    type Rejection = axum::response::Response;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        use axum::response::IntoResponse;
        let Json(value) = Json::<Value>::from_request(request, state)
            .await
            .map_err(IntoResponse::into_response)?;
        let unfit = |detail: String| {
            ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_body", detail).into_response()
        };
        if !value.is_object() {
            return Err(unfit("the body must be a JSON object".into()));
        }
        serde_json::from_value(value)
            .map(Body)
            .map_err(|e| unfit(format!("body: {e}")))
    }
}
