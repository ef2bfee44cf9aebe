//! A plain TCP connection served by one task: it reads on readiness and
//! writes without blocking, so an idle client costs one task, one socket
//! registration and no buffers.
//!
//! The task waits (one `poll_fn`, no per-event futures) on whichever applies: the socket turning readable (not
//! while the client is paused for its publish rate), its outbox getting
//! packets (or being closed), the socket turning writable again (only
//! while a write is stuck), the end of a rate pause. Reading decodes and
//! feeds the core exactly as the generic path does (`conn.rs`). Writing
//! takes every packet queued, encodes them into chunks of about
//! `WRITE_CHUNK` bytes and writes each with `try_write` (write
//! coalescing); what the kernel does not take waits for writability while
//! reading goes on. Written packets are reported to the core in batches,
//! as before (`packets_written`, flow control).
//!
//! Closing: once the core has closed the connection (or the peer has), the
//! task stops reading, writes what is queued (waiting for acknowledgements
//! gated on the store, see `outbox.rs`), sends FIN and lingers, so a last
//! DISCONNECT or CONNACK is never lost.
//!
//! (The generic path for TLS and WebSocket streams keeps a reader and a
//! writer task: those streams have their own buffers and no `try_write`.)

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;
use std::time::Instant;

use bytes::{Buf, BytesMut};
use hornet_codec::{Decoder, Packet};
use hornet_core::{CloseCause, ConnId};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::time::Sleep;

use super::conn::{decode_and_feed, linger, report, Fed};
use super::conn::{READS_PER_WAKE, READ_CHUNK, REPORT_EVERY, WRITE_CHUNK};
use super::listener::Active;
use super::outbox::Outbox;
use super::Shared;

/// Chunks written per turn before other tasks get the thread.
const CHUNKS_PER_TURN: usize = 4;

/// Serves one plain TCP connection, registered with `conn::open`, until it
/// closes; `_active` holds its place in the listener's counts. The
/// arguments are kept few and small: they are part of the task for its
/// whole life.
pub(crate) async fn run(
    shared: Arc<Shared>,
    mut stream: TcpStream,
    id: ConnId,
    outbox: Arc<Outbox>,
    _active: Active,
) {
    let mut writer = Writer::default();
    let end = serve(&shared, id, &outbox, &stream, &mut writer).await;
    let flush = match end {
        End::Closed => true,
        End::Read(cause) => {
            shared.with_core(|core| core.connection_closed(Instant::now(), id, cause));
            true
        }
        End::WriteFailed(cause) => {
            shared.with_core(|core| core.connection_closed(Instant::now(), id, cause));
            false
        }
    };
    outbox.close();
    // Boxed, as is the linger: they exist only while closing, and a
    // connection's task is as large as the largest thing it awaits.
    if flush && Box::pin(drain(&shared, id, &outbox, &stream, &mut writer)).await {
        let _ = stream.shutdown().await;
    }
    drop(writer);
    Box::pin(linger(&mut stream)).await;
    shared.remove_outbox(id);
}

/// How the serving loop ended.
enum End {
    /// The core closed the connection.
    Closed,
    /// Reading ended (EOF, an error); the core does not know yet.
    Read(CloseCause),
    /// Writing failed; the core does not know yet. Nothing more can be sent.
    WriteFailed(CloseCause),
}

/// What woke the serving loop.
enum Wake {
    Readable,
    Writable,
    Outbox,
    Resume,
}

