//! The bridge's local side: an internal client of the local broker. It
//! enters the core as a connection does (events in, actions out through
//! an outbox), with no socket: CONNECT as a bridge (so the core never
//! echoes its own messages back and keeps RETAIN as published), SUBSCRIBE
//! to the `out` topics, PUBLISH of what arrives for `in` topics, and the
//! acknowledgements both ways. The QoS 2 flows wait for the bridge at
//! each step (`relay.rs`): a remote's message keeps the remote's packet id
//! here, and the local broker's PUBREL and PUBCOMP are the bridge's to
//! answer.
//!
//! Messages for the remote are acknowledged to the core only when the
//! remote has acknowledged them, so what the remote has not taken stays in
//! the bridge's local session: inflight, then queued (bounded by
//! `max_queued_messages` / `max_queued_bytes`, drops counted and logged by
//! the core), and in the store when persistence is on and the local session
//! is persistent (`local_cleansession false`).

use std::collections::VecDeque;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;

use hornet_client::ids::PacketIds;
use hornet_codec::{
    Ack, ByteString, Connect, Packet, PacketId, Property, Protocol, Publish, QoS, RetainHandling,
    Subscribe, SubscribeFilter, SubscriptionOptions,
};
use hornet_core::{CloseCause, ConnId, ConnInfo};

use crate::config::Bridge;
use crate::server::outbox::{Outbox, Outgoing};
use crate::server::Shared;

/// What the local broker said to the bridge.
#[derive(Debug)]
pub(crate) enum FromLocal {
    /// CONNACK with success: the local side is up.
    Up,
    /// CONNACK refused or the core closed the connection.
    Down(String),
    /// A message for the remote, with the local packet id to acknowledge.
    Message(Publish),
    /// The local broker has (PUBACK / PUBREC) a message published with
    /// this tag: the remote's packet id and QoS, to acknowledge there.
    Stored(Tag),
    /// The local broker's PUBREL for an outgoing QoS 2 message: it has
    /// recorded the remote's PUBREC (`relay.rs`).
    Release(PacketId),
    /// The local broker's PUBCOMP for an incoming QoS 2 message.
    Completed(PacketId),
}

/// The remote packet id and QoS of a message published locally.
pub(crate) type Tag = (PacketId, QoS);

/// The local side's connection into the core.
pub(crate) struct Local {
    shared: Arc<Shared>,
    id: ConnId,
    outbox: Arc<Outbox>,
    ids: PacketIds,
    /// Receive Maximum of the local broker (its CONNACK).
    window: usize,
    inflight: usize,
    waiting: VecDeque<(Publish, Option<Tag>)>,
    /// Local packet id → the tag of the remote message it carries.
    tags: std::collections::HashMap<u16, Tag>,
    filters: Vec<SubscribeFilter>,
    spare: Vec<Outgoing>,
    up: bool,
}

