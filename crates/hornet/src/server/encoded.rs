//! Encoding a PUBLISH once for the many connections it goes to: while the
//! core's packets are handed out to the outboxes, [`Shapes`] remembers the
//! last few QoS 0 PUBLISH packets it saw and, the second time the same
//! message goes out in the same shape (protocol version, flags, topic,
//! properties: what the bytes depend on), encodes it once and gives every
//! further connection those shared bytes.
//!
//! The first copy of a message stays a packet, encoded by its own writer
//! outside any lock, so a message with one subscriber costs nothing more;
//! only a fan-out encodes here. A QoS 1/2 PUBLISH carries a packet id of
//! its connection's own and is never shared. A copy the core shaped for
//! one connection (an outbound topic alias, a Subscription Identifier)
//! differs from the others and simply gets an entry of its own.
//!
//! A core told `Broker::send_many` hands a fan-out's plain QoS 0 copies
//! over as one `Action::SendMany` (the message once, the connections in a
//! list), and a publisher's burst as a run of them for the same
//! connections: [`Run`] encodes the run's messages at most once per
//! protocol version, back to back in one buffer, and every connection gets
//! one shared handle to the whole run ([`Wire`]): one reference count, one
//! queue entry and one copy into its writer's chunk per connection and
//! run, rather than per connection and message.
//!
//! Identity is by pointer: an entry keeps a clone of the message (its
//! topic and payload stay alive), so the same topic and payload addresses
//! and lengths mean the same bytes.

use bytes::{BufMut, Bytes, BytesMut};
use hornet_codec::{EncodeError, Packet, Protocol, Publish, QoS};

use super::outbox::Outgoing;

/// Messages remembered: a batch of fan-out actions is message by message,
/// all subscribers of one before the next, in at most a few shapes.
const ENTRIES: usize = 4;

/// One message in one shape, and its bytes once a second copy was asked.
struct Entry {
    publish: Publish,
    protocol: Protocol,
    bytes: Option<Wire>,
}

/// The encode-once cache of one hand-out (see the module doc).
#[derive(Default)]
pub(crate) struct Shapes {
    entries: Vec<Entry>,
    /// Where the next new entry goes once full.
    next: usize,
}

impl Shapes {
    /// What to queue for `packet` on a connection speaking `protocol`.
    pub(crate) fn outgoing(&mut self, packet: Packet, protocol: Protocol) -> Outgoing {
        let Packet::Publish(publish) = &packet else {
            return Outgoing::packet(packet);
        };
        if publish.qos != QoS::AtMostOnce {
            return Outgoing::packet(packet);
        }
        // Newest first (copies of one message come one after another):
        // `entries[..=newest]` backwards, then the rest backwards.
        let newest = (self.next + self.entries.len()).saturating_sub(1) % ENTRIES;
        let split = (newest + 1).min(self.entries.len());
        let (up_to_newest, before_them) = self.entries.split_at_mut(split);
        if let Some(entry) = before_them
            .iter_mut()
            .chain(up_to_newest.iter_mut())
            .rev()
            .find(|e| e.protocol == protocol && same(&e.publish, publish))
        {
            if entry.bytes.is_none() {
                let Ok(wire) = Wire::encode(std::slice::from_ref(&packet), protocol) else {
                    // The writer logs it, as for any packet.
                    return Outgoing::packet(packet);
                };
                entry.bytes = Some(wire);
            }
            return Outgoing::Encoded(entry.bytes.clone().expect("just set"));
        }
        let entry = Entry {
            publish: publish.clone(),
            protocol,
            bytes: None,
        };
        if self.entries.len() < ENTRIES {
            self.entries.push(entry);
        } else {
            self.entries[self.next] = entry;
            self.next = (self.next + 1) % ENTRIES;
        }
        Outgoing::packet(packet)
    }
}

/// Whole packets encoded once and shared by many connections: one or
/// more PUBLISH packets back to back, and how many. Cloning it is one
/// reference count; the count travels with the bytes (in a 4-byte prefix
/// of the same buffer) so that a queue entry stays the size of a `Bytes`,
/// and the writers report the packets they wrote to the core.
#[derive(Debug, Clone)]
pub(crate) struct Wire(Bytes);

/// Bytes of the count ahead of the packets.
const COUNT: usize = 4;

impl Wire {
    /// `packets` encoded for `protocol`, back to back.
    pub(crate) fn encode(packets: &[Packet], protocol: Protocol) -> Result<Wire, EncodeError> {
        let count = u32::try_from(packets.len()).expect("a run is short");
        let mut out = BytesMut::with_capacity(COUNT + packets.iter().map(estimate).sum::<usize>());
        out.put_u32_le(count);
        for packet in packets {
            packet.encode(protocol, &mut out)?;
        }
        Ok(Wire(out.freeze()))
    }

    /// Packets already encoded, `count` of them in `bytes`.
    #[cfg(test)]
    pub(crate) fn from_encoded(count: u32, bytes: &[u8]) -> Wire {
        let mut out = BytesMut::with_capacity(COUNT + bytes.len());
        out.put_u32_le(count);
        out.put_slice(bytes);
        Wire(out.freeze())
    }

