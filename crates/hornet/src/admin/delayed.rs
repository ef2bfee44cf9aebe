//! `/api/v1/delayed`: the messages held for delayed publish
//! (`$delayed/{seconds}/{topic}`), listed by id (paged), and one cancelled
//! (`DELETE /api/v1/delayed/{id}`).

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State as AxumState};
use axum::http::StatusCode;
use axum::Json;
use hornet_core::DelayedRow;
use serde::Serialize;

use super::error::ApiError;
use super::paging::{Page, PageQuery};
use super::view::{unix_seconds, PayloadView, PublishProperties};
use super::State;

/// A held message.
#[derive(Debug, Serialize)]
pub(crate) struct DelayedView {
    id: u64,
    topic: String,
    qos: u8,
    retain: bool,
    #[serde(flatten)]
    payload: PayloadView,
    properties: PublishProperties,
    /// The client that published it (empty: the broker).
    from: String,
    /// When it is published, in Unix seconds.
    due_at: u64,
}

impl From<DelayedRow> for DelayedView {
    fn from(r: DelayedRow) -> Self {
        DelayedView {
            id: r.id,
            topic: r.topic,
            qos: r.qos as u8,
            retain: r.retain,
            payload: PayloadView::of(&r.payload),
            properties: PublishProperties::from_properties(&r.properties),
            from: r.from,
            due_at: unix_seconds(r.due),
        }
    }
}

/// `GET /api/v1/delayed`
pub(crate) async fn list(
    AxumState(state): AxumState<State>,
    query: Result<Query<PageQuery>, QueryRejection>,
) -> Result<Json<Page<DelayedView>>, ApiError> {
    let Query(paging) = query?;
    let rows = state.shared.with_core(|core| core.admin_delayed());
    let rows = rows.into_iter().map(Into::into).collect();
    Ok(Json(paging.apply(rows)?))
}

/// `DELETE /api/v1/delayed/{id}`
pub(crate) async fn cancel(
    AxumState(state): AxumState<State>,
    path: Result<Path<u64>, PathRejection>,
) -> Result<StatusCode, ApiError> {
    let Path(id) = path?;
    if state.shared.with_core(|core| core.admin_cancel_delayed(id)) {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found(format!("no delayed message {id}")))
    }
}
