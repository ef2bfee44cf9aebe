//! Idle plain TCP and WebSocket connections without a task of their own
//! ("parked").
//!
//! A TCP or plain WebSocket connection's task (`tcp.rs`) that has had nothing to do for
//! [`Parker::after`] (nothing read, nothing to write, no rate pause) hands
//! its socket here and ends: the socket leaves tokio's reactor (its
//! registration, 256 bytes) and the task (its cell, 256 bytes) is freed.
//! What stays is one slot of [`Parked`] (the socket, the connection id,
//! the outbox, the listener's count) and a small waker in the outbox.
//!
//! One tokio task ([`run`]) watches every parked socket through one
//! epoll instance of its own (`mio::Poll`, itself watched by tokio as an
//! `AsyncFd`). A parked connection comes back, as a fresh `tcp::run` task
//! with its socket registered with tokio again, when
//! - its socket turns readable (bytes, EOF, an error): epoll reports a
//!   socket that is readable when it is added, so bytes that arrived while
//!   it was being parked are not missed;
//! - its outbox is woken (a packet queued, the core's close, a drain
//!   request for a takeover): the outbox's waker is a [`ParkWake`] while it
//!   is parked.
//!
//! No MQTT rule lives here: keep-alive stays the core's (it closes the
//! connection through the outbox, which brings it back to be closed).
//! Stopping the task (server shutdown) closes every parked socket.
//! A WebSocket connection parks only between messages (the `hornet-ws` crate):
//! then its socket is all its WebSocket state. A TLS (or WebSocket over
//! TLS) connection parks with its boxed rustls `ServerConnection`
//! (`tls_io.rs`) once everything it had to write is written. TLS-PSK
//! connections (OpenSSL streams, `conn.rs`) never park.

use std::collections::HashMap;
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use atomic_waker::AtomicWaker;
use hornet_codec::Protocol;
use mio::unix::SourceFd;
use mio::{Events, Interest, Token};
use slab::Slab;
use tokio::io::unix::AsyncFd;

use super::listener::Active;
use super::outbox::Outbox;

/// Events taken from the epoll instance per call.
const EVENTS: usize = 256;

/// An idle connection without a task: what `tcp::run` needs to go on.
pub(crate) struct Parked {
    pub(crate) stream: std::net::TcpStream,
    pub(crate) outbox: Arc<Outbox>,
    pub(crate) active: Active,
    pub(crate) protocol: Option<Protocol>,
    /// A WebSocket connection (its frames are read by the `hornet-ws` crate).
    pub(crate) ws: bool,
}

/// A parked TLS connection's rustls state (`tls_io.rs`).
type TlsState = Box<tokio_rustls::rustls::ServerConnection>;

/// The parked connections and the way to wake the task watching them.
pub(crate) struct Parker {
    /// How long a connection stays idle before it parks; `None`: never.
    after: Option<Duration>,
    registry: mio::Registry,
    slots: Mutex<Slab<Parked>>,
    /// The TLS state of the slots that have one (kept apart, so a parked
    /// TCP connection's slot stays 32 bytes); changed under `slots`' lock.
    tls: Mutex<HashMap<usize, TlsState>>,
    /// Slots whose outbox was woken, for the task to bring back.
    woken: Mutex<Vec<usize>>,
    task: AtomicWaker,
    /// The task has ended (server shutdown): nothing parks any more.
    stopped: AtomicBool,
    /// Connections brought back since start (for tests and the admin API).
    unparked: AtomicUsize,
}

/// The waker a parked connection's outbox holds: wakes the parker's task
/// with the connection's slot.
struct ParkWake {
    slot: usize,
    parker: Arc<Parker>,
}

