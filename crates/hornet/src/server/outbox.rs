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

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use hornet_codec::{Packet, Protocol};
use tokio::sync::Notify;

/// The queue between the core and one connection's writer.
#[derive(Debug)]
pub(crate) struct Outbox {
    queue: Mutex<Vec<Packet>>,
    protocol: Mutex<Protocol>,
    closing: AtomicBool,
    wake: Notify,
    closed: Notify,
}

impl Outbox {
    pub(crate) fn new() -> Self {
        Outbox {
            queue: Mutex::new(Vec::new()),
            protocol: Mutex::new(Protocol::V3_1_1),
            closing: AtomicBool::new(false),
            wake: Notify::new(),
            closed: Notify::new(),
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
            self.wake.notify_one();
        }
    }

    /// Asks the writer to send what is queued and then close the socket.
    pub(crate) fn close(&self) {
        self.closing.store(true, Ordering::Release);
        self.wake.notify_one();
        self.closed.notify_waiters();
    }

    pub(crate) fn is_closing(&self) -> bool {
        self.closing.load(Ordering::Acquire)
    }

    /// Resolves once `close` was called.
    pub(crate) async fn wait_closed(&self) {
        loop {
            let notified = self.closed.notified();
            if self.is_closing() {
                return;
            }
            notified.await;
        }
    }

    /// Waits until there is something to do.
    pub(crate) async fn wait(&self) {
        self.wake.notified().await;
    }

    /// Takes every queued packet, leaving `spare` (an empty vector kept for
    /// reuse) in its place.
    pub(crate) fn take(&self, spare: &mut Vec<Packet>) {
        let mut q = self.queue.lock().expect("outbox lock");
        std::mem::swap(&mut *q, spare);
    }

    pub(crate) fn set_protocol(&self, protocol: Protocol) {
        *self.protocol.lock().expect("outbox lock") = protocol;
    }

    pub(crate) fn protocol(&self) -> Protocol {
        *self.protocol.lock().expect("outbox lock")
    }
}