    /// How many packets [`Wire::bytes`] holds.
    pub(crate) fn packets(&self) -> usize {
        let mut count = [0; COUNT];
        count.copy_from_slice(&self.0[..COUNT]);
        u32::from_le_bytes(count) as usize
    }

    /// The packets, as they go on the wire.
    pub(crate) fn bytes(&self) -> &[u8] {
        &self.0[COUNT..]
    }

    /// The packets as shared bytes (another reference, no copy).
    pub(crate) fn shared(&self) -> Bytes {
        self.0.slice(COUNT..)
    }

    /// The address of the shared bytes (tests: one encoding for all).
    #[cfg(test)]
    pub(crate) fn as_ptr(&self) -> *const u8 {
        self.0.as_ptr()
    }
}

/// About the encoded size of `packet` (a buffer's first reservation).
fn estimate(packet: &Packet) -> usize {
    match packet {
        Packet::Publish(p) => p.topic.len() + p.payload.len() + 8,
        _ => 16,
    }
}

/// Payload and topic bytes after which a [`Run`] takes no more messages:
/// a run is encoded into one buffer and copied whole into each writer's
/// chunk, so a burst of large messages goes as several runs (each about
/// one write) rather than one buffer of all of them.
pub(crate) const RUN_BYTES: usize = 16 * 1024;

/// A run of messages for the same connections (`Action::SendMany` after
/// `Action::SendMany` for the same list): encoded at most once per
/// protocol version into one [`Wire`], which every connection of that
/// version then shares.
pub(crate) struct Run {
    packets: Vec<Packet>,
    /// Topic and payload bytes of the messages (see [`RUN_BYTES`]).
    size: usize,
    /// By protocol version (3.1, 3.1.1, 5): the run's bytes once encoded,
    /// `Err` when a packet could not be encoded in it (each connection
    /// then gets the packets themselves, and its writer logs the failure).
    wires: [Option<Result<Wire, ()>>; 3],
}

impl Run {
    pub(crate) fn new(publish: Publish) -> Run {
        let mut run = Run {
            packets: Vec::new(),
            size: 0,
            wires: Default::default(),
        };
        run.push(publish);
        run
    }

    /// Whether the run has room for another message.
    pub(crate) fn has_room(&self) -> bool {
        self.size < RUN_BYTES
    }

    /// Adds the next message of the run (before the first `extend`).
    pub(crate) fn push(&mut self, publish: Publish) {
        debug_assert!(self.wires.iter().all(Option::is_none));
        self.size += publish.topic.len() + publish.payload.len();
        self.packets.push(Packet::Publish(publish));
    }

    /// Appends the run to the queue of a connection speaking `protocol`.
    pub(crate) fn extend(&mut self, protocol: Protocol, items: &mut Vec<Outgoing>) {
        let slot = &mut self.wires[match protocol {
            Protocol::V3_1 => 0,
            Protocol::V3_1_1 => 1,
            Protocol::V5 => 2,
        }];
        let wire = slot.get_or_insert_with(|| Wire::encode(&self.packets, protocol).map_err(drop));
        match wire {
            Ok(wire) => items.push(Outgoing::Encoded(wire.clone())),
            Err(()) => items.extend(self.packets.iter().cloned().map(Outgoing::packet)),
        }
    }
}

/// Whether `a` and `b` encode to the same bytes in one protocol: the same
/// flags, the same topic and payload (by address and length; see the
/// module doc) and equal properties.
fn same(a: &Publish, b: &Publish) -> bool {
    a.qos == b.qos
        && a.retain == b.retain
        && a.dup == b.dup
        && a.packet_id == b.packet_id
        && a.payload.len() == b.payload.len()
        && a.payload.as_ptr() == b.payload.as_ptr()
        && a.topic.len() == b.topic.len()
        && a.topic.as_ptr() == b.topic.as_ptr()
        && (a.properties.is_empty() && b.properties.is_empty() || a.properties == b.properties)
}

#[cfg(test)]
mod tests {
    use super::*;
    use hornet_codec::Property;

    fn bytes_of(o: &Outgoing, protocol: Protocol) -> Vec<u8> {
        let mut out = BytesMut::new();
        o.encode(protocol, &mut out).unwrap();
        out.to_vec()
    }

    fn encoded(p: &Packet, protocol: Protocol) -> Vec<u8> {
        let mut out = BytesMut::new();
        p.encode(protocol, &mut out).unwrap();
        out.to_vec()
    }

    #[test]
    fn the_second_copy_of_a_message_is_encoded_once_and_shared() {
        let mut shapes = Shapes::default();
        let msg = Packet::Publish(Publish::new("a/b", Bytes::from_static(b"hello")));
        let first = shapes.outgoing(msg.clone(), Protocol::V5);
        assert!(matches!(first, Outgoing::Packet(_)));
        let second = shapes.outgoing(msg.clone(), Protocol::V5);
        let third = shapes.outgoing(msg.clone(), Protocol::V5);
        let (Outgoing::Encoded(b2), Outgoing::Encoded(b3)) = (&second, &third) else {
            panic!("later copies are shared bytes");
        };
        assert_eq!(b2.as_ptr(), b3.as_ptr(), "one encoding for both");
        for o in [&first, &second, &third] {
            assert_eq!(bytes_of(o, Protocol::V5), encoded(&msg, Protocol::V5));
        }
    }

