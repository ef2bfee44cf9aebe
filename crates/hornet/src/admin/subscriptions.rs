//! `/api/v1/subscriptions` (every subscription, filterable by client id
//! and filter) and `/api/v1/topics` (the subscription index: each filter in
//! use with its subscriber count).

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State as AxumState};
use axum::Json;
use serde::{Deserialize, Serialize};

use super::clients::SubscriptionView;
use super::error::ApiError;
use super::paging::{Page, PageQuery};
use super::State;

/// Filters of the subscription list.
#[derive(Debug, Deserialize)]
pub(crate) struct ListQuery {
    /// Exact client id.
    client_id: Option<String>,
    /// Substring of the topic filter.
    filter: Option<String>,
    page: Option<usize>,
    limit: Option<usize>,
}

/// `GET /api/v1/subscriptions`
pub(crate) async fn list(
    AxumState(state): AxumState<State>,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Json<Page<SubscriptionView>>, ApiError> {
    let Query(q) = query?;
    let mut rows = state.shared.with_core(|core| core.admin_subscriptions());
    rows.sort_unstable_by(|a, b| (&a.client_id, &a.filter).cmp(&(&b.client_id, &b.filter)));
    let rows: Vec<SubscriptionView> = rows
        .into_iter()
        .filter(|s| {
            q.client_id
                .as_ref()
                .map_or(true, |c| s.client_id == c.as_str())
        })
        .filter(|s| {
            q.filter
                .as_ref()
                .map_or(true, |f| s.filter.contains(f.as_str()))
        })
        .map(Into::into)
        .collect();
    Ok(Json(
        PageQuery {
            page: q.page,
            limit: q.limit,
        }
        .apply(rows)?,
    ))
}

/// A filter of the topic tree.
#[derive(Debug, Serialize)]
pub(crate) struct FilterView {
    filter: String,
    subscribers: usize,
}

/// Filters of the topic tree.
#[derive(Debug, Deserialize)]
pub(crate) struct TreeQuery {
    /// Substring of the topic filter.
    filter: Option<String>,
    page: Option<usize>,
    limit: Option<usize>,
}

/// `GET /api/v1/topics`
pub(crate) async fn topic_tree(
    AxumState(state): AxumState<State>,
    query: Result<Query<TreeQuery>, QueryRejection>,
) -> Result<Json<Page<FilterView>>, ApiError> {
    let Query(q) = query?;
    let rows = state.shared.with_core(|core| core.admin_topic_tree());
    let rows: Vec<FilterView> = rows
        .into_iter()
        .filter(|f| {
            q.filter
                .as_ref()
                .map_or(true, |s| f.filter.contains(s.as_str()))
        })
        .map(|f| FilterView {
            filter: f.filter,
            subscribers: f.subscribers,
        })
        .collect();
    Ok(Json(
        PageQuery {
            page: q.page,
            limit: q.limit,
        }
        .apply(rows)?,
    ))
}
