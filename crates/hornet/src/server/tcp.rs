//! A plain TCP connection served by one task: it reads on readiness and
//! writes without blocking, so an idle client costs one task, one socket
//! registration and no buffers.
//!
//! The task waits (one `poll_fn`, no per-event futures) on whichever applies: the socket turning readable (not
//! while the client is paused for its publish rate or a subscriber's
//! backlog, `backlog_pause_messages`), its outbox getting
//! packets (or being closed), the socket turning writable again (only
//! while a write is stuck), the end of a rate pause. Reading decodes and
//! feeds the core exactly as the generic path does (`conn.rs`). Writing
//! (`writer.rs`) takes every packet queued, encodes them into chunks and
//! writes each without blocking; what the kernel does not take waits for
//! writability while reading goes on.
//!
//! Closing: once the core has closed the connection (or the peer has), the
//! task stops reading, writes what is queued (after a peer's EOF, until
//! the core's own close, which follows any acknowledgements the core still
//! holds for the disk), sends FIN and lingers, so a last DISCONNECT or
//! CONNACK is never lost.
//!
//! TLS, WebSocket and WebSocket-over-TLS connections are served here too,
//! once their handshake and upgrade are done (`listener.rs`): over TLS the
//! socket's bytes go through rustls (`tls_io.rs`), over WebSocket through
//! a [`Deframer`] (the `hornet-ws` crate) into the MQTT buffer, each chunk written
//! is one binary frame, a ping is answered with a pong, and closing sends
//! a close frame (and TLS's close_notify) before the FIN. Between frames a
//! WebSocket has no state to keep and between records TLS has only its
//! boxed `ServerConnection`, so an idle connection of any of them drops its
//! buffers and parks like a TCP one.
//!
//! (TLS-PSK connections, on OpenSSL, keep the generic path of `conn.rs`: a
//! reader and a writer task.)

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;
use std::time::Instant;

use bytes::BytesMut;
use hornet_codec::{Decoder, Packet, Protocol};
use hornet_core::{CloseCause, ConnId};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::time::Sleep;
use tokio_rustls::rustls::ServerConnection;

use super::conn::{decode_and_feed, linger, Fed};
use super::conn::{READS_PER_WAKE, READ_CHUNK};
use super::listener::Active;
use super::outbox::Outbox;
use super::park::Parked;
use super::tls_io::{self, SockIo};
use super::writer::{Pumped, Writer};
use super::Shared;
use hornet_ws::{self as ws_frame, Deframer, Step};

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
    task(Tcp::new(stream, outbox, active, None, false, NoTls))
}

/// A connection's TLS state: nothing for TCP and WebSocket connections
/// (the zero-sized [`NoTls`], so their task stays within a 256-byte cell,
/// see the unit test below), the boxed rustls connection for TLS and
/// WebSocket-over-TLS ones.
pub(crate) trait TlsLayer: Send + Sized + 'static {
    /// The rustls connection, if any.
    fn conn(&mut self) -> Option<&mut ServerConnection>;
    /// What a parked connection keeps of it.
    fn into_parked(self) -> Option<Box<ServerConnection>>;
    /// Back from parked (`None`: not of this kind).
    fn from_parked(tls: Option<Box<ServerConnection>>) -> Option<Self>;
}

/// No TLS (plain TCP and WebSocket connections).
pub(crate) struct NoTls;

impl TlsLayer for NoTls {
    fn conn(&mut self) -> Option<&mut ServerConnection> {
        None
    }

    fn into_parked(self) -> Option<Box<ServerConnection>> {
        None
    }

    fn from_parked(tls: Option<Box<ServerConnection>>) -> Option<Self> {
        tls.is_none().then_some(NoTls)
    }
}

impl TlsLayer for Box<ServerConnection> {
    fn conn(&mut self) -> Option<&mut ServerConnection> {
        Some(self)
    }

    fn into_parked(self) -> Option<Box<ServerConnection>> {
        Some(self)
    }

    fn from_parked(tls: Option<Box<ServerConnection>>) -> Option<Self> {
        tls
    }
}

/// Serves one WebSocket connection whose upgrade was answered
/// (`ws::upgrade`), as [`run`] serves a TCP one; `leftover` is what the
/// client sent after its upgrade request.
pub(crate) fn run_ws(
    stream: TcpStream,
    outbox: Arc<Outbox>,
    active: Active,
    leftover: BytesMut,
) -> impl Future<Output = ()> + Send {
    task(upgraded(stream, outbox, active, true, NoTls, leftover))
}

