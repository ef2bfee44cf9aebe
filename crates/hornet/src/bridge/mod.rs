//! Outgoing bridges (Mosquitto's `connection` blocks): one task per
//! bridge. The remote side is `hornet_client::Session` (sans-IO) driven
//! over TCP or TLS (`link.rs`, `task.rs`); the local side is an internal client
//! of the core (`local.rs`); the topic mapping is the configuration's
//! (`config/bridge_topic.rs`); the QoS flows between the two, with one
//! packet id per message so the remote side's state is in Hornet's store,
//! are `relay.rs`; the figures are `stats.rs`.
//! See `docs/bridges.md`.

mod link;
mod local;
mod relay;
mod stats;
mod task;

use std::sync::Arc;

pub use stats::{BridgeSnapshot, BridgeStatus};
use tokio::task::JoinHandle;

use crate::config::Bridge;
use crate::server::Shared;

/// Starts every bridge that can run; a bridge with keys that would make
/// it connect otherwise than asked (PSK) is logged and not started.
pub(crate) fn start(
    shared: &Arc<Shared>,
    bridges: &[Bridge],
) -> (Vec<JoinHandle<()>>, Vec<Arc<BridgeStatus>>) {
    let mut tasks = Vec::new();
    let mut figures = Vec::new();
    for bridge in bridges {
        if let Some(why) = bridge.blocked() {
            tracing::error!("Bridge {} is not started: {why}.", bridge.name);
            continue;
        }
        let status = Arc::new(BridgeStatus::new(&bridge.name));
        status.set_outbox(shared, bridge.local_client_id());
        figures.push(status.clone());
        tasks.push(tokio::spawn(task::run(
            shared.clone(),
            bridge.clone(),
            status,
        )));
    }
    (tasks, figures)
}
