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
//! reading goes on. When all a writer was handed is one shared encoding (a
//! fan-out's message, or a run of them, `encoded.rs`), it writes those
//! shared bytes as they are: no chunk of its own, no copy. Written packets are reported to the core in batches,
//! as before (`packets_written`, flow control).
//!
//! Closing: once the core has closed the connection (or the peer has), the
//! task stops reading, writes what is queued (after a peer's EOF, until
//! the core's own close, which follows any acknowledgements the core still
//! holds for the disk), sends FIN and lingers, so a last DISCONNECT or
//! CONNACK is never lost.
//!
//! (The generic path for TLS and WebSocket streams keeps a reader and a
//! writer task: those streams have their own buffers and no `try_write`.)

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;
use std::time::Instant;

use bytes::{Buf, Bytes, BytesMut};
use hornet_codec::{Decoder, Packet, Protocol};
use hornet_core::{CloseCause, ConnId};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::time::Sleep;

use super::conn::{decode_and_feed, linger, report, Fed};
use super::conn::{READS_PER_WAKE, READ_CHUNK, REPORT_EVERY, WRITE_CHUNK};
use super::listener::Active;
use super::outbox::{Outbox, Outgoing};
use super::park::Parked;
use super::Shared;

/// Chunks written per turn before other tasks get the thread.
const CHUNKS_PER_TURN: usize = 4;

/// Serves one plain TCP connection, registered with `conn::open`, until it
/// closes; `active` holds its place in the listener's counts (and the
/// server). The arguments and the locals kept across an `await` are kept
/// few and small: they are the task for its whole life. What a busy
/// connection needs (buffers, decoder, writer) is one [`Busy`] on the
/// heap, dropped whenever the connection goes idle.
pub(crate) fn run(
    stream: TcpStream,
    outbox: Arc<Outbox>,
    active: Active,
) -> impl Future<Output = ()> + Send {
    task(Tcp::new(stream, outbox, active, None))
}

/// Brings a parked connection back (`park.rs`): its socket registered
/// with tokio again, a task of the same kind as a new connection's.
pub(crate) fn resume(p: Parked) {
    match TcpStream::from_std(p.stream) {
        Ok(stream) => {
            tokio::spawn(task(Tcp::new(stream, p.outbox, p.active, p.protocol)));
        }
        Err(e) => lost(&p.active, &p.outbox, &e),
    }
}

/// The connection's task: serves it until it closes or parks.
fn task(tcp: Tcp) -> impl Future<Output = ()> + Send {
    // An `async move` block rather than an `async fn`, and one struct
    // reached through one reference: the task then stores each value once.
    let mut tcp = tcp;
    async move {
        loop {
            match serve(&mut tcp).await {
                End::Park => match park(tcp) {
                    Some(back) => tcp = back,
                    None => return,
                },
                // Boxed: closing happens once, and a connection's task is
                // as large as the largest thing it awaits.
                end => return Box::pin(close(tcp, end)).await,
            }
        }
    }
}

/// Hands an idle connection to the parker and ends its task; gives it back
/// (`Some`) when it could not park (something came for it meanwhile).
fn park(t: Tcp) -> Option<Tcp> {
    let Tcp {
        stream,
        outbox,
        active,
        protocol,
        ..
    } = t;
    let parker = active.shared().parker.clone();
    let stream = match stream.into_std() {
        Ok(stream) => stream,
        Err(e) => {
            lost(&active, &outbox, &e);
            return None;
        }
    };
    let parked = Parked {
        stream,
        outbox,
        active,
        protocol,
    };
    let p = parker.park(parked).err()?;
    match TcpStream::from_std(p.stream) {
        Ok(stream) => Some(Tcp::new(stream, p.outbox, p.active, p.protocol)),
        Err(e) => {
            lost(&p.active, &p.outbox, &e);
            None
        }
    }
}

/// The socket could not move between tokio and the parker (closed with
/// it): the core is told, as for a failed write.
fn lost(active: &Active, outbox: &Outbox, e: &std::io::Error) {
    let id = outbox.id();
    tracing::warn!("Connection {id} lost while parking or waking: {e}");
    let shared = active.shared();
    shared.with_core(|core| core.connection_closed(Instant::now(), id, CloseCause::io(e)));
    outbox.close();
    shared.remove_outbox(id);
}