/// Serves one TLS connection (WebSocket over TLS with `ws`, its upgrade
/// answered, `leftover` what followed the request) whose handshake made
/// `conn`, as [`run`] serves a TCP one.
pub(crate) fn run_tls(
    stream: TcpStream,
    outbox: Arc<Outbox>,
    active: Active,
    ws: bool,
    mut conn: Box<ServerConnection>,
    leftover: BytesMut,
) -> impl Future<Output = ()> + Send {
    // The writer hands rustls one chunk at a time, and only once the last
    // one is written: no limit needed, and none to split on.
    conn.set_buffer_limit(None);
    task(upgraded(stream, outbox, active, ws, conn, leftover))
}

/// A connection after its handshake or upgrade; what came with them is
/// looked at first.
fn upgraded<X: TlsLayer>(
    stream: TcpStream,
    outbox: Arc<Outbox>,
    active: Active,
    ws: bool,
    mut tls: X,
    leftover: BytesMut,
) -> Tcp<X> {
    // TLS: rustls may hold plaintext that came with the handshake.
    let unfed = !leftover.is_empty() || tls.conn().is_some();
    let mut tcp = Tcp::new(stream, outbox, active, None, ws, tls);
    if unfed {
        let mut busy = Busy::new(tcp.active.shared(), None);
        busy.raw = leftover;
        busy.unfed = true;
        tcp.busy = Some(busy);
    }
    tcp
}

/// Brings a parked connection back (`park.rs`): its socket registered
/// with tokio again, a task of the same kind as a new connection's.
pub(crate) fn resume(p: Parked, tls: Option<Box<ServerConnection>>) {
    match TcpStream::from_std(p.stream) {
        Ok(stream) => {
            let (outbox, active, protocol, ws) = (p.outbox, p.active, p.protocol, p.ws);
            match tls {
                Some(conn) => {
                    tokio::spawn(task(Tcp::new(stream, outbox, active, protocol, ws, conn)));
                }
                None => {
                    tokio::spawn(task(Tcp::new(stream, outbox, active, protocol, ws, NoTls)));
                }
            }
        }
        Err(e) => lost(&p.active, &p.outbox, &e),
    }
}

/// The connection's task: serves it until it closes or parks.
fn task<X: TlsLayer>(tcp: Tcp<X>) -> impl Future<Output = ()> + Send {
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
fn park<X: TlsLayer>(t: Tcp<X>) -> Option<Tcp<X>> {
    let Tcp {
        stream,
        outbox,
        active,
        protocol,
        ws,
        tls,
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
        ws,
    };
    let (p, tls) = parker.park(parked, tls.into_parked()).err()?;
    let Some(tls) = X::from_parked(tls) else {
        // Not reached: the parker gives back what it was given.
        let e = std::io::Error::other("the TLS state was lost while parking");
        lost(&p.active, &p.outbox, &e);
        return None;
    };
    match TcpStream::from_std(p.stream) {
        Ok(stream) => Some(Tcp::new(stream, p.outbox, p.active, p.protocol, p.ws, tls)),
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
struct Tcp<X: TlsLayer> {
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
    /// A WebSocket connection (`ws`, `wss` listeners): frames on the
    /// socket (or in TLS).
    ws: bool,
    /// A TLS connection's (`tls`, `wss`) rustls state, kept while idle
    /// and parked.
    tls: X,
}

impl<X: TlsLayer> Tcp<X> {
    fn new(
        stream: TcpStream,
        outbox: Arc<Outbox>,
        active: Active,
        protocol: Option<Protocol>,
        ws: bool,
        tls: X,
    ) -> Tcp<X> {
        Tcp {
            stream,
            outbox,
            active,
            protocol,
            busy: None,
            park: None,
            touched: false,
            ws,
            tls,
        }
    }
}

/// After the serving loop: tells the core if it does not know yet, writes
/// what is queued, sends FIN and lingers.
async fn close<X: TlsLayer>(mut t: Tcp<X>, end: End) {
    let shared = t.active.shared();
    let id = t.outbox.id();
    let (mut writer, close_code) = t
        .busy
        .take()
        .map(|b| (b.writer, b.close_code))
        .unwrap_or((Writer::default(), ws_frame::NORMAL));
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
    let written = flush
        && drain(
            shared,
            id,
            &t.outbox,
            &t.stream,
            &mut writer,
            t.ws,
            t.tls.conn(),
        )
        .await;
    if written
        && say_goodbye(&mut t.stream, t.ws, t.tls.conn(), close_code)
            .await
            .is_ok()
    {
        let _ = t.stream.shutdown().await;
    }
    drop(writer);
    linger(&mut t.stream).await;
    shared.remove_outbox(id);
}

/// What a connection sends last, before its FIN: a WebSocket's close
/// frame (RFC 6455 §5.5.1: the answer to the client's, or the server's
/// own, with `code`), TLS's close_notify.
async fn say_goodbye(
    stream: &mut TcpStream,
    ws: bool,
    tls: Option<&mut ServerConnection>,
    code: u16,
) -> std::io::Result<()> {
    let frame = ws_frame::close_frame(code);
    match tls {
        Some(conn) => {
            if ws {
                tls_io::encrypt(conn, &frame)?;
            }
            conn.send_close_notify();
            tls_io::flush_all(conn, stream).await
        }
        None if ws => stream.write_all(&frame).await,
        None => Ok(()),
    }
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
    /// While the client is over its publish rate or feeding a draining
    /// backlog (`Broker::read_pause`): not read until then.
    paused: Option<Pin<Box<Sleep>>>,
    /// WebSocket only: read, not yet deframed into `buf` (the start of a
    /// frame header or of a control frame).
    raw: BytesMut,
    /// WebSocket only: where in a frame and a message the stream is.
    deframer: Deframer,
    /// Bytes not yet looked at: in `raw` (those that came with the upgrade
    /// request), in rustls (those that came with the handshake).
    unfed: bool,
    /// WebSocket only: the status code of the close frame to send.
    close_code: u16,
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
            raw: BytesMut::new(),
            deframer: Deframer::default(),
            unfed: false,
            close_code: ws_frame::NORMAL,
        })
    }

    /// Whether nothing is pending: no bytes of a packet or a frame, no
    /// rate pause.
    fn is_idle(&self) -> bool {
        self.buf.is_empty()
            && self.raw.is_empty()
            && self.deframer.is_idle()
            && self.paused.is_none()
    }
}

