//! The write side of a connection served by `tcp.rs`: the packets the
//! core queued in its outbox, encoded into chunks of about `WRITE_CHUNK`
//! bytes and written without blocking (write coalescing), and reported
//! back to the core in batches (`packets_written`, flow control).
//!
//! On plain TCP what is already bytes and larger than a chunk is not
//! copied: a fan-out's shared encoding and the payload of a PUBLISH of at
//! least [`VECTORED_MIN`] bytes go out as they are, as pieces of one
//! vectored write between the encoded heads and small packets around
//! them (and all there is to write is written as it is when it is one
//! shared encoding, whatever its size). Smaller payloads are copied: at
//! 16 KiB the copy into a chunk that is then written from a hot cache
//! cost 9% less broker CPU per message than a vectored write from the
//! scattered read buffers, and at 128 KiB the vectored write cost 7% less
//! (`hornet-bench run --scenario fanin --payload N`, 10 publishers, the
//! two builds in turn). Over TLS and WebSocket every byte is framed or
//! encrypted into the chunk.

use std::collections::VecDeque;
use std::io::IoSlice;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use hornet_codec::Packet;
use hornet_core::ConnId;
use tokio::net::TcpStream;
use tokio_rustls::rustls::ServerConnection;

use super::conn::{report, REPORT_EVERY, WRITE_CHUNK};
use super::outbox::{Outbox, Outgoing};
use super::tls_io;
use super::Shared;
use hornet_ws as ws_frame;

/// Chunks written per turn before other tasks get the thread.
const CHUNKS_PER_TURN: usize = 4;

/// Payloads (and shared encodings) of at least this many bytes, a chunk,
/// are written from where they are rather than copied into the chunk
/// (plain TCP); below it the copy costs less (see the module doc).
pub(super) const VECTORED_MIN: usize = WRITE_CHUNK;

/// Most pieces in one vectored write (and in one chunk).
const MAX_PIECES: usize = 32;

/// What a [`Writer::pump`] came to.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Pumped {
    /// Everything queued is written.
    Idle,
    /// The socket takes no more for now: wait until it is writable.
    Blocked,
    /// More to write: yield, then pump again.
    More,
}