    #[test]
    fn send_many_encodes_once_per_protocol_and_shares_the_bytes() {
        let publish = Publish::new("a/b", Bytes::from_static(b"fan-out"));
        let mut run = Run::new(publish.clone());
        let msg = Packet::Publish(publish);
        for protocol in Protocol::ALL {
            let mut copies = Vec::new();
            for _ in 0..3 {
                run.extend(protocol, &mut copies);
            }
            assert_eq!(copies.len(), 3, "one entry per connection");
            let pointers: Vec<*const u8> = copies
                .iter()
                .map(|o| match o {
                    Outgoing::Encoded(w) => w.as_ptr(),
                    Outgoing::Packet(_) => panic!("every copy is shared bytes"),
                })
                .collect();
            assert!(pointers.iter().all(|&p| p == pointers[0]), "one encoding");
            for o in &copies {
                assert_eq!(o.packets(), 1);
                assert_eq!(bytes_of(o, protocol), encoded(&msg, protocol));
            }
        }
    }

    #[test]
    fn a_run_is_one_entry_holding_its_messages_in_order() {
        let messages: Vec<Publish> = (0..5u8)
            .map(|i| Publish::new(format!("t/{i}"), vec![i; usize::from(i) * 3]))
            .collect();
        let mut run = Run::new(messages[0].clone());
        for m in &messages[1..] {
            assert!(run.has_room());
            run.push(m.clone());
        }
        for protocol in Protocol::ALL {
            let mut items = Vec::new();
            run.extend(protocol, &mut items);
            run.extend(protocol, &mut items);
            let [first, second] = &items[..] else {
                panic!("one entry per connection: {items:?}");
            };
            let expected: Vec<u8> = messages
                .iter()
                .flat_map(|m| encoded(&Packet::Publish(m.clone()), protocol))
                .collect();
            for o in [first, second] {
                assert_eq!(o.packets(), messages.len(), "the writer reports five");
                assert_eq!(bytes_of(o, protocol), expected, "back to back, in order");
            }
        }
    }

    #[test]
    fn a_run_of_large_messages_is_cut_at_its_byte_budget() {
        let big = Publish::new("t", vec![0u8; RUN_BYTES / 2]);
        let mut run = Run::new(big.clone());
        assert!(run.has_room());
        run.push(big.clone());
        assert!(!run.has_room(), "two halves of the budget fill it");
    }

    #[test]
    fn a_run_that_cannot_be_encoded_goes_as_its_packets() {
        // A topic longer than a UTF-8 string field can hold: the encoder
        // refuses it, and the writer logs it for each connection.
        let bad = Publish::new("x".repeat(70_000), Bytes::from_static(b"p"));
        let good = Publish::new("t", Bytes::from_static(b"p"));
        let mut run = Run::new(good);
        run.push(bad);
        let mut items = Vec::new();
        run.extend(Protocol::V5, &mut items);
        assert_eq!(items.len(), 2);
        assert!(items.iter().all(|o| matches!(o, Outgoing::Packet(_))));
    }

    #[test]
    fn each_protocol_and_shape_gets_its_own_bytes() {
        let mut shapes = Shapes::default();
        let plain = Publish::new("t", Bytes::from_static(b"payload"));
        let mut with_id = plain.clone();
        with_id.properties.push(Property::SubscriptionIdentifier(7));
        let mut retained = plain.clone();
        retained.retain = true;
        let cases = [
            (Packet::Publish(plain.clone()), Protocol::V3_1_1),
            (Packet::Publish(plain.clone()), Protocol::V5),
            (Packet::Publish(with_id), Protocol::V5),
            (Packet::Publish(retained), Protocol::V3_1_1),
        ];
        for _ in 0..3 {
            for (packet, protocol) in &cases {
                let o = shapes.outgoing(packet.clone(), *protocol);
                assert_eq!(bytes_of(&o, *protocol), encoded(packet, *protocol));
            }
        }
    }

    #[test]
    fn equal_content_elsewhere_is_another_message_and_qos_1_is_never_shared() {
        let mut shapes = Shapes::default();
        let a = Packet::Publish(Publish::new("t", Bytes::from(b"same".to_vec())));
        let b = Packet::Publish(Publish::new("t", Bytes::from(b"same".to_vec())));
        shapes.outgoing(a, Protocol::V5);
        assert!(matches!(
            shapes.outgoing(b, Protocol::V5),
            Outgoing::Packet(_)
        ));
        let mut q1 = Publish::new("t", Bytes::from_static(b"x"));
        q1.qos = QoS::AtLeastOnce;
        q1.packet_id = hornet_codec::PacketId::new(3);
        let q1 = Packet::Publish(q1);
        for _ in 0..3 {
            assert!(matches!(
                shapes.outgoing(q1.clone(), Protocol::V5),
                Outgoing::Packet(_)
            ));
        }
    }
}
