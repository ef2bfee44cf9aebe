//! The bytes of one record: a [`StoreOp`] (or a segment header) as a tag
//! byte and its fields, little-endian.
//!
//! Message bodies and wills are kept as MQTT 5 PUBLISH frames encoded by
//! `hornet-codec`, so every property survives and the format needs no
//! second description of a message. Strings and byte strings carry a u32
//! length. Framing and checksums are the log's (`log.rs`).
//!
//! Fields added later (wall-clock times, a copy's shared subscription
//! group) come last in their record and are read only when present, so a
//! log written by an earlier version still reads (the times as 0:
//! unknown; a retained message's stamp as [`Stamp::default`]).

use bytes::{Buf, BufMut, Bytes, BytesMut};
use bytestring::ByteString;
use hornet_codec::{
    LastWill, Packet, PacketId, Protocol, Publish, QoS, RetainHandling, SubscriptionOptions,
};
use hornet_core::persist::{SessionRecord, Shape, SharedGroup, StoreOp, SubscriptionRecord};
use hornet_core::Stamp;

/// A decoded record.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Record {
    /// The first record of a segment; `snapshot` segments hold the whole
    /// state and make every older segment obsolete.
    Header { snapshot: bool },
    /// A change.
    Op(StoreOp),
}

const MAGIC: &[u8; 8] = b"HORNET\x00\x01";

const T_HEADER: u8 = 0;
const T_SESSION: u8 = 1;
const T_SESSION_REMOVED: u8 = 2;
const T_MESSAGE: u8 = 3;
const T_QUEUED: u8 = 4;
const T_SENT: u8 = 5;
const T_RELEASED: u8 = 6;
const T_SETTLED: u8 = 7;
const T_UNQUEUED: u8 = 8;
const T_QOS2_RECEIVED: u8 = 9;
const T_QOS2_DONE: u8 = 10;
const T_RETAIN_SET: u8 = 11;
const T_RETAIN_CLEARED: u8 = 12;
const T_WILL_SET: u8 = 13;
const T_WILL_CLEARED: u8 = 14;
const T_CONNECTED_WILL: u8 = 15;
const T_DELAYED_SET: u8 = 16;
const T_DELAYED_CLEARED: u8 = 17;
const T_RETAIN_TOMBSTONE: u8 = 18;

/// Why a record's bytes (with a good checksum) could not be read: a bug or
/// a format from another version, never a torn write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BadRecord(pub(crate) String);

/// Appends the encoding of a segment header.
pub(crate) fn encode_header(snapshot: bool, out: &mut BytesMut) {
    out.put_u8(T_HEADER);
    out.put_slice(MAGIC);
    out.put_u8(u8::from(snapshot));
}

