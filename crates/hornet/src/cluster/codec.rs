//! The node-to-node link's frames and their bytes.
//!
//! A frame is a 4-byte big-endian length (of what follows), a kind byte
//! and the body. Strings are a 2-byte length and UTF-8; numbers are
//! big-endian. A forwarded or retained message is its MQTT 5 PUBLISH
//! encoding (the codec's own, so properties such as User Property, Message
//! Expiry and Content Type cross as they are; QoS 1/2 carry packet id 1,
//! which the receiver ignores).
//!
//! ```text
//! 1 Hello     u16 protocol version, str cluster, str node, u64 incarnation
//! 2 Routes    u64 incarnation, u64 seq, u32 count, str filter * count,
//!             u32 groups, (str group name, u32 members) * groups
//! 3 Route     u64 incarnation, u64 seq, u8 added, str filter, u32 members
//! 4 Publish   PUBLISH (MQTT 5)
//! 5 Retain    str topic, u64 stamp ms, u32 stamp counter, str stamp node,
//!             u8 present, [PUBLISH (MQTT 5)]
//! 6 Will      str client id, u8 present (0 no, 1 connected, 2 delayed,
//!             3 a dead node's client's delayed will published by the
//!             sender), [u64 ms until due, if delayed], [PUBLISH (MQTT 5)]
//! 7 Wills     u32 count, (str client id, u64 ms until due + 1 (0:
//!             connected), u32 length, PUBLISH) * count
//! 8 Takeover  str client id, u64 stamp ms, u32 stamp counter, str stamp
//!             node
//! 32 Session  str client id, u64 revision, u32 expiry, u32 count,
//!             (str filter, u8 options (bit 6: $local/), u32 identifier + 1)
//!             * count, u32 count, (u32 length, PUBLISH) * count,
//!             u32 count, u16 inbound QoS 2 packet id awaiting PUBREL * count
//! 9 PublishTo u8 plain, u16 count, str group name * count, PUBLISH (MQTT 5)
//! 10 Resume   u64 stream, u64 next
//! 11 Ack      u64 seq                      (receiver → dialer)
//! ```
//!
//! A `Retain` carries the write's stamp (`hornet_core::Stamp`): the
//! receiver applies it only if it is newer than what it holds for the
//! topic, so the link's initial set and the deltas follow one rule
//! (version 3; version 2 had a `fill` flag instead and no stamp). A
//! `Takeover` carries the stamp of the sender's clean-session CONNECT:
//! the receiver takes over its own connection with the client id only
//! if that one is older, so the newest CONNECT wins on every node (added
//! in version 4, before any node shipped with it).
//!
//! After its snapshot a link's frames are numbered: `Resume` gives the
//! sender's stream and the next frame's number, and the receiver
//! acknowledges what it applied with `Ack` on the same connection
//! (`outbox`).
//!
//! A group name is `$share/{group}/{filter}` or `$queue/{filter}`; in
//! `Routes` and `Route` it travels with the sender's member count, and in
//! `PublishTo` it names the groups whose one delivery the receiver makes
//! (`plain`: its plain subscribers get the message too).

use bytes::{Buf, BufMut, Bytes, BytesMut};
use bytestring::ByteString;
use hornet_codec::{peek_frame, Packet, PacketId, Protocol, Publish, QoS};
use std::time::Duration;

use hornet_core::{MovedSubscription, NodeWill, RouteSnapshot, RouteUpdate, SessionMove, Stamp};

/// The link protocol's version: a node speaking another is refused (4: a
/// `Will` frame can say a dead node's delayed will was published, which a
/// version 3 node would refuse to decode, and a `Takeover` carries its
/// CONNECT's stamp; 3: a moved session carries its
/// inbound QoS 2 ids and `$local/` marks, and retained writes carry their
/// last-write-wins stamp).
pub(crate) const VERSION: u16 = 4;

/// The largest frame accepted (a snapshot of many filters, or a message
/// up to MQTT's limit).
pub(crate) const MAX_FRAME: usize = 512 * 1024 * 1024;