impl Local {
    /// Opens the connection and sends CONNECT.
    pub(crate) fn open(shared: Arc<Shared>, bridge: &Bridge) -> Local {
        let id = ConnId(
            shared
                .next_conn
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed),
        );
        let outbox = Arc::new(Outbox::new(id, false));
        outbox.set_protocol(Protocol::V5);
        shared.add_outbox(id, outbox.clone());
        let mut info = ConnInfo::new(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)), 0);
        // The bridge is the broker's own client: anonymous unless it has a
        // local_username (then checked like any client's).
        info.anonymous = Some(hornet_core::Anonymous::Always);
        shared.with_core(|core| core.connection_opened(Instant::now(), id, info));
        let mut connect = Connect::new(Protocol::V5, bridge.local_client_id());
        connect.bridge = true;
        connect.clean_start = bridge.local_clean();
        connect.keep_alive = 0;
        connect.username = bridge.local_username.clone().map(ByteString::from);
        connect.password = bridge
            .local_password
            .clone()
            .map(|p| bytes::Bytes::from(p.into_bytes()));
        if !connect.clean_start {
            connect
                .properties
                .push(Property::SessionExpiryInterval(u32::MAX));
        }
        let filters = bridge
            .topics
            .iter()
            .filter(|t| t.direction.out())
            .map(|t| SubscribeFilter {
                filter: t.local_filter().into(),
                options: SubscriptionOptions {
                    qos: QoS::from_u8(t.qos).unwrap_or_default(),
                    no_local: true,
                    retain_as_published: true,
                    retain_handling: RetainHandling::OnSubscribe,
                },
            })
            .collect();
        let local = Local {
            shared,
            id,
            outbox,
            ids: PacketIds::default(),
            window: usize::from(u16::MAX),
            inflight: 0,
            waiting: VecDeque::new(),
            tags: Default::default(),
            filters,
            spare: Vec::new(),
            up: false,
        };
        local.feed(vec![Packet::Connect(Box::new(connect))]);
        local
    }

    /// Whether the core has closed this connection.
    pub(crate) fn closed(&self) -> bool {
        self.outbox.is_closing()
    }

    /// Waits until the core has emitted something for the bridge.
    pub(crate) async fn wait(&self) {
        self.outbox.wait().await;
    }

    fn feed(&self, packets: Vec<Packet>) {
        if packets.is_empty() {
            return;
        }
        let now = Instant::now();
        let id = self.id;
        self.shared.with_core(|core| {
            for packet in packets {
                let len = packet.encoded_len(Protocol::V5).unwrap_or(0);
                core.packet_received(now, id, packet, len);
            }
        });
    }

    /// Takes what the core emitted: answers the acknowledgement flows
    /// itself, and returns what the bridge must act on.
    pub(crate) fn poll(&mut self) -> Vec<FromLocal> {
        if self.outbox.take_drain() {
            // A takeover of the bridge's client id waits for its unread
            // input: there is none, the bridge feeds the core directly.
            let id = self.id;
            self.shared
                .with_core(|core| core.input_drained(Instant::now(), id));
        }
        self.outbox.take(&mut self.spare);
        // What the core counts as handed out: a shared encoding may hold
        // several packets.
        let count = self.spare.iter().map(Outgoing::packets).sum::<usize>();
        let mut packets = Vec::with_capacity(count);
        for outgoing in std::mem::take(&mut self.spare) {
            as_packets(outgoing, &mut packets);
        }
        let mut out = Vec::new();
        let mut reply = Vec::new();
        for packet in packets {
            match packet {
                Packet::ConnAck(c) if c.reason_code.is_error() => {
                    out.push(FromLocal::Down(format!(
                        "the local broker refused the bridge: {}",
                        c.reason_code.name()
                    )));
                }
                Packet::ConnAck(c) => {
                    self.up = true;
                    if let Some(max) = c.properties.receive_maximum() {
                        self.window = usize::from(max.max(1));
                    }
                    if !self.filters.is_empty() {
                        if let Some(packet_id) = self.ids.allocate() {
                            reply.push(Packet::Subscribe(Subscribe {
                                packet_id,
                                properties: Default::default(),
                                filters: self.filters.clone(),
                            }));
                        }
                    }
                    out.push(FromLocal::Up);
                }
                Packet::SubAck(s) => {
                    self.ids.release(s.packet_id);
                    for (f, code) in self.filters.iter().zip(&s.reason_codes) {
                        if code.is_error() {
                            tracing::warn!(
                                "Bridge local subscription to '{}' refused: {}",
                                f.filter,
                                code.name()
                            );
                        }
                    }
                }
                // Acknowledged once the remote has it (`acknowledge`); for
                // QoS 2 the PUBREL that follows is answered at once.
                Packet::Publish(p) => out.push(FromLocal::Message(p)),
                // Answered by the bridge once the remote has completed it.
                Packet::PubRel(a) => out.push(FromLocal::Release(a.packet_id)),
                Packet::PubAck(a) => {
                    out.extend(self.stored(a.packet_id));
                    self.release(a.packet_id);
                }
                Packet::PubComp(a) => {
                    self.release(a.packet_id);
                    out.push(FromLocal::Completed(a.packet_id));
                }
                Packet::PubRec(a) => {
                    let tagged = self.tags.contains_key(&a.packet_id.get());
                    out.extend(self.stored(a.packet_id));
                    if a.reason_code.is_error() {
                        self.release(a.packet_id);
                    } else if !tagged {
                        // The bridge's own message (none is QoS 2 today);
                        // a remote's waits for the remote's PUBREL.
                        reply.push(Packet::PubRel(Ack::new(a.packet_id)));
                    }
                }
                Packet::Disconnect(d) => {
                    out.push(FromLocal::Down(format!(
                        "the local broker disconnected the bridge: {}",
                        d.reason_code.name()
                    )));
                }
                _ => {}
            }
        }
        if count > 0 {
            let id = self.id;
            self.shared
                .with_core(|core| core.packets_written(id, count, 0));
        }
        self.flush(&mut reply);
        self.feed(reply);
        if self.outbox.is_closing() && self.up {
            self.up = false;
            out.push(FromLocal::Down(
                "the local broker closed the bridge's connection".into(),
            ));
        }
        out
    }

    /// The tag of local message `id`, now stored by the core (or refused
    /// by it: the remote's copy is acknowledged all the same, as in
    /// Mosquitto, or it would be resent forever).
    fn stored(&mut self, id: PacketId) -> Option<FromLocal> {
        self.tags.remove(&id.get()).map(FromLocal::Stored)
    }

    fn release(&mut self, id: PacketId) {
        if self.ids.release(id) {
            self.inflight = self.inflight.saturating_sub(1);
        }
    }

    /// Acknowledges a message the remote took (or that was dropped): PUBACK
    /// for QoS 1, PUBREC for QoS 2.
    pub(crate) fn acknowledge(&self, packet_id: PacketId, qos: QoS) {
        let ack = match qos {
            QoS::AtMostOnce => return,
            QoS::AtLeastOnce => Packet::PubAck(Ack::new(packet_id)),
            QoS::ExactlyOnce => Packet::PubRec(Ack::new(packet_id)),
        };
        self.feed(vec![ack]);
    }

    /// The remote's PUBREL for a QoS 2 message published with its id.
    pub(crate) fn pubrel(&self, packet_id: PacketId) {
        self.feed(vec![Packet::PubRel(Ack::new(packet_id))]);
    }

    /// PUBCOMP for the local broker's QoS 2 message `packet_id`.
    pub(crate) fn complete(&self, packet_id: PacketId) {
        self.feed(vec![Packet::PubComp(Ack::new(packet_id))]);
    }

    /// Publishes a message from the remote (or a notification) locally,
    /// within the local broker's Receive Maximum; `tag`: report
    /// [`FromLocal::Stored`] when the core has it.
    pub(crate) fn publish(&mut self, mut publish: Publish, tag: Option<Tag>) {
        publish.dup = false;
        publish.packet_id = None;
        // What a client may not send: identifiers the remote added.
        publish.properties.retain(|p| {
            !matches!(
                p,
                Property::SubscriptionIdentifier(_) | Property::TopicAlias(_)
            )
        });
        self.waiting.push_back((publish, tag));
        let mut packets = Vec::new();
        self.flush(&mut packets);
        self.feed(packets);
    }

    fn flush(&mut self, packets: &mut Vec<Packet>) {
        if !self.up {
            return;
        }
        while let Some((mut p, tag)) = self.waiting.pop_front() {
            if p.qos != QoS::AtMostOnce {
                if self.inflight >= self.window {
                    self.waiting.push_front((p, tag));
                    break;
                }
                // A remote's message keeps the remote's packet id, so the
                // local broker's record of it is the remote side's too
                // (`relay.rs`); it waits while the id is busy here.
                let id = match tag {
                    Some((id, _)) if !self.ids.in_use(id) => {
                        self.ids.reserve(id);
                        Some(id)
                    }
                    Some(_) => None,
                    None => self.ids.allocate(),
                };
                let Some(id) = id else {
                    self.waiting.push_front((p, tag));
                    break;
                };
                p.packet_id = Some(id);
                self.inflight += 1;
                if let Some(tag) = tag {
                    self.tags.insert(id.get(), tag);
                }
            }
            packets.push(Packet::Publish(p));
        }
    }

    /// Whether the local side is connected.
    pub(crate) fn is_up(&self) -> bool {
        self.up
    }

    /// Ends the connection (the bridge stops).
    pub(crate) fn close(&self) {
        let id = self.id;
        self.shared
            .with_core(|core| core.connection_closed(Instant::now(), id, CloseCause::Shutdown));
        self.shared.remove_outbox(id);
    }
}

/// A retained notification (`1` / `0`) at QoS 1.
pub(crate) fn notification(topic: &str, up: bool) -> Publish {
    let mut p = Publish::new(topic.to_string(), if up { "1" } else { "0" });
    p.qos = QoS::AtLeastOnce;
    p.retain = true;
    p
}

/// What the core emitted, as packets (appended to `into`): the shell
/// encodes a QoS 0 PUBLISH once for all its subscribers (one message or a
/// run of them, `server::encoded`), and the bridge reads them back.
fn as_packets(outgoing: Outgoing, into: &mut Vec<Packet>) {
    match outgoing {
        Outgoing::Packet(p) => into.push(*p),
        Outgoing::Encoded(wire) => {
            let mut buf = bytes::BytesMut::from(wire.bytes());
            let mut decoder = hornet_codec::Decoder::with_protocol(Protocol::V5);
            for _ in 0..wire.packets() {
                match decoder.decode(&mut buf) {
                    Ok(Some(p)) => into.push(p),
                    other => {
                        tracing::error!(
                            "A bridge could not read back a packet of the core: {other:?}"
                        );
                        return;
                    }
                }
            }
        }
    }
}