/// Appends the encoding of `op`.
pub(crate) fn encode_op(op: &StoreOp, out: &mut BytesMut) {
    match op {
        StoreOp::Session(r) => {
            out.put_u8(T_SESSION);
            out.put_u64_le(r.key);
            put_str(out, &r.client_id);
            out.put_u8(r.protocol as u8);
            out.put_u32_le(r.expiry);
            out.put_u32_le(r.subscriptions.len() as u32);
            for s in &r.subscriptions {
                put_str(out, &s.filter);
                out.put_u8(options_byte(s.options) | (u8::from(s.local) << LOCAL_BIT));
                match s.identifier {
                    Some(i) => {
                        out.put_u8(1);
                        out.put_u32_le(i);
                    }
                    None => out.put_u8(0),
                }
            }
            out.put_u64_le(r.offline_since);
        }
        StoreOp::SessionRemoved { session } => {
            out.put_u8(T_SESSION_REMOVED);
            out.put_u64_le(*session);
        }
        StoreOp::Message {
            id,
            publish,
            received_ms,
        } => {
            out.put_u8(T_MESSAGE);
            out.put_u64_le(*id);
            put_publish(out, publish);
            out.put_u64_le(*received_ms);
        }
        StoreOp::Queued {
            session,
            message,
            shape,
        } => {
            out.put_u8(T_QUEUED);
            out.put_u64_le(*session);
            out.put_u64_le(*message);
            out.put_u8(shape.qos as u8 | (u8::from(shape.retain) << 2));
            out.put_u32_le(shape.identifiers.len() as u32);
            for &i in &shape.identifiers {
                out.put_u32_le(i);
            }
            if let Some(g) = &shape.group {
                out.put_u8(1);
                put_str(out, &g.name);
                put_str(out, &g.filter);
            }
        }
        StoreOp::Sent {
            session,
            message,
            packet_id,
        } => {
            out.put_u8(T_SENT);
            out.put_u64_le(*session);
            out.put_u64_le(*message);
            out.put_u16_le(*packet_id);
        }
        StoreOp::Released { session, packet_id } => pid_op(out, T_RELEASED, *session, *packet_id),
        StoreOp::Settled { session, packet_id } => pid_op(out, T_SETTLED, *session, *packet_id),
        StoreOp::Unqueued { session, message } => {
            out.put_u8(T_UNQUEUED);
            out.put_u64_le(*session);
            out.put_u64_le(*message);
        }
        StoreOp::Qos2Received { session, packet_id } => {
            pid_op(out, T_QOS2_RECEIVED, *session, *packet_id)
        }
        StoreOp::Qos2Done { session, packet_id } => pid_op(out, T_QOS2_DONE, *session, *packet_id),
        StoreOp::RetainSet {
            publish,
            received_ms,
            stamp,
        } => {
            out.put_u8(T_RETAIN_SET);
            put_publish(out, publish);
            out.put_u64_le(*received_ms);
            put_stamp(out, stamp);
        }
        StoreOp::RetainTombstone { topic, stamp } => {
            out.put_u8(T_RETAIN_TOMBSTONE);
            put_str(out, topic);
            put_stamp(out, stamp);
        }
        StoreOp::RetainCleared(topic) => {
            out.put_u8(T_RETAIN_CLEARED);
            put_str(out, topic);
        }
        StoreOp::WillSet {
            session,
            delay,
            will,
            due_ms,
        } => {
            out.put_u8(T_WILL_SET);
            out.put_u64_le(*session);
            out.put_u32_le(*delay);
            put_will(out, will);
            out.put_u64_le(*due_ms);
        }
        StoreOp::WillCleared { session } => {
            out.put_u8(T_WILL_CLEARED);
            out.put_u64_le(*session);
        }
        StoreOp::DelayedSet {
            id,
            publish,
            from,
            delay,
            due_ms,
        } => {
            out.put_u8(T_DELAYED_SET);
            out.put_u64_le(*id);
            put_publish(out, publish);
            put_str(out, from);
            out.put_u32_le(*delay);
            out.put_u64_le(*due_ms);
        }
        StoreOp::DelayedCleared { id } => {
            out.put_u8(T_DELAYED_CLEARED);
            out.put_u64_le(*id);
        }
        StoreOp::ConnectedWill { session, will } => {
            out.put_u8(T_CONNECTED_WILL);
            out.put_u64_le(*session);
            if let Some((delay, will)) = will {
                out.put_u32_le(*delay);
                put_will(out, will);
            }
        }
    }
}

/// A will, as the PUBLISH it becomes.
fn put_will(out: &mut BytesMut, will: &LastWill) {
    let mut p = Publish::new(will.topic.clone(), will.payload.clone());
    p.qos = will.qos;
    p.retain = will.retain;
    p.properties = will.properties.clone();
    put_publish(out, &p);
}

fn will_of(p: Publish) -> LastWill {
    LastWill {
        topic: p.topic,
        payload: p.payload,
        qos: p.qos,
        retain: p.retain,
        properties: p.properties,
    }
}

fn pid_op(out: &mut BytesMut, tag: u8, session: u64, packet_id: u16) {
    out.put_u8(tag);
    out.put_u64_le(session);
    out.put_u16_le(packet_id);
}

fn put_str(out: &mut BytesMut, s: &str) {
    out.put_u32_le(s.len() as u32);
    out.put_slice(s.as_bytes());
}

fn put_stamp(out: &mut BytesMut, stamp: &Stamp) {
    out.put_u64_le(stamp.ms);
    out.put_u32_le(stamp.counter);
    put_str(out, &stamp.node);
}

/// A PUBLISH as an MQTT 5 frame (QoS > 0 needs a packet id on the wire:
/// 1 stands in, and is dropped again on reading).
fn put_publish(out: &mut BytesMut, publish: &Publish) {
    let mut p = publish.clone();
    p.dup = false;
    p.packet_id = (p.qos != QoS::AtMostOnce).then(|| PacketId::new(1).expect("nonzero"));
    let mut frame = BytesMut::new();
    if let Err(e) = Packet::Publish(p).encode(Protocol::V5, &mut frame) {
        // The core only stores messages it decoded or built itself.
        tracing::error!("A message on '{}' cannot be stored: {e}", publish.topic);
        frame.clear();
    }
    out.put_u32_le(frame.len() as u32);
    out.put_slice(&frame);
}

