//! Cursor pagination on the wire: `?limit=&cursor=` in, `{items, next_cursor}` out.
//!
//! The cursor is opaque to clients (URL-safe base64 of the last row's position, see
//! [`store::page`]); a cursor that doesn't decode is a 400, never a silent first page.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::{Deserialize, Serialize};
use store::{PageAfter, Paged, Paging};
use utoipa::{IntoParams, ToSchema};

use crate::http::ApiError;

/// Rows per page unless asked otherwise.
const DEFAULT_LIMIT: u32 = 50;
/// The most rows a page holds.
const MAX_LIMIT: u32 = 200;

/// `?limit=&cursor=`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Rows per page, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

impl PageQuery {
    /// The store's page request, or 400 for a limit out of range or a cursor we didn't
    /// make.
    pub fn paging(&self) -> Result<Paging, ApiError> {
        let limit = self.limit.unwrap_or(DEFAULT_LIMIT);
        if !(1..=MAX_LIMIT).contains(&limit) {
            return Err(ApiError::bad_request(
                "invalid_limit",
                format!("limit must be 1 to {MAX_LIMIT}"),
            ));
        }
        // An empty `cursor=` is no cursor: the first page.
        let after = self
            .cursor
            .as_deref()
            .filter(|c| !c.is_empty())
            .map(decode)
            .transpose()?;
        Ok(Paging { limit, after })
    }
}

fn invalid_cursor() -> ApiError {
    ApiError::bad_request(
        "invalid_cursor",
        "cursor must be a next_cursor value from a previous page",
    )
}

fn decode(cursor: &str) -> Result<PageAfter, ApiError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(cursor)
        .map_err(|_| invalid_cursor())?;
    let text = String::from_utf8(bytes).map_err(|_| invalid_cursor())?;
    let (at, id) = text.split_once('.').ok_or_else(invalid_cursor)?;
    let at_ms = at.parse().map_err(|_| invalid_cursor())?;
    if id.is_empty() {
        return Err(invalid_cursor());
    }
    Ok(PageAfter {
        at_ms,
        id: id.to_string(),
    })
}

pub(crate) fn encode(after: &PageAfter) -> String {
    URL_SAFE_NO_PAD.encode(format!("{}.{}", after.at_ms, after.id))
}

/// One page of a list.
#[derive(Debug, Serialize, ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    /// The wire form of a store page, each row turned into its view.
    pub fn from_store<R>(paged: Paged<R>, view: impl FnMut(R) -> T) -> Self {
        let next_cursor = paged.next.as_ref().map(encode);
        Self {
            items: paged.items.into_iter().map(view).collect(),
            next_cursor,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_foreign_ones_are_refused() {
        let after = PageAfter {
            at_ms: 1_700_000_000_123,
            id: "msg_01HZX".into(),
        };
        assert_eq!(decode(&encode(&after)).unwrap(), after);
        for bad in ["", "!!", "bm9kb3Q", "YWJjLnh5eg", "MTIzLg"] {
            assert_eq!(decode(bad).unwrap_err().code, "invalid_cursor", "{bad}");
        }
        let query = |limit| PageQuery {
            limit: Some(limit),
            cursor: None,
        };
        assert!(query(0).paging().is_err());
        assert!(query(201).paging().is_err());
        assert_eq!(query(200).paging().unwrap().limit, 200);
        assert_eq!(PageQuery::default().paging().unwrap().limit, DEFAULT_LIMIT);
    }
}