/// The write side of a connection: packets taken from the outbox, encoded
/// into chunks and written without blocking; on plain TCP, bytes that
/// exist already (shared encodings, large payloads) are written as they
/// are (see the module doc).
#[derive(Default)]
pub(super) struct Writer {
    /// Taken from the outbox; `packets[next..]` are not encoded yet.
    packets: Vec<Outgoing>,
    next: usize,
    /// Encoded, not yet (fully) written. Exists only during a burst. (A
    /// WebSocket's deframer puts its pongs here too.)
    pub(super) out: BytesMut,
    /// Or (plain TCP only): the chunk as pieces written in order by one
    /// vectored write, what `out` encoded among them (heads, small packets)
    /// and bytes written as they are (a fan-out's shared encoding, a large
    /// payload). `out` is empty while there are pieces.
    pieces: VecDeque<Bytes>,
    /// Packets and bytes in the chunk (`out` or `pieces`).
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
    pub(super) fn pump(
        &mut self,
        shared: &Shared,
        id: ConnId,
        outbox: &Outbox,
        stream: &TcpStream,
        ws: bool,
        mut tls: Option<&mut ServerConnection>,
    ) -> std::io::Result<Pumped> {
        for _ in 0..CHUNKS_PER_TURN {
            if let Some(conn) = tls.as_deref_mut() {
                // Over TLS a chunk is handed to rustls, and written as
                // ciphertext before the next one is encoded.
                if !tls_io::flush(conn, stream)? {
                    return Ok(Pumped::Blocked);
                }
                if self.out.is_empty() && !self.encode_chunk(id, outbox, ws, false) {
                    return Ok(self.idle(shared, id));
                }
                tls_io::encrypt(conn, &self.out)?;
                self.chunk_written(shared, id);
                continue;
            }
            if self.out.is_empty()
                && self.pieces.is_empty()
                && !self.encode_chunk(id, outbox, ws, !ws)
            {
                return Ok(self.idle(shared, id));
            }
            loop {
                let written = if !self.pieces.is_empty() {
                    self.write_pieces(stream)
                } else if !self.out.is_empty() {
                    stream.try_write(&self.out).map(|n| self.out.advance(n))
                } else {
                    break;
                };
                match written {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                        return Ok(Pumped::Blocked)
                    }
                    Err(e) => return Err(e),
                }
            }
            self.chunk_written(shared, id);
        }
        Ok(Pumped::More)
    }

    /// Writes what the socket takes of the pieces, in order, with one
    /// vectored write; the pieces written are let go of at once (a shared
    /// buffer is not kept until the next chunk).
    fn write_pieces(&mut self, stream: &TcpStream) -> std::io::Result<()> {
        let mut slices = [IoSlice::new(&[]); MAX_PIECES];
        let mut k = 0;
        for (slot, piece) in slices.iter_mut().zip(&self.pieces) {
            *slot = IoSlice::new(piece);
            k += 1;
        }
        let mut n = stream.try_write_vectored(&slices[..k])?;
        while n > 0 {
            let front = self
                .pieces
                .front_mut()
                .expect("only queued bytes are written");
            if n < front.len() {
                front.advance(n);
                break;
            }
            n -= front.len();
            self.pieces.pop_front();
        }
        Ok(())
    }

    /// Everything queued is written: reports it and gives the buffers back.
    fn idle(&mut self, shared: &Shared, id: ConnId) -> Pumped {
        if self.unreported > 0 {
            self.report(shared, id);
        }
        self.out = BytesMut::new();
        self.packets = Vec::new();
        self.pieces = VecDeque::new();
        Pumped::Idle
    }

    /// The chunk in `out` is written (over TLS: handed to rustls).
    fn chunk_written(&mut self, shared: &Shared, id: ConnId) {
        self.out.clear();
        self.unreported += self.chunk_packets;
        self.unreported_bytes += self.chunk_bytes;
        (self.chunk_packets, self.chunk_bytes) = (0, 0);
        if self.unreported >= REPORT_EVERY {
            self.report(shared, id);
        }
    }

    /// Encodes the next chunk into `out`, taking packets from the outbox
    /// when those taken are done; over WebSocket (`ws`) the chunk is one
    /// binary frame. When `share` (plain TCP), bytes that exist already go
    /// into `pieces` rather than being copied (all of the chunk when it is
    /// one shared encoding). False when there is nothing to write.
    fn encode_chunk(&mut self, id: ConnId, outbox: &Outbox, ws: bool, share: bool) -> bool {
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
        if let (true, [Outgoing::Encoded(wire)]) = (share, &self.packets[self.next..]) {
            // All there is to write is shared bytes (a fan-out's message
            // or run, the usual case for one of its subscribers): written
            // from there, without a chunk of our own or a copy into it.
            push_piece(&mut self.out, &mut self.pieces, wire.shared());
            self.chunk_packets = wire.packets();
            self.chunk_bytes = wire.bytes().len();
            self.packets.clear();
            self.next = 0;
            return true;
        }
        let protocol = outbox.protocol();
        let header = if ws { ws_frame::MAX_HEADER } else { 0 };
        let wanted = chunk_size(&self.packets[self.next..], share) + header;
        if self.out.capacity() < wanted {
            // Room for what is queued, at most one chunk: grown by
            // doubling it would be twice that, and a fixed 64 KiB chunk
            // for a few messages is what a fan-out to 1,000 subscribers
            // under a flood held 1,000 times over (docs/benchmarks.md,
            // "Memory under QoS 0 floods").
            self.out = BytesMut::with_capacity(wanted);
        }
        // Room for the frame header, written once the length is known.
        self.out.put_bytes(0, header);
        let mut i = self.next;
        while let Some(packet) = self.packets.get(i) {
            let started = self.out.len() > header || !self.pieces.is_empty();
            let room = self.out.capacity() - self.out.len();
            if started
                && (!fits(packet, room, share)
                    || pieces_len(&self.pieces) + self.out.len() >= WRITE_CHUNK
                    || self.pieces.len() + 3 > MAX_PIECES)
            {
                break;
            }
            let encoded = match packet {
                Outgoing::Encoded(w) if share && w.bytes().len() >= VECTORED_MIN => {
                    push_piece(&mut self.out, &mut self.pieces, w.shared());
                    Ok(())
                }
                Outgoing::Packet(p) if share => {
                    match p.encode_split(protocol, &mut self.out, VECTORED_MIN) {
                        Ok(Some(payload)) => {
                            push_piece(&mut self.out, &mut self.pieces, payload);
                            Ok(())
                        }
                        Ok(None) => Ok(()),
                        Err(e) => Err(e),
                    }
                }
                _ => packet.encode(protocol, &mut self.out),
            };
            if let Err(e) = encoded {
                tracing::warn!(
                    "Could not encode {:?} for connection {id}: {e}",
                    packet.packet_type()
                );
            }
            i += 1;
            self.chunk_packets += packet.packets();
        }
        self.next = i;
        if !self.pieces.is_empty() {
            push_piece(&mut self.out, &mut self.pieces, Bytes::new());
            self.chunk_bytes = pieces_len(&self.pieces);
        } else {
            self.chunk_bytes = self.out.len() - header;
        }
        if ws && self.chunk_bytes > 0 {
            ws_frame::seal_binary(&mut self.out);
        } else if ws {
            self.out.clear();
        }
        // Encoded packets are not needed any more.
        if self.next == self.packets.len() {
            self.packets.clear();
            self.next = 0;
        }
        // A packet that failed to encode leaves nothing to write; it still
        // counts as written (the core counted it as sent).
        if self.out.is_empty() && self.pieces.is_empty() {
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
/// while its socket is full, not a whole chunk. When `share`, bytes that
/// will be written as they are take no room.
fn chunk_size(packets: &[Outgoing], share: bool) -> usize {
    const PAGE: usize = 4096;
    let mut bytes = 0;
    for packet in packets {
        bytes += copied(packet, share);
        if bytes >= WRITE_CHUNK {
            return WRITE_CHUNK;
        }
    }
    bytes.div_ceil(PAGE).max(1) * PAGE
}

/// The bytes in `pieces`.
fn pieces_len(pieces: &VecDeque<Bytes>) -> usize {
    pieces.iter().map(Bytes::len).sum()
}

/// Ends the encoded bytes in `out` as a piece (so what follows comes after
/// them) and adds `bytes` as the next one.
fn push_piece(out: &mut BytesMut, pieces: &mut VecDeque<Bytes>, bytes: Bytes) {
    if !out.is_empty() {
        pieces.push_back(out.split().freeze());
    }
    if !bytes.is_empty() {
        pieces.push_back(bytes);
    }
}

/// About the bytes `packet` puts into the chunk (a close estimate for a
/// PUBLISH; other packets are small unless they carry many properties,
/// which merely grows the chunk once); when `share`, bytes written as they
/// are do not count.
fn copied(packet: &Outgoing, share: bool) -> usize {
    match packet {
        Outgoing::Packet(p) => match &**p {
            Packet::Publish(p) if share && p.payload.len() >= VECTORED_MIN => p.topic.len() + 64,
            Packet::Publish(p) => p.payload.len() + p.topic.len() + 64,
            _ => 64,
        },
        Outgoing::Encoded(w) if share && w.bytes().len() >= VECTORED_MIN => 0,
        Outgoing::Encoded(w) => w.bytes().len(),
    }
}

/// Whether `packet` surely fits in `room` bytes of the chunk.
fn fits(packet: &Outgoing, room: usize, share: bool) -> bool {
    match packet {
        Outgoing::Packet(p) if !matches!(&**p, Packet::Publish(_)) => room >= 1024,
        _ => copied(packet, share) <= room,
    }
}

#[cfg(test)]
mod tests {
    use super::super::encoded::Wire;
    use super::*;
    use hornet_codec::{Protocol, Publish, QoS};

    /// Every chunk `writer` makes from what `outbox` holds, as the bytes a
    /// subscriber would read, with how many pieces each went out in.
    fn chunks(writer: &mut Writer, outbox: &Outbox, share: bool) -> Vec<(Vec<u8>, usize)> {
        let mut chunks = Vec::new();
        while writer.encode_chunk(ConnId(1), outbox, false, share) {
            assert!(writer.out.is_empty() || writer.pieces.is_empty());
            let mut bytes = writer.out.to_vec();
            for piece in &writer.pieces {
                assert!(!piece.is_empty(), "an empty piece would write nothing");
                bytes.extend_from_slice(piece);
            }
            assert_eq!(writer.chunk_bytes, bytes.len());
            chunks.push((bytes, writer.pieces.len()));
            writer.out.clear();
            writer.pieces.clear();
            writer.chunk_packets = 0;
        }
        chunks
    }

    /// Large payloads and shared encodings are written from where they are,
    /// between the heads and small packets around them, and what the
    /// subscriber reads is exactly the packets encoded one after another.
    #[test]
    fn a_vectored_chunk_is_the_packets_in_order() {
        for protocol in [Protocol::V3_1_1, Protocol::V5] {
            let mut big = Publish::new("big/one", vec![7u8; 100_000]);
            big.qos = QoS::AtLeastOnce;
            big.packet_id = std::num::NonZeroU16::new(9);
            let packets = vec![
                Packet::Publish(Publish::new("small", vec![1u8; 10])),
                Packet::Publish(big),
                Packet::PingResp,
                Packet::Publish(Publish::new("edge", vec![2u8; VECTORED_MIN])),
                Packet::Publish(Publish::new("under", vec![3u8; VECTORED_MIN - 1])),
            ];
            let shared = {
                let mut b = BytesMut::new();
                Packet::Publish(Publish::new("shared", vec![4u8; 70_000]))
                    .encode(protocol, &mut b)
                    .unwrap();
                Wire::from_encoded(1, &b)
            };
            let mut expected = Vec::new();
            for p in &packets {
                let mut b = BytesMut::new();
                p.encode(protocol, &mut b).unwrap();
                expected.extend_from_slice(&b);
            }
            expected.extend_from_slice(shared.bytes());
            for share in [true, false] {
                let outbox = Outbox::new(ConnId(1), false);
                outbox.set_protocol(protocol);
                outbox.push_many(|_, v| {
                    v.extend(packets.iter().cloned().map(Outgoing::packet));
                    v.push(Outgoing::Encoded(shared.clone()));
                });
                let mut writer = Writer::default();
                let got = chunks(&mut writer, &outbox, share);
                let all: Vec<u8> = got.iter().flat_map(|(b, _)| b.clone()).collect();
                assert_eq!(all, expected, "{protocol:?} share {share}");
                let pieces: usize = got.iter().map(|(_, n)| n).sum();
                if share {
                    // Chunks: [small+head, 100 KB] [ping+head, edge]
                    // [under, copied: no pieces] [shared, as it is].
                    assert_eq!(pieces, 5, "{protocol:?}");
                } else {
                    assert_eq!(pieces, 0);
                }
            }
        }
    }

    /// A chunk of pieces stays about `WRITE_CHUNK` bytes: a queue of large
    /// messages is written over several chunks (and several turns).
    #[test]
    fn a_vectored_chunk_is_bounded() {
        let outbox = Outbox::new(ConnId(1), false);
        outbox.set_protocol(Protocol::V3_1_1);
        outbox.push_many(|_, v| {
            for n in 0..40 {
                let len = if n % 2 == 0 { 70_000 } else { 1000 };
                v.push(Outgoing::packet(Packet::Publish(Publish::new(
                    "t",
                    vec![0u8; len],
                ))));
            }
        });
        let got = chunks(&mut Writer::default(), &outbox, true);
        assert!(got.len() >= 20, "{} chunks", got.len());
        for (bytes, pieces) in &got {
            assert!(bytes.len() < WRITE_CHUNK + 72_000, "{}", bytes.len());
            assert!(*pieces <= MAX_PIECES);
        }
    }

    #[test]
    fn the_write_buffer_is_sized_to_what_is_queued_up_to_one_chunk() {
        let encoded = |n: usize| Outgoing::Encoded(Wire::from_encoded(1, &vec![0u8; n]));
        // A fan-out subscriber handed a few 72-byte copies: one page.
        assert_eq!(chunk_size(&vec![encoded(72); 10], false), 4096);
        assert_eq!(chunk_size(&vec![encoded(72); 100], false), 8192);
        // A flooded fan-in subscriber: one whole chunk, never more.
        assert_eq!(chunk_size(&vec![encoded(72); 5000], false), WRITE_CHUNK);
        assert_eq!(chunk_size(&[encoded(1 << 20)], false), WRITE_CHUNK);
        // A packet to encode counts its payload and topic and room for the rest.
        let p = Outgoing::packet(Packet::Publish(Publish::new("t", vec![0u8; 5000])));
        assert_eq!(chunk_size(&[p], false), 8192);
        assert_eq!(chunk_size(&[], false), 4096);
    }
}
