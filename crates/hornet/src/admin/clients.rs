//! `/api/v1/clients`: list (filtered, paged), one client's detail, kick
//! (`DELETE /api/v1/clients/{id}`, MQTT 5 DISCONNECT 0x98) and discard a
//! session (`DELETE /api/v1/clients/{id}/session`).

use std::time::Instant;

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State as AxumState};
use axum::http::StatusCode;
use axum::Json;
use hornet_core::{ClientDetail, ClientRow, SubscriptionRow};
use serde::{Deserialize, Serialize};

use super::error::ApiError;
use super::paging::{Page, PageQuery};
use super::view::{protocol_name, unix_seconds};
use super::State;

/// Filters of the client list.
#[derive(Debug, Deserialize)]
pub(crate) struct ListQuery {
    /// Client id prefix.
    client_id: Option<String>,
    /// Exact user name.
    username: Option<String>,
    /// Substring of the peer address (`ip:port`).
    address: Option<String>,
    /// `3.1`, `3.1.1` or `5.0`.
    protocol: Option<String>,
    /// Connected (true) or offline sessions (false).
    connected: Option<bool>,
    page: Option<usize>,
    limit: Option<usize>,
}

/// A client in the list.
#[derive(Debug, Serialize)]
pub(crate) struct ClientView {
    client_id: String,
    connected: bool,
    username: Option<String>,
    address: Option<String>,
    listener_port: Option<u16>,
    protocol: &'static str,
    subscriptions: usize,
    inflight: usize,
    queued: usize,
    dropped: u64,
    connected_at: Option<u64>,
    disconnected_at: Option<u64>,
}

impl From<ClientRow> for ClientView {
    fn from(r: ClientRow) -> Self {
        ClientView {
            client_id: r.client_id.to_string(),
            connected: r.connected,
            username: r.username.map(|u| u.to_string()),
            address: r.peer.map(|p| p.to_string()),
            listener_port: r.listener_port,
            protocol: protocol_name(r.protocol),
            subscriptions: r.subscriptions,
            inflight: r.inflight,
            queued: r.queued,
            dropped: r.dropped,
            connected_at: r.connected_since.map(unix_seconds),
            disconnected_at: r.disconnected_since.map(unix_seconds),
        }
    }
}

/// A subscription as the API shows it.
#[derive(Debug, Serialize)]
pub(crate) struct SubscriptionView {
    pub(crate) client_id: String,
    pub(crate) filter: String,
    pub(crate) qos: u8,
    pub(crate) no_local: bool,
    pub(crate) retain_as_published: bool,
    pub(crate) retain_handling: u8,
    pub(crate) identifier: Option<u32>,
}

impl From<SubscriptionRow> for SubscriptionView {
    fn from(s: SubscriptionRow) -> Self {
        SubscriptionView {
            client_id: s.client_id.to_string(),
            filter: s.filter.to_string(),
            qos: s.qos as u8,
            no_local: s.no_local,
            retain_as_published: s.retain_as_published,
            retain_handling: s.retain_handling,
            identifier: s.identifier,
        }
    }
}

/// One client in detail.
#[derive(Debug, Serialize)]
pub(crate) struct DetailView {
    #[serde(flatten)]
    client: ClientView,
    keep_alive: Option<u16>,
    /// Seconds; null = never expires.
    session_expiry_interval: Option<u32>,
    queued_bytes: usize,
    inbound_qos2_pending: usize,
    receive_maximum: Option<u16>,
    max_packet_size: Option<u32>,
    unwritten_packets: Option<usize>,
    subscription_list: Vec<SubscriptionView>,
    will: Option<WillView>,
    queue_policy: QueuePolicyView,
}

/// The session queue's policy: the default and the rules by topic filter.
#[derive(Debug, Serialize)]
struct QueuePolicyView {
    default: String,
    rules: Vec<QueueRuleView>,
}

#[derive(Debug, Serialize)]
struct QueueRuleView {
    filter: String,
    policy: String,
}

#[derive(Debug, Serialize)]
struct WillView {
    topic: String,
    qos: u8,
    retain: bool,
    payload_bytes: usize,
    delay_interval: u32,
}

