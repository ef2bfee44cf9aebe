//! What a running bridge shows: its state, address and counters, shared
//! between its task and whoever asks (tests, `/metrics`).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock, Weak};

use crate::server::Shared;

/// One bridge's figures.
#[derive(Debug, Default)]
pub struct BridgeStatus {
    /// The bridge's name.
    pub name: String,
    connected: AtomicBool,
    /// Messages sent to the remote (acknowledged for QoS 1/2).
    pub sent: AtomicU64,
    /// Messages received from the remote and published locally.
    pub received: AtomicU64,
    /// Messages dropped by the bridge (too large for the remote, no
    /// mapping); the snapshot adds its outbox's drops.
    pub dropped: AtomicU64,
    /// Connections made to the remote after the first.
    pub reconnects: AtomicU64,
    address: Mutex<String>,
    last_error: Mutex<Option<String>>,
    /// The broker and the local side's client id: its session's queue is
    /// the outbox, its drops are the bridge's.
    outbox: OnceLock<(Weak<Shared>, String)>,
}

/// A copy of a bridge's figures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BridgeSnapshot {
    /// Name.
    pub name: String,
    /// Connected to the remote now.
    pub connected: bool,
    /// The remote address last tried.
    pub address: String,
    /// Messages sent.
    pub sent: u64,
    /// Messages received.
    pub received: u64,
    /// Messages dropped: by the bridge, and by its outbox's limits
    /// (`bridge_max_queued_messages`, or the broker's).
    pub dropped: u64,
    /// Reconnections.
    pub reconnects: u64,
    /// The last error, if any.
    pub last_error: Option<String>,
}

impl BridgeStatus {
    pub(crate) fn new(name: &str) -> Self {
        BridgeStatus {
            name: name.to_string(),
            ..Default::default()
        }
    }

    /// Where the outbox is: the local side's session in the core.
    pub(crate) fn set_outbox(&self, shared: &std::sync::Arc<Shared>, local_client_id: String) {
        let _ = self
            .outbox
            .set((std::sync::Arc::downgrade(shared), local_client_id));
    }

    pub(crate) fn set_connected(&self, connected: bool) {
        self.connected.store(connected, Ordering::Relaxed);
    }

    pub(crate) fn set_address(&self, address: String) {
        *self.address.lock().unwrap_or_else(|p| p.into_inner()) = address;
    }

    pub(crate) fn set_error(&self, error: String) {
        *self.last_error.lock().unwrap_or_else(|p| p.into_inner()) = Some(error);
    }

    pub(crate) fn count(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// A copy of the figures now.
    pub fn snapshot(&self) -> BridgeSnapshot {
        let outbox_dropped = self
            .outbox
            .get()
            .and_then(|(shared, id)| {
                let shared = shared.upgrade()?;
                shared.with_core(|core| core.session_backlog(id))
            })
            .map_or(0, |(_, dropped)| dropped);
        BridgeSnapshot {
            name: self.name.clone(),
            connected: self.connected.load(Ordering::Relaxed),
            address: self
                .address
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone(),
            sent: self.sent.load(Ordering::Relaxed),
            received: self.received.load(Ordering::Relaxed),
            dropped: self.dropped.load(Ordering::Relaxed) + outbox_dropped,
            reconnects: self.reconnects.load(Ordering::Relaxed),
            last_error: self
                .last_error
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone(),
        }
    }
}
