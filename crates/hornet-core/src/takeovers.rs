//! The table of CONNECTs waiting to take over a live connection (the
//! rules are in `takeover`): by the connection they wait for, in arrival
//! order, and those whose old connection ended.

use ahash::AHashMap;

use crate::ids::ConnId;

/// CONNECTs waiting for the connections they take over.
#[derive(Debug, Default)]
pub(crate) struct Takeovers {
    /// The shell drains on request (otherwise takeovers do not wait).
    enabled: bool,
    /// Waiting CONNECTs by the connection they take over, in arrival order.
    /// An entry may name a connection that has since closed or resumed; it
    /// is skipped.
    waiting: AHashMap<ConnId, Vec<ConnId>>,
    /// Waiting CONNECTs whose old connection ended: resumed before the
    /// next actions are sealed.
    ready: Vec<ConnId>,
}

impl Takeovers {
    pub(crate) fn set_enabled(&mut self, on: bool) {
        self.enabled = on;
    }

    /// Whether takeovers wait for a drain.
    pub(crate) fn enabled(&self) -> bool {
        self.enabled
    }

    /// `id` waits for `old`; true when it is the first (the drain is to be
    /// asked for).
    pub(crate) fn wait(&mut self, old: ConnId, id: ConnId) -> bool {
        let waiting = self.waiting.entry(old).or_default();
        waiting.push(id);
        waiting.len() == 1
    }

    /// Those waiting for `old`, in arrival order, forgotten here.
    pub(crate) fn take_waiting(&mut self, old: ConnId) -> Vec<ConnId> {
        self.waiting.remove(&old).unwrap_or_default()
    }

    /// `old` ended: those waiting for it are ready.
    pub(crate) fn target_ended(&mut self, old: ConnId) {
        if self.waiting.is_empty() {
            return;
        }
        if let Some(waiting) = self.waiting.remove(&old) {
            self.ready.extend(waiting);
        }
    }

    pub(crate) fn any_ready(&self) -> bool {
        !self.ready.is_empty()
    }

    pub(crate) fn take_ready(&mut self) -> Vec<ConnId> {
        std::mem::take(&mut self.ready)
    }
}
