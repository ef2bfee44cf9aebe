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
//! A PUBLISH that goes to many connections is encoded once per shape
//! (protocol version, flags, topic, properties) by the caller that hands
//! the core's packets out (`encoded::Shapes`) and queued here as those
//! shared bytes ([`Outgoing::Encoded`], one or more whole packets); the
//! writers copy them into their chunks instead of each encoding the packet
//! again.
//!
//! Durability needs nothing here: the core itself holds the packets that
//! wait for the disk and hands them out once their records are durable.

use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::task::{Context, Poll};

use atomic_waker::AtomicWaker;
use std::sync::Mutex;

use bytes::{BufMut, BytesMut};
use hornet_codec::{EncodeError, Packet, PacketType, Protocol};
use hornet_core::ConnId;
use tokio::sync::Notify;

use super::encoded::Wire;

/// Room reserved on the first push into an empty queue: a burst then
/// grows the vector a few times at most, rather than from 4 up (the
/// reallocations were 8% of a fan-out's instructions). Freed again when
/// the writer goes idle (`trim`).
const FIRST_CAPACITY: usize = 32;

/// One thing to write: a packet to encode in the connection's protocol, or
/// PUBLISH packets already encoded for it (shared with other connections:
/// one message, or a fan-out's run of them).
///
/// The packet is boxed: a fan-out's outboxes hold mostly shared encodings,
/// and with the packet inline every entry took the 96 bytes of a `Packet`
/// rather than the 32 of a `Bytes` (a flooded 1 → 100 fan-out keeps up to
/// `max_unwritten_packets` entries per subscriber, twice: the outbox's
/// vector and its writer's).
#[derive(Debug, Clone)]
pub(crate) enum Outgoing {
    Packet(Box<Packet>),
    Encoded(Wire),
}

impl Outgoing {
    /// A packet for the writer to encode.
    pub(crate) fn packet(packet: Packet) -> Outgoing {
        Outgoing::Packet(Box::new(packet))
    }

    /// Appends the packet's bytes to `out`.
    pub(crate) fn encode(&self, protocol: Protocol, out: &mut BytesMut) -> Result<(), EncodeError> {
        match self {
            Outgoing::Packet(p) => p.encode(protocol, out),
            Outgoing::Encoded(w) => {
                out.put_slice(w.bytes());
                Ok(())
            }
        }
    }

    /// How many packets this is (what the writer reports written).
    pub(crate) fn packets(&self) -> usize {
        match self {
            Outgoing::Packet(_) => 1,
            Outgoing::Encoded(w) => w.packets(),
        }
    }

    pub(crate) fn packet_type(&self) -> PacketType {
        match self {
            Outgoing::Packet(p) => p.packet_type(),
            Outgoing::Encoded(_) => PacketType::Publish,
        }
    }
}

/// The queue between the core and one connection's writer.
#[derive(Debug)]
pub(crate) struct Outbox {
    /// The connection's id (kept here rather than in its task: the TCP
    /// task's future must stay small, and this costs the outbox nothing:
    /// it stays in the same allocator class).
    id: ConnId,
    queue: Mutex<Vec<Outgoing>>,
    /// The protocol the queued packets are encoded in, as its index in
    /// `Protocol::ALL`: written and read under `queue`'s lock (so it cannot
    /// change while a packet is made), but kept outside it, next to the
    /// flags, where it costs no padding. Inside, it made the lock 40 bytes
    /// and the outbox 104 (the 112-byte class); now 96.
    protocol: AtomicU8,
    closing: AtomicBool,
    /// The writer's wake-up: one waiter only (the connection's writer), so
    /// a registered waker and a flag rather than a `Notify`, whose
    /// `Notified` future would be part of every connection's task.
    woken: AtomicBool,
    /// The core asked for the connection's pending input (a takeover
    /// waits for it: `Action::DrainInput`).
    drain: AtomicBool,
    waker: AtomicWaker,
    /// Wakes a TLS/WS connection's reader on `close` (its own task); a
    /// plain TCP connection's single task needs none, and an empty
    /// `Notify` would be 32 bytes in every idle connection's outbox.
    closed: Option<Box<Notify>>,
}

impl Outbox {
    /// An outbox; `close_notify` when another task than the writer waits
    /// for the close (`wait_closed`: TLS and WebSocket readers).
    pub(crate) fn new(id: ConnId, close_notify: bool) -> Self {
        Outbox {
            id,
            queue: Mutex::new(Vec::new()),
            protocol: AtomicU8::new(Protocol::V3_1_1 as u8),
            closing: AtomicBool::new(false),
            woken: AtomicBool::new(false),
            drain: AtomicBool::new(false),
            waker: AtomicWaker::new(),
            closed: close_notify.then(|| Box::new(Notify::new())),
        }
    }

    /// The connection's id.
    pub(crate) fn id(&self) -> ConnId {
        self.id
    }

    /// Appends what `make` gives for the connection's protocol (under the
    /// queue's lock, so the protocol cannot change meanwhile) and wakes
    /// the writer.
    pub(crate) fn push_with(&self, make: impl FnOnce(Protocol) -> Outgoing) {
        let was_empty = {
            let mut q = self.queue.lock().expect("outbox lock");
            let item = make(self.load_protocol());
            if q.capacity() == 0 {
                q.reserve(FIRST_CAPACITY);
            }
            q.push(item);
            q.len() == 1
        };
        if was_empty {
            self.wake();
        }
    }