/// The bit of a subscription's options byte that marks a `$local/`
/// subscription (bits 0 to 5 are the options; a record written before the
/// mark was kept has it clear, and restores as exported, as it did then).
const LOCAL_BIT: u8 = 6;

fn options_byte(o: SubscriptionOptions) -> u8 {
    o.qos as u8
        | (u8::from(o.no_local) << 2)
        | (u8::from(o.retain_as_published) << 3)
        | ((o.retain_handling as u8) << 4)
}

/// Reads one record from its bytes (the checksum was already verified).
pub(crate) fn decode(bytes: Bytes) -> Result<Record, BadRecord> {
    let mut r = Rd(bytes);
    let tag = r.u8()?;
    let op = match tag {
        T_HEADER => {
            let magic = r.take(MAGIC.len())?;
            if &magic[..] != MAGIC {
                return Err(BadRecord("not a Hornet store segment".into()));
            }
            return Ok(Record::Header {
                snapshot: r.u8()? != 0,
            });
        }
        T_SESSION => {
            let key = r.u64()?;
            let client_id = r.string()?;
            let protocol = match r.u8()? {
                0 => Protocol::V3_1,
                1 => Protocol::V3_1_1,
                2 => Protocol::V5,
                p => return Err(BadRecord(format!("unknown protocol level {p}"))),
            };
            let expiry = r.u32()?;
            let n = r.u32()?;
            let mut subscriptions = Vec::with_capacity(n.min(1024) as usize);
            for _ in 0..n {
                let filter = r.string()?;
                let byte = r.u8()?;
                let options = options_from(byte & !(1 << LOCAL_BIT))?;
                let identifier = match r.u8()? {
                    0 => None,
                    _ => Some(r.u32()?),
                };
                subscriptions.push(SubscriptionRecord {
                    filter,
                    options,
                    identifier,
                    local: byte & (1 << LOCAL_BIT) != 0,
                });
            }
            StoreOp::Session(SessionRecord {
                key,
                client_id,
                protocol,
                expiry,
                offline_since: r.trailing_u64()?,
                subscriptions,
            })
        }
        T_SESSION_REMOVED => StoreOp::SessionRemoved { session: r.u64()? },
        T_MESSAGE => StoreOp::Message {
            id: r.u64()?,
            publish: r.publish()?,
            received_ms: r.trailing_u64()?,
        },
        T_QUEUED => {
            let session = r.u64()?;
            let message = r.u64()?;
            let flags = r.u8()?;
            let n = r.u32()?;
            let mut identifiers = Vec::with_capacity(n.min(64) as usize);
            for _ in 0..n {
                identifiers.push(r.u32()?);
            }
            let group = if r.0.is_empty() {
                None
            } else {
                r.u8()?;
                Some(SharedGroup {
                    name: r.string()?,
                    filter: r.string()?,
                })
            };
            StoreOp::Queued {
                session,
                message,
                shape: Shape {
                    qos: qos_from(flags & 3)?,
                    retain: flags & 4 != 0,
                    identifiers,
                    group,
                },
            }
        }
        T_SENT => StoreOp::Sent {
            session: r.u64()?,
            message: r.u64()?,
            packet_id: r.u16()?,
        },
        T_RELEASED => StoreOp::Released {
            session: r.u64()?,
            packet_id: r.u16()?,
        },
        T_SETTLED => StoreOp::Settled {
            session: r.u64()?,
            packet_id: r.u16()?,
        },
        T_UNQUEUED => StoreOp::Unqueued {
            session: r.u64()?,
            message: r.u64()?,
        },
        T_QOS2_RECEIVED => StoreOp::Qos2Received {
            session: r.u64()?,
            packet_id: r.u16()?,
        },
        T_QOS2_DONE => StoreOp::Qos2Done {
            session: r.u64()?,
            packet_id: r.u16()?,
        },
        T_RETAIN_SET => StoreOp::RetainSet {
            publish: r.publish()?,
            received_ms: r.trailing_u64()?,
            stamp: Box::new(if r.0.is_empty() {
                // Written before stamps.
                Stamp::default()
            } else {
                r.stamp()?
            }),
        },
        T_RETAIN_TOMBSTONE => StoreOp::RetainTombstone {
            topic: r.string()?,
            stamp: r.stamp()?,
        },
        T_RETAIN_CLEARED => StoreOp::RetainCleared(r.string()?),
        T_WILL_SET => {
            let session = r.u64()?;
            let delay = r.u32()?;
            let p = r.publish()?;
            StoreOp::WillSet {
                session,
                delay,
                due_ms: r.trailing_u64()?,
                will: will_of(p),
            }
        }
        T_WILL_CLEARED => StoreOp::WillCleared { session: r.u64()? },
        T_CONNECTED_WILL => {
            let session = r.u64()?;
            let will = if r.0.is_empty() {
                None
            } else {
                Some((r.u32()?, will_of(r.publish()?)))
            };
            StoreOp::ConnectedWill { session, will }
        }
        T_DELAYED_SET => StoreOp::DelayedSet {
            id: r.u64()?,
            publish: Box::new(r.publish()?),
            from: r.string()?,
            delay: r.u32()?,
            due_ms: r.u64()?,
        },
        T_DELAYED_CLEARED => StoreOp::DelayedCleared { id: r.u64()? },
        t => return Err(BadRecord(format!("unknown record type {t}"))),
    };
    if r.0.has_remaining() {
        return Err(BadRecord(format!("{} bytes after a record", r.0.len())));
    }
    Ok(Record::Op(op))
}