/// A TCP connection's state for its whole life: what an idle connection
/// costs (with the task around it and the outbox).
struct Tcp {
    stream: TcpStream,
    /// Its queue from the core; also the connection's id.
    outbox: Arc<Outbox>,
    /// Its place in the counts; also the way to the server.
    active: Active,
    /// The protocol, kept while `busy` is dropped (the decoder knows it
    /// once the CONNECT is read).
    protocol: Option<Protocol>,
    /// Buffers and decoder, only while busy.
    busy: Option<Box<Busy>>,
    /// While idle: when to park (`park.rs`), armed on the first idle wait.
    park: Option<Pin<Box<Sleep>>>,
    /// Woken for something since the park timer was (re)armed: it is
    /// armed once more rather than parking.
    touched: bool,
}

impl Tcp {
    fn new(
        stream: TcpStream,
        outbox: Arc<Outbox>,
        active: Active,
        protocol: Option<Protocol>,
    ) -> Tcp {
        Tcp {
            stream,
            outbox,
            active,
            protocol,
            busy: None,
            park: None,
            touched: false,
        }
    }
}

/// After the serving loop: tells the core if it does not know yet, writes
/// what is queued, sends FIN and lingers.
async fn close(mut t: Tcp, end: End) {
    let shared = t.active.shared();
    let id = t.outbox.id();
    let mut writer = t.busy.take().map(|b| b.writer).unwrap_or_default();
    let flush = match end {
        // (A connection that parks does not close: `Park` ends here only
        // if that changes.)
        End::Closed | End::Park => true,
        End::Read(cause) => {
            // The core answers with its own close, behind whatever it
            // still holds for this connection (acknowledgements waiting
            // for the disk): `drain` writes until then.
            shared.with_core(|core| core.connection_closed(Instant::now(), id, cause));
            true
        }
        End::WriteFailed(cause) => {
            shared.with_core(|core| core.connection_closed(Instant::now(), id, cause));
            t.outbox.close();
            false
        }
    };
    if flush && drain(shared, id, &t.outbox, &t.stream, &mut writer).await {
        let _ = t.stream.shutdown().await;
    }
    drop(writer);
    linger(&mut t.stream).await;
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
    /// Idle for the parker's delay: park (the connection goes on).
    Park,
}

/// What woke the serving loop.
enum Wake {
    Readable,
    Writable,
    Outbox,
    Resume,
    /// The park timer, while idle.
    Park,
}

/// What a connection holds while it is busy (bytes arriving, packets to
/// write), on the heap and only then: an idle connection holds none of it
/// (Mosquitto keeps an idle client in under 1 KiB, and so must we).
struct Busy {
    writer: Writer,
    /// Read, not yet decoded (part of a packet).
    buf: BytesMut,
    decoder: Decoder,
    batch: Vec<(Packet, usize)>,
    /// While the client is over its publish rate: not read until then.
    paused: Option<Pin<Box<Sleep>>>,
}

impl Busy {
    /// A fresh one; `protocol` is the stream's once its CONNECT was read.
    fn new(shared: &Shared, protocol: Option<Protocol>) -> Box<Busy> {
        let mut decoder = match protocol {
            Some(p) => Decoder::with_protocol(p),
            None => Decoder::new(),
        };
        decoder.set_max_packet_size(shared.max_packet_size);
        Box::new(Busy {
            writer: Writer::default(),
            buf: BytesMut::new(),
            decoder,
            batch: Vec::new(),
            paused: None,
        })
    }
}

