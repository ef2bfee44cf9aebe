//! Takeover without a race: a CONNECT whose client id is live on another
//! connection first lets the shell read what that connection had already
//! received.
//!
//! A client that sends DISCONNECT and reconnects at once (Paho's and
//! MQTT.js's reconnect, a test suite's next case) has its DISCONNECT in the
//! old socket and its CONNECT in the new one. Under load the new socket can
//! be read first; the core would then take over a connection that ended
//! normally, publish its will ([MQTT-3.1.2-8] says a DISCONNECT discards
//! it, [MQTT-3.1.2-10]) and, over MQTT 5, send it DISCONNECT 0x8E. So, when
//! the shell can drain (see [`Broker::drain_before_takeover`]):
//!
//! ```text
//! CONNECT (id live on `old`) -> the new connection is TakingOver (its later
//!                               packets parked), Action::DrainInput { old }
//! shell reads old's pending bytes, feeds them, calls input_drained(old)
//!   or old ended meanwhile (its DISCONNECT was read: will discarded)
//!   or DRAIN_WAIT passed (a shell that never answers)
//! -> takeover as before: old (if still live) gets 0x8E and its will is
//!    published; the session attaches; CONNACK
//! ```
//!
//! Several CONNECTs waiting on one old connection resume in arrival order,
//! each taking over the one before, as they would have without the wait.

use std::time::{Duration, Instant};

use bytestring::ByteString;

use crate::broker::{Broker, ConnId};
use crate::lifecycle::{ConnState, Ready};

/// How long a CONNECT waits for the shell to drain the connection it
/// takes over before it takes over anyway.
pub(crate) const DRAIN_WAIT: Duration = Duration::from_secs(1);

impl Broker {
    /// Tells the core that the shell can read a connection's pending input
    /// on request ([`Action::DrainInput`](crate::Action::DrainInput), answered
    /// with [`Broker::input_drained`]). A takeover then waits for that, so
    /// a DISCONNECT already sent on the old connection counts.
    pub fn drain_before_takeover(&mut self, on: bool) {
        self.takeovers.set_enabled(on);
    }

    /// The shell fed `old` every byte it had received when asked with
    /// [`Action::DrainInput`](crate::Action::DrainInput): the CONNECTs
    /// waiting to take it over go on. Ignored when nothing waits.
    pub fn input_drained(&mut self, now: Instant, old: ConnId) {
        self.now = now;
        for id in self.takeovers.take_waiting(old) {
            self.resume_takeover(now, id);
        }
    }

    /// The connection a CONNECT from `id` for `client_id` must wait for
    /// (see the module doc), if any.
    pub(crate) fn must_wait_for(&self, id: ConnId, client_id: &ByteString) -> Option<ConnId> {
        if !self.takeovers.enabled() {
            return None;
        }
        let key = self.sessions.key_of(client_id)?;
        let old = self.sessions[&key].conn?;
        let live = self.conns.get(&old).is_some_and(|c| c.state.is_connected());
        (old != id && live).then_some(old)
    }

    /// Parks `ready` on `id` until `old`'s input has been read.
    pub(crate) fn wait_for_takeover(
        &mut self,
        now: Instant,
        id: ConnId,
        old: ConnId,
        ready: Ready,
    ) {
        let conn = self.conns.get_mut(&id).expect("caller checked");
        tracing::debug!(
            "Client {} connects again on a new connection: reading what its old one \
             received first.",
            ready.admission.client_id
        );
        conn.state.await_takeover(now + DRAIN_WAIT, ready);
        let deadline = conn.state.connect_deadline().expect("not connected");
        self.conns.watch_connect(deadline, id);
        if self.takeovers.wait(old, id) {
            self.out.drain_input(old);
        }
    }

    /// `old` ended: the CONNECTs waiting for it go on before the next seal
    /// (not here: it may be ending in the middle of another change).
    pub(crate) fn takeover_target_ended(&mut self, old: ConnId) {
        self.takeovers.target_ended(old);
    }

    /// Resumes the CONNECTs whose old connection ended.
    pub(crate) fn resume_ready_takeovers(&mut self) {
        if !self.takeovers.any_ready() {
            return;
        }
        let now = self.now;
        for id in self.takeovers.take_ready() {
            self.resume_takeover(now, id);
        }
    }

    /// `id`'s CONNECT, waiting in `TakingOver`, goes on: takeover, session,
    /// CONNACK, then the packets parked behind it. Nothing when `id` closed
    /// or already went on.
    pub(crate) fn resume_takeover(&mut self, now: Instant, id: ConnId) {
        let Some(conn) = self.conns.get_mut(&id) else {
            return;
        };
        let Some((ready, parked)) = conn.state.takeover_ready() else {
            return;
        };
        self.finish_connect(now, id, ready);
        for packet in parked {
            if !self.conns.contains_key(&id) {
                break;
            }
            self.dispatch(now, id, packet);
        }
    }

    /// Whether `id` waits to take over another connection.
    pub(crate) fn is_taking_over(&self, id: ConnId) -> bool {
        self.conns
            .get(&id)
            .is_some_and(|c| matches!(c.state, ConnState::TakingOver(_)))
    }
}
