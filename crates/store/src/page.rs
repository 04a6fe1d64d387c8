//! Keyset pagination for API lists: newest first, resumed after the last row seen.
//!
//! Offsets drift when rows arrive between pages (a busy inbox gets new messages every
//! second) and get slower the deeper they go; a `(created_at, id)` position does neither.
//! Every paged list orders by `created_at DESC, id DESC` and filters with
//! [`after_condition`] on its own binds.

/// Where the previous page ended: the last row's creation time and id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageAfter {
    pub at_ms: i64,
    pub id: String,
}

/// One page's request: how many rows, after which position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paging {
    pub limit: u32,
    pub after: Option<PageAfter>,
}

impl Paging {
    /// The first page of `limit` rows.
    pub fn first(limit: u32) -> Self {
        Self { limit, after: None }
    }

    /// Binds for `($n IS NULL OR created_at < $n OR (created_at = $n AND id < $m))`.
    pub fn after_binds(&self) -> (Option<i64>, Option<&str>) {
        match &self.after {
            Some(after) => (Some(after.at_ms), Some(after.id.as_str())),
            None => (None, None),
        }
    }

    /// The row count to fetch: one more than the page, to learn whether another follows.
    pub fn fetch(&self) -> i64 {
        i64::from(self.limit) + 1
    }
}

/// A page of rows, and whether more follow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paged<T> {
    pub items: Vec<T>,
    /// Where the next page starts, if there is one.
    pub next: Option<PageAfter>,
}

impl<T> Paged<T> {
    /// Cuts `rows` (fetched with [`Paging::fetch`]) to the page, noting where the next
    /// one starts; `position` gives a row's `(created_at, id)`.
    pub fn from_rows(
        mut rows: Vec<T>,
        paging: &Paging,
        position: impl Fn(&T) -> (i64, String),
    ) -> Self {
        let limit = paging.limit as usize;
        let next = (rows.len() > limit).then(|| {
            rows.truncate(limit);
            let (at_ms, id) = rows.last().map(&position).unwrap_or_default();
            PageAfter { at_ms, id }
        });
        Self { items: rows, next }
    }

    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Paged<U> {
        Paged {
            items: self.items.into_iter().map(f).collect(),
            next: self.next,
        }
    }
}

/// The keyset condition, for a table aliased or not: `$at` and `$id` are the binds'
/// placeholders (e.g. `"$3"`, `"$4"`).
pub fn after_condition(created_at: &str, id: &str, at: &str, after_id: &str) -> String {
    format!("({at} IS NULL OR {created_at} < {at} OR ({created_at} = {at} AND {id} < {after_id}))")
}