/// One frame of a link.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Frame {
    /// The first frame of a link: who dials.
    Hello {
        version: u16,
        cluster: String,
        node: String,
        incarnation: u64,
    },
    /// The dialing node's exported filters (second frame).
    Routes(RouteSnapshot),
    /// A change of them.
    Route(RouteUpdate),
    /// A message for this node's subscribers.
    Publish(Publish),
    /// A message for this node's plain subscribers (if `plain`) and for
    /// one member here of each shared subscription group of `groups`.
    PublishTo {
        plain: bool,
        groups: Vec<ByteString>,
        publish: Publish,
    },
    /// A retained message set (`Some`) or deleted, with the write's
    /// stamp (last write wins).
    Retain {
        topic: ByteString,
        stamp: Stamp,
        message: Option<Publish>,
    },
    /// The will of the sender's client (as the PUBLISH it becomes), or
    /// `None`: it has none any more; `due_in`: the client disconnected and
    /// the will is due after that (its Will Delay Interval runs).
    Will {
        client_id: ByteString,
        will: Option<Publish>,
        due_in: Option<Duration>,
    },
    /// Every will the sender holds for its clients (start of a link).
    Wills(Vec<NodeWill>),
    /// A client connected on the sender at `stamp`: a connection here
    /// with its id is taken over unless it is newer.
    Takeover { client_id: ByteString, stamp: Stamp },
    /// A persistent session this node's claim took from the sender.
    Session(Box<SessionMove>),
    /// The frames that follow are numbered from `next` in the sender's
    /// `stream`.
    Resume { stream: u64, next: u64 },
    /// The receiver applied every frame up to `seq` (written back to the
    /// dialing node).
    Ack { seq: u64 },
}

/// Why bytes from a peer are not a frame.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CodecError {
    #[error("frame of {0} bytes is larger than {MAX_FRAME}")]
    TooLarge(usize),
    #[error("unknown frame kind {0}")]
    Kind(u8),
    #[error("frame cut short")]
    Short,
    #[error("string is not UTF-8")]
    Utf8,
    #[error("bad PUBLISH: {0}")]
    Publish(String),
}

impl Frame {
    /// Appends this frame's bytes to `out`.
    pub(crate) fn encode(&self, out: &mut BytesMut) {
        let start = out.len();
        out.put_u32(0);
        match self {
            Frame::Hello {
                version,
                cluster,
                node,
                incarnation,
            } => {
                out.put_u8(1);
                out.put_u16(*version);
                put_str(out, cluster);
                put_str(out, node);
                out.put_u64(*incarnation);
            }
            Frame::Routes(s) => {
                out.put_u8(2);
                out.put_u64(s.incarnation);
                out.put_u64(s.seq);
                out.put_u32(s.filters.len() as u32);
                for f in &s.filters {
                    put_str(out, f);
                }
                out.put_u32(s.shared.len() as u32);
                for (name, members) in &s.shared {
                    put_str(out, name);
                    out.put_u32(*members);
                }
            }
            Frame::Route(u) => {
                out.put_u8(3);
                out.put_u64(u.incarnation);
                out.put_u64(u.seq);
                out.put_u8(u8::from(u.added));
                put_str(out, &u.filter);
                out.put_u32(u.members);
            }
            Frame::Publish(p) => {
                out.put_u8(4);
                put_publish(out, p);
            }
            Frame::PublishTo {
                plain,
                groups,
                publish,
            } => {
                out.put_u8(9);
                out.put_u8(u8::from(*plain));
                out.put_u16(groups.len() as u16);
                for g in groups {
                    put_str(out, g);
                }
                put_publish(out, publish);
            }
            Frame::Retain {
                topic,
                stamp,
                message,
            } => {
                out.put_u8(5);
                put_str(out, topic);
                put_stamp(out, stamp);
                out.put_u8(u8::from(message.is_some()));
                if let Some(p) = message {
                    put_publish(out, p);
                }
            }
            Frame::Will {
                client_id,
                will,
                due_in,
            } => {
                out.put_u8(6);
                put_str(out, client_id);
                match (will, due_in) {
                    (None, None) => out.put_u8(0),
                    (None, Some(_)) => out.put_u8(3),
                    (Some(p), None) => {
                        out.put_u8(1);
                        put_publish(out, p);
                    }
                    (Some(p), Some(d)) => {
                        out.put_u8(2);
                        out.put_u64(millis(*d));
                        put_publish(out, p);
                    }
                }
            }
            Frame::Takeover { client_id, stamp } => {
                out.put_u8(8);
                put_str(out, client_id);
                put_stamp(out, stamp);
            }
            Frame::Session(moved) => {
                out.put_u8(32);
                put_session(out, moved);
            }
            Frame::Resume { stream, next } => {
                out.put_u8(10);
                out.put_u64(*stream);
                out.put_u64(*next);
            }
            Frame::Ack { seq } => {
                out.put_u8(11);
                out.put_u64(*seq);
            }
            Frame::Wills(all) => {
                out.put_u8(7);
                out.put_u32(all.len() as u32);
                for w in all {
                    put_str(out, &w.client_id);
                    out.put_u64(w.due_in.map_or(0, |d| millis(d).saturating_add(1)));
                    let at = out.len();
                    out.put_u32(0);
                    put_publish(out, &w.will);
                    let len = (out.len() - at - 4) as u32;
                    out[at..at + 4].copy_from_slice(&len.to_be_bytes());
                }
            }
        }
        let len = (out.len() - start - 4) as u32;
        out[start..start + 4].copy_from_slice(&len.to_be_bytes());
    }

