//! Entry points for fuzzers and for the tests that replay their corpus.
//!
//! [`decode_stream`] is the whole oracle: it must never panic, and every
//! packet it decodes must encode and decode back to itself.

use bytes::BytesMut;

use crate::{Decoder, Packet, Protocol};

/// Feeds `data` to a decoder for each protocol version (and to a server-side
/// decoder that learns the version from CONNECT), in chunks whose sizes come
/// from the first byte, and checks every decoded packet round-trips.
pub fn decode_stream(data: &[u8]) {
    let Some((&chunk_seed, data)) = data.split_first() else {
        return;
    };
    let chunk = usize::from(chunk_seed % 64) + 1;
    let decoders = [
        Decoder::new(),
        Decoder::with_protocol(Protocol::V3_1),
        Decoder::with_protocol(Protocol::V3_1_1),
        Decoder::with_protocol(Protocol::V5),
    ];
    for mut decoder in decoders {
        decoder.set_max_packet_size(64 * 1024);
        let mut buf = BytesMut::new();
        'feed: for piece in data.chunks(chunk) {
            buf.extend_from_slice(piece);
            loop {
                match decoder.decode(&mut buf) {
                    Ok(Some(packet)) => {
                        let protocol = decoder.protocol().expect("known after a packet");
                        check_round_trip(&packet, protocol);
                    }
                    Ok(None) => break,
                    Err(err) => {
                        // Every error must name a reason code a server can send.
                        let _ = err.reason_code();
                        let _ = err.to_string();
                        break 'feed;
                    }
                }
            }
        }
    }
}

/// Encodes `packet` for `protocol` and asserts that it decodes to itself.
pub fn check_round_trip(packet: &Packet, protocol: Protocol) {
    let protocol = match packet {
        Packet::Connect(c) => c.protocol,
        _ => protocol,
    };
    let mut out = BytesMut::new();
    packet
        .encode(protocol, &mut out)
        .expect("a decoded packet encodes");
    assert_eq!(out.len(), packet.encoded_len(protocol).unwrap());
    let mut decoder = Decoder::with_protocol(protocol);
    let back = decoder
        .decode(&mut out)
        .expect("re-decodes")
        .expect("whole");
    assert_eq!(&back, packet, "round trip in {protocol:?}");
    assert!(out.is_empty());
}
