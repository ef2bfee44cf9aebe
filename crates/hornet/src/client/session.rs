//! One MQTT conversation with a broker, from CONNECT to DISCONNECT.
//!
//! [`Session::connect`] sends CONNECT and waits for CONNACK; a refusal is
//! [`ClientError::Refused`] with the code the broker gave. Afterwards:
//!
//! - [`Session::publish`] sends one message and, at QoS 1 and 2, waits for
//!   its flow to finish (PUBACK, or PUBREC / PUBREL / PUBCOMP);
//! - [`Session::subscribe`] / [`Session::unsubscribe`] wait for their acks;
//! - [`Session::next_message`] returns the next message received. QoS 1
//!   messages are acknowledged on arrival; QoS 2 messages are delivered
//!   when the broker's PUBREL arrives, as libmosquitto does, so a re-sent
//!   PUBLISH is never delivered twice.
//!
//! While any of these waits, the session answers what else arrives and
//! keeps the connection alive: a PINGREQ goes out when nothing was sent
//! for the keep-alive period, and a broker silent for another period after
//! it is a lost connection. A DISCONNECT from the broker (MQTT 5) ends the
//! session with its reason code.

use std::collections::{HashMap, VecDeque};
use std::io;
use std::num::NonZeroU16;
use std::time::Duration;

