//! The WebSocket framing (RFC 6455 §5) of Hornet's `ws` and `wss`
//! connections, server side, sans-IO:
//! bytes read from the socket in, the MQTT byte stream they carry out, and
//! the server's own frames (binary, pong, close) as bytes to write.
//!
//! Why not tungstenite's message layer, which the clients still use: its
//! `WebSocket` keeps a read buffer of `read_buffer_size` (16 KiB here)
//! zero-filled for its whole life and cannot hand back its socket with the
//! state a half-read frame needs, so an idle WebSocket connection cost 34
//! KB and two tasks. With this deframer a WebSocket connection is served
//! by the TCP connection's task (`hornet`'s `server/tcp.rs`): its buffers exist only while bytes are arriving, and between
//! frames its whole WebSocket state is "none", so it parks like a TCP one
//! (`server/park.rs`). What is owned here is small: a frame header parser, the
//! unmasking, and the rules of §5: client frames are masked (§5.1), no
//! extension was negotiated so RSV bits are 0 (§5.2), control frames are
//! short and unfragmented (§5.5), continuation frames continue a message
//! (§5.4). MQTT travels in binary messages only ([MQTT-6.0.0-1]); their
//! payload is one byte stream, whatever the frame boundaries
//! ([MQTT-6.0.0-2]). Data frames are streamed: their payload goes to the
//! MQTT buffer as it arrives, so the MQTT decoder's packet size limit is
//! the only limit, not a frame or message size. A ping is answered with a
//! pong, a close ends the stream and is answered by the caller's
//! [`close_frame`] when it closes.
//!
//! A crate of its own so that debug builds compile it optimized (the
//! workspace's `profile.dev.package.hornet-ws`): unmasking is per byte,
//! and unoptimized it made a 1 MB message over ws 14 times slower than
//! over tcp in the debug tests.

use bytes::{Buf, BufMut, BytesMut};

/// The opcodes of RFC 6455 §5.2.
const CONTINUATION: u8 = 0x0;
const TEXT: u8 = 0x1;
const BINARY: u8 = 0x2;
const CLOSE: u8 = 0x8;
const PING: u8 = 0x9;
const PONG: u8 = 0xA;

/// Close status codes (RFC 6455 §7.4.1).
pub const NORMAL: u16 = 1000;
const PROTOCOL_ERROR: u16 = 1002;
const UNSUPPORTED_DATA: u16 = 1003;

/// Why a client's frames were refused; each answers with its close code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WsError {
    #[error("a WebSocket text frame: MQTT travels in binary frames [MQTT-6.0.0-1]")]
    /// A text frame.
    Text,
    #[error("a WebSocket frame from the client without a mask (RFC 6455 §5.1)")]
    /// A client frame without a mask.
    Unmasked,
    #[error(
        "a WebSocket frame with RSV bits set, and no extension was negotiated (RFC 6455 §5.2)"
    )]
    /// RSV bits set.
    Reserved,
    #[error("a WebSocket frame with the unknown opcode {0:#x} (RFC 6455 §5.2)")]
    /// An opcode RFC 6455 does not define.
    Opcode(u8),
    #[error("a WebSocket control frame fragmented or over 125 bytes (RFC 6455 §5.5)")]
    /// A control frame fragmented or too long.
    Control,
    #[error("a WebSocket continuation frame without a message to continue (RFC 6455 §5.4)")]
    /// A continuation frame with no message to continue.
    Continuation,
    #[error("a new WebSocket message before the last one ended (RFC 6455 §5.4)")]
    /// A data frame inside a fragmented message.
    Interleaved,
    #[error("a WebSocket frame length with its most significant bit set (RFC 6455 §5.2)")]
    /// A 64-bit length with its top bit set.
    Length,
}

impl WsError {
    /// The status code of the close frame that answers it.
    pub fn close_code(&self) -> u16 {
        match self {
            WsError::Text => UNSUPPORTED_DATA,
            _ => PROTOCOL_ERROR,
        }
    }
}

/// What the frames read so far came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Go on reading.
    Open,
    /// The client sent a close frame with this status code (1000 when it
    /// gave none): answer it with [`close_frame`] and close.
    Closed(u16),
}

/// A client's WebSocket stream between two reads: where in a frame and in
/// a message it is.
#[derive(Debug, Default)]
pub struct Deframer {
    /// The data frame whose payload is arriving.
    frame: Option<DataFrame>,
    /// A binary message is open (a frame without FIN came): continuation
    /// frames carry on with it.
    in_message: bool,
}

/// The part of a data frame still to come.
#[derive(Debug)]
struct DataFrame {
    remaining: u64,
    mask: [u8; 4],
    /// Payload bytes unmasked so far, modulo 4: where the mask goes on.
    at: usize,
}