/// Reads and writes until the core or the peer ends the connection;
/// `t.busy` keeps what is left to write.
// Not an `async fn`: that would store its argument once more in the task.
#[allow(clippy::manual_async_fn)]
fn serve(t: &mut Tcp) -> impl Future<Output = End> + Send + '_ {
    async move {
        loop {
            let shared = t.active.shared();
            let b = t.busy.get_or_insert_with(|| Busy::new(shared, t.protocol));
            let blocked = match b.writer.pump(shared, t.outbox.id(), &t.outbox, &t.stream) {
                Ok(Pumped::More) => {
                    // `try_write` does not count against tokio's cooperative
                    // budget: a subscriber with a full outbox must not keep
                    // its worker thread.
                    tokio::task::coop::consume_budget().await;
                    continue;
                }
                Ok(Pumped::Blocked) => true,
                Ok(Pumped::Idle) => false,
                Err(e) => return End::WriteFailed(CloseCause::io(&e)),
            };
            if t.outbox.is_closing() {
                return End::Closed;
            }
            if !blocked && b.buf.is_empty() && b.paused.is_none() {
                // Idle: give everything back.
                t.protocol = b.decoder.protocol();
                t.busy = None;
            }
            if t.outbox.take_drain() {
                if let Some(end) = drain_input(t) {
                    return end;
                }
                continue;
            }
            if t.busy.is_none() && t.park.is_none() {
                if let Some(after) = t.active.shared().parker.after() {
                    t.park = Some(Box::pin(tokio::time::sleep(after)));
                    t.touched = false;
                }
            }
            let waiting = &mut *t;
            let wake = std::future::poll_fn(move |cx| poll_wake(cx, waiting, blocked)).await;
            t.outbox.stop_waiting();
            let wake = match wake {
                Ok(wake) => wake,
                Err(e) if blocked => return End::WriteFailed(CloseCause::io(&e)),
                Err(e) => return End::Read(CloseCause::io(&e)),
            };
            if !matches!(wake, Wake::Park) {
                t.touched = true;
            }
            match wake {
                Wake::Park => {
                    if !std::mem::take(&mut t.touched) {
                        return End::Park;
                    }
                    // Not idle all along: wait once more.
                    if let (Some(park), Some(after)) =
                        (t.park.as_mut(), t.active.shared().parker.after())
                    {
                        park.as_mut().reset(tokio::time::Instant::now() + after);
                    }
                    continue;
                }
                Wake::Outbox | Wake::Writable => continue,
                Wake::Resume => {
                    if let Some(b) = t.busy.as_mut() {
                        b.paused = None;
                    }
                    continue;
                }
                Wake::Readable => {}
            }
            // Read until the socket is drained, or for a bounded number of
            // reads so one busy client cannot starve the others on its
            // thread (readiness is kept, so the next wait returns at once).
            // (A `u8` count, not a range: it lives across an `await`.)
            let mut reads: u8 = 0;
            while reads < READS_PER_WAKE {
                reads += 1;
                let shared = t.active.shared();
                let b = t.busy.get_or_insert_with(|| Busy::new(shared, t.protocol));
                if b.buf.capacity() - b.buf.len() < 1024 {
                    b.buf.reserve(READ_CHUNK);
                }
                match t.stream.try_read_buf(&mut b.buf) {
                    Ok(0) => return End::Read(CloseCause::PeerClosed),
                    Ok(_) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                    Err(e) => return End::Read(CloseCause::io(&e)),
                }
                let Busy {
                    buf,
                    decoder,
                    batch,
                    paused,
                    ..
                } = &mut **b;
                match decode_and_feed(shared, t.outbox.id(), &t.outbox, decoder, buf, batch) {
                    Fed::Refused => return End::Closed,
                    // Over its publish rate: stop reading (backpressure);
                    // what the core sends meanwhile still goes out.
                    Fed::Pause(pause) => {
                        *paused = Some(Box::pin(tokio::time::sleep(pause)));
                        break;
                    }
                    Fed::Ok => {}
                }
                // `try_read` does not count against tokio's cooperative
                // budget (`read` does): without this a flooding publisher
                // would keep its worker thread and starve its subscribers'
                // tasks.
                tokio::task::coop::consume_budget().await;
            }
        }
    }
}

/// Reads every byte the socket has already received, feeds it, and tells
/// the core (`Action::DrainInput`: a takeover of this client waits, so a
/// DISCONNECT sent before the new CONNECT counts). Reads with `recv`
/// itself, not tokio's readiness: the event for those bytes may not have
/// been seen yet, which is the race this closes. `Some` when the
/// connection ended.
fn drain_input(t: &mut Tcp) -> Option<End> {
    /// Enough for a DISCONNECT behind a burst; the rest is read as usual.
    const MAX_READS: usize = 16;
    let shared = t.active.shared();
    let mut chunk = [0u8; 4096];
    let mut end = None;
    for _ in 0..MAX_READS {
        let b = t.busy.get_or_insert_with(|| Busy::new(shared, t.protocol));
        if b.paused.is_some() {
            break; // over its publish rate: what is unread stays unread
        }
        match rustix::net::recv(&t.stream, &mut chunk[..], rustix::net::RecvFlags::empty()) {
            Ok((0, _)) => {
                end = Some(End::Read(CloseCause::PeerClosed));
                break;
            }
            Ok((n, _)) => b.buf.extend_from_slice(&chunk[..n]),
            Err(rustix::io::Errno::AGAIN) => break,
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => {
                end = Some(End::Read(CloseCause::io(&e.into())));
                break;
            }
        }
        let Busy {
            buf,
            decoder,
            batch,
            paused,
            ..
        } = &mut **b;
        match decode_and_feed(shared, t.outbox.id(), &t.outbox, decoder, buf, batch) {
            Fed::Refused => {
                end = Some(End::Closed);
                break;
            }
            Fed::Pause(pause) => *paused = Some(Box::pin(tokio::time::sleep(pause))),
            Fed::Ok => {}
        }
    }
    shared.with_core(|core| core.input_drained(Instant::now(), t.outbox.id()));
    end
}