    /// Appends the frame of a forwarded message to `out`: `Publish`, or
    /// `PublishTo` when it is for shared `groups` there, exactly as
    /// [`Frame::encode`] writes them, but from a message given away (no copy
    /// of it first).
    pub(crate) fn encode_forward(
        out: &mut BytesMut,
        publish: Publish,
        plain: bool,
        groups: &[ByteString],
    ) {
        let start = out.len();
        out.put_u32(0);
        if groups.is_empty() {
            out.put_u8(4);
        } else {
            out.put_u8(9);
            out.put_u8(u8::from(plain));
            out.put_u16(groups.len() as u16);
            for g in groups {
                put_str(out, g);
            }
        }
        put_owned_publish(out, publish);
        let len = (out.len() - start - 4) as u32;
        out[start..start + 4].copy_from_slice(&len.to_be_bytes());
    }

    /// Takes the next whole frame off the front of `buf` (`None`: not all
    /// of it is there yet).
    pub(crate) fn decode(buf: &mut BytesMut) -> Result<Option<Frame>, CodecError> {
        if buf.len() < 4 {
            return Ok(None);
        }
        let len = u32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]) as usize;
        if len > MAX_FRAME {
            return Err(CodecError::TooLarge(len));
        }
        if buf.len() < 4 + len {
            buf.reserve(4 + len - buf.len());
            return Ok(None);
        }
        buf.advance(4);
        let mut body = buf.split_to(len).freeze();
        if body.is_empty() {
            return Err(CodecError::Short);
        }
        let kind = body.get_u8();
        let frame = match kind {
            1 => Frame::Hello {
                version: get_u16(&mut body)?,
                cluster: get_str(&mut body)?.to_string(),
                node: get_str(&mut body)?.to_string(),
                incarnation: get_u64(&mut body)?,
            },
            2 => {
                let incarnation = get_u64(&mut body)?;
                let seq = get_u64(&mut body)?;
                let count = get_u32(&mut body)? as usize;
                let mut filters = Vec::with_capacity(count.min(body.len() / 2));
                for _ in 0..count {
                    filters.push(get_str(&mut body)?);
                }
                let count = get_u32(&mut body)? as usize;
                let mut shared = Vec::with_capacity(count.min(body.len() / 6));
                for _ in 0..count {
                    shared.push((get_str(&mut body)?, get_u32(&mut body)?));
                }
                Frame::Routes(RouteSnapshot {
                    incarnation,
                    seq,
                    filters,
                    shared,
                })
            }
            3 => Frame::Route(RouteUpdate {
                incarnation: get_u64(&mut body)?,
                seq: get_u64(&mut body)?,
                added: get_u8(&mut body)? != 0,
                filter: get_str(&mut body)?,
                members: get_u32(&mut body)?,
            }),
            4 => Frame::Publish(get_publish(body)?),
            9 => {
                let plain = get_u8(&mut body)? != 0;
                let count = get_u16(&mut body)? as usize;
                let mut groups = Vec::with_capacity(count.min(body.len() / 2));
                for _ in 0..count {
                    groups.push(get_str(&mut body)?);
                }
                Frame::PublishTo {
                    plain,
                    groups,
                    publish: get_publish(body)?,
                }
            }
            5 => {
                let topic = get_str(&mut body)?;
                let stamp = get_stamp(&mut body)?;
                let message = match get_u8(&mut body)? {
                    0 => None,
                    _ => Some(get_publish(body)?),
                };
                Frame::Retain {
                    topic,
                    stamp,
                    message,
                }
            }
            6 => {
                let client_id = get_str(&mut body)?;
                let (will, due_in) = match get_u8(&mut body)? {
                    0 => (None, None),
                    1 => (Some(get_publish(body)?), None),
                    3 => (None, Some(Duration::ZERO)),
                    _ => {
                        let ms = get_u64(&mut body)?;
                        (Some(get_publish(body)?), Some(Duration::from_millis(ms)))
                    }
                };
                Frame::Will {
                    client_id,
                    will,
                    due_in,
                }
            }
            7 => {
                let count = get_u32(&mut body)? as usize;
                let mut all = Vec::with_capacity(count.min(body.len() / 4));
                for _ in 0..count {
                    let client_id = get_str(&mut body)?;
                    let due_in = get_u64(&mut body)?
                        .checked_sub(1)
                        .map(Duration::from_millis);
                    let len = get_u32(&mut body)? as usize;
                    need(&body, len)?;
                    all.push(NodeWill {
                        client_id,
                        will: get_publish(body.split_to(len))?,
                        due_in,
                    });
                }
                Frame::Wills(all)
            }
            8 => Frame::Takeover {
                client_id: get_str(&mut body)?,
                stamp: get_stamp(&mut body)?,
            },
            32 => Frame::Session(Box::new(get_session(&mut body)?)),
            10 => Frame::Resume {
                stream: get_u64(&mut body)?,
                next: get_u64(&mut body)?,
            },
            11 => Frame::Ack {
                seq: get_u64(&mut body)?,
            },
            k => return Err(CodecError::Kind(k)),
        };
        Ok(Some(frame))
    }
}