impl From<ClientDetail> for DetailView {
    fn from(d: ClientDetail) -> Self {
        DetailView {
            client: d.row.into(),
            keep_alive: d.keep_alive,
            session_expiry_interval: (d.session_expiry_interval != u32::MAX)
                .then_some(d.session_expiry_interval),
            queued_bytes: d.queued_bytes,
            inbound_qos2_pending: d.inbound_qos2_pending,
            receive_maximum: d.receive_maximum,
            max_packet_size: d.max_packet_size,
            unwritten_packets: d.unwritten_packets,
            subscription_list: d.subscriptions.into_iter().map(Into::into).collect(),
            will: d.will.map(|w| WillView {
                topic: w.topic,
                qos: w.qos as u8,
                retain: w.retain,
                payload_bytes: w.payload_bytes,
                delay_interval: w.delay_interval,
            }),
            queue_policy: QueuePolicyView {
                default: d.queue_policy.to_string(),
                rules: d
                    .queue_policies
                    .into_iter()
                    .map(|(filter, p)| QueueRuleView {
                        filter,
                        policy: p.to_string(),
                    })
                    .collect(),
            },
        }
    }
}

/// `GET /api/v1/clients`
pub(crate) async fn list(
    AxumState(state): AxumState<State>,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Json<Page<ClientView>>, ApiError> {
    let Query(q) = query?;
    if let Some(p) = &q.protocol {
        if !["3.1", "3.1.1", "5.0"].contains(&p.as_str()) {
            return Err(ApiError::bad_request(format!(
                "protocol must be 3.1, 3.1.1 or 5.0, not {p:?}"
            )));
        }
    }
    let mut rows = state.shared.with_core(|core| core.admin_clients());
    rows.sort_unstable_by(|a, b| a.client_id.cmp(&b.client_id));
    let rows: Vec<ClientRow> = rows
        .into_iter()
        .filter(|r| {
            q.client_id
                .as_ref()
                .map_or(true, |p| r.client_id.starts_with(p.as_str()))
        })
        .filter(|r| {
            q.username
                .as_ref()
                .map_or(true, |u| r.username.as_deref() == Some(u.as_str()))
        })
        .filter(|r| {
            q.address.as_ref().map_or(true, |a| {
                r.peer.is_some_and(|p| p.to_string().contains(a.as_str()))
            })
        })
        .filter(|r| {
            q.protocol
                .as_ref()
                .map_or(true, |p| protocol_name(r.protocol) == p)
        })
        .filter(|r| q.connected.map_or(true, |c| r.connected == c))
        .collect();
    Ok(Json(
        PageQuery {
            page: q.page,
            limit: q.limit,
        }
        .apply(rows)?
        .map(ClientView::from),
    ))
}

/// `GET /api/v1/clients/{client_id}`
pub(crate) async fn detail(
    AxumState(state): AxumState<State>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<DetailView>, ApiError> {
    let Path(client_id) = path?;
    state
        .shared
        .with_core(|core| core.admin_client(&client_id))
        .map(|d| Json(d.into()))
        .ok_or_else(|| ApiError::not_found(format!("no client with id {client_id:?}")))
}

/// `DELETE /api/v1/clients/{client_id}`: disconnect (kick).
pub(crate) async fn kick(
    AxumState(state): AxumState<State>,
    path: Result<Path<String>, PathRejection>,
) -> Result<StatusCode, ApiError> {
    let Path(client_id) = path?;
    state
        .shared
        .with_core(|core| core.admin_kick(Instant::now(), &client_id))?;
    Ok(StatusCode::NO_CONTENT)
}

/// `DELETE /api/v1/clients/{client_id}/session`: kick and forget the session.
pub(crate) async fn discard_session(
    AxumState(state): AxumState<State>,
    path: Result<Path<String>, PathRejection>,
) -> Result<StatusCode, ApiError> {
    let Path(client_id) = path?;
    state
        .shared
        .with_core(|core| core.admin_discard_session(Instant::now(), &client_id))?;
    Ok(StatusCode::NO_CONTENT)
}
