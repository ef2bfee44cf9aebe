//! One client connection over a TLS-PSK stream (OpenSSL): a reader that
//! decodes and feeds the core, and a writer task that encodes what the
//! core emitted and writes it out; and what every connection shares
//! (registration, decoding and feeding the core, reporting writes,
//! lingering). Plain TCP, TLS (rustls), WebSocket and WebSocket over TLS
//! are served by one task each instead (`tcp.rs`).
//!
//! [`run_stream`] serves any `AsyncRead + AsyncWrite` stream; it reads
//! with `read_buf`, as such streams have their own buffers.
//!
//! The reader decodes every complete packet in what one `read` returned and
//! hands the batch to the core under one lock acquisition. The writer takes
//! every packet queued for its connection, encodes them into one buffer and
//! writes it with one call (write coalescing), then reports the count back
//! so the core can release more. Neither ever waits for another connection:
//! a slow reader only fills its own session queue.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use bytes::BytesMut;
use hornet_codec::{Decoder, Packet};
use hornet_core::{CloseCause, ConnId, ConnInfo};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::outbox::Outbox;
use super::Shared;

/// Written packets are reported to the core in batches of at least this
/// many (and whenever the writer goes idle).
pub(super) const REPORT_EVERY: usize = 64;

/// Bytes asked of the allocator when the read buffer runs low.
pub(super) const READ_CHUNK: usize = 8192;

/// Bytes encoded before they are written (one write per chunk).
pub(super) const WRITE_CHUNK: usize = 64 * 1024;

/// Reads per readiness event before letting other connections run.
pub(super) const READS_PER_WAKE: u8 = 4;

/// How long a closed connection waits for the peer to close its side.
const LINGER: std::time::Duration = std::time::Duration::from_secs(2);

/// How long a connection whose peer went away waits for the core's own
/// close, which comes after the packets the core holds for the disk (a
/// half-closed client still reads its last PUBACK). Only a store stuck
/// for this long makes it give up.
pub(super) const CORE_CLOSE_WAIT: std::time::Duration = std::time::Duration::from_secs(30);

/// Logs a connection closed without waiting any longer for the core.
pub(super) fn core_close_overdue(id: ConnId) {
    tracing::warn!(
        "Connection {id}: its peer left and the core has not released its last packets \
         after {CORE_CLOSE_WAIT:?} (the store is slow?); closing it without them."
    );
}

/// Serves MQTT over any byte stream (TLS-PSK) until it closes.
pub(crate) async fn run_stream<S>(shared: Arc<Shared>, stream: S, info: ConnInfo)
where
    S: AsyncRead + AsyncWrite + Send + 'static,
{
    let (id, outbox) = open(&shared, info, true);
    let (mut rd, wr) = tokio::io::split(stream);
    let writer = tokio::spawn(write_loop(shared.clone(), id, outbox.clone(), wr));
    if let Some(cause) = read_stream(&shared, id, &outbox, &mut rd).await {
        shared.with_core(|core| core.connection_closed(Instant::now(), id, cause));
        // The core closes the outbox itself, after the packets it still
        // holds for the disk (see `tcp::drain`).
        if tokio::time::timeout(CORE_CLOSE_WAIT, outbox.wait_closed())
            .await
            .is_err()
        {
            core_close_overdue(id);
        }
    }
    outbox.close();
    let _ = writer.await;
    linger(&mut rd).await;
    shared.remove_outbox(id);
}

/// Registers a new connection with the outboxes and the core.
/// `stream`: a TLS/WS connection, whose reader waits for the close.
pub(super) fn open(shared: &Shared, info: ConnInfo, stream: bool) -> (ConnId, Arc<Outbox>) {
    let id = ConnId(shared.next_conn.fetch_add(1, Ordering::Relaxed));
    let outbox = Arc::new(Outbox::new(id, stream));
    shared.add_outbox(id, outbox.clone());
    shared.with_core(|core| core.connection_opened(Instant::now(), id, info));
    (id, outbox)
}