/// Feeds what was read (in `b.raw`, deframed first, over WebSocket; in
/// `b.buf` otherwise) to the core. `Err`: the connection ends (the client
/// closed its WebSocket, or broke its rules).
fn feed(shared: &Shared, outbox: &Outbox, b: &mut Busy, ws: bool) -> Result<Fed, End> {
    let mut end = None;
    if ws {
        let Busy {
            raw,
            buf,
            deframer,
            writer,
            close_code,
            ..
        } = b;
        match deframer.deframe(raw, buf, &mut writer.out) {
            Ok(Step::Open) => {}
            Ok(Step::Closed(code)) => {
                *close_code = code;
                end = Some(End::Read(CloseCause::PeerClosed));
            }
            Err(e) => {
                *close_code = e.close_code();
                let e = std::io::Error::new(std::io::ErrorKind::InvalidData, e.to_string());
                end = Some(End::Read(CloseCause::io(&e)));
            }
        }
    }
    let Busy {
        buf,
        decoder,
        batch,
        ..
    } = b;
    let fed = decode_and_feed(shared, outbox.id(), outbox, decoder, buf, batch);
    match (end, fed) {
        (_, Fed::Refused) => Err(End::Closed),
        (Some(end), _) => Err(end),
        (None, fed) => Ok(fed),
    }
}

