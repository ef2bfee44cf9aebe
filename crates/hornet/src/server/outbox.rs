//! A connection's outbound queue: packets the core emitted, in the order it
//! emitted them, waiting for the connection's writer task.
//!
//! Packets are pushed while the broker lock is held, so each connection
//! sees them in exactly the core's order (a CONNACK always precedes the
//! first PUBLISH). Encoding happens later, in the writer task, outside the
//! broker lock: that is where the bytes are made and where both cores work
//! in parallel. The queue itself is bounded by the core, which stops
//! handing packets to a connection that has too many unwritten
//! (`Settings::max_unwritten_packets`) and keeps the rest in the session
//! queue.
//!
//! Durability: a packet may be pushed behind a gate (a commit sequence
//! number, see `store.rs`); the writer then gets only the packets before
//! the first gate whose number is not yet durable, so acknowledgements
//! never precede their records on disk and the connection's order is kept.
//! A gate whose write failed closes the connection at that point.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

use atomic_waker::AtomicWaker;
use std::sync::{Arc, Mutex, OnceLock};

use hornet_codec::{Packet, Protocol};
use tokio::sync::Notify;

/// The queue between the core and one connection's writer.
#[derive(Debug)]
pub(crate) struct Outbox {
    queue: Mutex<Vec<Packet>>,
    /// Gates in `queue`: (index of the first packet behind it, number).
    gates: Mutex<VecDeque<(usize, u64)>>,
    /// The durability gate, when acknowledgements wait for the disk.
    gate: OnceLock<Arc<super::store::Gate>>,
    protocol: Mutex<Protocol>,
    closing: AtomicBool,
    /// The writer's wake-up: one waiter only (the connection's writer), so
    /// a registered waker and a flag rather than a `Notify`, whose
    /// `Notified` future would be part of every connection's task.
    woken: AtomicBool,
    waker: AtomicWaker,
    /// Wakes a TLS/WS connection's reader on `close` (its own task); a
    /// plain TCP connection's single task needs none, and an empty
    /// `Notify` would be 32 bytes in every idle connection's outbox.
    closed: Option<Box<Notify>>,
}

impl Outbox {
    /// An outbox; `close_notify` when another task than the writer waits
    /// for the close (`wait_closed`: TLS and WebSocket readers).
    pub(crate) fn new(close_notify: bool) -> Self {
        Outbox {
            queue: Mutex::new(Vec::new()),
            gates: Mutex::new(VecDeque::new()),
            gate: OnceLock::new(),
            protocol: Mutex::new(Protocol::V3_1_1),
            closing: AtomicBool::new(false),
            woken: AtomicBool::new(false),
            waker: AtomicWaker::new(),
            closed: close_notify.then(|| Box::new(Notify::new())),
        }
    }

    /// Appends a packet and wakes the writer.
    pub(crate) fn push(&self, packet: Packet) {
        let was_empty = {
            let mut q = self.queue.lock().expect("outbox lock");
            q.push(packet);
            q.len() == 1
        };
        if was_empty {
            self.wake();
        }
    }

    /// Appends a packet that may not be written before commit `seq` is
    /// durable (0: no wait). The caller registered the outbox with the
    /// gate first (`Gate::wait`), so a resolution cannot be missed.
    pub(crate) fn push_gated(&self, packet: Packet, seq: u64) {
        let Some(gate) = self.gate.get() else {
            return self.push(packet);
        };
        if seq <= gate.resolved() {
            // The store was faster than this push.
            if gate.failed(seq) {
                // Not on disk: withheld, as in `take`.
                tracing::warn!(
                    "Closing a connection: the store could not write what its \
                     acknowledgements promise (they are withheld; the client will send again)."
                );
                self.close();
                return;
            }
            return self.push(packet);
        }
        {
            let mut q = self.queue.lock().expect("outbox lock");
            let mut gates = self.gates.lock().expect("outbox lock");
            if gates.back().map_or(true, |&(_, s)| s < seq) {
                gates.push_back((q.len(), seq));
            }
            q.push(packet);
        }
        self.wake();
    }

    /// Makes the outbox honour `gate`.
    pub(crate) fn set_gate(&self, gate: Arc<super::store::Gate>) {
        let _ = self.gate.set(gate);
    }

