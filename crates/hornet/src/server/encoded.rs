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
//! list): [`Once`] encodes it at most once per protocol version and every
//! connection shares those bytes, with no per-connection packet at all.
//!
//! Identity is by pointer: an entry keeps a clone of the message (its
//! topic and payload stay alive), so the same topic and payload addresses
//! and lengths mean the same bytes.

use bytes::{Bytes, BytesMut};
use hornet_codec::{Packet, Protocol, Publish, QoS};

use super::outbox::Outgoing;

/// Messages remembered: a batch of fan-out actions is message by message,
/// all subscribers of one before the next, in at most a few shapes.
const ENTRIES: usize = 4;

/// One message in one shape, and its bytes once a second copy was asked.
struct Entry {
    publish: Publish,
    protocol: Protocol,
    bytes: Option<Bytes>,
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
                let mut out = BytesMut::new();
                if packet.encode(protocol, &mut out).is_err() {
                    // The writer logs it, as for any packet.
                    return Outgoing::packet(packet);
                }
                entry.bytes = Some(out.freeze());
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

/// One message for many connections (`Action::SendMany`): encoded at most
/// once per protocol version, every connection of that version then
/// shares the bytes.
pub(crate) struct Once {
    packet: Packet,
    /// The bytes by protocol version (3.1, 3.1.1, 5), once encoded.
    bytes: [Option<Bytes>; 3],
}

impl Once {
    pub(crate) fn new(publish: Publish) -> Once {
        Once {
            packet: Packet::Publish(publish),
            bytes: Default::default(),
        }
    }

    /// What to queue for a connection speaking `protocol`.
    pub(crate) fn outgoing(&mut self, protocol: Protocol) -> Outgoing {
        let slot = &mut self.bytes[match protocol {
            Protocol::V3_1 => 0,
            Protocol::V3_1_1 => 1,
            Protocol::V5 => 2,
        }];
        if let Some(bytes) = slot {
            return Outgoing::Encoded(bytes.clone());
        }
        let mut out = BytesMut::new();
        if self.packet.encode(protocol, &mut out).is_err() {
            // The writer logs it, as for any packet.
            return Outgoing::packet(self.packet.clone());
        }
        let bytes = out.freeze();
        *slot = Some(bytes.clone());
        Outgoing::Encoded(bytes)
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
        let mut once = Once::new(publish.clone());
        let msg = Packet::Publish(publish);
        for protocol in Protocol::ALL {
            let copies: Vec<Outgoing> = (0..3).map(|_| once.outgoing(protocol)).collect();
            let pointers: Vec<*const u8> = copies
                .iter()
                .map(|o| match o {
                    Outgoing::Encoded(b) => b.as_ptr(),
                    Outgoing::Packet(_) => panic!("every copy is shared bytes"),
                })
                .collect();
            assert!(pointers.iter().all(|&p| p == pointers[0]), "one encoding");
            for o in &copies {
                assert_eq!(bytes_of(o, protocol), encoded(&msg, protocol));
            }
        }
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