fn qos_from(b: u8) -> Result<QoS, BadRecord> {
    QoS::from_u8(b).ok_or_else(|| BadRecord(format!("bad QoS {b}")))
}

fn options_from(b: u8) -> Result<SubscriptionOptions, BadRecord> {
    Ok(SubscriptionOptions {
        qos: qos_from(b & 3)?,
        no_local: b & 4 != 0,
        retain_as_published: b & 8 != 0,
        retain_handling: match (b >> 4) & 3 {
            0 => RetainHandling::OnSubscribe,
            1 => RetainHandling::OnNewSubscribe,
            _ => RetainHandling::Never,
        },
    })
}

/// A reader over a record's bytes; every read checks the length.
struct Rd(Bytes);

impl Rd {
    fn need(&self, n: usize) -> Result<(), BadRecord> {
        if self.0.len() < n {
            return Err(BadRecord("record ends early".into()));
        }
        Ok(())
    }
    fn u8(&mut self) -> Result<u8, BadRecord> {
        self.need(1)?;
        Ok(self.0.get_u8())
    }
    fn u16(&mut self) -> Result<u16, BadRecord> {
        self.need(2)?;
        Ok(self.0.get_u16_le())
    }
    fn u32(&mut self) -> Result<u32, BadRecord> {
        self.need(4)?;
        Ok(self.0.get_u32_le())
    }
    fn u64(&mut self) -> Result<u64, BadRecord> {
        self.need(8)?;
        Ok(self.0.get_u64_le())
    }
    /// A u64 added to the end of a record later: 0 when absent (a record
    /// written by an earlier version).
    fn stamp(&mut self) -> Result<Stamp, BadRecord> {
        Ok(Stamp {
            ms: self.u64()?,
            counter: self.u32()?,
            node: self.string()?,
        })
    }
    fn trailing_u64(&mut self) -> Result<u64, BadRecord> {
        if self.0.is_empty() {
            Ok(0)
        } else {
            self.u64()
        }
    }
    fn take(&mut self, n: usize) -> Result<Bytes, BadRecord> {
        self.need(n)?;
        Ok(self.0.split_to(n))
    }
    fn string(&mut self) -> Result<ByteString, BadRecord> {
        let n = self.u32()? as usize;
        let bytes = self.take(n)?;
        ByteString::try_from(bytes).map_err(|_| BadRecord("a string is not UTF-8".into()))
    }
    fn publish(&mut self) -> Result<Publish, BadRecord> {
        let n = self.u32()? as usize;
        let frame = self.take(n)?;
        let header = hornet_codec::peek_frame(&frame, usize::MAX)
            .map_err(|e| BadRecord(format!("stored message: {e}")))?
            .ok_or_else(|| BadRecord("stored message ends early".into()))?;
        let body = frame.slice(header.header_len..);
        match Packet::decode_body(header.first_byte, body, Protocol::V5) {
            Ok(Packet::Publish(mut p)) => {
                p.packet_id = None;
                Ok(p)
            }
            Ok(other) => Err(BadRecord(format!(
                "stored message is a {:?}",
                other.packet_type()
            ))),
            Err(e) => Err(BadRecord(format!("stored message: {e}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hornet_codec::Property;

    fn round_trip(op: StoreOp) {
        let mut buf = BytesMut::new();
        encode_op(&op, &mut buf);
        assert_eq!(decode(buf.freeze()), Ok(Record::Op(op)));
    }

    #[test]
    fn every_op_round_trips() {
        let mut p = Publish::new("a/b", &b"payload"[..]);
        p.qos = QoS::ExactlyOnce;
        p.retain = true;
        p.properties.push(Property::MessageExpiryInterval(30));
        p.properties
            .push(Property::UserProperty("k".into(), "v".into()));
        round_trip(StoreOp::Message {
            id: 7,
            publish: p.clone(),
            received_ms: 1_795_470_422_123,
        });
        round_trip(StoreOp::RetainSet {
            publish: p.clone(),
            received_ms: 1_795_470_422_124,
            stamp: Box::new(Stamp {
                ms: 1_795_470_422_124,
                counter: 3,
                node: "n1".into(),
            }),
        });
        round_trip(StoreOp::RetainCleared("x/y".into()));
        round_trip(StoreOp::RetainTombstone {
            topic: "x/z".into(),
            stamp: Stamp {
                ms: 1_795_470_422_125,
                counter: 0,
                node: "n2".into(),
            },
        });
        round_trip(StoreOp::Session(SessionRecord {
            key: 3,
            client_id: "client".into(),
            protocol: Protocol::V3_1_1,
            expiry: u32::MAX,
            offline_since: 1_795_470_422_125,
            subscriptions: vec![SubscriptionRecord {
                filter: "$share/g/a/#".into(),
                options: SubscriptionOptions {
                    qos: QoS::AtLeastOnce,
                    no_local: true,
                    retain_as_published: true,
                    retain_handling: RetainHandling::Never,
                },
                identifier: Some(9),
                local: false,
            }],
        }));
        round_trip(StoreOp::Session(SessionRecord {
            key: 4,
            client_id: "here".into(),
            protocol: Protocol::V5,
            expiry: 60,
            offline_since: 0,
            subscriptions: vec![SubscriptionRecord {
                filter: "a/#".into(),
                options: SubscriptionOptions {
                    qos: QoS::ExactlyOnce,
                    no_local: false,
                    retain_as_published: false,
                    retain_handling: RetainHandling::OnNewSubscribe,
                },
                identifier: None,
                local: true,
            }],
        }));
        round_trip(StoreOp::SessionRemoved { session: 3 });
        round_trip(StoreOp::Queued {
            session: 3,
            message: 7,
            shape: Shape {
                qos: QoS::AtLeastOnce,
                retain: true,
                identifiers: vec![1, 2],
                group: None,
            },
        });
        round_trip(StoreOp::Queued {
            session: 3,
            message: 8,
            shape: Shape {
                qos: QoS::ExactlyOnce,
                retain: false,
                identifiers: vec![],
                group: Some(SharedGroup {
                    name: "g".into(),
                    filter: "a/#".into(),
                }),
            },
        });
        round_trip(StoreOp::Sent {
            session: 3,
            message: 7,
            packet_id: 65535,
        });
        round_trip(StoreOp::Released {
            session: 3,
            packet_id: 2,
        });
        round_trip(StoreOp::Settled {
            session: 3,
            packet_id: 2,
        });
        round_trip(StoreOp::Unqueued {
            session: 3,
            message: 7,
        });
        round_trip(StoreOp::Qos2Received {
            session: 3,
            packet_id: 4,
        });
        round_trip(StoreOp::Qos2Done {
            session: 3,
            packet_id: 4,
        });
        round_trip(StoreOp::WillSet {
            session: 3,
            delay: 60,
            will: LastWill {
                topic: "will".into(),
                payload: Bytes::from_static(b"gone"),
                qos: QoS::AtLeastOnce,
                retain: false,
                properties: Default::default(),
            },
            due_ms: 1_795_470_482_125,
        });
        round_trip(StoreOp::WillCleared { session: 3 });
        round_trip(StoreOp::ConnectedWill {
            session: 3,
            will: Some((
                30,
                LastWill {
                    topic: "will".into(),
                    payload: Bytes::from_static(b"crashed"),
                    qos: QoS::ExactlyOnce,
                    retain: true,
                    properties: Default::default(),
                },
            )),
        });
        round_trip(StoreOp::ConnectedWill {
            session: 3,
            will: None,
        });
        round_trip(StoreOp::DelayedSet {
            id: 12,
            publish: {
                let mut p = Publish::new("alarm/wake", "ring");
                p.qos = QoS::AtLeastOnce;
                p.retain = true;
                Box::new(p)
            },
            from: "sensor-1".into(),
            delay: 3600,
            due_ms: 1_795_470_482_125,
        });
        round_trip(StoreOp::DelayedCleared { id: 12 });
    }

    /// Records written before the wall-clock times and shared groups were
    /// added still read, with the times unknown (0).
    #[test]
    fn records_of_the_earlier_format_read_with_unknown_times() {
        let p = Publish::new("a/b", "x");
        let mut buf = BytesMut::new();
        encode_op(
            &StoreOp::Message {
                id: 7,
                publish: p.clone(),
                received_ms: 99,
            },
            &mut buf,
        );
        buf.truncate(buf.len() - 8);
        assert_eq!(
            decode(buf.freeze()),
            Ok(Record::Op(StoreOp::Message {
                id: 7,
                publish: p,
                received_ms: 0
            }))
        );
    }

    /// A session record written before the `$local/` mark was kept (its
    /// options byte has bit 6 clear) reads as an exported subscription,
    /// and the mark is bit 6 and nothing else.
    #[test]
    fn a_subscription_without_the_local_mark_reads_as_exported() {
        let options = SubscriptionOptions {
            qos: QoS::AtLeastOnce,
            no_local: true,
            retain_as_published: true,
            retain_handling: RetainHandling::Never,
        };
        let record = |local| SessionRecord {
            key: 5,
            client_id: "old".into(),
            protocol: Protocol::V3_1_1,
            expiry: u32::MAX,
            offline_since: 7,
            subscriptions: vec![SubscriptionRecord {
                filter: "a/b".into(),
                options,
                identifier: None,
                local,
            }],
        };
        let mut old = BytesMut::new();
        encode_op(&StoreOp::Session(record(false)), &mut old);
        let mut marked = BytesMut::new();
        encode_op(&StoreOp::Session(record(true)), &mut marked);
        // The two encodings differ in exactly one bit: the mark.
        let diff: Vec<usize> = (0..old.len()).filter(|&i| old[i] != marked[i]).collect();
        assert_eq!(diff.len(), 1);
        assert_eq!(old[diff[0]] ^ marked[diff[0]], 1 << LOCAL_BIT);
        assert_eq!(
            decode(old.freeze()),
            Ok(Record::Op(StoreOp::Session(record(false))))
        );
    }

    /// A retained message recorded before stamps (its record ends with
    /// the receive time) still reads, with an unknown stamp.
    #[test]
    fn a_retained_record_without_a_stamp_reads_with_the_default_stamp() {
        let mut p = Publish::new("a/b", "x");
        p.retain = true;
        let stamp = Stamp {
            ms: 5,
            counter: 1,
            node: "n1".into(),
        };
        let mut buf = BytesMut::new();
        encode_op(
            &StoreOp::RetainSet {
                publish: p.clone(),
                received_ms: 99,
                stamp: Box::new(stamp),
            },
            &mut buf,
        );
        // The stamp: u64 ms, u32 counter, u32 length and "n1".
        buf.truncate(buf.len() - (8 + 4 + 4 + 2));
        assert_eq!(
            decode(buf.freeze()),
            Ok(Record::Op(StoreOp::RetainSet {
                publish: p,
                received_ms: 99,
                stamp: Box::default(),
            }))
        );
    }

    #[test]
    fn a_header_round_trips_and_garbage_is_refused() {
        let mut buf = BytesMut::new();
        encode_header(true, &mut buf);
        assert_eq!(decode(buf.freeze()), Ok(Record::Header { snapshot: true }));
        assert!(decode(Bytes::from_static(&[99])).is_err());
        assert!(decode(Bytes::from_static(&[T_SENT, 1, 2])).is_err());
    }
}