/// Polls for the first thing to do: packets in the outbox (or its close)
/// unless a write is `blocked`, the socket writable when it is, readable
/// unless `paused`, the pause over.
///
/// Polled from a `poll_fn` rather than a `select!` of futures: the
/// readiness futures are 150 bytes each, and this wait is part of every
/// connection's task for its whole life. The caller calls
/// `Outbox::stop_waiting` once it is ready.
fn poll_wake(
    cx: &mut std::task::Context<'_>,
    t: &mut Tcp,
    blocked: bool,
) -> Poll<std::io::Result<Wake>> {
    let (outbox, stream) = (&t.outbox, &t.stream);
    let paused = t.busy.as_mut().and_then(|b| b.paused.as_mut());
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
    if !blocked && t.busy.is_none() {
        if let Some(park) = t.park.as_mut() {
            if park.as_mut().poll(cx).is_ready() {
                return Poll::Ready(Ok(Wake::Park));
            }
        }
    }
    Poll::Pending
}

/// After the close: writes what is queued until the core has closed the
/// connection (at most [`super::conn::CORE_CLOSE_WAIT`] after the peer's
/// EOF), waiting for the socket when it is full. False when writing failed.
async fn drain(
    shared: &Shared,
    id: ConnId,
    outbox: &Outbox,
    stream: &TcpStream,
    writer: &mut Writer,
) -> bool {
    let deadline = tokio::time::Instant::now() + super::conn::CORE_CLOSE_WAIT;
    loop {
        // Read before the take: every push precedes `close`, so once
        // closing was seen, an idle pump means everything is written.
        let closing = outbox.is_closing();
        match writer.pump(shared, id, outbox, stream) {
            Ok(Pumped::More) => tokio::task::coop::consume_budget().await,
            Ok(Pumped::Blocked) => {
                let ready = std::future::poll_fn(|cx| stream.poll_write_ready(cx)).await;
                if ready.is_err() {
                    return false;
                }
            }
            Ok(Pumped::Idle) if closing => return true,
            Ok(Pumped::Idle) => {
                if tokio::time::timeout_at(deadline, outbox.wait())
                    .await
                    .is_err()
                {
                    super::conn::core_close_overdue(id);
                    outbox.close();
                }
            }
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
/// into chunks and written without blocking; when all it was handed is
/// one shared encoding, that is written as it is.
#[derive(Default)]
struct Writer {
    /// Taken from the outbox; `packets[next..]` are not encoded yet.
    packets: Vec<Outgoing>,
    next: usize,
    /// Encoded, not yet (fully) written. Exists only during a burst.
    out: BytesMut,
    /// Or: the rest of shared bytes written as they are (the one thing
    /// queued was a fan-out's encoding: no chunk, no copy).
    direct: Bytes,
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
            if self.out.is_empty() && self.direct.is_empty() && !self.encode_chunk(id, outbox) {
                if self.unreported > 0 {
                    self.report(shared, id);
                }
                // Idle: give the buffers back.
                self.out = BytesMut::new();
                self.packets = Vec::new();
                return Ok(Pumped::Idle);
            }
            loop {
                let (pending, direct) = match self.direct.is_empty() {
                    true => (&self.out[..], false),
                    false => (&self.direct[..], true),
                };
                if pending.is_empty() {
                    break;
                }
                match stream.try_write(pending) {
                    Ok(n) if direct => self.direct.advance(n),
                    Ok(n) => self.out.advance(n),
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                        return Ok(Pumped::Blocked)
                    }
                    Err(e) => return Err(e),
                }
            }
            self.out.clear();
            // Written: let go of the shared buffer now, not at the next run.
            self.direct = Bytes::new();
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
        if let [Outgoing::Encoded(wire)] = &self.packets[self.next..] {
            // All there is to write is shared bytes (a fan-out's message
            // or run, the usual case for one of its subscribers): written
            // from there, without a chunk of our own or a copy into it.
            self.direct = wire.shared();
            self.chunk_packets = wire.packets();
            self.chunk_bytes = self.direct.len();
            self.packets.clear();
            self.next = 0;
            return true;
        }
        let protocol = outbox.protocol();
        let wanted = chunk_size(&self.packets[self.next..]);
        if self.out.capacity() < wanted {
            // Room for what is queued, at most one chunk: grown by
            // doubling it would be twice that, and a fixed 64 KiB chunk
            // for a few messages is what a fan-out to 1,000 subscribers
            // under a flood held 1,000 times over (docs/benchmarks.md,
            // "Memory under QoS 0 floods").
            self.out = BytesMut::with_capacity(wanted);
        }
        for packet in &self.packets[self.next..] {
            if !self.out.is_empty() && !fits(packet, self.out.capacity() - self.out.len()) {
                break;
            }
            if let Err(e) = packet.encode(protocol, &mut self.out) {
                tracing::warn!(
                    "Could not encode {:?} for connection {id}: {e}",
                    packet.packet_type()
                );
            }
            self.next += 1;
            self.chunk_packets += packet.packets();
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

/// The write buffer for `packets`: about their encoded size, rounded up
/// to a page, at most [`WRITE_CHUNK`]. A subscriber that is handed a few
/// messages at a time (one of many in a fan-out) then holds a few KiB
/// while its socket is full, not a whole chunk.
fn chunk_size(packets: &[Outgoing]) -> usize {
    const PAGE: usize = 4096;
    let mut bytes = 0;
    for packet in packets {
        bytes += match packet {
            Outgoing::Packet(p) => match &**p {
                Packet::Publish(p) => p.payload.len() + p.topic.len() + 64,
                _ => 64,
            },
            Outgoing::Encoded(w) => w.bytes().len(),
        };
        if bytes >= WRITE_CHUNK {
            return WRITE_CHUNK;
        }
    }
    bytes.div_ceil(PAGE).max(1) * PAGE
}

/// Whether `packet` surely fits in `room` bytes (a close estimate for a
/// PUBLISH, which may be large; other packets are small unless they carry
/// many properties, which merely grows the chunk once).
fn fits(packet: &Outgoing, room: usize) -> bool {
    match packet {
        Outgoing::Packet(p) => match &**p {
            Packet::Publish(p) => p.payload.len() + p.topic.len() + 64 <= room,
            _ => room >= 1024,
        },
        Outgoing::Encoded(w) => w.bytes().len() <= room,
    }
}

#[cfg(test)]
mod tests {
    use super::super::encoded::Wire;
    use super::*;
    use hornet_codec::Publish;

    #[test]
    fn the_write_buffer_is_sized_to_what_is_queued_up_to_one_chunk() {
        let encoded = |n: usize| Outgoing::Encoded(Wire::from_encoded(1, &vec![0u8; n]));
        // A fan-out subscriber handed a few 72-byte copies: one page.
        assert_eq!(chunk_size(&vec![encoded(72); 10]), 4096);
        assert_eq!(chunk_size(&vec![encoded(72); 100]), 8192);
        // A flooded fan-in subscriber: one whole chunk, never more.
        assert_eq!(chunk_size(&vec![encoded(72); 5000]), WRITE_CHUNK);
        assert_eq!(chunk_size(&[encoded(1 << 20)]), WRITE_CHUNK);
        // A packet to encode counts its payload and topic and room for the rest.
        let p = Outgoing::packet(Packet::Publish(Publish::new("t", vec![0u8; 5000])));
        assert_eq!(chunk_size(&[p]), 8192);
        assert_eq!(chunk_size(&[]), 4096);
    }

    /// The size of what `f` returns, without calling it.
    fn returned_size<F, R>(_: F) -> usize
    where
        F: FnOnce(TcpStream, Arc<Outbox>, Active) -> R,
    {
        std::mem::size_of::<R>()
    }

    /// tokio 1.54 allocates a task as one cell aligned to 128 bytes: a
    /// 32-byte header, the scheduler and task id (16), the stage (the
    /// future and an 8-byte tag) and a 48-byte trailer. A future of at
    /// most 152 bytes costs 256 per connection, a larger one 384, for
    /// every connection that is not parked.
    #[test]
    fn the_connection_task_fits_a_256_byte_cell() {
        let size = returned_size(run);
        assert!(size <= 152, "the TCP task's future is {size} bytes");
    }
}