/// A moved session's body (kind 32).
fn put_session(out: &mut BytesMut, m: &SessionMove) {
    put_str(out, &m.client_id);
    out.put_u64(m.revision);
    out.put_u32(m.expiry_interval);
    out.put_u32(m.subscriptions.len() as u32);
    for sub in &m.subscriptions {
        let o = &sub.options;
        put_str(out, &sub.filter);
        out.put_u8(
            o.qos as u8
                | u8::from(o.no_local) << 2
                | u8::from(o.retain_as_published) << 3
                | (o.retain_handling as u8) << 4
                | u8::from(sub.local) << 6,
        );
        out.put_u32(sub.identifier.map_or(0, |i| i.saturating_add(1)));
    }
    out.put_u32(m.messages.len() as u32);
    for p in &m.messages {
        let at = out.len();
        out.put_u32(0);
        put_publish(out, p);
        let len = (out.len() - at - 4) as u32;
        out[at..at + 4].copy_from_slice(&len.to_be_bytes());
    }
    out.put_u32(m.incoming_qos2.len() as u32);
    for &pid in &m.incoming_qos2 {
        out.put_u16(pid);
    }
}

fn get_session(body: &mut Bytes) -> Result<SessionMove, CodecError> {
    use hornet_codec::{RetainHandling, SubscriptionOptions};
    let client_id = get_str(body)?;
    let revision = get_u64(body)?;
    let expiry_interval = get_u32(body)?;
    let count = get_u32(body)? as usize;
    let mut subscriptions = Vec::with_capacity(count.min(body.len() / 7));
    for _ in 0..count {
        let filter = get_str(body)?;
        let bits = get_u8(body)?;
        let qos = QoS::from_u8(bits & 3).ok_or(CodecError::Short)?;
        let retain_handling = match (bits >> 4) & 3 {
            0 => RetainHandling::OnSubscribe,
            1 => RetainHandling::OnNewSubscribe,
            _ => RetainHandling::Never,
        };
        let options = SubscriptionOptions {
            qos,
            no_local: bits & 4 != 0,
            retain_as_published: bits & 8 != 0,
            retain_handling,
        };
        let identifier = get_u32(body)?.checked_sub(1);
        subscriptions.push(MovedSubscription {
            filter,
            options,
            identifier,
            local: bits & 64 != 0,
        });
    }
    let count = get_u32(body)? as usize;
    let mut messages = Vec::with_capacity(count.min(body.len() / 4));
    for _ in 0..count {
        let len = get_u32(body)? as usize;
        need(body, len)?;
        messages.push(get_publish(body.split_to(len))?);
    }
    let count = get_u32(body)? as usize;
    let mut incoming_qos2 = Vec::with_capacity(count.min(body.len() / 2));
    for _ in 0..count {
        need(body, 2)?;
        incoming_qos2.push(body.get_u16());
    }
    Ok(SessionMove {
        client_id,
        revision,
        expiry_interval,
        subscriptions,
        messages,
        incoming_qos2,
    })
}