/// The read loop of a generic stream: `read_buf` rather than readiness
/// (TLS and WebSocket streams have their own buffers), the same decoding.
async fn read_stream<R: AsyncRead + Unpin>(
    shared: &Shared,
    id: ConnId,
    outbox: &Outbox,
    rd: &mut R,
) -> Option<CloseCause> {
    let mut buf = BytesMut::new();
    let mut decoder = Decoder::new();
    decoder.set_max_packet_size(shared.max_packet_size);
    let mut batch: Vec<(Packet, usize)> = Vec::new();
    loop {
        // Room for the rest of a large packet in one go (its size is known
        // from the fixed header; the decoder has checked it against the
        // maximum), so it is copied once rather than grown into.
        let wanted = match hornet_codec::peek_frame(&buf, shared.max_packet_size) {
            Ok(Some(frame)) => (frame.header_len + frame.remaining_len).saturating_sub(buf.len()),
            _ => 0,
        };
        if buf.capacity() - buf.len() < wanted.max(1024) {
            buf.reserve(wanted.max(READ_CHUNK));
        }
        tokio::select! {
            biased;
            () = outbox.wait_closed() => return None,
            read = rd.read_buf(&mut buf) => match read {
                Ok(0) => return Some(CloseCause::PeerClosed),
                Ok(_) => {}
                Err(e) => return Some(CloseCause::io(&e)),
            },
        }
        match decode_and_feed(shared, id, outbox, &mut decoder, &mut buf, &mut batch) {
            Fed::Refused => return None,
            // Over its publish rate or feeding a backlog: stop reading
            // (backpressure).
            Fed::Pause(pause) => tokio::select! {
                () = outbox.wait_closed() => return None,
                () = tokio::time::sleep(pause) => {}
            },
            Fed::Ok => {}
        }
        if buf.is_empty() && buf.capacity() > 4 * READ_CHUNK {
            // A burst is over: do not keep its large buffer.
            buf = BytesMut::new();
            batch = Vec::new();
        }
    }
}

/// What feeding a batch to the core came to.
pub(super) enum Fed {
    /// Go on reading.
    Ok,
    /// The bytes were refused: the core has closed the connection.
    Refused,
    /// Stop reading for this long: the client is over its publish rate, or
    /// what it sent went to a subscriber with a draining backlog
    /// (`backlog_pause_messages`).
    Pause(std::time::Duration),
}

/// Decodes every complete packet in `buf` and hands them to the core under
/// one lock, and asks it whether to pause reading.
pub(super) fn decode_and_feed(
    shared: &Shared,
    id: ConnId,
    outbox: &Outbox,
    decoder: &mut Decoder,
    buf: &mut BytesMut,
    batch: &mut Vec<(Packet, usize)>,
) -> Fed {
    let mut failure = None;
    loop {
        let before = buf.len();
        match decoder.decode(buf) {
            Ok(Some(packet)) => {
                if let (Packet::Connect(_), Some(p)) = (&packet, decoder.protocol()) {
                    outbox.set_protocol(p);
                }
                batch.push((packet, before - buf.len()));
            }
            Ok(None) => break,
            Err(e) => {
                failure = Some(e);
                break;
            }
        }
    }
    if batch.is_empty() && failure.is_none() {
        return Fed::Ok;
    }
    if let (Some(_), Some(p)) = (&failure, decoder.protocol()) {
        outbox.set_protocol(p);
    }
    let now = Instant::now();
    let pause = shared.with_core(|core| {
        for (packet, len) in batch.drain(..) {
            core.packet_received(now, id, packet, len);
        }
        if let Some(e) = &failure {
            core.decode_failed(now, id, e, decoder.protocol());
        }
        core.read_pause(id, now)
    });
    match (failure, pause) {
        (Some(_), _) => Fed::Refused,
        (None, Some(pause)) => Fed::Pause(pause),
        (None, None) => Fed::Ok,
    }
}

