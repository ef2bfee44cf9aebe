//! Paging of list endpoints: `?page=1&limit=50` (limit at most 1000); the
//! answer is `{"data": [...], "meta": {"page", "limit", "count"}}` where
//! `count` is the number of items after filtering, over all pages.

use serde::{Deserialize, Serialize};

use super::error::ApiError;

/// Largest page size.
pub(crate) const MAX_LIMIT: usize = 1000;

/// Largest page number.
pub(crate) const MAX_PAGE: usize = u32::MAX as usize;

/// The paging part of a query string.
#[derive(Debug, Clone, Copy, Deserialize)]
pub(crate) struct PageQuery {
    pub(crate) page: Option<usize>,
    pub(crate) limit: Option<usize>,
}

/// The paging block of a list answer.
#[derive(Debug, Serialize)]
pub(crate) struct Meta {
    page: usize,
    limit: usize,
    count: usize,
}

/// A page of items with its paging block.
#[derive(Debug, Serialize)]
pub(crate) struct Page<T> {
    data: Vec<T>,
    meta: Meta,
}

impl<T> Page<T> {
    /// Converts the items of the page (after paging, so only what is sent
    /// is converted).
    pub(crate) fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            data: self.data.into_iter().map(f).collect(),
            meta: self.meta,
        }
    }
}

impl PageQuery {
    /// Takes page `page` of `items` (already filtered).
    pub(crate) fn apply<T>(self, items: Vec<T>) -> Result<Page<T>, ApiError> {
        let page = self.page.unwrap_or(1);
        let limit = self.limit.unwrap_or(100);
        if page == 0 || page > MAX_PAGE {
            return Err(ApiError::bad_request(format!(
                "page must be 1 to {MAX_PAGE}, not {page}"
            )));
        }
        if limit == 0 || limit > MAX_LIMIT {
            return Err(ApiError::bad_request(format!(
                "limit must be 1 to {MAX_LIMIT}, not {limit}"
            )));
        }
        let count = items.len();
        let data = items
            .into_iter()
            .skip((page - 1).saturating_mul(limit))
            .take(limit)
            .collect();
        Ok(Page {
            data,
            meta: Meta { page, limit, count },
        })
    }
}