/// A parsed frame header.
struct Header {
    fin: bool,
    opcode: u8,
    mask: [u8; 4],
    len: u64,
    /// Header bytes.
    size: usize,
}

impl Deframer {
    /// Whether the stream is between messages: nothing of a frame or a
    /// message is pending, so the connection can drop its buffers (and
    /// park) with no WebSocket state at all.
    pub fn is_idle(&self) -> bool {
        self.frame.is_none() && !self.in_message
    }

    /// Takes the frames in `raw`: binary payload is appended to `out`
    /// (unmasked), a pong for each ping to `reply`. What is left in `raw`
    /// is the start of a frame header or of a control frame.
    pub fn deframe(
        &mut self,
        raw: &mut BytesMut,
        out: &mut BytesMut,
        reply: &mut BytesMut,
    ) -> Result<Step, WsError> {
        loop {
            if let Some(frame) = &mut self.frame {
                let n = (raw.len() as u64).min(frame.remaining) as usize;
                if n == 0 {
                    return Ok(Step::Open);
                }
                let start = out.len();
                out.extend_from_slice(&raw[..n]);
                unmask(&mut out[start..], frame.mask, frame.at);
                raw.advance(n);
                frame.at = (frame.at + n) % 4;
                frame.remaining -= n as u64;
                if frame.remaining == 0 {
                    self.frame = None;
                }
                continue;
            }
            let Some(h) = parse_header(raw)? else {
                return Ok(Step::Open);
            };
            match h.opcode {
                BINARY | CONTINUATION => {
                    if h.opcode == CONTINUATION && !self.in_message {
                        return Err(WsError::Continuation);
                    }
                    if h.opcode == BINARY && self.in_message {
                        return Err(WsError::Interleaved);
                    }
                    self.in_message = !h.fin;
                    raw.advance(h.size);
                    if h.len > 0 {
                        self.frame = Some(DataFrame {
                            remaining: h.len,
                            mask: h.mask,
                            at: 0,
                        });
                    }
                }
                TEXT => return Err(WsError::Text),
                CLOSE | PING | PONG => {
                    if !h.fin || h.len > 125 {
                        return Err(WsError::Control);
                    }
                    let end = h.size + h.len as usize;
                    if raw.len() < end {
                        return Ok(Step::Open); // the rest of it is on its way
                    }
                    let mut payload = raw.split_to(end).split_off(h.size);
                    unmask(&mut payload, h.mask, 0);
                    match h.opcode {
                        PING => {
                            put_header(reply, PONG, payload.len());
                            reply.extend_from_slice(&payload);
                        }
                        CLOSE => {
                            let code = match *payload {
                                [a, b, ..] => u16::from_be_bytes([a, b]),
                                _ => NORMAL,
                            };
                            return Ok(Step::Closed(code));
                        }
                        _ => {} // a pong: nothing to do
                    }
                }
                other => return Err(WsError::Opcode(other)),
            }
        }
    }
}

/// Parses the frame header at the start of `raw`; `None` until it is whole.
fn parse_header(raw: &[u8]) -> Result<Option<Header>, WsError> {
    let [first, second, ..] = *raw else {
        return Ok(None);
    };
    if first & 0x70 != 0 {
        return Err(WsError::Reserved);
    }
    if second & 0x80 == 0 {
        return Err(WsError::Unmasked);
    }
    let (len, len_bytes) = match second & 0x7F {
        126 => (None, 2),
        127 => (None, 8),
        n => (Some(u64::from(n)), 0),
    };
    let size = 2 + len_bytes + 4;
    if raw.len() < size {
        return Ok(None);
    }
    let len = match len {
        Some(n) => n,
        None => {
            let mut bytes = [0u8; 8];
            bytes[8 - len_bytes..].copy_from_slice(&raw[2..2 + len_bytes]);
            let n = u64::from_be_bytes(bytes);
            if n >> 63 != 0 {
                return Err(WsError::Length);
            }
            n
        }
    };
    let mut mask = [0u8; 4];
    mask.copy_from_slice(&raw[size - 4..size]);
    Ok(Some(Header {
        fin: first & 0x80 != 0,
        opcode: first & 0x0F,
        mask,
        len,
        size,
    }))
}

/// Unmasks `data`, whose first byte is payload byte `at` (mod 4) of its
/// frame. Eight bytes at a time: 1 MB messages go through here.
fn unmask(data: &mut [u8], mask: [u8; 4], at: usize) {
    let mut rotated = [0u8; 8];
    for (i, b) in rotated.iter_mut().enumerate() {
        *b = mask[(at + i) % 4];
    }
    let wide = u64::from_ne_bytes(rotated);
    let mut chunks = data.chunks_exact_mut(8);
    for chunk in &mut chunks {
        let word = u64::from_ne_bytes(<[u8; 8]>::try_from(&*chunk).unwrap_or_default()) ^ wide;
        chunk.copy_from_slice(&word.to_ne_bytes());
    }
    for (b, m) in chunks.into_remainder().iter_mut().zip(rotated) {
        *b ^= m;
    }
}