    /// Appends what `make` adds for the connection's protocol, several
    /// packets under one lock (a fan-out's run of messages to the same
    /// connections), and wakes the writer if there was nothing before.
    pub(crate) fn push_many(&self, make: impl FnOnce(Protocol, &mut Vec<Outgoing>)) {
        let was_empty = {
            let mut q = self.queue.lock().expect("outbox lock");
            let was_empty = q.is_empty();
            if q.capacity() == 0 {
                q.reserve(FIRST_CAPACITY);
            }
            make(self.load_protocol(), &mut q);
            was_empty && !q.is_empty()
        };
        if was_empty {
            self.wake();
        }
    }

    /// Wakes the writer.
    pub(crate) fn wake(&self) {
        self.woken.store(true, Ordering::Release);
        self.waker.wake();
    }

    /// Asks the writer to send what is queued and then close the socket.
    pub(crate) fn close(&self) {
        self.closing.store(true, Ordering::Release);
        self.wake();
        if let Some(closed) = &self.closed {
            closed.notify_waiters();
        }
    }

    /// Asks the connection's task to read what its socket has already
    /// received and report it drained. False when this kind of connection
    /// cannot (TLS and WebSocket streams buffer inside their own layers):
    /// the caller reports it drained at once.
    pub(crate) fn request_drain(&self) -> bool {
        if self.closed.is_some() {
            return false;
        }
        self.drain.store(true, Ordering::Release);
        self.wake();
        true
    }

    /// Whether a drain was asked for since the last call.
    pub(crate) fn take_drain(&self) -> bool {
        self.drain.load(Ordering::Relaxed) && self.drain.swap(false, Ordering::AcqRel)
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
    pub(crate) fn take(&self, spare: &mut Vec<Outgoing>) {
        let mut q = self.queue.lock().expect("outbox lock");
        std::mem::swap(&mut *q, spare);
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
        // Under the queue's lock: no packet is being made meanwhile.
        let _queue = self.queue.lock().expect("outbox lock");
        self.protocol.store(protocol as u8, Ordering::Relaxed);
    }

    pub(crate) fn protocol(&self) -> Protocol {
        let _queue = self.queue.lock().expect("outbox lock");
        self.load_protocol()
    }

    /// The protocol (the caller holds the queue's lock, which orders it).
    fn load_protocol(&self) -> Protocol {
        Protocol::ALL[usize::from(self.protocol.load(Ordering::Relaxed))]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::task::Wake;

    struct Count(std::sync::atomic::AtomicUsize);
    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn publish(n: u8) -> Outgoing {
        Outgoing::Encoded(Wire::from_encoded(1, &[0x30, 1, n]))
    }

    #[test]
    fn an_entry_is_as_small_as_shared_bytes() {
        assert_eq!(
            std::mem::size_of::<Outgoing>(),
            std::mem::size_of::<bytes::Bytes>()
        );
    }

    /// Every connection has one, parked or not: an `Arc` of it stays in
    /// jemalloc's 96-byte class (it was 104 bytes, the 112 class, with the
    /// protocol inside the lock).
    #[test]
    fn an_outbox_fits_96_bytes_with_its_counts() {
        let arc_inner = 2 * std::mem::size_of::<usize>() + std::mem::size_of::<Outbox>();
        assert!(arc_inner <= 96, "Arc<Outbox> is {arc_inner} bytes");
    }

    #[test]
    fn the_protocol_set_is_the_protocol_packets_are_made_in() {
        let outbox = Outbox::new(ConnId(1), false);
        assert_eq!(outbox.protocol(), Protocol::V3_1_1, "before the CONNECT");
        for p in Protocol::ALL {
            outbox.set_protocol(p);
            assert_eq!(outbox.protocol(), p);
            outbox.push_with(|made_in| {
                assert_eq!(made_in, p);
                publish(1)
            });
        }
    }

    #[test]
    fn push_many_appends_in_order_and_wakes_the_writer_once() {
        let outbox = Outbox::new(ConnId(1), false);
        outbox.set_protocol(Protocol::V5);
        let count = Arc::new(Count(Default::default()));
        let waker = std::task::Waker::from(count.clone());
        let mut cx = Context::from_waker(&waker);
        assert!(outbox.poll_wait(&mut cx).is_pending());
        outbox.push_many(|protocol, items| {
            assert_eq!(protocol, Protocol::V5, "the connection's protocol");
            items.extend((1..=3).map(publish));
        });
        outbox.push_many(|_, items| items.push(publish(4)));
        assert_eq!(
            count.0.load(Ordering::SeqCst),
            1,
            "woken once, when it had nothing"
        );
        let mut taken = Vec::new();
        outbox.take(&mut taken);
        let bytes: Vec<u8> = taken
            .iter()
            .map(|o| match o {
                Outgoing::Encoded(w) => w.bytes()[2],
                Outgoing::Packet(_) => panic!("as pushed"),
            })
            .collect();
        assert_eq!(bytes, [1, 2, 3, 4], "in order");
        // Nothing added: nothing to take.
        outbox.push_many(|_, _| {});
        let mut again = Vec::new();
        outbox.take(&mut again);
        assert!(again.is_empty());
    }
}