/// Reads and writes until the core or the peer ends the connection.
async fn serve(
    shared: &Shared,
    id: ConnId,
    outbox: &Outbox,
    stream: &TcpStream,
    writer: &mut Writer,
) -> End {
    // The read buffer exists only while bytes are arriving: an idle
    // connection holds none (Mosquitto keeps an idle client in under 1 KiB,
    // and so must we). It is taken again when the socket turns readable.
    let mut buf = BytesMut::new();
    let mut decoder = Decoder::new();
    decoder.set_max_packet_size(shared.max_packet_size);
    let mut batch: Vec<(Packet, usize)> = Vec::new();
    // On the heap, and only while a pause lasts.
    let mut paused: Option<Pin<Box<Sleep>>> = None;
    loop {
        let blocked = match writer.pump(shared, id, outbox, stream) {
            Ok(Pumped::More) => {
                // `try_write` does not count against tokio's cooperative
                // budget: a subscriber with a full outbox must not keep
                // its worker thread.
                tokio::task::consume_budget().await;
                continue;
            }
            Ok(Pumped::Blocked) => true,
            Ok(Pumped::Idle) => false,
            Err(e) => return End::WriteFailed(CloseCause::Error(e.to_string())),
        };
        if outbox.is_closing() {
            return End::Closed;
        }
        let wake = wait(outbox, stream, blocked, &mut paused).await;
        let wake = match wake {
            Ok(wake) => wake,
            Err(e) if blocked => return End::WriteFailed(CloseCause::Error(e.to_string())),
            Err(e) => return End::Read(CloseCause::Error(e.to_string())),
        };
        match wake {
            Wake::Outbox | Wake::Writable => continue,
            Wake::Resume => {
                paused = None;
                continue;
            }
            Wake::Readable => {}
        }
        // Read until the socket is drained, or for a bounded number of
        // reads so one busy client cannot starve the others on its thread
        // (readiness is kept, so the next `readable` returns at once).
        for _ in 0..READS_PER_WAKE {
            if buf.capacity() - buf.len() < 1024 {
                buf.reserve(READ_CHUNK);
            }
            match stream.try_read_buf(&mut buf) {
                Ok(0) => return End::Read(CloseCause::PeerClosed),
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(e) => return End::Read(CloseCause::Error(e.to_string())),
            }
            match decode_and_feed(shared, id, outbox, &mut decoder, &mut buf, &mut batch) {
                Fed::Refused => return End::Closed,
                // Over its publish rate: stop reading (backpressure); what
                // the core sends meanwhile still goes out.
                Fed::Pause(pause) => {
                    paused = Some(Box::pin(tokio::time::sleep(pause)));
                    break;
                }
                Fed::Ok => {}
            }
            // `try_read` does not count against tokio's cooperative budget
            // (`read` does): without this a flooding publisher would keep
            // its worker thread and starve its subscribers' tasks.
            tokio::task::consume_budget().await;
        }
        if buf.is_empty() {
            // Idle: give the buffers back.
            buf = BytesMut::new();
            batch = Vec::new();
        }
    }
}

/// Waits for the first thing to do: packets in the outbox (or its close)
/// unless a write is `blocked`, the socket writable when it is, readable
/// unless `paused`, the pause over.
///
/// A `poll_fn` over the socket's readiness rather than a `select!` of
/// futures: the readiness futures are 150 bytes each, and this wait is
/// part of every connection's task for its whole life.
async fn wait(
    outbox: &Outbox,
    stream: &TcpStream,
    blocked: bool,
    paused: &mut Option<Pin<Box<Sleep>>>,
) -> std::io::Result<Wake> {
    let wake = std::future::poll_fn(|cx| {
        if blocked {
            if let Poll::Ready(ready) = stream.poll_write_ready(cx) {
                return Poll::Ready(ready.map(|()| Wake::Writable));
            }
        } else if outbox.poll_wait(cx).is_ready() {
            return Poll::Ready(Ok(Wake::Outbox));
        }
        match paused {
            Some(sleep) => {
                if sleep.as_mut().poll(cx).is_ready() {
                    return Poll::Ready(Ok(Wake::Resume));
                }
            }
            None => {
                if let Poll::Ready(ready) = stream.poll_read_ready(cx) {
                    return Poll::Ready(ready.map(|()| Wake::Readable));
                }
            }
        }
        Poll::Pending
    })
    .await;
    outbox.stop_waiting();
    wake
}

/// After the close: writes what is queued, waiting for gated
/// acknowledgements and for the socket. False when writing failed.
async fn drain(
    shared: &Shared,
    id: ConnId,
    outbox: &Outbox,
    stream: &TcpStream,
    writer: &mut Writer,
) -> bool {
    loop {
        match writer.pump(shared, id, outbox, stream) {
            Ok(Pumped::More) => tokio::task::consume_budget().await,
            Ok(Pumped::Blocked) => {
                let ready = std::future::poll_fn(|cx| stream.poll_write_ready(cx)).await;
                if ready.is_err() {
                    return false;
                }
            }
            // `close` preceded this take, and every push precedes
            // `close`: nothing is left but packets behind a gate, whose
            // resolution wakes us.
            Ok(Pumped::Idle) if outbox.holds_gated() => outbox.wait().await,
            Ok(Pumped::Idle) => return true,
            // The core has forgotten the connection already.
            Err(_) => return false,
        }
    }
}

