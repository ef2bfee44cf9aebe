//! The running bridges, by name: started with the server, and changed by
//! a reload (SIGHUP) without touching the others. A bridge whose settings
//! are the same keeps its task, connection and counters; a changed one is
//! stopped cleanly and started again with the new settings; a removed one
//! is stopped cleanly (it disconnects and publishes its `0`); an added
//! one starts. Each is one log line naming the bridge.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::task::JoinHandle;

use super::lifecycle::{stop_signal, Stopper};
use super::stats::{BridgeSnapshot, BridgeStatus};
use super::task;
use crate::config::Bridge;
use crate::server::Shared;

/// How long a stopping bridge may take to disconnect before its task is
/// aborted.
const STOP_WAIT: Duration = Duration::from_secs(5);

/// One started bridge.
struct Running {
    bridge: Bridge,
    status: Arc<BridgeStatus>,
    stopper: Stopper,
    task: JoinHandle<()>,
}

/// What a reload did, by bridge name.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ReloadSummary {
    /// Kept as they were (same settings).
    pub kept: Vec<String>,
    /// Stopped and started again with new settings.
    pub changed: Vec<String>,
    /// Stopped.
    pub removed: Vec<String>,
    /// Started.
    pub added: Vec<String>,
}

/// The server's bridges.
pub struct Bridges {
    shared: Arc<Shared>,
    /// The started bridges (a reload holds it from start to end, so two
    /// reloads do not interleave).
    running: tokio::sync::Mutex<Vec<Running>>,
    /// Their figures, in configuration order (read without waiting).
    figures: Mutex<Vec<Arc<BridgeStatus>>>,
}

impl Bridges {
    /// Starts every bridge of `bridges` that can run.
    pub(crate) fn start(shared: Arc<Shared>, bridges: &[Bridge]) -> Bridges {
        let running: Vec<Running> = bridges.iter().filter_map(|b| launch(&shared, b)).collect();
        let figures = running.iter().map(|r| r.status.clone()).collect();
        Bridges {
            shared,
            running: tokio::sync::Mutex::new(running),
            figures: Mutex::new(figures),
        }
    }

    /// Each started bridge's figures, in configuration order.
    pub fn statuses(&self) -> Vec<Arc<BridgeStatus>> {
        self.figures
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// A copy of each started bridge's figures, in configuration order.
    pub fn snapshots(&self) -> Vec<BridgeSnapshot> {
        self.statuses().iter().map(|s| s.snapshot()).collect()
    }

    /// Makes the running bridges those of `bridges` (see the module doc).
    pub async fn reload(&self, bridges: &[Bridge]) -> ReloadSummary {
        let mut running = self.running.lock().await;
        let mut old: Vec<Option<Running>> = running.drain(..).map(Some).collect();
        let mut summary = ReloadSummary::default();
        // The new list, in configuration order: a kept bridge, or one to start.
        let mut next: Vec<Result<Running, &Bridge>> = Vec::new();
        let mut stopping = Vec::new();
        for bridge in bridges {
            let same_name = old
                .iter_mut()
                .find(|r| r.as_ref().is_some_and(|r| r.bridge.name == bridge.name));
            match same_name.and_then(Option::take) {
                Some(r) if r.bridge.settings() == bridge.settings() && !r.task.is_finished() => {
                    tracing::info!(
                        "Reload: bridge {} is unchanged; it stays connected.",
                        bridge.name
                    );
                    summary.kept.push(bridge.name.clone());
                    next.push(Ok(r));
                }
                Some(r) => {
                    tracing::info!(
                        "Reload: bridge {} changed; it reconnects with the new settings.",
                        bridge.name
                    );
                    summary.changed.push(bridge.name.clone());
                    stopping.push(r);
                    next.push(Err(bridge));
                }
                None => {
                    tracing::info!("Reload: bridge {} added; starting it.", bridge.name);
                    summary.added.push(bridge.name.clone());
                    next.push(Err(bridge));
                }
            }
        }
        for r in old.into_iter().flatten() {
            tracing::info!("Reload: bridge {} removed; stopping it.", r.bridge.name);
            summary.removed.push(r.bridge.name.clone());
            stopping.push(r);
        }
        // A changed bridge's old task ends before its new one starts: the
        // two would share the local client id.
        for r in &stopping {
            r.stopper.stop();
        }
        for r in stopping {
            stop(r).await;
        }
        *running = next
            .into_iter()
            .filter_map(|r| match r {
                Ok(kept) => Some(kept),
                Err(bridge) => launch(&self.shared, bridge),
            })
            .collect();
        *self.figures.lock().unwrap_or_else(|p| p.into_inner()) =
            running.iter().map(|r| r.status.clone()).collect();
        summary
    }
}

impl Bridges {
    /// Stops every bridge cleanly (the broker is shutting down): each
    /// publishes its `0` on both sides and disconnects.
    pub async fn stop_all(&self) {
        let mut running = self.running.lock().await;
        let stopping: Vec<Running> = running.drain(..).collect();
        for r in &stopping {
            r.stopper.stop();
        }
        for r in stopping {
            stop(r).await;
        }
        self.figures
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }
}

impl Drop for Bridges {
    fn drop(&mut self) {
        for r in self.running.get_mut().iter() {
            r.task.abort();
        }
    }
}

/// Starts `bridge`'s task, unless it has keys that would make it connect
/// otherwise than asked (PSK): then it is logged and not started.
fn launch(shared: &Arc<Shared>, bridge: &Bridge) -> Option<Running> {
    if let Some(why) = bridge.blocked() {
        tracing::error!("Bridge {} is not started: {why}.", bridge.name);
        return None;
    }
    let status = Arc::new(BridgeStatus::new(&bridge.name));
    status.set_outbox(shared, bridge.local_client_id());
    let (stopper, stop) = stop_signal();
    let task = tokio::spawn(task::run(
        shared.clone(),
        bridge.clone(),
        status.clone(),
        stop,
    ));
    Some(Running {
        bridge: bridge.clone(),
        status,
        stopper,
        task,
    })
}

/// Waits for a bridge asked to stop, aborting it after [`STOP_WAIT`].
async fn stop(r: Running) {
    let Running { bridge, task, .. } = r;
    let abort = task.abort_handle();
    if tokio::time::timeout(STOP_WAIT, task).await.is_err() {
        abort.abort();
        tracing::warn!(
            "Bridge {} did not stop within {} s; ended.",
            bridge.name,
            STOP_WAIT.as_secs()
        );
    }
}