/// Reads and writes until the core or the peer ends the connection;
/// `t.busy` keeps what is left to write.
// Not an `async fn`: that would store its argument once more in the task.
#[allow(clippy::manual_async_fn)]
fn serve<X: TlsLayer>(t: &mut Tcp<X>) -> impl Future<Output = End> + Send + '_ {
    async move {
        loop {
            let shared = t.active.shared();
            let b = t.busy.get_or_insert_with(|| Busy::new(shared, t.protocol));
            if std::mem::take(&mut b.unfed) {
                if let Some(conn) = t.tls.conn() {
                    let into = if t.ws { &mut b.raw } else { &mut b.buf };
                    if let Err(e) = tls_io::take_buffered(conn, into) {
                        return End::Read(CloseCause::io(&e));
                    }
                }
                match feed(shared, &t.outbox, b, t.ws) {
                    Ok(Fed::Ok) => {}
                    Ok(Fed::Pause(pause)) => b.paused = Some(Box::pin(tokio::time::sleep(pause))),
                    Ok(Fed::Refused) | Err(End::Closed) => return End::Closed,
                    Err(end) => return end,
                }
            }
            // (No binding for the result: it would live across every
            // `await` below, in the task.)
            let blocked = match b.writer.pump(
                shared,
                t.outbox.id(),
                &t.outbox,
                &t.stream,
                t.ws,
                t.tls.conn(),
            ) {
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
            if !blocked && b.is_idle() {
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
                // (No binding for the result: it would live across the
                // `await` below, in the task.)
                match read_once(&t.stream, b, t.ws, t.tls.conn()) {
                    Ok(0) => {
                        // Over TLS the end may come with plaintext (the
                        // records before a close_notify): fed first.
                        return match feed(shared, &t.outbox, b, t.ws) {
                            Err(end) => end,
                            Ok(Fed::Refused) => End::Closed,
                            Ok(_) => End::Read(CloseCause::PeerClosed),
                        };
                    }
                    Ok(_) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                    Err(e) => return End::Read(CloseCause::io(&e)),
                }
                match feed(shared, &t.outbox, b, t.ws) {
                    Err(end) => return end,
                    // Over its publish rate or feeding a backlog: stop
                    // reading (backpressure);
                    // what the core sends meanwhile still goes out.
                    Ok(Fed::Pause(pause)) => {
                        b.paused = Some(Box::pin(tokio::time::sleep(pause)));
                        break;
                    }
                    Ok(Fed::Refused) => return End::Closed,
                    Ok(Fed::Ok) => {}
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

/// Reads once from the socket what is there (through rustls over TLS) into
/// `b.buf` (`b.raw` over WebSocket, to be deframed).
fn read_once(
    stream: &TcpStream,
    b: &mut Busy,
    ws: bool,
    tls: Option<&mut ServerConnection>,
) -> std::io::Result<usize> {
    let into = if ws { &mut b.raw } else { &mut b.buf };
    match tls {
        Some(conn) => {
            let mut io = SockIo {
                stream,
                direct: false,
            };
            tls_io::read(conn, &mut io, into)
        }
        None => {
            if into.capacity() - into.len() < 1024 {
                into.reserve(READ_CHUNK);
            }
            stream.try_read_buf(into)
        }
    }
}

/// Reads every byte the socket has already received, feeds it, and tells
/// the core (`Action::DrainInput`: a takeover of this client waits, so a
/// DISCONNECT sent before the new CONNECT counts). Reads with `recv`
/// itself, not tokio's readiness: the event for those bytes may not have
/// been seen yet, which is the race this closes. `Some` when the
/// connection ended.
fn drain_input<X: TlsLayer>(t: &mut Tcp<X>) -> Option<End> {
    /// Enough for a DISCONNECT behind a burst; the rest is read as usual.
    const MAX_READS: usize = 16;
    let shared = t.active.shared();
    let mut chunk = [0u8; 4096];
    let mut end = None;
    for _ in 0..MAX_READS {
        let b = t.busy.get_or_insert_with(|| Busy::new(shared, t.protocol));
        if b.paused.is_some() {
            break; // paused (rate or backlog): what is unread stays unread
        }
        if let Some(conn) = t.tls.conn() {
            let into = if t.ws { &mut b.raw } else { &mut b.buf };
            let mut io = SockIo {
                stream: &t.stream,
                direct: true,
            };
            match tls_io::read(conn, &mut io, into) {
                // The plaintext that came with the end is fed below.
                Ok(0) => end = Some(End::Read(CloseCause::PeerClosed)),
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(e) => {
                    end = Some(End::Read(CloseCause::io(&e)));
                    break;
                }
            }
        } else {
            match rustix::net::recv(&t.stream, &mut chunk[..], rustix::net::RecvFlags::empty()) {
                Ok((0, _)) => {
                    end = Some(End::Read(CloseCause::PeerClosed));
                    break;
                }
                Ok((n, _)) if t.ws => b.raw.extend_from_slice(&chunk[..n]),
                Ok((n, _)) => b.buf.extend_from_slice(&chunk[..n]),
                Err(rustix::io::Errno::AGAIN) => break,
                Err(rustix::io::Errno::INTR) => continue,
                Err(e) => {
                    end = Some(End::Read(CloseCause::io(&e.into())));
                    break;
                }
            }
        }
        match feed(shared, &t.outbox, b, t.ws) {
            Ok(Fed::Refused) => {
                end = Some(End::Closed);
                break;
            }
            Err(e) => {
                end = Some(e);
                break;
            }
            Ok(Fed::Pause(pause)) => b.paused = Some(Box::pin(tokio::time::sleep(pause))),
            Ok(Fed::Ok) => {}
        }
        if end.is_some() {
            break;
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
fn poll_wake<X: TlsLayer>(
    cx: &mut std::task::Context<'_>,
    t: &mut Tcp<X>,
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
    ws: bool,
    mut tls: Option<&mut ServerConnection>,
) -> bool {
    let deadline = tokio::time::Instant::now() + super::conn::CORE_CLOSE_WAIT;
    loop {
        // Read before the take: every push precedes `close`, so once
        // closing was seen, an idle pump means everything is written.
        let closing = outbox.is_closing();
        match writer.pump(shared, id, outbox, stream, ws, tls.as_deref_mut()) {
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

#[cfg(test)]
mod tests {
    use super::*;

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
        // A WebSocket connection's task is the same future (`task` over
        // `Tcp<NoTls>`, zero-sized `NoTls`); a TLS one carries its boxed
        // rustls state too (a 384-byte cell).
        let tls = std::mem::size_of::<Tcp<Box<ServerConnection>>>();
        let plain = std::mem::size_of::<Tcp<NoTls>>();
        assert_eq!(tls, plain + 8, "TLS adds its pointer, nothing else");
    }
}