/// A duration in whole milliseconds, saturating.
fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX - 1)
}

fn put_str(out: &mut BytesMut, s: &str) {
    out.put_u16(s.len() as u16);
    out.put_slice(s.as_bytes());
}

/// A hybrid logical clock stamp: u64 ms, u32 counter, str node.
fn put_stamp(out: &mut BytesMut, stamp: &Stamp) {
    out.put_u64(stamp.ms);
    out.put_u32(stamp.counter);
    put_str(out, &stamp.node);
}

fn put_publish(out: &mut BytesMut, p: &Publish) {
    put_owned_publish(out, p.clone());
}

/// As `put_publish`, for a message the caller gives away (a forwarded
/// one): encoded as it is, not copied first.
fn put_owned_publish(out: &mut BytesMut, mut p: Publish) {
    p.dup = false;
    p.packet_id = (p.qos != QoS::AtMostOnce).then(|| PacketId::new(1).expect("non-zero"));
    if let Err(e) = Packet::Publish(p).encode(Protocol::V5, out) {
        // The core accepted it from a client, so it encodes; if not, the
        // frame carries nothing and the peer refuses it.
        tracing::error!("Cluster: a message could not be encoded for a link: {e}");
    }
}

/// The PUBLISH at the start of `body`, decoded in place: its topic,
/// properties and payload are slices of the frame (no copy).
fn get_publish(body: Bytes) -> Result<Publish, CodecError> {
    let header = match peek_frame(&body, MAX_FRAME) {
        Ok(Some(header)) if header.total_len() <= body.len() => header,
        Ok(_) => return Err(CodecError::Short),
        Err(e) => return Err(CodecError::Publish(e.to_string())),
    };
    let packet = body.slice(header.header_len..header.total_len());
    match Packet::decode_body(header.first_byte, packet, Protocol::V5) {
        Ok(Packet::Publish(mut p)) => {
            p.packet_id = None;
            Ok(p)
        }
        Ok(_) => Err(CodecError::Publish("not a PUBLISH".into())),
        Err(e) => Err(CodecError::Publish(e.to_string())),
    }
}