    /// Wakes the writer (a gate was resolved).
    pub(crate) fn wake(&self) {
        self.woken.store(true, Ordering::Release);
        self.waker.wake();
    }

    /// Whether packets wait behind a gate.
    pub(crate) fn holds_gated(&self) -> bool {
        !self.gates.lock().expect("outbox lock").is_empty()
    }

    /// Asks the writer to send what is queued and then close the socket.
    pub(crate) fn close(&self) {
        self.closing.store(true, Ordering::Release);
        self.wake();
        if let Some(closed) = &self.closed {
            closed.notify_waiters();
        }
    }

    pub(crate) fn is_closing(&self) -> bool {
        self.closing.load(Ordering::Acquire)
    }

    /// Resolves once `close` was called.
    /// Only for an outbox made with `close_notify`.
    pub(crate) async fn wait_closed(&self) {
        let closed = self
            .closed
            .as_ref()
            .expect("an outbox waited on for its close is made with a close notification");
        loop {
            let notified = closed.notified();
            if self.is_closing() {
                return;
            }
            notified.await;
        }
    }

    /// Waits until there is something to do (for the writer only).
    pub(crate) async fn wait(&self) {
        std::future::poll_fn(|cx| self.poll_wait(cx)).await;
        self.stop_waiting();
    }

    /// Forgets the writer's waker once it is running again. Without this
    /// a push while it runs (a PUBACK to the publisher being read) would
    /// schedule it once more for nothing: 15% more CPU per message in a
    /// QoS 1 fan-in. (A dropped `Notified` deregisters the same way.)
    pub(crate) fn stop_waiting(&self) {
        drop(self.waker.take());
    }

    /// Ready once woken since the last time it was ready (a wake while
    /// nobody waits is kept, like a `Notify` permit). For the writer only:
    /// one waker is kept.
    pub(crate) fn poll_wait(&self, cx: &mut Context<'_>) -> Poll<()> {
        if self.woken.swap(false, Ordering::AcqRel) {
            return Poll::Ready(());
        }
        self.waker.register(cx.waker());
        // A wake between the check and the registration: seen now.
        if self.woken.swap(false, Ordering::AcqRel) {
            return Poll::Ready(());
        }
        Poll::Pending
    }

    /// Takes every queued packet, leaving `spare` (an empty vector kept for
    /// reuse) in its place.
    pub(crate) fn take(&self, spare: &mut Vec<Packet>) {
        let mut q = self.queue.lock().expect("outbox lock");
        let mut gates = self.gates.lock().expect("outbox lock");
        let (Some(gate), false) = (self.gate.get(), gates.is_empty()) else {
            std::mem::swap(&mut *q, spare);
            return;
        };
        let resolved = gate.resolved();
        let mut failed = false;
        while let Some(&(at, seq)) = gates.front() {
            if seq > resolved {
                break;
            }
            if gate.failed(seq) {
                // Its records are not on disk: nothing from here on goes
                // out, and the client will send again on a new connection.
                q.truncate(at);
                gates.clear();
                failed = true;
                break;
            }
            gates.pop_front();
        }
        match gates.front() {
            None => std::mem::swap(&mut *q, spare),
            Some(&(at, _)) => {
                spare.extend(q.drain(..at));
                for g in gates.iter_mut() {
                    g.0 -= at;
                }
            }
        }
        drop(gates);
        drop(q);
        if failed {
            tracing::warn!(
                "Closing a connection: the store could not write what its acknowledgements \
                 promise (they are withheld; the client will send again)."
            );
            self.close();
        }
    }

    /// Frees the queue's vector if it is empty (the writer went idle: an
    /// idle connection keeps no buffer).
    pub(crate) fn trim(&self) {
        let mut q = self.queue.lock().expect("outbox lock");
        if q.is_empty() {
            *q = Vec::new();
        }
    }

    pub(crate) fn set_protocol(&self, protocol: Protocol) {
        *self.protocol.lock().expect("outbox lock") = protocol;
    }

    pub(crate) fn protocol(&self) -> Protocol {
        *self.protocol.lock().expect("outbox lock")
    }
}