/// The most header bytes a server frame takes (unmasked, 64-bit length).
pub const MAX_HEADER: usize = 10;

/// Appends the header of a final, unmasked server frame.
fn put_header(out: &mut BytesMut, opcode: u8, len: usize) {
    out.put_u8(0x80 | opcode);
    if len <= 125 {
        out.put_u8(len as u8);
    } else if let Ok(len) = u16::try_from(len) {
        out.put_u8(126);
        out.put_u16(len);
    } else {
        out.put_u8(127);
        out.put_u64(len as u64);
    }
}

/// Makes the bytes after the first [`MAX_HEADER`] of `chunk` one binary
/// frame: writes its header just before them and drops the unused room.
/// `chunk` must start with `MAX_HEADER` bytes of room.
pub fn seal_binary(chunk: &mut BytesMut) {
    let len = chunk.len() - MAX_HEADER;
    let mut header = BytesMut::with_capacity(MAX_HEADER);
    put_header(&mut header, BINARY, len);
    let start = MAX_HEADER - header.len();
    chunk[start..MAX_HEADER].copy_from_slice(&header);
    chunk.advance(start);
}

/// The close frame a server sends with status `code`.
pub fn close_frame(code: u16) -> [u8; 4] {
    let [a, b] = code.to_be_bytes();
    [0x80 | CLOSE, 2, a, b]
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio_tungstenite::tungstenite::protocol::frame::coding::{Control, Data, OpCode};
    use tokio_tungstenite::tungstenite::protocol::frame::{Frame, FrameHeader};

    /// A client frame as tungstenite formats it (masked).
    fn client_frame(opcode: OpCode, fin: bool, payload: &[u8], mask: [u8; 4]) -> Vec<u8> {
        let header = FrameHeader {
            is_final: fin,
            opcode,
            mask: Some(mask),
            ..FrameHeader::default()
        };
        let mut out = Vec::new();
        Frame::from_payload(header, payload.to_vec().into())
            .format(&mut out)
            .unwrap();
        out
    }

    fn binary(payload: &[u8], fin: bool) -> Vec<u8> {
        client_frame(OpCode::Data(Data::Binary), fin, payload, [1, 2, 3, 4])
    }

    fn run(d: &mut Deframer, bytes: &[u8]) -> (Result<Step, WsError>, Vec<u8>, Vec<u8>) {
        let (mut raw, mut out, mut reply) =
            (BytesMut::from(bytes), BytesMut::new(), BytesMut::new());
        let step = d.deframe(&mut raw, &mut out, &mut reply);
        (step, out.to_vec(), reply.to_vec())
    }

    /// [MQTT-6.0.0-2]: the payload of binary frames is one byte stream,
    /// however it is split into frames and however the frames arrive.
    #[test]
    fn mqtt_6_0_0_2_binary_payloads_are_one_stream_split_anywhere() {
        let payload: Vec<u8> = (0..70_000u32).map(|i| (i * 7) as u8).collect();
        let mut wire = binary(&payload[..5], false);
        wire.extend(client_frame(
            OpCode::Data(Data::Continue),
            false,
            &payload[5..300],
            [9, 8, 7, 6],
        ));
        wire.extend(client_frame(
            OpCode::Data(Data::Continue),
            true,
            &payload[300..],
            [5, 5, 1, 0],
        ));
        wire.extend(binary(b"tail", true));
        for step in [1, 3, 7, 13, 4096, wire.len()] {
            let mut d = Deframer::default();
            let (mut out, mut reply) = (BytesMut::new(), BytesMut::new());
            let mut raw = BytesMut::new();
            for piece in wire.chunks(step) {
                raw.extend_from_slice(piece);
                assert_eq!(d.deframe(&mut raw, &mut out, &mut reply), Ok(Step::Open));
            }
            assert!(raw.is_empty() && reply.is_empty());
            assert_eq!(&out[..payload.len()], &payload[..], "split every {step}");
            assert_eq!(&out[payload.len()..], b"tail");
            assert!(d.is_idle());
        }
    }

    #[test]
    fn a_half_read_frame_keeps_the_deframer_busy() {
        let wire = binary(b"abcdef", true);
        let mut d = Deframer::default();
        let (_, out, _) = run(&mut d, &wire[..8]);
        assert_eq!(out, b"ab");
        assert!(!d.is_idle());
        let mut d = Deframer::default();
        assert_eq!(run(&mut d, &binary(b"ab", false)).0, Ok(Step::Open));
        assert!(!d.is_idle(), "a message without its final frame");
    }

    /// [MQTT-6.0.0-1]: a text frame closes the connection.
    #[test]
    fn mqtt_6_0_0_1_text_frames_are_refused() {
        let text = client_frame(OpCode::Data(Data::Text), true, b"{}", [1, 2, 3, 4]);
        let err = run(&mut Deframer::default(), &text).0.unwrap_err();
        assert_eq!((err.clone(), err.close_code()), (WsError::Text, 1003));
    }

    #[test]
    fn pings_get_pongs_with_their_payload_and_close_ends_the_stream() {
        let ping = client_frame(OpCode::Control(Control::Ping), true, b"hi", [7, 7, 7, 7]);
        let pong = client_frame(OpCode::Control(Control::Pong), true, b"", [7, 7, 7, 7]);
        let mut wire = ping.clone();
        wire.extend(pong);
        wire.extend(binary(b"x", true));
        let (step, out, reply) = run(&mut Deframer::default(), &wire);
        assert_eq!((step, out), (Ok(Step::Open), b"x".to_vec()));
        assert_eq!(reply, [0x8A, 2, b'h', b'i']);
        // Half a ping waits for the rest.
        let mut d = Deframer::default();
        let (mut raw, mut out, mut reply) = (BytesMut::new(), BytesMut::new(), BytesMut::new());
        raw.extend_from_slice(&ping[..ping.len() - 1]);
        assert_eq!(d.deframe(&mut raw, &mut out, &mut reply), Ok(Step::Open));
        assert!(reply.is_empty());
        raw.extend_from_slice(&ping[ping.len() - 1..]);
        assert_eq!(d.deframe(&mut raw, &mut out, &mut reply), Ok(Step::Open));
        assert_eq!(reply.len(), 4);
        let close = client_frame(
            OpCode::Control(Control::Close),
            true,
            &[3, 232],
            [1, 1, 1, 1],
        );
        assert_eq!(
            run(&mut Deframer::default(), &close).0,
            Ok(Step::Closed(1000))
        );
        let bare = client_frame(OpCode::Control(Control::Close), true, b"", [1, 1, 1, 1]);
        assert_eq!(
            run(&mut Deframer::default(), &bare).0,
            Ok(Step::Closed(NORMAL))
        );
    }

    #[test]
    fn frames_against_rfc_6455_are_refused_with_a_protocol_error() {
        let refused = |wire: &[u8]| run(&mut Deframer::default(), wire).0.unwrap_err();
        // §5.1: an unmasked client frame.
        assert_eq!(refused(&[0x82, 1, b'x']), WsError::Unmasked);
        // §5.2: RSV1 without an extension.
        assert_eq!(refused(&[0xC2, 0x80, 0, 0, 0, 0]), WsError::Reserved);
        assert_eq!(refused(&[0x83, 0x80, 0, 0, 0, 0]), WsError::Opcode(3));
        // §5.5: a control frame over 125 bytes, or fragmented.
        let long = client_frame(OpCode::Control(Control::Ping), true, &[0; 126], [0; 4]);
        assert_eq!(refused(&long), WsError::Control);
        assert_eq!(refused(&[0x09, 0x80, 0, 0, 0, 0]), WsError::Control);
        // §5.4: a continuation without a message, a message inside another.
        assert_eq!(refused(&[0x80, 0x80, 0, 0, 0, 0]), WsError::Continuation);
        let mut wire = binary(b"a", false);
        wire.extend(binary(b"b", true));
        assert_eq!(refused(&wire), WsError::Interleaved);
        let mut huge = vec![0x82, 0xFF, 0x80];
        huge.extend([0; 11]);
        assert_eq!(refused(&huge), WsError::Length);
        assert!(refused(&[0x82, 1, b'x']).close_code() == 1002);
    }

    /// The server's binary frames decode in tungstenite as one message each.
    #[test]
    fn sealed_chunks_are_binary_frames_of_any_length() {
        for len in [0usize, 1, 125, 126, 65_535, 65_536, 200_000] {
            let mut chunk = BytesMut::new();
            chunk.put_bytes(0, MAX_HEADER);
            chunk.extend((0..len).map(|i| i as u8));
            seal_binary(&mut chunk);
            let mut cursor = std::io::Cursor::new(&chunk[..]);
            let (header, n) = FrameHeader::parse(&mut cursor).unwrap().unwrap();
            assert_eq!(header.opcode, OpCode::Data(Data::Binary));
            assert!(header.is_final && header.mask.is_none());
            assert_eq!(n as usize, len);
            assert_eq!(chunk.len() - cursor.position() as usize, len);
        }
        assert_eq!(close_frame(1002), [0x88, 2, 3, 234]);
    }
}