use bytes::BytesMut;
use hornet_codec::{
    Ack, ConnAck, Connect, DecodeError, Decoder, Disconnect, Packet, PacketId, Properties,
    Property, Protocol, Publish, QoS, ReasonCode, SubAck, Subscribe, UnsubAck, Unsubscribe,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::Instant;

use super::debug::{self, Direction};
use super::transport::Stream;

/// How long to wait for CONNACK when keep-alive is off.
const CONNACK_TIMEOUT: Duration = Duration::from_secs(60);

/// Why the session ended or a call failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ClientError {
    /// The connection failed or was closed under us.
    #[error("{0}")]
    Io(#[from] io::Error),
    /// The broker sent bytes that are not MQTT.
    #[error("protocol error: {0}")]
    Decode(#[from] DecodeError),
    /// The broker refused the CONNECT with this code.
    #[error("connection refused: {}", .0.name())]
    Refused(ReasonCode),
    /// The broker sent a packet that makes no sense here.
    #[error("protocol error: {0}")]
    Unexpected(String),
    /// The broker closed the session with DISCONNECT (MQTT 5).
    #[error("disconnected by the broker: {} ({:#04x})", .0.name(), .0.as_u8())]
    Disconnected(ReasonCode, Option<String>),
    /// The broker answered neither our messages nor our PINGREQ.
    #[error("the broker did not answer for {0} seconds (keep-alive)")]
    KeepAlive(u16),
}

/// What a publish came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PublishOutcome {
    /// The packet identifier used (0 at QoS 0).
    pub(crate) mid: u16,
    /// The broker's reason code (PUBACK / PUBREC; Success at QoS 0 and 3.x).
    pub(crate) reason: ReasonCode,
}

/// A connected MQTT session.
pub(crate) struct Session {
    stream: Stream,
    protocol: Protocol,
    decoder: Decoder,
    rx: BytesMut,
    tx: BytesMut,
    /// The client id, as shown in debug lines (empty until assigned).
    name: String,
    debug: bool,
    keep_alive: u16,
    last_sent: Instant,
    ping_sent: Option<Instant>,
    next_id: u16,
    /// QoS 2 messages received, waiting for PUBREL.
    awaiting_rel: HashMap<u16, Publish>,
    /// Messages ready for [`Session::next_message`].
    ready: VecDeque<Publish>,
    /// Topic aliases the broker set up for us (MQTT 5).
    aliases: HashMap<u16, hornet_codec::ByteString>,
}

impl Session {
    /// Sends `connect` over `stream` and waits for CONNACK.
    pub(crate) async fn connect(
        stream: Stream,
        connect: Connect,
        debug: bool,
    ) -> Result<(Session, ConnAck), ClientError> {
        let protocol = connect.protocol;
        let mut session = Session {
            stream,
            protocol,
            decoder: Decoder::with_protocol(protocol),
            rx: BytesMut::with_capacity(4096),
            tx: BytesMut::new(),
            name: connect.client_id.to_string(),
            debug,
            keep_alive: connect.keep_alive,
            last_sent: Instant::now(),
            ping_sent: None,
            next_id: 0,
            awaiting_rel: HashMap::new(),
            ready: VecDeque::new(),
            aliases: HashMap::new(),
        };
        session.send(Packet::from(connect)).await?;
        let wait = if session.keep_alive > 0 {
            Duration::from_secs(u64::from(session.keep_alive))
        } else {
            CONNACK_TIMEOUT
        };
        let first = tokio::time::timeout(wait, session.read_raw())
            .await
            .map_err(|_| ClientError::KeepAlive(session.keep_alive))??;
        let connack = match first {
            Packet::ConnAck(c) => c,
            other => {
                return Err(ClientError::Unexpected(format!(
                    "expected CONNACK, got {:?}",
                    other.packet_type()
                )))
            }
        };
        if let Some(id) = connack.properties.iter().find_map(|p| match p {
            Property::AssignedClientIdentifier(id) => Some(id.to_string()),
            _ => None,
        }) {
            session.name = id;
        }
        if let Some(secs) = connack.properties.iter().find_map(|p| match p {
            Property::ServerKeepAlive(s) => Some(*s),
            _ => None,
        }) {
            session.keep_alive = secs;
        }
        session.log(Direction::Received, &Packet::ConnAck(connack.clone()));
        if connack.reason_code.is_error() {
            return Err(ClientError::Refused(connack.reason_code));
        }
        Ok((session, connack))
    }

    /// The protocol version in use.
    pub(crate) fn protocol(&self) -> Protocol {
        self.protocol
    }

    fn log(&self, dir: Direction, packet: &Packet) {
        if self.debug {
            println!("{}", debug::line(&self.name, dir, packet, self.protocol));
        }
    }

    /// Encodes and writes one packet.
    async fn send(&mut self, packet: Packet) -> Result<(), ClientError> {
        self.log(Direction::Sending, &packet);
        self.write(packet).await
    }

    /// Encodes and writes one packet without a debug line.
    async fn write(&mut self, packet: Packet) -> Result<(), ClientError> {
        self.tx.clear();
        packet.encode(self.protocol, &mut self.tx).map_err(|e| {
            ClientError::Unexpected(format!("cannot encode {:?}: {e}", packet.packet_type()))
        })?;
        self.stream.write_all(&self.tx).await?;
        self.stream.flush().await?;
        self.last_sent = Instant::now();
        Ok(())
    }

    /// The next packet off the wire, with no keep-alive handling.
    async fn read_raw(&mut self) -> Result<Packet, ClientError> {
        loop {
            if let Some(packet) = self.decoder.decode(&mut self.rx)? {
                return Ok(packet);
            }
            if self.stream.read_buf(&mut self.rx).await? == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "The connection was lost.",
                )
                .into());
            }
        }
    }

    /// The next packet, sending PINGREQ when the keep-alive period passes
    /// without anything sent.
    async fn read_packet(&mut self) -> Result<Packet, ClientError> {
        loop {
            if let Some(packet) = self.decoder.decode(&mut self.rx)? {
                return Ok(packet);
            }
            let period = Duration::from_secs(u64::from(self.keep_alive));
            let deadline = match self.ping_sent {
                _ if self.keep_alive == 0 => None,
                Some(at) => Some(at + period),
                None => Some(self.last_sent + period),
            };
            let read = self.stream.read_buf(&mut self.rx);
            let n = match deadline {
                None => Some(read.await?),
                Some(deadline) => tokio::select! {
                    n = read => Some(n?),
                    _ = tokio::time::sleep_until(deadline) => None,
                },
            };
            match n {
                Some(0) => {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "The connection was lost.",
                    )
                    .into())
                }
                Some(_) => {}
                None if self.ping_sent.is_some() => {
                    return Err(ClientError::KeepAlive(self.keep_alive))
                }
                None => {
                    self.send(Packet::PingReq).await?;
                    self.ping_sent = Some(Instant::now());
                }
            }
        }
    }

    /// Reads one packet and deals with what every state deals with;
    /// returns the packet for the caller when it is an acknowledgement the
    /// caller waits for (PUBACK, PUBREC, PUBCOMP, SUBACK, UNSUBACK).
    async fn pump(&mut self) -> Result<Option<Packet>, ClientError> {
        let packet = self.read_packet().await?;
        // Any packet proves the broker alive.
        self.ping_sent = None;
        self.log(Direction::Received, &packet);
        match packet {
            Packet::Publish(mut p) => {
                self.resolve_alias(&mut p)?;
                match (p.qos, p.packet_id) {
                    (QoS::AtMostOnce, _) => self.ready.push_back(p),
                    (QoS::AtLeastOnce, Some(id)) => {
                        self.send(Packet::PubAck(Ack::new(id))).await?;
                        self.ready.push_back(p);
                    }
                    (QoS::ExactlyOnce, Some(id)) => {
                        self.send(Packet::PubRec(Ack::new(id))).await?;
                        self.awaiting_rel.insert(id.get(), p);
                    }
                    _ => return Err(ClientError::Unexpected("PUBLISH without packet id".into())),
                }
                Ok(None)
            }
            Packet::PubRel(a) => {
                self.send(Packet::PubComp(Ack::new(a.packet_id))).await?;
                if let Some(p) = self.awaiting_rel.remove(&a.packet_id.get()) {
                    self.ready.push_back(p);
                }
                Ok(None)
            }
            Packet::PingResp | Packet::PingReq => Ok(None),
            Packet::Disconnect(d) => {
                let reason = d.properties.iter().find_map(|p| match p {
                    Property::ReasonString(s) => Some(s.to_string()),
                    _ => None,
                });
                Err(ClientError::Disconnected(d.reason_code, reason))
            }
            p @ (Packet::PubAck(_)
            | Packet::PubRec(_)
            | Packet::PubComp(_)
            | Packet::SubAck(_)
            | Packet::UnsubAck(_)) => Ok(Some(p)),
            other => Err(ClientError::Unexpected(format!(
                "unexpected {:?} from the broker",
                other.packet_type()
            ))),
        }
    }

    /// Replaces an MQTT 5 topic alias by its topic [MQTT-3.3.2-12].
    fn resolve_alias(&mut self, p: &mut Publish) -> Result<(), ClientError> {
        let alias = p.properties.iter().find_map(|pr| match pr {
            Property::TopicAlias(a) => Some(*a),
            _ => None,
        });
        if let Some(alias) = alias {
            if p.topic.is_empty() {
                match self.aliases.get(&alias) {
                    Some(topic) => p.topic = topic.clone(),
                    None => {
                        return Err(ClientError::Unexpected(format!(
                            "unknown topic alias {alias}"
                        )))
                    }
                }
            } else {
                self.aliases.insert(alias, p.topic.clone());
            }
        }
        Ok(())
    }

    fn packet_id(&mut self) -> PacketId {
        self.next_id = self.next_id.checked_add(1).unwrap_or(1);
        NonZeroU16::new(self.next_id).expect("never 0")
    }

    /// Publishes one message; at QoS 1 and 2, returns once its flow is
    /// complete (or the broker answered it with an error code).
    pub(crate) async fn publish(&mut self, mut p: Publish) -> Result<PublishOutcome, ClientError> {
        let qos = p.qos;
        // Like libmosquitto, QoS 0 messages count message ids too: they
        // show in the -d line (m1, m2, ...) but not on the wire.
        let mid = self.packet_id();
        if qos == QoS::AtMostOnce {
            if self.debug {
                let shown = Packet::Publish(Publish {
                    packet_id: Some(mid),
                    ..p.clone()
                });
                self.log(Direction::Sending, &shown);
            }
            self.write(Packet::Publish(p)).await?;
            return Ok(PublishOutcome {
                mid: mid.get(),
                reason: ReasonCode::Success,
            });
        }
        let id = mid;
        p.packet_id = Some(id);
        self.send(Packet::Publish(p)).await?;
        let mid = id.get();
        loop {
            match self.pump().await? {
                Some(Packet::PubAck(a)) if qos == QoS::AtLeastOnce && a.packet_id == id => {
                    return Ok(PublishOutcome {
                        mid,
                        reason: a.reason_code,
                    })
                }
                Some(Packet::PubRec(a)) if qos == QoS::ExactlyOnce && a.packet_id == id => {
                    if a.reason_code.is_error() {
                        return Ok(PublishOutcome {
                            mid,
                            reason: a.reason_code,
                        });
                    }
                    self.send(Packet::PubRel(Ack::new(id))).await?;
                }
                Some(Packet::PubComp(a)) if qos == QoS::ExactlyOnce && a.packet_id == id => {
                    return Ok(PublishOutcome {
                        mid,
                        reason: ReasonCode::Success,
                    })
                }
                Some(other) => {
                    return Err(ClientError::Unexpected(format!(
                        "unexpected {:?} while publishing message {mid}",
                        other.packet_type()
                    )))
                }
                None => {}
            }
        }
    }

    /// Subscribes (all `filters` in one SUBSCRIBE) and returns the SUBACK.
    pub(crate) async fn subscribe(
        &mut self,
        filters: Vec<hornet_codec::SubscribeFilter>,
        properties: Properties,
    ) -> Result<SubAck, ClientError> {
        let id = self.packet_id();
        let sub = Subscribe {
            packet_id: id,
            properties,
            filters,
        };
        self.send(Packet::Subscribe(sub)).await?;
        loop {
            match self.pump().await? {
                Some(Packet::SubAck(s)) if s.packet_id == id => return Ok(s),
                Some(other) => {
                    return Err(ClientError::Unexpected(format!(
                        "unexpected {:?} while subscribing",
                        other.packet_type()
                    )))
                }
                None => {}
            }
        }
    }

    /// Unsubscribes from `filters` and returns the UNSUBACK.
    pub(crate) async fn unsubscribe(
        &mut self,
        filters: Vec<hornet_codec::ByteString>,
        properties: Properties,
    ) -> Result<UnsubAck, ClientError> {
        let id = self.packet_id();
        let unsub = Unsubscribe {
            packet_id: id,
            properties,
            filters,
        };
        self.send(Packet::Unsubscribe(unsub)).await?;
        loop {
            match self.pump().await? {
                Some(Packet::UnsubAck(s)) if s.packet_id == id => return Ok(s),
                Some(other) => {
                    return Err(ClientError::Unexpected(format!(
                        "unexpected {:?} while unsubscribing",
                        other.packet_type()
                    )))
                }
                None => {}
            }
        }
    }

    /// The next message from the broker (acknowledged as its QoS asks).
    pub(crate) async fn next_message(&mut self) -> Result<Publish, ClientError> {
        loop {
            if let Some(p) = self.ready.pop_front() {
                return Ok(p);
            }
            if let Some(p) = self.pump().await? {
                return Err(ClientError::Unexpected(format!(
                    "unexpected {:?}",
                    p.packet_type()
                )));
            }
        }
    }

    /// Sends DISCONNECT (with `properties`, MQTT 5) and closes the stream.
    pub(crate) async fn disconnect(mut self, properties: Properties) -> Result<(), ClientError> {
        let mut d = Disconnect::new(ReasonCode::Success);
        d.properties = properties;
        self.send(Packet::Disconnect(d)).await?;
        let _ = self.stream.shutdown().await;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::DuplexStream;

    /// The broker's end of an in-memory connection, speaking through the codec.
    struct Peer {
        io: DuplexStream,
        decoder: Decoder,
        rx: BytesMut,
        protocol: Protocol,
    }

    impl Peer {
        async fn recv(&mut self) -> Packet {
            loop {
                if let Some(p) = self.decoder.decode(&mut self.rx).unwrap() {
                    return p;
                }
                assert!(
                    self.io.read_buf(&mut self.rx).await.unwrap() > 0,
                    "client closed"
                );
            }
        }

        async fn send(&mut self, p: Packet) {
            let mut out = BytesMut::new();
            p.encode(self.protocol, &mut out).unwrap();
            self.io.write_all(&out).await.unwrap();
        }
    }

    async fn pair(protocol: Protocol, keep_alive: u16) -> (Session, Peer) {
        let (client, server) = tokio::io::duplex(64 * 1024);
        let mut peer = Peer {
            io: server,
            decoder: Decoder::new(),
            rx: BytesMut::new(),
            protocol,
        };
        let mut connect = Connect::new(protocol, "t");
        connect.keep_alive = keep_alive;
        let stream: Stream = Box::new(client);
        let broker = async {
            assert!(matches!(peer.recv().await, Packet::Connect(_)));
            peer.send(Packet::ConnAck(ConnAck::new(ReasonCode::Success, false)))
                .await;
        };
        let (session, ()) = tokio::join!(Session::connect(stream, connect, false), broker);
        (session.unwrap().0, peer)
    }

    /// Idle for the keep-alive period, the client sends PINGREQ
    /// [MQTT-3.1.2-23] and keeps waiting after the PINGRESP.
    #[tokio::test]
    async fn idle_client_pings() {
        let (mut session, mut peer) = pair(Protocol::V3_1_1, 1).await;
        let broker = async {
            let started = Instant::now();
            assert_eq!(peer.recv().await, Packet::PingReq);
            assert!(started.elapsed() >= Duration::from_millis(900));
            peer.send(Packet::PingResp).await;
            peer.send(Packet::Publish(Publish::new("a", "after ping")))
                .await;
        };
        let (msg, ()) = tokio::join!(session.next_message(), broker);
        assert_eq!(&msg.unwrap().payload[..], b"after ping");
    }

    /// A QoS 2 message is acknowledged with PUBREC, delivered once on PUBREL
    /// even when re-sent with DUP before it [MQTT-4.3.3-9], and completed
    /// with PUBCOMP.
    #[tokio::test]
    async fn qos2_is_delivered_once_on_pubrel() {
        let (mut session, mut peer) = pair(Protocol::V5, 60).await;
        let id = PacketId::new(9).unwrap();
        let broker = async {
            let mut p = Publish::new("q2", "once");
            p.qos = QoS::ExactlyOnce;
            p.packet_id = Some(id);
            peer.send(Packet::Publish(p.clone())).await;
            assert_eq!(peer.recv().await, Packet::PubRec(Ack::new(id)));
            p.dup = true;
            peer.send(Packet::Publish(p)).await;
            assert_eq!(peer.recv().await, Packet::PubRec(Ack::new(id)));
            peer.send(Packet::PubRel(Ack::new(id))).await;
            assert_eq!(peer.recv().await, Packet::PubComp(Ack::new(id)));
            peer.send(Packet::Publish(Publish::new("q0", "next"))).await;
        };
        let get_two = async {
            let a = session.next_message().await.unwrap();
            let b = session.next_message().await.unwrap();
            (a, b)
        };
        let ((a, b), ()) = tokio::join!(get_two, broker);
        assert_eq!((&*a.topic, &*b.topic), ("q2", "q0"));
    }

    /// A broker's DISCONNECT ends the session with its reason code.
    #[tokio::test]
    async fn broker_disconnect_is_reported() {
        let (mut session, mut peer) = pair(Protocol::V5, 60).await;
        peer.send(Packet::Disconnect(Disconnect::new(
            ReasonCode::SessionTakenOver,
        )))
        .await;
        match session.next_message().await {
            Err(ClientError::Disconnected(ReasonCode::SessionTakenOver, None)) => {}
            other => panic!("{other:?}"),
        }
    }
}