/// Encodes and writes what the core queued, until the connection closes.
async fn write_loop<W: AsyncWrite + Unpin>(
    shared: Arc<Shared>,
    id: ConnId,
    outbox: Arc<Outbox>,
    mut wr: W,
) {
    let mut packets = Vec::new();
    // Like the read buffer, the write buffer exists only during a burst.
    let mut out = BytesMut::new();
    let (mut unreported, mut unreported_bytes) = (0usize, 0usize);
    loop {
        outbox.take(&mut packets);
        if packets.is_empty() {
            if unreported > 0 {
                report(&shared, id, unreported, unreported_bytes);
                (unreported, unreported_bytes) = (0, 0);
            }
            if outbox.is_closing() {
                // The core may have pushed a last packet (a DISCONNECT, a
                // refusing CONNACK) and closed between the `take` above
                // and this check: every push precedes `close`, so one
                // more `take` sees it. Without this the packet was lost
                // now and then under load.
                outbox.take(&mut packets);
                if packets.is_empty() {
                    break;
                }
            } else {
                // Idle: give the buffers back (the outbox holds our
                // spare vector since the last `take`).
                out = BytesMut::new();
                packets = Vec::new();
                outbox.trim();
                outbox.wait().await;
                continue;
            }
        }
        let protocol = outbox.protocol();
        // Encode and write in chunks of about WRITE_CHUNK bytes: one write
        // per chunk, and a buffer that stays small even when a burst of
        // large messages is waiting.
        let mut count = 0;
        for packet in packets.drain(..) {
            if let Err(e) = packet.encode(protocol, &mut out) {
                tracing::warn!(
                    "Could not encode {:?} for connection {id}: {e}",
                    packet.packet_type()
                );
            }
            count += packet.packets();
            if out.len() >= WRITE_CHUNK {
                if !write_out(&shared, id, &mut wr, &mut out).await {
                    return;
                }
                (unreported, unreported_bytes) = (unreported + count, unreported_bytes + out.len());
                count = 0;
                out.clear();
            }
        }
        if !out.is_empty() && !write_out(&shared, id, &mut wr, &mut out).await {
            return;
        }
        unreported += count;
        unreported_bytes += out.len();
        out.clear();
        if unreported >= REPORT_EVERY {
            report(&shared, id, unreported, unreported_bytes);
            (unreported, unreported_bytes) = (0, 0);
        }
    }
    let _ = wr.shutdown().await;
}

/// Writes `out`; on failure tells the core the connection is gone and
/// returns false.
async fn write_out<W: AsyncWrite + Unpin>(
    shared: &Shared,
    id: ConnId,
    wr: &mut W,
    out: &mut BytesMut,
) -> bool {
    // One write call per buffer (over WebSocket: one binary frame), then a
    // flush, which TLS and WebSocket streams need and TCP ignores.
    let written = match wr.write_all(out).await {
        Ok(()) => wr.flush().await,
        Err(e) => Err(e),
    };
    match written {
        Ok(()) => true,
        Err(e) => {
            let cause = CloseCause::io(&e);
            shared.with_core(|core| core.connection_closed(Instant::now(), id, cause));
            false
        }
    }
}

/// After our FIN, reads (and discards) until the peer's, for at most
/// `LINGER`. Closing a socket with unread input makes the kernel send RST,
/// and an RST can destroy a last DISCONNECT or CONNACK the peer has not
/// read yet; draining first lets the peer see it.
pub(super) async fn linger<R: AsyncRead + Unpin>(rd: &mut R) {
    let drain = async {
        // On the heap, and only now: an array here would be part of every
        // connection's task for its whole life.
        let mut sink = vec![0u8; 1024];
        while let Ok(n) = rd.read(&mut sink).await {
            if n == 0 {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(LINGER, drain).await;
}

pub(super) fn report(shared: &Shared, id: ConnId, packets: usize, bytes: usize) {
    shared.with_core(|core| core.packets_written(id, packets, bytes));
}