fn need(body: &Bytes, n: usize) -> Result<(), CodecError> {
    if body.len() < n {
        Err(CodecError::Short)
    } else {
        Ok(())
    }
}

fn get_u8(body: &mut Bytes) -> Result<u8, CodecError> {
    need(body, 1)?;
    Ok(body.get_u8())
}

fn get_u16(body: &mut Bytes) -> Result<u16, CodecError> {
    need(body, 2)?;
    Ok(body.get_u16())
}

fn get_u32(body: &mut Bytes) -> Result<u32, CodecError> {
    need(body, 4)?;
    Ok(body.get_u32())
}

fn get_u64(body: &mut Bytes) -> Result<u64, CodecError> {
    need(body, 8)?;
    Ok(body.get_u64())
}

fn get_str(body: &mut Bytes) -> Result<ByteString, CodecError> {
    let len = get_u16(body)? as usize;
    need(body, len)?;
    let bytes = body.split_to(len);
    ByteString::try_from(bytes).map_err(|_| CodecError::Utf8)
}

fn get_stamp(body: &mut Bytes) -> Result<Stamp, CodecError> {
    Ok(Stamp {
        ms: get_u64(body)?,
        counter: get_u32(body)?,
        node: get_str(body)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use hornet_codec::Property;

    fn round_trip(frame: Frame) {
        let mut buf = BytesMut::new();
        frame.encode(&mut buf);
        // Split anywhere: nothing until the whole frame is there.
        let mut partial = BytesMut::from(&buf[..buf.len() - 1]);
        assert!(Frame::decode(&mut partial).unwrap().is_none());
        let got = Frame::decode(&mut buf).unwrap().expect("a whole frame");
        assert_eq!(got, frame);
        assert!(buf.is_empty());
    }

    #[test]
    fn every_frame_round_trips() {
        round_trip(Frame::Hello {
            version: VERSION,
            cluster: "hornet".into(),
            node: "n1".into(),
            incarnation: 77,
        });
        round_trip(Frame::Routes(RouteSnapshot {
            incarnation: 1,
            seq: 9,
            filters: vec!["a/+".into(), "#".into()],
            shared: vec![("$share/g/a/#".into(), 3), ("$queue/q".into(), 1)],
        }));
        round_trip(Frame::Route(RouteUpdate {
            incarnation: 1,
            seq: 10,
            filter: "b/#".into(),
            added: false,
            members: 0,
        }));
        round_trip(Frame::Route(RouteUpdate {
            incarnation: 1,
            seq: 11,
            filter: "$share/g/b/#".into(),
            added: true,
            members: 2,
        }));
        let mut p = Publish::new("t/1", "payload");
        p.qos = QoS::AtLeastOnce;
        p.retain = true;
        p.properties
            .push(Property::UserProperty("k".into(), "v".into()));
        round_trip(Frame::Publish(p.clone()));
        round_trip(Frame::PublishTo {
            plain: false,
            groups: vec!["$share/g/t/+".into(), "$queue/t/1".into()],
            publish: p.clone(),
        });
        round_trip(Frame::Retain {
            topic: "t/1".into(),
            stamp: hornet_core::Stamp {
                ms: 1_795_470_422_124,
                counter: 2,
                node: "n1".into(),
            },
            message: Some(p),
        });
        round_trip(Frame::Retain {
            topic: "t/2".into(),
            stamp: hornet_core::Stamp::default(),
            message: None,
        });
        let will = Publish::new("wills/c", "gone");
        round_trip(Frame::Will {
            client_id: "c".into(),
            will: Some(will.clone()),
            due_in: None,
        });
        round_trip(Frame::Will {
            client_id: "c".into(),
            will: Some(will.clone()),
            due_in: Some(Duration::from_millis(29_500)),
        });
        round_trip(Frame::Will {
            client_id: "c".into(),
            will: None,
            due_in: None,
        });
        // A dead node's client's delayed will published by the sender.
        round_trip(Frame::Will {
            client_id: "c".into(),
            will: None,
            due_in: Some(Duration::ZERO),
        });
        round_trip(Frame::Takeover {
            client_id: "dup".into(),
            stamp: hornet_core::Stamp {
                ms: 1_795_470_422_125,
                counter: 7,
                node: "n2".into(),
            },
        });
        round_trip(Frame::Session(Box::new(SessionMove {
            client_id: "moved".into(),
            revision: 42,
            expiry_interval: 3600,
            subscriptions: vec![
                MovedSubscription {
                    filter: "a/#".into(),
                    options: hornet_codec::SubscriptionOptions {
                        qos: QoS::ExactlyOnce,
                        no_local: true,
                        retain_as_published: true,
                        retain_handling: hornet_codec::RetainHandling::Never,
                    },
                    identifier: Some(7),
                    local: false,
                },
                MovedSubscription {
                    filter: "$share/g/b".into(),
                    options: Default::default(),
                    identifier: None,
                    local: false,
                },
                MovedSubscription {
                    filter: "here/+".into(),
                    options: Default::default(),
                    identifier: None,
                    local: true,
                },
            ],
            messages: vec![will.clone(), Publish::new("q/0", "zero")],
            incoming_qos2: vec![1, 7, 65535],
        })));
        round_trip(Frame::Resume {
            stream: 0xfeed,
            next: 42,
        });
        round_trip(Frame::Ack { seq: 41 });
        round_trip(Frame::Wills(vec![
            NodeWill {
                client_id: "a".into(),
                will: will.clone(),
                due_in: None,
            },
            NodeWill {
                client_id: "b".into(),
                will: Publish::new("wills/b", ""),
                due_in: Some(Duration::ZERO),
            },
            NodeWill {
                client_id: "c".into(),
                will: Publish::new("wills/c", ""),
                due_in: Some(Duration::from_secs(3600)),
            },
        ]));
    }

    /// A forwarded message is written as `Frame::encode` writes its frame,
    /// and read back as a slice of what was read (no copy of its payload).
    #[test]
    fn a_forwarded_message_is_encoded_once_and_decoded_in_place() {
        let mut p = Publish::new("t/1", vec![7u8; 300]);
        p.qos = QoS::AtLeastOnce;
        p.dup = true;
        p.properties
            .push(Property::UserProperty("k".into(), "v".into()));
        let groups: Vec<ByteString> = vec!["$share/g/t/+".into()];
        for (plain, groups) in [(true, Vec::new()), (false, groups.clone()), (true, groups)] {
            let frame = if groups.is_empty() {
                Frame::Publish(p.clone())
            } else {
                Frame::PublishTo {
                    plain,
                    groups: groups.clone(),
                    publish: p.clone(),
                }
            };
            let (mut expected, mut got) = (BytesMut::new(), BytesMut::new());
            frame.encode(&mut expected);
            Frame::encode_forward(&mut got, p.clone(), plain, &groups);
            assert_eq!(got, expected);
        }
        let mut buf = BytesMut::new();
        Frame::encode_forward(&mut buf, p.clone(), true, &[]);
        let range = buf.as_ptr() as usize..buf.as_ptr() as usize + buf.len();
        let Some(Frame::Publish(got)) = Frame::decode(&mut buf).unwrap() else {
            panic!("a Publish frame");
        };
        assert!(range.contains(&(got.payload.as_ptr() as usize)));
        p.dup = false;
        assert_eq!(
            got, p,
            "DUP is the receiver's business; the id is not sent on"
        );
    }

    #[test]
    fn a_hostile_length_is_refused_before_buffering() {
        let mut buf = BytesMut::from(&[0xff, 0xff, 0xff, 0xff, 1][..]);
        assert!(matches!(
            Frame::decode(&mut buf),
            Err(CodecError::TooLarge(_))
        ));
        let mut buf = BytesMut::from(&[0, 0, 0, 1, 99][..]);
        assert!(matches!(Frame::decode(&mut buf), Err(CodecError::Kind(99))));
    }
}