/// What a [`Writer::pump`] came to.
#[derive(Debug, PartialEq, Eq)]
enum Pumped {
    /// Everything queued is written.
    Idle,
    /// The socket takes no more for now: wait until it is writable.
    Blocked,
    /// More to write: yield, then pump again.
    More,
}

/// The write side of a connection: packets taken from the outbox, encoded
/// into chunks and written without blocking.
#[derive(Default)]
struct Writer {
    /// Taken from the outbox; `packets[next..]` are not encoded yet.
    packets: Vec<Packet>,
    next: usize,
    /// Encoded, not yet (fully) written. Exists only during a burst.
    out: BytesMut,
    /// Packets and bytes in the chunk `out` holds.
    chunk_packets: usize,
    chunk_bytes: usize,
    /// Written and not yet reported to the core.
    unreported: usize,
    unreported_bytes: usize,
}

impl Writer {
    /// Writes what is queued until the socket would block, everything is
    /// written, or `CHUNKS_PER_TURN` chunks went out. A write error is
    /// reported to the core by the caller.
    fn pump(
        &mut self,
        shared: &Shared,
        id: ConnId,
        outbox: &Outbox,
        stream: &TcpStream,
    ) -> std::io::Result<Pumped> {
        for _ in 0..CHUNKS_PER_TURN {
            if self.out.is_empty() && !self.encode_chunk(id, outbox) {
                if self.unreported > 0 {
                    self.report(shared, id);
                }
                // Idle: give the buffers back.
                self.out = BytesMut::new();
                self.packets = Vec::new();
                return Ok(Pumped::Idle);
            }
            while !self.out.is_empty() {
                match stream.try_write(&self.out) {
                    Ok(n) => self.out.advance(n),
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                        return Ok(Pumped::Blocked)
                    }
                    Err(e) => return Err(e),
                }
            }
            self.out.clear();
            self.unreported += self.chunk_packets;
            self.unreported_bytes += self.chunk_bytes;
            (self.chunk_packets, self.chunk_bytes) = (0, 0);
            if self.unreported >= REPORT_EVERY {
                self.report(shared, id);
            }
        }
        Ok(Pumped::More)
    }

    /// Encodes the next chunk into `out`, taking packets from the outbox
    /// when those taken are done. False when there is nothing to write.
    fn encode_chunk(&mut self, id: ConnId, outbox: &Outbox) -> bool {
        if self.next == self.packets.len() {
            self.packets.clear();
            self.next = 0;
            let spare_allocated = self.packets.capacity() > 0;
            outbox.take(&mut self.packets);
            if self.packets.is_empty() {
                if spare_allocated {
                    // The outbox got our spare vector: do not let an idle
                    // connection keep it.
                    outbox.trim();
                }
                return false;
            }
        }
        let protocol = outbox.protocol();
        for packet in &self.packets[self.next..] {
            if let Err(e) = packet.encode(protocol, &mut self.out) {
                tracing::warn!(
                    "Could not encode {:?} for connection {id}: {e}",
                    packet.packet_type()
                );
            }
            self.next += 1;
            self.chunk_packets += 1;
            if self.out.len() >= WRITE_CHUNK {
                break;
            }
        }
        self.chunk_bytes = self.out.len();
        // Encoded packets are not needed any more.
        if self.next == self.packets.len() {
            self.packets.clear();
            self.next = 0;
        }
        // A packet that failed to encode leaves nothing to write; it still
        // counts as written (the core counted it as sent).
        if self.out.is_empty() {
            self.unreported += std::mem::take(&mut self.chunk_packets);
        }
        true
    }

    fn report(&mut self, shared: &Shared, id: ConnId) {
        report(shared, id, self.unreported, self.unreported_bytes);
        (self.unreported, self.unreported_bytes) = (0, 0);
    }
}