impl Wake for ParkWake {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        lock(&self.parker.woken).push(self.slot);
        self.parker.task.wake();
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Parker {
    /// A parker and the epoll instance its task ([`run`]) waits on.
    pub(crate) fn new(after: Option<Duration>) -> std::io::Result<(Arc<Parker>, mio::Poll)> {
        let poll = mio::Poll::new()?;
        let registry = poll.registry().try_clone()?;
        let parker = Arc::new(Parker {
            after,
            registry,
            slots: Mutex::new(Slab::new()),
            tls: Mutex::new(HashMap::new()),
            woken: Mutex::new(Vec::new()),
            task: AtomicWaker::new(),
            stopped: AtomicBool::new(false),
            unparked: AtomicUsize::new(0),
        });
        Ok((parker, poll))
    }

    /// How long a connection stays idle before it parks; `None`: never.
    pub(crate) fn after(&self) -> Option<Duration> {
        self.after
    }

    /// Connections parked now.
    pub(crate) fn parked(&self) -> usize {
        lock(&self.slots).len()
    }

    /// Connections brought back since start.
    pub(crate) fn unparked(&self) -> usize {
        self.unparked.load(Ordering::Relaxed)
    }

    /// Parks `p` (its socket already out of tokio's reactor) with its TLS
    /// state, or gives them back when it cannot park: its outbox was woken
    /// meanwhile, the parker has stopped, or epoll refused the socket.
    #[allow(clippy::type_complexity)]
    pub(crate) fn park(
        self: &Arc<Self>,
        p: Parked,
        tls: Option<TlsState>,
    ) -> Result<(), (Parked, Option<TlsState>)> {
        // Under the slots' lock: the task cannot bring the connection back
        // before it is fully parked.
        let mut slots = lock(&self.slots);
        if self.stopped.load(Ordering::Acquire) {
            return Err((p, tls));
        }
        let entry = slots.vacant_entry();
        let slot = entry.key();
        let waker = Waker::from(Arc::new(ParkWake {
            slot,
            parker: self.clone(),
        }));
        if p.outbox
            .poll_wait(&mut Context::from_waker(&waker))
            .is_ready()
        {
            // Something came for it: serve it instead.
            return Err((p, tls));
        }
        let fd = p.stream.as_raw_fd();
        if let Err(e) = self
            .registry
            .register(&mut SourceFd(&fd), Token(slot), Interest::READABLE)
        {
            tracing::debug!("Connection {} not parked: {e}", p.outbox.id());
            p.outbox.stop_waiting();
            return Err((p, tls));
        }
        if let Some(tls) = tls {
            lock(&self.tls).insert(slot, tls);
        }
        entry.insert(p);
        Ok(())
    }

    /// Takes slot `slot` out of the parked ones (a stale slot: `None`).
    fn take(&self, slot: usize) -> Option<(Parked, Option<TlsState>)> {
        let mut slots = lock(&self.slots);
        let p = slots.try_remove(slot)?;
        let tls = lock(&self.tls).remove(&slot);
        drop(slots);
        let _ = self
            .registry
            .deregister(&mut SourceFd(&p.stream.as_raw_fd()));
        // Its waker is the parker's: the task to come registers its own.
        p.outbox.stop_waiting();
        Some((p, tls))
    }

    /// Brings slot `slot` back as a task of its own.
    fn unpark(&self, slot: usize) {
        let Some((p, tls)) = self.take(slot) else {
            return; // brought back already (a wake from before)
        };
        self.unparked.fetch_add(1, Ordering::Relaxed);
        super::tcp::resume(p, tls);
    }
}

/// Closes every parked socket when the watching task ends (server
/// shutdown, the runtime dropped) and lets nothing park after.
struct StopGuard(Arc<Parker>);

impl Drop for StopGuard {
    fn drop(&mut self) {
        self.0.stopped.store(true, Ordering::Release);
        let parked = std::mem::take(&mut *lock(&self.0.slots));
        let tls = std::mem::take(&mut *lock(&self.0.tls));
        drop((parked, tls));
    }
}

/// Watches every parked socket and brings each back when it turns
/// readable or its outbox is woken; ends with the server.
pub(crate) async fn run(parker: Arc<Parker>, poll: mio::Poll) {
    let _stop = StopGuard(parker.clone());
    // `with_interest` is deprecated for types that could close or replace
    // their descriptor while registered; `mio::Poll` owns its epoll
    // descriptor until dropped, which is what the unsafe replacement asks
    // callers to promise (and this crate forbids `unsafe`).
    #[allow(deprecated)]
    let fd = AsyncFd::with_interest(poll, tokio::io::Interest::READABLE);
    let mut fd = match fd {
        Ok(fd) => fd,
        Err(e) => {
            tracing::error!("Idle connections cannot be parked: {e}");
            return;
        }
    };
    let mut events = Events::with_capacity(EVENTS);
    let mut woken = Vec::new();
    loop {
        // Readiness is cleared before the epoll instance is read: an event
        // after the clear makes it ready again, none is lost.
        std::future::poll_fn(|cx| {
            parker.task.register(cx.waker());
            let mut ready = !lock(&parker.woken).is_empty();
            if let Poll::Ready(guard) = fd.poll_read_ready(cx) {
                if let Ok(mut guard) = guard {
                    guard.clear_ready();
                }
                ready = true;
            }
            if ready {
                Poll::Ready(())
            } else {
                Poll::Pending
            }
        })
        .await;
        std::mem::swap(&mut woken, &mut *lock(&parker.woken));
        for slot in woken.drain(..) {
            parker.unpark(slot);
        }
        loop {
            match fd.get_mut().poll(&mut events, Some(Duration::ZERO)) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    tracing::error!("Watching parked connections failed: {e}");
                    return;
                }
            }
            if events.is_empty() {
                break;
            }
            for event in events.iter() {
                parker.unpark(event.token().0);
            }
        }
        if woken.capacity() > EVENTS {
            woken = Vec::new();
        }
    }
}
