//! `/api/v1/retained`: list by topic filter (paged), read one
//! (`/api/v1/retained/{topic}`), delete one, or delete every message
//! matching a filter (`DELETE /api/v1/retained?filter=...`).

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State as AxumState};
use axum::http::StatusCode;
use axum::Json;
use hornet_core::RetainedRow;
use serde::{Deserialize, Serialize};

use super::error::ApiError;
use super::paging::{Page, PageQuery};
use super::view::{unix_seconds, PayloadView, PublishProperties};
use super::State;

/// `?filter=a/#` (default `#`) and paging.
#[derive(Debug, Deserialize)]
pub(crate) struct ListQuery {
    filter: Option<String>,
    page: Option<usize>,
    limit: Option<usize>,
}

/// A retained message.
#[derive(Debug, Serialize)]
pub(crate) struct RetainedView {
    topic: String,
    qos: u8,
    #[serde(flatten)]
    payload: PayloadView,
    properties: PublishProperties,
    stored_at: u64,
}

impl From<RetainedRow> for RetainedView {
    fn from(r: RetainedRow) -> Self {
        RetainedView {
            topic: r.topic,
            qos: r.qos as u8,
            payload: PayloadView::of(&r.payload),
            properties: PublishProperties::from_properties(&r.properties),
            stored_at: unix_seconds(r.stored),
        }
    }
}

/// `GET /api/v1/retained`
pub(crate) async fn list(
    AxumState(state): AxumState<State>,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Json<Page<RetainedView>>, ApiError> {
    let Query(q) = query?;
    let filter = q.filter.as_deref().unwrap_or("#");
    let mut rows = state.shared.with_core(|core| core.admin_retained(filter))?;
    rows.sort_unstable_by(|a, b| a.topic.cmp(&b.topic));
    let rows = rows.into_iter().map(Into::into).collect();
    Ok(Json(
        PageQuery {
            page: q.page,
            limit: q.limit,
        }
        .apply(rows)?,
    ))
}

/// The answer to a delete.
#[derive(Debug, Serialize)]
pub(crate) struct Deleted {
    deleted: usize,
    topics: Vec<String>,
}

/// `?filter=...` (required, so that "delete everything" is asked for with `#`).
#[derive(Debug, Deserialize)]
pub(crate) struct DeleteQuery {
    filter: Option<String>,
}

/// `DELETE /api/v1/retained?filter=...`
pub(crate) async fn delete_matching(
    AxumState(state): AxumState<State>,
    query: Result<Query<DeleteQuery>, QueryRejection>,
) -> Result<Json<Deleted>, ApiError> {
    let Query(q) = query?;
    let filter = q.filter.ok_or_else(|| {
        ApiError::bad_request("the filter parameter is required (use filter=%23 to delete all)")
    })?;
    let topics = state
        .shared
        .with_core(|core| core.admin_delete_retained(&filter))?;
    Ok(Json(Deleted {
        deleted: topics.len(),
        topics,
    }))
}

fn topic_of(path: Result<Path<String>, PathRejection>) -> Result<String, ApiError> {
    let Path(topic) = path?;
    hornet_codec::topic::validate_name(&topic)
        .map_err(|e| ApiError::bad_request(format!("topic {topic:?}: {e}")))?;
    Ok(topic)
}

/// `GET /api/v1/retained/{topic}` (the topic may contain `/`).
pub(crate) async fn read_one(
    AxumState(state): AxumState<State>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<RetainedView>, ApiError> {
    let topic = topic_of(path)?;
    state
        .shared
        .with_core(|core| core.admin_retained_one(&topic))
        .map(|r| Json(r.into()))
        .ok_or_else(|| ApiError::not_found(format!("no retained message on {topic:?}")))
}

/// `DELETE /api/v1/retained/{topic}`
pub(crate) async fn delete_one(
    AxumState(state): AxumState<State>,
    path: Result<Path<String>, PathRejection>,
) -> Result<StatusCode, ApiError> {
    let topic = topic_of(path)?;
    // A topic name is a filter matching only itself.
    let deleted = state
        .shared
        .with_core(|core| core.admin_delete_retained(&topic))?;
    if deleted.is_empty() {
        return Err(ApiError::not_found(format!(
            "no retained message on {topic:?}"
        )));
    }
    Ok(StatusCode::NO_CONTENT)
}
